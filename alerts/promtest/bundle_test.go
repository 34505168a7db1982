package promtest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/alerts"
	"github.com/headroom-dev/headroom/catalogue"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/headroom-dev/headroom/internal/drift"
)

// mixinDir is where the presets' bundles are committed.
const mixinDir = "../../mixin"

// variant is a config the tests generate a bundle for.
type variant struct {
	name string
	cfg  func(t *testing.T) *catalogue.Config
	// tests are the generated promtool test files to run (globs under
	// tests/); nil runs them all.
	tests []string
}

func preset(name string) func(t *testing.T) *catalogue.Config {
	return func(t *testing.T) *catalogue.Config {
		t.Helper()
		cfg, err := catalogue.Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
}

// fromYAML is a config file on top of a preset. Variants shorten the hour
// long `for`s: they test the plumbing of a source, not the durations.
func fromYAML(base, text string) func(t *testing.T) *catalogue.Config {
	return func(t *testing.T) *catalogue.Config {
		t.Helper()
		cfg, err := catalogue.LoadOnto(base, []byte(text))
		if err != nil {
			t.Fatalf("%s\n%s", err, text)
		}
		return cfg
	}
}

const shortFor = `
triggers:
  MemoryLow: {for: 10m}
  DBPoolLow: {for: 10m}
  CPULow: {for: 10m}
  CapacityTargetMissedLatency: {for: 5m}
  CapacityTargetMissedErrors: {for: 5m}
  CapacityTargetMissedDBPool: {for: 5m}
  CapacityTargetMissedCacheHit: {for: 5m}
  CapacityTargetMissedCPU: {for: 5m}
  CapacityTargetMissedMemory: {for: 5m}
`

const scopedYAML = `
cluster_label: cluster
triggers:
  DBPoolHigh:
    where:
      - match: 'target="pg-batch"'
        threshold: 0.95
        for: 10m
      - match: 'target="pg-reports", pool="etl"'
        threshold: 0.9
  PostgresConnectionsNearMax:
    where:
      - match: 'target="pg-batch"'
        for: 15m
  RedisMemoryNearMax:
    threshold: 0.85
    where:
      - match: 'target=~"session-.*"'
        threshold: 0.95
      - match: 'target="cache-small"'
        threshold: 0.7
        margin: 0.1
  CPUHigh:
    where:
      - match: 'cluster="staging"'
        threshold: 0.9
`

const namespacesYAML = `
resources:
  source: cadvisor
selectors:
  cadvisor: container="api"
  kube_state_metrics: container="api"
triggers:
  CPUHigh:
    where:
      - match: 'namespace="batch"'
        threshold: 0.95
        for: 15m
  MemoryHigh:
    where:
      - match: 'namespace="batch"'
        threshold: 0.95
`

var variants = []variant{
	{name: "health-agent", cfg: preset("health-agent")},
	{name: "amas", cfg: preset("amas")},
	{name: "health-agent-cadvisor", tests: []string{"api-test.yaml", "capacity-test.yaml", "headroom-test.yaml", FileInputsAbsentTests, FileRemainingTests}, cfg: fromYAML("health-agent", `
resources:
  source: cadvisor
  network_bytes_per_second: 12500000
selectors:
  cadvisor: namespace="prod", container="api"
  kube_state_metrics: namespace="prod"
`+shortFor)},
	// Per-namespace thresholds: cAdvisor's CPU and memory keep the
	// namespace, so pods of one service in two namespaces alert at their
	// own thresholds (the scope's generated group feeds both namespaces at
	// one value between them).
	{name: "health-agent-cadvisor-namespaces", tests: []string{"api-test.yaml", "capacity-test.yaml", FileRemainingTests}, cfg: fromYAML("health-agent", namespacesYAML)},
	{name: "health-agent-node", tests: []string{"api-test.yaml", "capacity-test.yaml", FileInputsAbsentTests, FileRemainingTests}, cfg: fromYAML("health-agent", `
resources:
  source: node
  network_bytes_per_second: 12500000
selectors:
  node: job="node", instance=~"api-host-.*"
`+shortFor)},
	// The database-connection guard against the PostgreSQL primary, per
	// cluster, with KEDA's HPA names.
	{name: "health-agent-db-guard-postgres", tests: []string{"capacity-test.yaml", FileInputsAbsentTests}, cfg: fromYAML("health-agent", `
cluster_label: cluster
targets:
  postgres: ha-pg-.*
autoscaling:
  autoscaler: keda
  namespace: prod
  cluster: eu-1
  db: {pool_size_per_pod: 10, connects_through: postgres, usable_connections: 0}
`)},
	// Scoped thresholds: pools, targets and a cluster with their own
	// threshold or for beside the defaults; the generated tests feed a scope
	// and the default at one value that only one of them fires at.
	// Their forecasts hold each scope's rise to the scope's threshold.
	{name: "health-agent-scoped", tests: []string{"api-test.yaml", "db-pool-test.yaml", "postgresql-test.yaml", "redis-test.yaml", FileRemainingTests,
		"db-pool-forecast-test.yaml", "redis-forecast-test.yaml"},
		cfg: fromYAML("health-agent", scopedYAML)},
	{name: "amas-multi-cluster", cfg: fromYAML("amas", `
cluster_label: cluster
targets:
  postgres: amas-pg-.*
  pgbouncer: amas-pgbouncer
  redis: amas-cache|amas-redis
  api: amas-api
postgres:
  pool_states: active|idle in transaction
autoscaling: {cluster: eu-1}
`+shortFor)},
}

// generateTo writes a bundle into a temporary directory.
func generateTo(t *testing.T, cfg *catalogue.Config) (string, alerts.Files) {
	t.Helper()
	files, err := Bundle(catalogue.MustBuild(cfg))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir, files
}

// tool runs promtool or amtool, which .ci/run installs from Debian.
func tool(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed (apt-get install prometheus prometheus-alertmanager; .ci/run does it): %v", name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// pint builds pint as the Makefile does, from the separate tools module
// (internal/tools/go.mod), once for every test that lints with it.
func pint(t *testing.T) string {
	t.Helper()
	pintOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		dir, err := os.MkdirTemp("", "headroom-pint-")
		if err != nil {
			pintErr = err
			return
		}
		pintPath = filepath.Join(dir, "pint")
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, goBin, "build", "-modfile=internal/tools/go.mod", "-o", pintPath, "github.com/cloudflare/pint/cmd/pint")
		cmd.Dir = "../.."
		if out, err := cmd.CombinedOutput(); err != nil {
			pintErr = fmt.Errorf("building pint (%s): %v\n%s", strings.Join(cmd.Args, " "), err, out)
		}
	})
	if pintErr != nil {
		t.Fatal(pintErr)
	}
	return pintPath
}

