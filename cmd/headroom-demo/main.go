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
	s := &stack{}
	defer s.teardown()
	go func() {
		// Ctrl-C stops everything, however far start-up got.
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
		<-sig
		fmt.Println("\nstopping...")
		s.teardown()
		os.Exit(0)
	}()
	if err := run(s, *preset, *mixin, *listen, *rps); err != nil {
		fmt.Fprintln(os.Stderr, "headroom-demo:", err)
		s.teardown()
		os.Exit(1)
	}
	select {}
}

func run(s *stack, preset, mixin, listen string, rps int) error {
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

	fmt.Println("starting PostgreSQL primary and replica, PgBouncer and Redis...")
	pg := testenv.StartPostgres(s, testenv.PostgresOptions{})
	replica := pg.StartReplica(s)
	bouncer := testenv.StartPgBouncer(s, pg, testenv.PgBouncerOptions{DefaultPoolSize: 5})
	cache := testenv.StartRedis(s, testenv.RedisOptions{MaxMemory: "64mb"})

	api := standin.New()
	apiAddr, err := serve(s, "127.0.0.1:0", api.Handler())
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.Cleanup(cancel)
	go standin.Drive(ctx, "http://"+apiAddr, rps)

	cfg, err := config.Parse("demo", []byte(fmt.Sprintf(`postgres:
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
`, pg.DSN("postgres", "postgres"), replica.DSN("postgres", "postgres"), bouncer.AdminDSN(), cache.Addr(), apiJob, apiAddr, apiAddr)))
	if err != nil {
		return err
	}
	static := prometheus.NewRegistry()
	exporter, err := collectors.New(cfg, static, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		return err
	}
	s.Cleanup(exporter.Close)
	site, err := endpoints.New(exporter, endpoints.Options{})
	if err != nil {
		return err
	}
	exporterAddr, err := serve(s, listen, site)
	if err != nil {
		return err
	}

	fmt.Println("starting Alertmanager and Prometheus with the", preset, "rules...")
	amConfig, err := os.ReadFile(filepath.Join(dir, "alertmanager.yml"))
	if err != nil {
		return err
	}
	am := testenv.StartAlertmanager(s, string(amConfig))
	prom := testenv.StartPrometheus(s, testenv.PrometheusOptions{
		ScrapeInterval: 5 * time.Second, EvaluationInterval: 5 * time.Second,
		Targets:      []string{exporterAddr},
		Jobs:         map[string][]string{apiJob: {apiAddr}},
		RuleFiles:    ruleFiles,
		Alertmanager: am.Addr(),
	})

	fmt.Printf(`
headroom demo is running (%s preset). Open:
  exporter metrics     http://%s/metrics
  Prometheus alerts    http://%s/alerts
  Prometheus rules     http://%s/rules
  Alertmanager         http://%s/
  stand-in API health  http://%s/api/health
PostgreSQL primary %s, replica %s, PgBouncer %s, Redis %s.
Press Ctrl-C to stop everything.
`, preset, exporterAddr, prom.Addr(), prom.Addr(), am.Addr(), apiAddr, pg.Addr(), replica.Addr(), bouncer.Addr(), cache.Addr())
	return nil
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
