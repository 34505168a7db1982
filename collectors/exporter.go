package collectors

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"github.com/headroom-dev/headroom/internal/config"
)

// Exporter serves the configured targets over HTTP.
type Exporter struct {
	runners []*Runner
	byName  map[string]*Runner
	static  prometheus.Gatherer
	logger  *slog.Logger
	// DefaultTimeout applies when Prometheus does not send its scrape
	// timeout; Offset is kept back from Prometheus's timeout so that the
	// answer arrives before Prometheus gives up on it.
	DefaultTimeout time.Duration
	Offset         time.Duration
}

// New builds one Runner per configured target. Nothing connects yet:
// connections are made on the first scrape, so an unreachable server at
// start-up is a target that is down, not an exporter that will not start.
func New(cfg *config.Config, static prometheus.Gatherer, logger *slog.Logger) (*Exporter, error) {
	e := &Exporter{byName: map[string]*Runner{}, static: static, logger: logger,
		DefaultTimeout: 10 * time.Second, Offset: 500 * time.Millisecond}
	add := func(t Target) {
		r := NewRunner(t, logger)
		e.runners = append(e.runners, r)
		e.byName[t.Name()] = r
	}
	for _, p := range cfg.Postgres {
		t, err := NewPostgres(p)
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("postgres target %q: %w", p.Name, err)
		}
		add(t)
	}
	for _, b := range cfg.PgBouncer {
		t, err := NewPgBouncer(b)
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("pgbouncer target %q: %w", b.Name, err)
		}
		add(t)
	}
	for _, r := range cfg.Redis {
		t, err := NewRedis(r)
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("redis target %q: %w", r.Name, err)
		}
		add(t)
	}
	for _, a := range cfg.API {
		t, err := NewAPI(a)
		if err != nil {
			e.Close()
			return nil, fmt.Errorf("api target %q: %w", a.Name, err)
		}
		add(t)
	}
	return e, nil
}

// Close releases every target's connections.
func (e *Exporter) Close() {
	for _, r := range e.runners {
		r.Close()
	}
}

// Runners lists the targets in config order.
func (e *Exporter) Runners() []*Runner { return e.runners }

// scrapeContext derives the deadline for a scrape from Prometheus's header.
func (e *Exporter) scrapeContext(r *http.Request) (context.Context, context.CancelFunc) {
	timeout := e.DefaultTimeout
	if v := r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"); v != "" {
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs > 0 {
			timeout = time.Duration(secs * float64(time.Second))
			if timeout > e.Offset*2 {
				timeout -= e.Offset
			}
		}
	}
	return context.WithTimeout(r.Context(), timeout)
}

// MetricsHandler serves every target plus the exporter's own metrics.
func (e *Exporter) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := e.scrapeContext(r)
		defer cancel()
		e.serve(w, r, gatherWithStatic(ctx, e.static, e.runners...))
	})
}

// ProbeHandler serves one configured target, named by ?target=. It never
// connects anywhere that is not in the config: an unknown name is a 400.
func (e *Exporter) ProbeHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("target")
		if name == "" {
			http.Error(w, "target parameter is missing", http.StatusBadRequest)
			return
		}
		runner, ok := e.byName[name]
		if !ok {
			http.Error(w, fmt.Sprintf("unknown target %q: %v", name, ErrNoTarget), http.StatusBadRequest)
			return
		}
		ctx, cancel := e.scrapeContext(r)
		defer cancel()
		e.serve(w, r, scrapeGatherer{ctx: ctx, runners: []*Runner{runner}})
	})
}

func (e *Exporter) serve(w http.ResponseWriter, r *http.Request, g scrapeGatherer) {
	format := expfmt.NegotiateAccept(r.Header, expfmt.DefaultAcceptedFormats()...)
	if format.FormatType() == expfmt.TypeTextPlain {
		e.serveText(w, r, g, format)
		return
	}
	h := promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(e.logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
		// Compressed below, faster: promhttp's gzip runs at the default
		// level, which cost more CPU per scrape than all of a target's
		// queries, for a few kilobytes saved. klauspost/compress (already
		// in client_golang's module graph) compresses a scrape at
		// BestSpeed in about half the time of the standard library's,
		// and smaller.
		DisableCompression: true,
	})
	if !acceptsGzip(r) {
		h.ServeHTTP(w, r)
		return
	}
	gz, done := gzipTo(w)
	h.ServeHTTP(gzipResponse{ResponseWriter: w, w: gz}, r)
	done()
}

// serveText writes the text format itself (encode.go says why), with the
// headers promhttp would send.
func (e *Exporter) serveText(w http.ResponseWriter, r *http.Request, g scrapeGatherer, format expfmt.Format) {
	parts := g.gatherText()
	w.Header().Add("Vary", "Accept")
	w.Header().Set("Content-Type", string(format))
	out, done := io.Writer(w), func() error { return nil }
	if acceptsGzip(r) {
		out, done = gzipTo(w)
	}
	// Written whole into memory first, then compressed in one call: a
	// thousand small writes to the compressor cost more than the copy.
	text := textBuffers.get()
	text.Reset()
	defer textBuffers.put(text)
	err := writeText(text, parts, r.URL.Query()["name[]"]...)
	for _, p := range parts {
		p.release()
	}
	if _, werr := out.Write(text.Bytes()); err == nil {
		err = werr
	}
	if cerr := done(); err == nil {
		err = cerr
	}
	if err != nil {
		e.logger.Error("error gathering metrics", "err", err)
	}
}

// gzipTo starts a gzip response; done ends the stream and keeps the
// writer for the next scrape.
func gzipTo(w http.ResponseWriter) (*gzip.Writer, func() error) {
	w.Header().Set("Content-Encoding", "gzip")
	w.Header().Add("Vary", "Accept-Encoding")
	gz := gzipWriters.get()
	gz.Reset(w)
	return gz, func() error {
		err := gz.Close()
		// The kept writer must not keep this response alive.
		gz.Reset(io.Discard)
		gzipWriters.put(gz)
		return err
	}
}

// textBuffers are what scrapes are written into.
var textBuffers = newFreeList(4, func() *bytes.Buffer { return &bytes.Buffer{} })

var gzipWriters = newFreeList(4, func() *gzip.Writer {
	gz, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return gz
})

// freeList keeps a few values between scrapes. Not a sync.Pool: the
// garbage collector empties those, and at headroom's heap size it ran
// about every other scrape, so each scrape built a new gzip writer (its
// tables and window were a fifth of what a scrape allocated) and made the
// next collection come sooner.
type freeList[T any] struct {
	free  chan T
	build func() T
}

func newFreeList[T any](size int, build func() T) freeList[T] {
	return freeList[T]{free: make(chan T, size), build: build}
}

func (l freeList[T]) get() T {
	select {
	case v := <-l.free:
		return v
	default:
		return l.build()
	}
}

func (l freeList[T]) put(v T) {
	select {
	case l.free <- v:
	default:
	}
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && !refused(params) {
			return true
		}
	}
	return false
}

// refused says whether Accept-Encoding parameters give a weight of zero
// (q=0, q=0.0, q=0.000).
func refused(params string) bool {
	q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
	if !ok {
		return false
	}
	v, err := strconv.ParseFloat(q, 64)
	return err == nil && v == 0
}

type gzipResponse struct {
	http.ResponseWriter
	w io.Writer
}

func (g gzipResponse) Write(b []byte) (int, error) { return g.w.Write(b) }
