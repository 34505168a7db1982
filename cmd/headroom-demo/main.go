// Command headroom-demo runs the whole bundle on this machine: a PostgreSQL
// primary and streaming replica, PgBouncer, Redis, a stand-in API under
// light load, the exporter, Prometheus with the generated rules and
// Alertmanager with the generated routing. It prints where to look and
// stops everything on Ctrl-C.
//
//	make demo
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom-dev/headroom/collectors"
	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/endpoints"
	"github.com/headroom-dev/headroom/internal/standin"
	"github.com/headroom-dev/headroom/internal/testenv"
)

// Debian packages the stack needs, by the file each one provides.
var packages = []struct{ file, pkg string }{
	{testenv.PGBin + "/initdb", "postgresql"},
	{testenv.PgBouncerPath, "pgbouncer"},
	{testenv.RedisServerPath, "redis-server"},
	{testenv.PrometheusPath, "prometheus"},
	{testenv.AlertmanagerPath, "prometheus-alertmanager"},
}

func main() {
	preset := flag.String("preset", "health-agent", "rules and routing to load: health-agent or amas")
	mixin := flag.String("mixin", "mixin", "directory of the generated bundle")
	listen := flag.String("listen", "127.0.0.1:9630", "address of the exporter")
	rps := flag.Int("rps", 5, "requests a second sent to the stand-in API")
	flag.Parse()

	if err := ensurePackages(); err != nil {
		fmt.Fprintln(os.Stderr, "headroom-demo:", err)
		os.Exit(1)
	}
	// Ctrl-C and SIGTERM end the demo with status 0. They only cancel ctx:
	// teardown runs here, after the start-up step under way (each has a
	// deadline), so that nothing that step starts outlives the demo. The
	// servers run in process groups of their own and do not see Ctrl-C.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stopping := make(chan struct{})
	go func() {
		<-ctx.Done()
		fmt.Println("\nstopping...")
		close(stopping)
	}()
	s := &stack{}
	err := run(ctx, s, *preset, *mixin, *listen, *rps)
	if err != nil && ctx.Err() == nil {
		fmt.Fprintln(os.Stderr, "headroom-demo:", err)
		s.teardown()
		os.Exit(1)
	}
	<-stopping
	s.teardown()
	fmt.Println("stopped.")
}

// errStopped ends start-up when a stop signal came during it.
var errStopped = errors.New("stopped")

// step announces and runs one start-up step, unless the demo is stopping.
func step(ctx context.Context, what string, start func() error) error {
	if ctx.Err() != nil {
		return errStopped
	}
	fmt.Printf("starting %s...\n", what)
	return start()
}

