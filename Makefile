# The README's commands are these targets.
GO        ?= go
BIN       := headroom
TOOL      := headroomtool
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

.PHONY: all build test lint generate bench e2e run demo clean echarts fuzz

all: build

# The exporter (headroom) and, beside it, the generators' binary
# (headroomtool), which `headroom generate|replay|preset` re-executes: the
# exporter links none of the generators' packages, so serving does not pay
# for them.
build:
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/headroom
	CGO_ENABLED=0 $(GO) build -ldflags '$(LDFLAGS)' -o $(TOOL) ./cmd/headroomtool

# Every test, on real throwaway PostgreSQL (primary and replica), PgBouncer
# and Redis servers that the tests start themselves. Then the tests of the
# test-only module internal/tools (the generated ScaledObjects against
# KEDA's CRD, scaler schema and webhook checks; the jsonnet mixin through
# go-jsonnet; the exporter's kustomization built by kustomize's library),
# whose validators stay out of the main module's dependencies, and of
# internal/tools/slothcheck (the SLO records against Sloth's), a module of
# its own since Sloth needs an older Prometheus than KEDA.
test: lint
	$(GO) test -count=1 -timeout 20m ./...
	cd internal/tools && $(GO) test -count=1 -timeout 10m ./...
	cd internal/tools/slothcheck && $(GO) test -count=1 -timeout 10m ./...

# gofmt, go vet, and the generated rule files of every bundle under mixin/
# through promtool check rules and pint (offline, mixin/.pint.hcl, failing on
# any warning), one bundle at a time since each defines the same series.
# pint is built from internal/tools/go.mod so that its dependencies stay out
# of the main module's.
PINT      := $(GO) tool -modfile=internal/tools/go.mod pint
BUNDLES   := $(patsubst %/prometheus_rules.yaml,%,$(wildcard mixin/*/prometheus_rules.yaml))
lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	# The benchmark's RSS floor program lives in testdata, out of ./...
	$(GO) vet ./cmd/headroom/testdata/rssfloor
	@for b in $(BUNDLES); do \
	  echo "promtool check rules $$b"; \
	  promtool check rules $$b/prometheus_rules.yaml $$b/prometheus_alerts.yaml >/dev/null || exit 1; \
	  echo "pint lint $$b"; \
	  $(PINT) --no-color --offline --config mixin/.pint.hcl --log-level WARN \
	    lint --min-severity info --fail-on warning $$b/prometheus_rules.yaml $$b/prometheus_alerts.yaml || exit 1; \
	done

# The alerting bundles of the presets (rules, PrometheusRule, Alertmanager
# config, runbook, promtool tests), committed under mixin/; a test fails when
# they differ from what the generator makes.
# The Grafana dashboards of the default preset go to mixin/dashboards, the
# autoscaler manifests (KEDA ScaledObject, HPAs) of each preset to mixin/k8s,
# the exporter's own Deployment, Service, ServiceMonitor and Secret to
# mixin/k8s/exporter.
generate:
	$(GO) run ./cmd/headroomtool generate --preset health-agent --out mixin/health-agent --dashboards-out mixin/dashboards --k8s-out mixin/k8s/health-agent --exporter-out mixin/k8s/exporter
	$(GO) run ./cmd/headroomtool generate --preset amas --out mixin/amas --k8s-out mixin/k8s/amas
	$(GO) test -count=1 -run '^TestColdStart$$' ./alerts/autoscale/ -update

# The ECharts script the HTML pages embed (internal/charts/echarts/), with its
# licence, from the npm registry at the release internal/charts pins: after
# bumping go-echarts, pin the ECharts it targets, then run this.
echarts:
	internal/charts/refresh-echarts.sh

# The whole bundle against real Prometheus and Alertmanager: induced causes
# must page or ticket the right receiver and resolve (also part of `test`).
e2e:
	$(GO) test -count=1 -timeout 20m -v -run 'TestEndToEnd|TestMultiCluster' ./internal/e2e/

# Scrape cost against a loaded PostgreSQL (300 and 600 clients), replica,
# PgBouncer and Redis. See docs/benchmark.md for what it reports. Then the time and
# size of generating a bundle with 100 and 500 `where` scopes. Also the RSS
# of the exporter `make build` builds against the image's after 20 scrapes of
# cmd/headroom/headroom.yml (BenchmarkServeRSS: within 2 MiB; its three runs a
# build are its measure, so 1x runs them once rather than again for b.N).
# Then `headroom report` over 7 days of 30 s samples from a real Prometheus,
# its time and peak RSS against the goals of 10 s and 200 MiB (one run: its
# setup, the week's backfill, takes minutes). BenchmarkManyTargets: 100
# PostgreSQL and 20 Redis targets, full scrape against the slowest target,
# heap and connections per target (1x: its rounds are fixed, and its setup
# creates 100 databases). Then the drill's ceiling: the most requests a
# second one drill host sends against the stand-in API.
bench:
	$(GO) test -run '^$$' -bench 'BenchmarkScrape$$' -benchtime 200x -timeout 30m ./cmd/headroom/
	$(GO) test -run '^$$' -bench 'BenchmarkServeRSS$$' -benchtime 1x -timeout 10m ./cmd/headroom/
	$(GO) test -run '^$$' -bench 'BenchmarkManyTargets$$' -benchtime 1x -timeout 30m ./cmd/headroom/
	$(GO) test -run '^$$' -bench GenerateScopes -benchtime 3x -timeout 10m ./alerts/promtest/
	$(GO) test -run '^$$' -bench 'BenchmarkReport$$' -benchtime 1x -timeout 30m ./internal/report/
	$(GO) test -run '^$$' -bench 'BenchmarkDrillCeiling$$' -benchtime 1x -timeout 10m -v ./internal/drill/

# Each fuzz target (every func Fuzz* of a test file) for FUZZTIME, one at a
# time since go test -fuzz takes one package and one target; outside CI,
# where `make test` runs their seed corpora only. A crasher lands in the
# package's testdata/fuzz/<target>/ and fails `go test` until fixed; commit
# it as the regression case. docs/fuzzing.md lists the targets.
FUZZTIME  ?= 2m
fuzz:
	@git ls-files '*_test.go' | xargs grep -o '^func Fuzz[A-Za-z0-9_]*' | sed 's|/[^/]*:func | |' | \
	while read pkg target; do \
	  echo "fuzz $$target (./$$pkg) for $(FUZZTIME)"; \
	  $(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) ./$$pkg/ || exit 1; \
	done

# The exporter against the local defaults: PostgreSQL on 127.0.0.1:5432 and
# Redis on 127.0.0.1:6379.
run: build
	./$(BIN) serve --config.file=$(CONFIG) --web.listen-address=$(LISTEN)

# The whole stack on this machine (PostgreSQL primary and replica,
# PgBouncer, Redis, a stand-in API under light load, the exporter,
# Prometheus and Alertmanager with the generated bundle); Ctrl-C stops it all.
# Built first, so that the minute of compiling is announced rather than
# silent; exec'd, so that Ctrl-C reaches the demo with no shell between that
# would die of it, and the demo's status 0 is what make sees.
PRESET    ?= health-agent
DEMO_BIN  ?= bin/headroom-demo
DEMO_ARGS ?=
demo:
	@echo "building the demo (about a minute the first time)..."
	@$(GO) build -o $(DEMO_BIN) ./cmd/headroom-demo
	@exec $(DEMO_BIN) --preset $(PRESET) $(DEMO_ARGS)

clean:
	rm -f $(BIN) $(TOOL) $(DEMO_BIN)
