package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
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
	"github.com/headroom-dev/headroom/internal/toolhelp"
)

// defaultListenAddress is headroom's port.
const defaultListenAddress = ":9630"

type serveCommand struct {
	cmd             *kingpin.CmdClause
	configFile      string
	scrapeTimeout   time.Duration
	timeoutOffset   time.Duration
	concurrency     int
	shutdownGrace   time.Duration
	metricsPath     string
	webFlags        *web.FlagConfig
	logConfig       *promslog.Config
	onlyCheckConfig bool
	profiling       bool
}

func newServeCommand(app *kingpin.Application) *serveCommand {
	s := &serveCommand{logConfig: &promslog.Config{}}
	s.cmd = app.Command("serve", "Serve /metrics and /probe for the targets in the config file. "+
		"Config fields: "+exporterConfigDocs+" ("+toolhelp.DocsURL+exporterConfigDocs+").").Default()
	s.cmd.Flag("config.file", "Target configuration file (YAML); fields in "+exporterConfigDocs+".").Default("headroom.yml").StringVar(&s.configFile)
	s.cmd.Flag("config.check", "Validate the config file and exit.").BoolVar(&s.onlyCheckConfig)
	s.cmd.Flag("scrape.timeout", "Deadline of a scrape when Prometheus does not send X-Prometheus-Scrape-Timeout-Seconds.").
		Default("10s").DurationVar(&s.scrapeTimeout)
	s.cmd.Flag("scrape.timeout-offset", "The most kept back from Prometheus's scrape timeout so that the answer arrives in time; a quarter of the timeout when that is less (docs/scrape-deadline.md).").
		Default("500ms").DurationVar(&s.timeoutOffset)
	s.cmd.Flag("scrape.concurrency", "At most this many targets are scraped at once, across all scrapes; the others wait for a slot within their scrape's deadline (docs/config.md).").
		Default(strconv.Itoa(headroom.DefaultScrapeConcurrency)).IntVar(&s.concurrency)
	s.cmd.Flag("shutdown.grace-period", "On SIGTERM or SIGINT, scrapes in flight keep their own deadline but end at the latest this long after the signal, with up 0 reason shutdown for the targets that had not answered.").
		Default("10s").DurationVar(&s.shutdownGrace)
	s.cmd.Flag("web.telemetry-path", "Path under which to expose metrics.").Default("/metrics").StringVar(&s.metricsPath)
	s.cmd.Flag("web.enable-profiling", "Serve Go's pprof profiles under /debug/pprof/ and link them from the landing page.").BoolVar(&s.profiling)
	s.webFlags = kingpinflag.AddFlags(s.cmd, defaultListenAddress)
	// promslog's helper takes an application; its flags apply to every command.
	promslogflag.AddFlags(app, s.logConfig)
	return s
}

func (s *serveCommand) run() error {
	logger := promslog.New(s.logConfig)
	// Targets log through the logger injected here; only the lines go-redis
	// logs from its own goroutines (kept for debug; they name no target)
	// go through the default, as the library's logger is one for the whole
	// process (collectors/redis.go).
	slog.SetDefault(logger)
	cfg, err := config.Load(s.configFile)
	if err != nil {
		return err
	}
	if s.onlyCheckConfig {
		attrs := []any{"file", s.configFile}
		for _, c := range headroom.TargetsPerKind(cfg) {
			attrs = append(attrs, string(c.Kind), c.N)
		}
		logger.Info("config is valid", attrs...)
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
	if err := exporter.SetScrapeConcurrency(s.concurrency); err != nil {
		return fmt.Errorf("--scrape.concurrency: %w", err)
	}
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
		return s.shutdown(logger, sig, site, exporter, server)
	}
}

// shutdown stops serving without dropping a scrape: /-/ready answers 503
// from now on, the scrapes in flight are answered by the end of the grace
// period, and only then does the listener close. Kept open until then, it
// lets a readiness probe see the 503 instead of a refused connection.
func (s *serveCommand) shutdown(logger *slog.Logger, sig os.Signal, site *endpoints.Server, exporter *headroom.Exporter, server *http.Server) error {
	logger.Info("shutting down", "signal", sig.String(), "grace_period", s.shutdownGrace)
	site.Drain()
	// Every answer from now on closes its connection, so that none is
	// left idle for the next scrape to find gone.
	server.SetKeepAlivesEnabled(false)
	exporter.Shutdown(s.shutdownGrace)
	// Past the grace period every scrape has its answer; the second is for
	// writing the answers out.
	ctx, cancel := context.WithTimeout(context.Background(), max(s.shutdownGrace, 0)+time.Second)
	defer cancel()
	if err := exporter.WaitScrapes(ctx); err != nil {
		logger.Warn("scrapes still in flight at the end of the grace period", "err", err)
	}
	if err := server.Shutdown(ctx); err != nil {
		return fmt.Errorf("closing connections after the grace period: %w", err)
	}
	logger.Info("shut down")
	return nil
}