func run(ctx context.Context, s *stack, preset, mixin, listen string, rps int) error {
	began := time.Now()
	dir := filepath.Join(mixin, preset)
	ruleFiles := []string{filepath.Join(dir, "prometheus_rules.yaml"), filepath.Join(dir, "prometheus_alerts.yaml")}
	for _, f := range append(ruleFiles, filepath.Join(dir, "alertmanager.yml")) {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("%w (run from the repository root, or `make generate`)", err)
		}
	}
	apiJob := map[string]string{"health-agent": "health-agent-api", "amas": "amas-orchestrator"}[preset]
	if apiJob == "" {
		return fmt.Errorf("unknown preset %q: want health-agent or amas", preset)
	}

	var (
		pg, replica           *testenv.Postgres
		bouncer               *testenv.PgBouncer
		cache                 *testenv.Redis
		apiAddr, exporterAddr string
		am                    *testenv.Alertmanager
		prom                  *testenv.Prometheus
	)
	steps := []struct {
		what  string
		start func() error
	}{
		{"PostgreSQL primary", func() error { pg = testenv.StartPostgres(s, testenv.PostgresOptions{}); return nil }},
		{"PostgreSQL streaming replica", func() error { replica = pg.StartReplica(s); return nil }},
		{"PgBouncer", func() error {
			bouncer = testenv.StartPgBouncer(s, pg, testenv.PgBouncerOptions{DefaultPoolSize: 5})
			return nil
		}},
		{"Redis", func() error { cache = testenv.StartRedis(s, testenv.RedisOptions{MaxMemory: "64mb"}); return nil }},
		{fmt.Sprintf("the stand-in API (%d requests a second)", rps), func() error {
			api := standin.New()
			var err error
			if apiAddr, err = serve(s, "127.0.0.1:0", api.Handler()); err != nil {
				return err
			}
			load, cancel := context.WithCancel(context.Background())
			s.Cleanup(cancel)
			go standin.Drive(load, "http://"+apiAddr, rps)
			return nil
		}},
		{"the exporter", func() error {
			var err error
			exporterAddr, err = startExporter(s, listen, fmt.Sprintf(`postgres:
  - {name: primary, dsn: '%s', pools: {api: 13}}
  - {name: replica, dsn: '%s'}
pgbouncer:
  - {name: bouncer, dsn: '%s'}
redis:
  - {name: cache, address: '%s'}
api:
  - name: %s
    health_url: http://%s/api/health
    metrics_url: http://%s/api/v1/metrics
    json_fields: [{name: db_pool_utilization_percent, path: database.pool_utilization_percent}]
`, pg.DSN("postgres", "postgres"), replica.DSN("postgres", "postgres"), bouncer.AdminDSN(), cache.Addr(), apiJob, apiAddr, apiAddr))
			return err
		}},
		{"Alertmanager with the " + preset + " routing", func() error {
			amConfig, err := os.ReadFile(filepath.Join(dir, "alertmanager.yml"))
			if err != nil {
				return err
			}
			am = testenv.StartAlertmanager(s, string(amConfig))
			return nil
		}},
		{"Prometheus with the " + preset + " rules", func() error {
			prom = testenv.StartPrometheus(s, testenv.PrometheusOptions{
				ScrapeInterval: 5 * time.Second, EvaluationInterval: 5 * time.Second,
				Targets:      []string{exporterAddr},
				Jobs:         map[string][]string{apiJob: {apiAddr}},
				RuleFiles:    ruleFiles,
				Alertmanager: am.Addr(),
			})
			return waitTargets(prom, []string{"headroom", apiJob}, 30*time.Second)
		}},
	}
	for _, st := range steps {
		if err := step(ctx, st.what, st.start); err != nil {
			return err
		}
	}

	fmt.Printf(`
headroom demo is running (%s preset, started in %s). Open:
  exporter             http://%s/  (landing page: metrics, probe, health, readiness)
  exporter metrics     http://%s/metrics
  Prometheus alerts    %s
  Prometheus rules     %s
  Prometheus targets   %s
  Alertmanager alerts  http://%s/api/v2/alerts  (JSON)
  stand-in API health  http://%s/api/health
Debian's Alertmanager has no web UI; ask it from the command line:
  amtool --alertmanager.url=http://%s alert query
PostgreSQL primary %s, replica %s, PgBouncer %s, Redis %s.
Press Ctrl-C to stop everything.
`, preset, time.Since(began).Round(time.Second), exporterAddr, exporterAddr,
		prometheusPage(prom.Addr(), "alerts"), prometheusPage(prom.Addr(), "rules"), prometheusPage(prom.Addr(), "targets"),
		am.Addr(), apiAddr, am.Addr(), pg.Addr(), replica.Addr(), bouncer.Addr(), cache.Addr())
	return nil
}

// startExporter serves the exporter of configYAML on listen with the handler of
// `headroom serve`, and returns its address.
func startExporter(s *stack, listen, configYAML string) (string, error) {
	cfg, err := config.Parse("demo", []byte(configYAML))
	if err != nil {
		return "", err
	}
	exporter, err := collectors.New(cfg, prometheus.NewRegistry(), slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return "", err
	}
	s.Cleanup(exporter.Close)
	site, err := endpoints.New(exporter, endpoints.Options{})
	if err != nil {
		return "", err
	}
	addr, err := serve(s, listen, site)
	if err != nil {
		return "", fmt.Errorf("exporter: %w (choose another address: make demo DEMO_ARGS=--listen=127.0.0.1:9631)", err)
	}
	return addr, nil
}

