package collectors

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/kind"
)

// Exporter serves the configured targets over HTTP.
type Exporter struct {
	runners []*Runner
	byName  map[string]*Runner
	static  prometheus.Gatherer
	logger  *slog.Logger
	// DefaultTimeout is the scrape budget when Prometheus sends no usable
	// scrape timeout; Offset caps what ScrapeBudget keeps back from the
	// timeout Prometheus sends, so that the answer arrives before
	// Prometheus gives up on it.
	DefaultTimeout time.Duration
	Offset         time.Duration

	// stopping is cancelled with ErrShutdown when the grace period after
	// Shutdown ends; every scrape's context follows it.
	stopping context.Context
	stop     context.CancelCauseFunc
	stopOnce sync.Once
	inflight scrapeCount

	badHeaders   sync.Map // header values already logged as unusable
	badHeaderNum atomic.Int32
}

// ErrShutdown is the cause of a scrape cut short because headroom is
// shutting down; the targets that had not answered report reason shutdown.
var ErrShutdown = errors.New("headroom is shutting down")

// The limits of the scrape budget (docs/scrape-deadline.md).
const (
	// MinScrapeBudget is the least time a scrape gets, whatever the header
	// says: below it not even a healthy target on loopback answers.
	MinScrapeBudget = 50 * time.Millisecond
	// MaxScrapeTimeout is the largest header value taken as it is; larger
	// ones are read as this. Prometheus's scrape_timeout is at most its
	// scrape_interval, and a scrape held open for longer only ties up
	// connections to servers that are not answering.
	MaxScrapeTimeout = 5 * time.Minute
	// maxLoggedHeaders bounds the unusable header values remembered for
	// logging once each, so that a client cannot grow the set without end.
	maxLoggedHeaders = 64
)

// ScrapeBudget is how long a scrape may take when Prometheus gives up after
// timeout: the timeout less a quarter of it, but less at most maxOffset,
// and never below MinScrapeBudget. The quarter keeps short timeouts
// answerable (1s leaves 750ms); the cap keeps long ones from wasting time
// (10s leaves 9.5s with the default 500ms). It never decreases as the
// timeout grows: up to 4*maxOffset it is 3/4 of the timeout, above it the
// timeout less maxOffset, and the two meet at 4*maxOffset.
func ScrapeBudget(timeout, maxOffset time.Duration) time.Duration {
	offset := min(max(maxOffset, 0), timeout/4)
	return max(timeout-offset, MinScrapeBudget)
}

// New builds one Runner per configured target, kind by kind in
// kind.All()'s order and in the file's order within a kind, each with the
// injected logger (kinds.go's table says how each kind is built). Nothing
// connects yet: connections are made on the first scrape, so an
// unreachable server at start-up is a target that is down, not an
// exporter that will not start.
func New(cfg *config.Config, static prometheus.Gatherer, logger *slog.Logger) (*Exporter, error) {
	e := &Exporter{byName: map[string]*Runner{}, static: static, logger: logger,
		DefaultTimeout: 10 * time.Second, Offset: 500 * time.Millisecond}
	e.stopping, e.stop = context.WithCancelCause(context.Background())
	add := func(t Target) {
		r := NewRunner(t, logger)
		e.runners = append(e.runners, r)
		e.byName[t.Name()] = r
	}
	for _, k := range kind.All() {
		for _, c := range constructors[k](cfg) {
			t, err := c.build(logger)
			if err != nil {
				e.Close()
				return nil, fmt.Errorf("%s target %q: %w", k, c.name, err)
			}
			add(t)
		}
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

// Shutdown makes every scrape in flight, and every one that starts from
// now on, end at the latest grace from now: the targets that have not
// answered by then report up 0 with reason shutdown. A scrape whose own
// deadline comes first keeps it. Shutdown returns at once; WaitScrapes
// waits for the scrapes to be answered.
func (e *Exporter) Shutdown(grace time.Duration) {
	e.stopOnce.Do(func() {
		if grace <= 0 {
			e.stop(ErrShutdown)
			return
		}
		time.AfterFunc(grace, func() { e.stop(ErrShutdown) })
	})
}

// WaitScrapes returns when no scrape is in flight, or with ctx's error.
func (e *Exporter) WaitScrapes(ctx context.Context) error { return e.inflight.wait(ctx) }

// scrapeTimeout reads Prometheus's header: the timeout it announced and
// whether there was a usable one. A value that is not a positive finite
// number of seconds is not usable (the caller falls back to
// DefaultTimeout); one above MaxScrapeTimeout is read as that. Either is
// logged once per distinct value.
func (e *Exporter) scrapeTimeout(header string) (time.Duration, bool) {
	if header == "" {
		return 0, false
	}
	secs, err := strconv.ParseFloat(strings.TrimSpace(header), 64)
	switch {
	case err != nil || math.IsNaN(secs) || math.IsInf(secs, 0) || secs <= 0:
		e.noteBadHeader(header, "not a positive number of seconds; using --scrape.timeout", e.DefaultTimeout)
		return 0, false
	case secs > MaxScrapeTimeout.Seconds():
		e.noteBadHeader(header, "larger than the cap; using the cap", MaxScrapeTimeout)
		return MaxScrapeTimeout, true
	}
	return time.Duration(secs * float64(time.Second)), true
}

func (e *Exporter) noteBadHeader(value, why string, used time.Duration) {
	if _, seen := e.badHeaders.Load(value); seen || e.badHeaderNum.Load() >= maxLoggedHeaders {
		return
	}
	if _, seen := e.badHeaders.LoadOrStore(value, struct{}{}); seen {
		return
	}
	e.badHeaderNum.Add(1)
	e.logger.Warn("unusable X-Prometheus-Scrape-Timeout-Seconds", "value", value, "why", why, "timeout", used)
}

// scrapeBudget is the time a scrape announced with this header gets.
func (e *Exporter) scrapeBudget(header string) time.Duration {
	timeout, ok := e.scrapeTimeout(header)
	if !ok {
		return max(e.DefaultTimeout, MinScrapeBudget)
	}
	return ScrapeBudget(timeout, e.Offset)
}

// scrapeContext derives a scrape's context: done at the scrape budget, or
// with cause ErrShutdown when the shutdown grace period ends.
func (e *Exporter) scrapeContext(r *http.Request) (context.Context, context.CancelFunc) {
	budget := e.scrapeBudget(r.Header.Get("X-Prometheus-Scrape-Timeout-Seconds"))
	e.inflight.add(1)
	ctx, cancelCause := context.WithCancelCause(r.Context())
	unwatch := context.AfterFunc(e.stopping, func() { cancelCause(context.Cause(e.stopping)) })
	ctx, cancelTimeout := context.WithTimeout(ctx, budget)
	return ctx, func() {
		cancelTimeout()
		unwatch()
		cancelCause(context.Canceled)
		e.inflight.add(-1)
	}
}

// scrapeCount counts scrapes in flight, for WaitScrapes.
type scrapeCount struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed while n is 0
}

func (c *scrapeCount) add(delta int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.idle == nil {
		c.idle = make(chan struct{})
		close(c.idle)
	}
	was := c.n
	c.n += delta
	switch {
	case was == 0 && c.n > 0:
		c.idle = make(chan struct{})
	case was > 0 && c.n == 0:
		close(c.idle)
	}
}

func (c *scrapeCount) wait(ctx context.Context) error {
	c.mu.Lock()
	if c.n == 0 {
		c.mu.Unlock()
		return nil
	}
	idle := c.idle
	c.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
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
