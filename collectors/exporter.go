package collectors

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"

	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/exposition"
	"github.com/headroom-dev/headroom/internal/kind"
)

// Exporter serves the configured targets over HTTP.
type Exporter struct {
	runners []*Runner
	// sources are the runners as /metrics gathers them, and probes each
	// one alone by name as /probe does: made with the runners, so that a
	// scrape does not make them again.
	sources exposition.Sources
	probes  map[string]exposition.Sources
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
	e := &Exporter{static: static, logger: logger,
		DefaultTimeout: 10 * time.Second, Offset: 500 * time.Millisecond}
	e.stopping, e.stop = context.WithCancelCause(context.Background())
	for _, k := range kind.All() {
		for _, c := range constructors[k](cfg) {
			t, err := c.build(logger)
			if err != nil {
				e.Close()
				return nil, fmt.Errorf("%s target %q: %w", k, c.name, err)
			}
			e.runners = append(e.runners, NewRunner(t, logger))
		}
	}
	e.SetScrapeConcurrency(DefaultScrapeConcurrency)
	e.sources = sources(e.runners)
	e.probes = make(map[string]exposition.Sources, len(e.runners))
	for i, r := range e.runners {
		e.probes[r.Name()] = e.sources.Only(i)
	}
	return e, nil
}

// SetScrapeConcurrency caps how many targets are scraped at once, across
// all of this exporter's scrapes (DefaultScrapeConcurrency until set).
// Call it before serving: scrapes in flight keep the cap they started
// with. n must be at least 1.
func (e *Exporter) SetScrapeConcurrency(n int) error {
	if n < 1 {
		return fmt.Errorf("scrape concurrency must be at least 1, got %d", n)
	}
	slots := newScrapeSlots(n)
	for _, r := range e.runners {
		r.slots = slots
	}
	return nil
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
		exposition.Serve(w, r, exposition.NewGatherer(ctx, e.static, e.sources), e.logger)
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
		probe, ok := e.probes[name]
		if !ok {
			http.Error(w, fmt.Sprintf("unknown target %q: %v", name, ErrNoTarget), http.StatusBadRequest)
			return
		}
		ctx, cancel := e.scrapeContext(r)
		defer cancel()
		exposition.Serve(w, r, exposition.NewGatherer(ctx, nil, probe), e.logger)
	})
}

// TargetGroup is one entry of Prometheus's HTTP service discovery format
// (http_sd_configs): the addresses to scrape and the labels they get.
type TargetGroup struct {
	Targets []string          `json:"targets"`
	Labels  map[string]string `json:"labels"`
}

// Discovery labels each listed target carries. Only names starting with
// "__" are set: every series headroom serves already carries its own
// target and kind labels, and a discovered label of the same name would
// turn them into exported_target and exported_kind. Prometheus drops
// the "__meta_" ones after relabelling, so they cost nothing unless a
// scrape config keeps them.
const (
	// SDTargetParam makes Prometheus send ?target=NAME to /probe.
	SDTargetParam = "__param_target"
	// SDKindLabel is the target's kind (postgres, pgbouncer, redis, api),
	// for relabelling that keeps or routes targets by kind.
	SDKindLabel = "__meta_headroom_target_kind"
)

// TargetGroups lists every configured target for /probe scraping, in
// config order, one group each, as address: the address the exporter
// was reached at, so that each replica of the exporter lists itself and
// what Prometheus discovers there it scrapes there. Targets are listed by
// name; nothing of their DSN or address is shown.
func (e *Exporter) TargetGroups(address string) []TargetGroup {
	groups := make([]TargetGroup, 0, len(e.runners))
	for _, r := range e.runners {
		groups = append(groups, TargetGroup{
			Targets: []string{address},
			Labels: map[string]string{
				SDTargetParam:          r.Name(),
				SDKindLabel:            string(r.Kind()),
				model.MetricsPathLabel: "/probe",
			},
		})
	}
	return groups
}

// TargetsHandler serves TargetGroups in the http_sd format, with the
// address the request was sent to (its Host header) as every group's
// target.
func (e *Exporter) TargetsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := json.Marshal(e.TargetGroups(r.Host))
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	})
}
