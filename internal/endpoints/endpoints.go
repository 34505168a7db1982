// Package endpoints builds the HTTP surface of headroom serve: /metrics,
// /probe, /targets, /-/healthy, /-/ready, the landing page and, when asked for,
// /debug/pprof. The demo serves the same handler, so what docs/cli.md lists
// answers in both.
package endpoints

import (
	"fmt"
	"net/http"
	"net/http/pprof"
	"net/url"
	"sync/atomic"

	"github.com/prometheus/common/version"
	"github.com/prometheus/exporter-toolkit/web"

	"github.com/headroom-dev/headroom/collectors"
)

// TargetsPath serves the configured targets for Prometheus's HTTP service
// discovery, so that replicas of the exporter can share them.
const TargetsPath = "/targets"

// Options are the process settings the endpoints depend on.
type Options struct {
	// MetricsPath is where every target is served (default /metrics).
	MetricsPath string
	// Profiling mounts net/http/pprof under /debug/pprof/ and links it from
	// the landing page. Off by default: exporter-toolkit's landing page
	// links profiles whether or not anything serves them.
	Profiling bool
}

// Server is the handler plus the readiness it reports.
type Server struct {
	http.Handler
	draining atomic.Bool
}

// Drain makes /-/ready answer 503 from now on, so that a load balancer or
// Kubernetes stops sending scrapes while in-flight ones finish.
func (s *Server) Drain() { s.draining.Store(true) }

// New builds the endpoints for an exporter.
func New(exporter *collectors.Exporter, opts Options) (*Server, error) {
	if opts.MetricsPath == "" {
		opts.MetricsPath = "/metrics"
	}
	// The mux panics on a pattern registered twice: name the flag instead.
	for _, taken := range []string{"/probe", TargetsPath, "/-/healthy", "/-/ready", "/"} {
		if opts.MetricsPath == taken {
			return nil, fmt.Errorf("--web.telemetry-path %s is taken by another endpoint", taken)
		}
	}
	s := &Server{}
	mux := http.NewServeMux()
	mux.Handle(opts.MetricsPath, exporter.MetricsHandler())
	mux.Handle("/probe", exporter.ProbeHandler())
	mux.Handle(TargetsPath, exporter.TargetsHandler())
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("Healthy\n")) })
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if s.draining.Load() {
			http.Error(w, "Shutting down", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("Ready\n"))
	})
	profiling := "false"
	if opts.Profiling {
		profiling = "true"
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	landing, err := web.NewLandingPage(web.LandingConfig{
		Name:        "headroom",
		Description: "Scale-up and scale-down signals from PostgreSQL, PgBouncer, Redis and API health",
		Version:     version.Info(),
		Profiling:   profiling,
		Links: []web.LandingLinks{
			{Address: opts.MetricsPath, Text: "Metrics", Description: "Every configured target"},
			{Address: "/probe?target=" + url.QueryEscape(firstTarget(exporter)), Text: "Probe", Description: "One configured target by name"},
			{Address: TargetsPath, Text: "Targets", Description: "Every configured target for /probe, in Prometheus's http_sd format (docs/sharding.md)"},
			{Address: "/-/healthy", Text: "Health"},
			{Address: "/-/ready", Text: "Readiness"},
		},
	})
	if err != nil {
		return nil, err
	}
	mux.Handle("/", landing)
	s.Handler = mux
	return s, nil
}

func firstTarget(e *collectors.Exporter) string {
	if rs := e.Runners(); len(rs) > 0 {
		return rs[0].Name()
	}
	return ""
}
