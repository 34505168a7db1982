# The README's commands are these targets.
GO        ?= go
BIN       := headroom
PKG       := github.com/headroom-dev/headroom
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION  ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH    ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null || echo unknown)
LDFLAGS   := -s -w \
	-X github.com/prometheus/common/version.Version=$(VERSION) \
	-X github.com/prometheus/common/version.Revision=$(REVISION) \
	-X github.com/prometheus/common/version.Branch=$(BRANCH) \
	-X github.com/prometheus/common/version.BuildUser=$(shell id -un)@$(shell hostname) \
	-X github.com/prometheus/common/version.BuildDate=$(shell date -u +%Y%m%d-%H:%M:%S)
CONFIG    ?= cmd/headroom/headroom.yml
LISTEN    ?= :9630

.PHONY: all build test lint generate bench e2e run demo clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/headroom

# Every test, on real throwaway PostgreSQL (primary and replica), PgBouncer
# and Redis servers that the tests start themselves.
test: lint
	$(GO) test -count=1 -timeout 20m ./...

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...

# The alerting bundles of the presets (rules, PrometheusRule, Alertmanager
# config, runbook, promtool tests), committed under mixin/; a test fails when
# they differ from what the generator makes.
# The Grafana dashboards of the default preset go to mixin/dashboards.
generate:
	$(GO) run ./cmd/headroom generate --preset health-agent --out mixin/health-agent --dashboards-out mixin/dashboards
	$(GO) run ./cmd/headroom generate --preset amas --out mixin/amas

# The whole bundle against real Prometheus and Alertmanager: induced causes
# must page or ticket the right receiver and resolve (also part of `test`).
e2e:
	$(GO) test -count=1 -timeout 20m -v -run TestEndToEnd ./internal/e2e/

# Scrape cost against a loaded PostgreSQL (300 and 600 clients), replica,
# PgBouncer and Redis. See the README for what it reports.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 200x -timeout 30m ./cmd/headroom/

# The exporter against the local defaults: PostgreSQL on 127.0.0.1:5432 and
# Redis on 127.0.0.1:6379.
run: build
	./$(BIN) serve --config.file=$(CONFIG) --web.listen-address=$(LISTEN)

# The whole stack on this machine (PostgreSQL primary and replica,
# PgBouncer, Redis, a stand-in API under light load, the exporter,
# Prometheus and Alertmanager with the generated bundle); Ctrl-C stops it all.
PRESET ?= health-agent
demo:
	$(GO) run ./cmd/headroom-demo --preset $(PRESET)

clean:
	rm -f $(BIN)