// waitTargets waits until Prometheus lists a target of every job, so that
// its targets page shows them by the time the demo prints it: Prometheus
// applies its scrape configuration some seconds after it is ready.
func waitTargets(prom *testenv.Prometheus, jobs []string, within time.Duration) error {
	where := "http://" + prom.Addr() + "/api/v1/targets"
	return testenv.WaitReady("the targets of jobs "+strings.Join(jobs, ", "), where, within, 2*time.Second, func(ctx context.Context) error {
		targets, err := prom.API.Targets(ctx)
		if err != nil {
			return err
		}
		listed := map[string]bool{}
		for _, t := range targets.Active {
			listed[string(t.Labels["job"])] = true
		}
		var missing []string
		for _, j := range jobs {
			if !listed[j] {
				missing = append(missing, j)
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("job %s not listed", strings.Join(missing, ", "))
		}
		return nil
	})
}

// prometheusPage is the URL of a page of Prometheus's web UI. Debian's
// Prometheus 2 serves only the classic pages, under /classic/; a build with
// the React UI serves them at the root.
func prometheusPage(addr, page string) string {
	client := http.Client{Timeout: 2 * time.Second}
	for _, path := range []string{"/classic/" + page, "/" + page} {
		url := "http://" + addr + path
		resp, err := client.Get(url)
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			return url
		}
	}
	return "http://" + addr + "/classic/" + page
}

// serve listens on addr and serves h until teardown; it returns the address.
func serve(s *stack, addr string, h http.Handler) (string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	s.Cleanup(func() { srv.Close() })
	return l.Addr().String(), nil
}

// ensurePackages installs what is missing when root, and otherwise says
// the exact command.
func ensurePackages() error {
	var missing []string
	for _, p := range packages {
		if _, err := os.Stat(p.file); errors.Is(err, os.ErrNotExist) {
			missing = append(missing, p.pkg)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	install := "apt-get install -y " + strings.Join(missing, " ")
	if os.Geteuid() != 0 {
		return fmt.Errorf("missing Debian packages; run: sudo %s", install)
	}
	fmt.Println("installing", strings.Join(missing, ", "), "...")
	// Packages must not start their own services (a second PostgreSQL,
	// Prometheus on :9090): the demo runs its own, and leaves nothing behind.
	const policy = "/usr/sbin/policy-rc.d"
	if _, err := os.Stat(policy); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(policy, []byte("#!/bin/sh\nexit 101\n"), 0o755); err == nil {
			defer os.Remove(policy)
		}
	}
	for _, args := range [][]string{{"apt-get", "update", "-qq"}, append([]string{"apt-get", "install", "-y", "-qq"}, missing...)} {
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s: %w", strings.Join(args, " "), err)
		}
	}
	return nil
}

// stack adapts testenv's test-helper interface to a program: cleanups run
// in reverse on teardown, and a fatal error tears down and exits.
type stack struct {
	mu       sync.Mutex
	cleanups []func()
	once     sync.Once
}

func (s *stack) Helper() {}

func (s *stack) Logf(format string, args ...any) { fmt.Printf(format+"\n", args...) }

func (s *stack) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "headroom-demo: "+format+"\n", args...)
	s.teardown()
	os.Exit(1)
}

func (s *stack) Cleanup(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, f)
}

func (s *stack) teardown() {
	s.once.Do(func() {
		s.mu.Lock()
		fs := s.cleanups
		s.mu.Unlock()
		for i := len(fs) - 1; i >= 0; i-- {
			fs[i]()
		}
	})
}
