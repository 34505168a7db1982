package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
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
	"github.com/headroom-dev/headroom/internal/endpoints"
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
	profiling       bool
}

func (s *serveCommand) clause() *kingpin.CmdClause { return s.cmd }

func newServeCommand(app *kingpin.Application) *serveCommand {
	s := &serveCommand{logConfig: &promslog.Config{}}
	s.cmd = app.Command("serve", "Serve /metrics and /probe for the targets in the config file. "+
		"Config fields: "+exporterConfigDocs+" ("+docsURL+exporterConfigDocs+").").Default()
	s.cmd.Flag("config.file", "Target configuration file (YAML); fields in "+exporterConfigDocs+".").Default("headroom.yml").StringVar(&s.configFile)
	s.cmd.Flag("config.check", "Validate the config file and exit.").BoolVar(&s.onlyCheckConfig)
	s.cmd.Flag("scrape.timeout", "Deadline of a scrape when Prometheus does not send X-Prometheus-Scrape-Timeout-Seconds.").
		Default("10s").DurationVar(&s.scrapeTimeout)
	s.cmd.Flag("scrape.timeout-offset", "Kept back from Prometheus's scrape timeout so that the answer arrives in time.").
		Default("500ms").DurationVar(&s.timeoutOffset)
	s.cmd.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").StringVar(&s.metricsPath)
	s.cmd.Flag("web.enable-profiling", "Serve Go's pprof profiles under /debug/pprof/ and link them from the landing page.").BoolVar(&s.profiling)
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

	site, err := endpoints.New(exporter, endpoints.Options{MetricsPath: s.metricsPath, Profiling: s.profiling})
	if err != nil {
		return err
	}

	logger.Info("starting headroom", "version", version.Info(), "config", s.configFile, "targets", len(exporter.Runners()))
	server := &http.Server{Handler: site, ReadHeaderTimeout: 10 * time.Second}
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
