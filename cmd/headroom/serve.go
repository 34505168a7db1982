package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	versioncollector "github.com/prometheus/client_golang/prometheus/collectors/version"
	"github.com/prometheus/common/promslog"
	promslogflag "github.com/prometheus/common/promslog/flag"
	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"

	headroom "github.com/headroom-dev/headroom/collectors"
	"github.com/headroom-dev/headroom/internal/config"
)

// defaultListenAddress is headroom's port.
const defaultListenAddress = ":9630"

type serveCommand struct {
	cmd             *kingpin.CmdClause
	configFile      string
	scrapeTimeout   time.Duration
	timeoutOffset   time.Duration
	metricsPath     string
	webFlags        *web.FlagConfig
	logConfig       *promslog.Config
	onlyCheckConfig bool
}

func (s *serveCommand) clause() *kingpin.CmdClause { return s.cmd }

func newServeCommand(app *kingpin.Application) *serveCommand {
	s := &serveCommand{logConfig: &promslog.Config{}}
	s.cmd = app.Command("serve", "Serve /metrics and /probe for the targets in the config file.").Default()
	s.cmd.Flag("config.file", "Target configuration file (YAML).").Default("headroom.yml").StringVar(&s.configFile)
	s.cmd.Flag("config.check", "Validate the config file and exit.").BoolVar(&s.onlyCheckConfig)
	s.cmd.Flag("scrape.timeout", "Deadline of a scrape when Prometheus does not send X-Prometheus-Scrape-Timeout-Seconds.").
		Default("10s").DurationVar(&s.scrapeTimeout)
	s.cmd.Flag("scrape.timeout-offset", "Kept back from Prometheus's scrape timeout so that the answer arrives in time.").
		Default("500ms").DurationVar(&s.timeoutOffset)
	s.cmd.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").StringVar(&s.metricsPath)
	s.webFlags = kingpinflag.AddFlags(s.cmd, defaultListenAddress)
	// promslog's helper takes an application; its flags apply to every command.
	promslogflag.AddFlags(app, s.logConfig)
	return s
}

func (s *serveCommand) run() error {
	logger := promslog.New(s.logConfig)
	// Targets that log outside a scrape (one-time notes) use the default.
	slog.SetDefault(logger)
	cfg, err := config.Load(s.configFile)
	if err != nil {
		return err
	}
	if s.onlyCheckConfig {
		logger.Info("config is valid", "file", s.configFile, "postgres", len(cfg.Postgres),
			"pgbouncer", len(cfg.PgBouncer), "redis", len(cfg.Redis), "api", len(cfg.API))
		return nil
	}

	static := prometheus.NewRegistry()
	static.MustRegister(
		versioncollector.NewCollector("headroom"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	exporter, err := headroom.New(cfg, static, logger)
	if err != nil {
		return err
	}
	defer exporter.Close()
	exporter.DefaultTimeout = s.scrapeTimeout
	exporter.Offset = s.timeoutOffset

	mux := http.NewServeMux()
	mux.Handle(s.metricsPath, exporter.MetricsHandler())
	mux.Handle("/probe", exporter.ProbeHandler())
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("Healthy\n")) })
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("Ready\n")) })
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        "headroom",
		Description: "Scale-up and scale-down signals from PostgreSQL, PgBouncer, Redis and API health",
		Version:     version.Info(),
		Links: []web.LandingLinks{
			{Address: s.metricsPath, Text: "Metrics", Description: "Every configured target"},
			{Address: "/probe?target=" + url.QueryEscape(firstTarget(exporter)), Text: "Probe", Description: "One configured target by name"},
			{Address: "/-/healthy", Text: "Health"},
		},
	})
	if err != nil {
		return err
	}
	mux.Handle("/", landing)

	logger.Info("starting headroom", "version", version.Info(), "config", s.configFile, "targets", len(exporter.Runners()))
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- web.ListenAndServe(server, s.webFlags, logger) }()

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err := <-done:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case sig := <-stop:
		logger.Info("shutting down", "signal", sig.String())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return server.Shutdown(ctx)
	}
}

func firstTarget(e *headroom.Exporter) string {
	if rs := e.Runners(); len(rs) > 0 {
		return rs[0].Name()
	}
	return ""
}