var (
	pintOnce sync.Once
	pintPath string
	pintErr  error
)

func TestBundles(t *testing.T) {
	for _, v := range variants {
		v := v
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			cfg := v.cfg(t)
			dir, files := generateTo(t, cfg)

			t.Run("promtool check rules", func(t *testing.T) {
				tool(t, dir, "promtool", "check", "rules", alerts.FileRules, alerts.FileAlerts)
				// The PrometheusRule's groups are the same rules.
				var pr monitoringv1.PrometheusRule
				if err := sigsyaml.UnmarshalStrict(files[alerts.FilePrometheusRule], &pr); err != nil {
					t.Fatal(err)
				}
				spec, err := sigsyaml.Marshal(pr.Spec)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "spec.yaml"), spec, 0o644); err != nil {
					t.Fatal(err)
				}
				tool(t, dir, "promtool", "check", "rules", "spec.yaml")
			})

			// make lint runs pint over the committed presets only; a rule
			// that only a source, a cluster label, scopes or the DB guard
			// produces is linted here, offline, with the same config and
			// failing on any warning.
			t.Run("pint", func(t *testing.T) {
				cfgFile, err := filepath.Abs(filepath.Join(mixinDir, ".pint.hcl"))
				if err != nil {
					t.Fatal(err)
				}
				tool(t, dir, pint(t), "--no-color", "--offline", "--config", cfgFile, "--log-level", "WARN",
					"lint", "--min-severity", "info", "--fail-on", "warning", alerts.FileRules, alerts.FileAlerts)
			})

			t.Run("amtool check-config", func(t *testing.T) {
				tool(t, dir, "amtool", "check-config", alerts.FileAlertmanager)
			})

			t.Run("promtool test rules", func(t *testing.T) {
				var tests []string
				for _, name := range files.Names() {
					if !strings.HasPrefix(name, alerts.TestsDir+"/") {
						continue
					}
					if v.tests == nil || slices.Contains(v.tests, strings.TrimPrefix(name, alerts.TestsDir+"/")) {
						tests = append(tests, name)
					}
				}
				if len(tests) == 0 {
					t.Fatal("no promtool tests generated")
				}
				// One promtool per file: each stays well inside tool's
				// deadline however many files a bundle grows (the
				// forecasts' days of history made one call of every file
				// approach it on a loaded machine).
				for _, test := range tests {
					tool(t, dir, "promtool", "test", "rules", test)
				}
			})
		})
	}
}

// TestEdgeCases runs the hand-written promtool tests in testdata/promtool
// against the committed health-agent bundle: counter resets, missing
// series, 0/0 ratios.
func TestEdgeCases(t *testing.T) {
	files, err := filepath.Glob("testdata/promtool/*-test.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no edge-case tests: %v", err)
	}
	abs, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	tool(t, abs, "promtool", append([]string{"test", "rules"}, files...)...)
}

// TestCommittedBundles fails when mixin/ is not what the generator makes:
// run `make generate`.
func TestCommittedBundles(t *testing.T) {
	for _, name := range catalogue.Presets() {
		cfg, err := catalogue.Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		files, err := Bundle(catalogue.MustBuild(cfg))
		if err != nil {
			t.Fatal(err)
		}
		drift.Check(t, filepath.Join(mixinDir, name), files)
	}
}

// TestGenerateIsPure: the same config gives the same bytes.
func TestGenerateIsPure(t *testing.T) {
	cfg, err := catalogue.Preset("health-agent")
	if err != nil {
		t.Fatal(err)
	}
	a, err := Bundle(catalogue.MustBuild(cfg))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Bundle(catalogue.MustBuild(cfg))
	if err != nil {
		t.Fatal(err)
	}
	for name := range a {
		if !bytes.Equal(a[name], b[name]) {
			t.Errorf("%s differs between two runs", name)
		}
	}
}
