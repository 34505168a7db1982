// Package collectors scrapes PostgreSQL, PgBouncer, Redis and HTTP APIs at
// scrape time and turns what they report into samples of descriptors
// declared with internal/exposition, which encodes and serves them.
//
// One Target per configured server owns its small connection pool. A Runner
// wraps a Target and is the one place that times collectors, turns errors
// into headroom_target_up and headroom_scrape_collector_success, classifies
// failures and logs them, and makes concurrent scrapes of the same target
// share one round of queries.
package collectors

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/headroom-dev/headroom/internal/exposition"
	"github.com/headroom-dev/headroom/internal/kind"
)

const namespace = "headroom"

// Target is one configured server.
type Target interface {
	Name() string
	Kind() kind.Kind
	// Scrape connects (reusing pooled connections) and runs the target's
	// collectors through s. An error means the target gave nothing usable.
	Scrape(ctx context.Context, s *Scrape) error
	Close()
}

// ConnectionCounter is implemented by targets that keep connections, so
// that "a steady-state scrape opens no connection" is a number anyone can
// watch rather than a claim.
type ConnectionCounter interface {
	ConnectionsOpened() uint64
}

// Scrape is handed to a Target for one round of collection. It records each
// collector's duration and success; the target reports metrics through it.
type Scrape struct {
	metrics   []prometheus.Metric
	collector []collectorResult
	dropped   map[string]int
	caps      map[string]*LabelCap
}

type collectorResult struct {
	name     string
	duration time.Duration
	err      error
}

// Emit records one metric.
func (s *Scrape) Emit(m prometheus.Metric) { s.metrics = append(s.metrics, m) }

// Run runs one named collector. A collector's failure is recorded as its own
// success=0 and does not stop the others.
func (s *Scrape) Run(name string, collect func(emit func(prometheus.Metric)) error) {
	start := time.Now()
	mark := len(s.metrics)
	err := collect(s.Emit)
	if err != nil {
		// Half a collector's output is worse than none: a dashboard would
		// show a partial picture as if it were whole.
		s.metrics = s.metrics[:mark]
	}
	s.collector = append(s.collector, collectorResult{name: name, duration: time.Since(start), err: err})
}

// emitSample emits a gauge's or a counter's value, as d declares, with the
// given labels; the helper keeps collector code about what is measured
// rather than how it is wrapped. The label values are kept, not copied: a
// caller must not change them afterwards.
func emitSample(emit func(prometheus.Metric), d *exposition.Desc, v float64, labels ...string) {
	emit(exposition.NewSample(d, v, labels...))
}

var (
	targetUpDesc          = newDesc("", "target_up", exposition.Gauge, "1 when the target answered with usable data in this scrape, 0 otherwise.", "kind")
	targetDurationDesc    = newDesc("", "target_scrape_duration_seconds", exposition.Gauge, "Time the scrape of this target took.", "kind")
	targetErrorsDesc      = newDesc("", "target_scrape_errors_total", exposition.Counter, "Failed scrapes of this target (or of one of its collectors), by reason.", "kind", "reason")
	collectorDurationDesc = newDesc("", "scrape_collector_duration_seconds", exposition.Gauge, "Time one collector of this target took; where the target's queries share one round trip (PostgreSQL, PgBouncer), the first collector's time includes it.", "collector")
	collectorSuccessDesc  = newDesc("", "scrape_collector_success", exposition.Gauge, "1 when the collector succeeded in this scrape, 0 otherwise.", "collector")
	connectionsOpenedDesc = newDesc("", "target_connections_opened_total", exposition.Counter, "Connections headroom opened to this target; flat in steady state, since connections are reused across scrapes.", "kind")
	labelsDroppedDesc     = newDesc("", "target_series_dropped_total", exposition.Counter, "Label values left out because they exceeded the target's configured limit, by limit.", "kind", "limit")
)

// Runner scrapes one Target, at most once at a time.
type Runner struct {
	target Target
	logger *slog.Logger
	// slots is the exporter's cap on targets scraped at once, shared by
	// its runners; nil means no cap (a runner of its own, in tests).
	slots scrapeSlots

	flight singleflight.Group
	errors [numReasons]atomic.Uint64

	mu        sync.Mutex
	lastErr   string // last logged failure, so that a steady failure logs once
	dropped   map[string]uint64
	droppedMu sync.Mutex
}

// NewRunner wraps a target. logger is the one the target was built with;
// the runner's lines name the target in it, as the target's own do.
func NewRunner(t Target, logger *slog.Logger) *Runner {
	r := &Runner{
		target:  t,
		logger:  targetLogger(logger, t.Kind(), t.Name()),
		dropped: map[string]uint64{},
	}
	return r
}

// targetLogger is the logger a target and its runner log through: the one
// injected, naming the target, so that a line a target logs on its own (a
// probe failing, a column PgBouncer did not send) reads like the runner's
// lines about it. A nil logger drops everything.
func targetLogger(logger *slog.Logger, k kind.Kind, name string) *slog.Logger {
	if logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return logger.With("target", name, "kind", string(k))
}

// Name is the target's configured name.
func (r *Runner) Name() string { return r.target.Name() }

// Kind is the target's kind.
func (r *Runner) Kind() kind.Kind { return r.target.Kind() }

// Close releases the target's connections.
func (r *Runner) Close() { r.target.Close() }

// Collect scrapes the target under ctx's deadline and returns its metrics
// (without the target label, which the caller adds). Callers that arrive
// while a scrape is in flight share its result; each still returns by its
// own deadline.
func (r *Runner) Collect(ctx context.Context) []prometheus.Metric {
	ch := r.flight.DoChan("", func() (any, error) {
		// The first caller's deadline bounds the shared work, but its
		// cancellation must not fail the others who joined it. Shutdown
		// is the exception: it cuts every caller at once, and the shared
		// work with them, so that the cause reaches the target's clients.
		deadline, ok := ctx.Deadline()
		shared, cut := context.WithCancelCause(context.WithoutCancel(ctx))
		defer cut(nil)
		unwatch := context.AfterFunc(ctx, func() {
			if cause := context.Cause(ctx); errors.Is(cause, ErrShutdown) {
				cut(cause)
			}
		})
		defer unwatch()
		cancel := context.CancelFunc(func() {})
		if ok {
			shared, cancel = context.WithDeadline(shared, deadline)
		}
		defer cancel()
		return r.scrape(shared), nil
	})
	select {
	case res := <-ch:
		return res.Val.([]prometheus.Metric)
	case <-ctx.Done():
		// The shared scrape outlived this caller's deadline (or headroom
		// is shutting down); say so rather than hang the HTTP response.
		reason := ReasonTimeout
		if shuttingDown(ctx) {
			reason = ReasonShutdown
		}
		r.errors[reason].Add(1)
		return r.selfMetrics(0, 0)
	}
}

func (r *Runner) scrape(ctx context.Context) []prometheus.Metric {
	start := time.Now()
	s := &Scrape{}
	// The wait for a slot is part of the target's time and budget: a
	// target still waiting at the deadline is down with reason timeout,
	// as one that did not answer in time.
	slots := r.slots
	err := slots.acquire(ctx)
	if err == nil {
		err = func() error {
			defer slots.release()
			return r.target.Scrape(ctx, s)
		}()
	}
	if err == nil && ctx.Err() != nil && len(s.collector) > 0 && allFailed(s.collector) {
		err = context.Cause(ctx)
	}

	up := 1.0
	var failure error
	switch {
	case err != nil:
		up = 0
		failure = err
		r.errors[reasonFor(ctx, err)].Add(1)
	case allFailed(s.collector):
		up = 0
		failure = s.collector[0].err
	}
	for _, c := range s.collector {
		if c.err != nil {
			r.errors[reasonFor(ctx, c.err)].Add(1)
		}
	}
	budget := time.Duration(0)
	if deadline, ok := ctx.Deadline(); ok {
		budget = deadline.Sub(start).Round(time.Millisecond)
	}
	r.logOutcome(ctx, failure, s.collector, budget)
	r.droppedMu.Lock()
	for limit, n := range s.dropped {
		r.dropped[limit] += uint64(n)
	}
	r.droppedMu.Unlock()

	out := s.metrics
	if up == 0 {
		// Nothing usable came back: emit no data series, so that no rule
		// reads a stale or partial value as truth.
		out = nil
	}
	for _, c := range s.collector {
		success := 1.0
		if c.err != nil {
			success = 0
		}
		out = append(out,
			exposition.NewSample(collectorDurationDesc, c.duration.Seconds(), c.name),
			exposition.NewSample(collectorSuccessDesc, success, c.name))
	}
	return append(out, r.selfMetrics(up, time.Since(start))...)
}

func allFailed(cs []collectorResult) bool {
	if len(cs) == 0 {
		return false
	}
	for _, c := range cs {
		if c.err == nil {
			return false
		}
	}
	return true
}

func (r *Runner) selfMetrics(up float64, took time.Duration) []prometheus.Metric {
	kind := string(r.target.Kind())
	out := []prometheus.Metric{
		exposition.NewSample(targetUpDesc, up, kind),
		exposition.NewSample(targetDurationDesc, took.Seconds(), kind),
	}
	for reason := Reason(0); reason < numReasons; reason++ {
		out = append(out, exposition.NewSample(targetErrorsDesc, float64(r.errors[reason].Load()), kind, reason.String()))
	}
	if cc, ok := r.target.(ConnectionCounter); ok {
		out = append(out, exposition.NewSample(connectionsOpenedDesc, float64(cc.ConnectionsOpened()), kind))
	}
	r.droppedMu.Lock()
	for limit, n := range r.dropped {
		out = append(out, exposition.NewSample(labelsDroppedDesc, float64(n), kind, limit))
	}
	r.droppedMu.Unlock()
	return out
}

// logOutcome logs a failure when it starts or changes and a recovery when
// it ends, so that a target down for a day logs twice, not every scrape.
// A timeout names the scrape's budget: "context deadline exceeded" alone
// does not say whether the target or the budget is too slow.
func (r *Runner) logOutcome(ctx context.Context, failure error, cs []collectorResult, budget time.Duration) {
	msg := ""
	if failure != nil {
		msg = "target:" + failure.Error()
	}
	for _, c := range cs {
		if c.err != nil && failure == nil {
			msg += "|" + c.name + ":" + c.err.Error()
		}
	}
	r.mu.Lock()
	changed := msg != r.lastErr
	wasFailing := r.lastErr != ""
	r.lastErr = msg
	r.mu.Unlock()

	switch {
	case failure != nil && changed:
		r.logger.Warn("target scrape failed", append(failureAttrs(ctx, failure, budget), "err", failure)...)
	case failure != nil:
		r.logger.Debug("target still failing", append(failureAttrs(ctx, failure, budget), "err", failure)...)
	case msg != "" && changed:
		for _, c := range cs {
			if c.err != nil {
				r.logger.Warn("collector failed", append(failureAttrs(ctx, c.err, budget), "collector", c.name, "err", c.err)...)
			}
		}
	case msg == "" && wasFailing:
		r.logger.Info("target recovered")
	}
}

// failureAttrs are a failure's log attributes: its reason and, for a
// timeout, the budget it ran out of.
func failureAttrs(ctx context.Context, err error, budget time.Duration) []any {
	reason := reasonFor(ctx, err)
	attrs := []any{"reason", reason.String()}
	if reason == ReasonTimeout && budget > 0 {
		attrs = append(attrs, "deadline", budget.String())
	}
	return attrs
}

// LabelCap bounds the distinct values of one label within a scrape.
type LabelCap struct {
	name    string
	max     int
	seen    map[string]struct{}
	refused map[string]struct{}
	s       *Scrape
}

// Cap starts a cap named after its config field (e.g. "databases"). Its
// dropped counter is exported from the first scrape that uses the cap, at 0
// until something is dropped, so that rate() and increase() see it start
// rather than appear.
//
// Collectors of one scrape that label by the same thing (the databases of
// pg_stat_database and of pg_database_size) share the cap: they keep the
// same values, and a value left out is counted once.
func (s *Scrape) Cap(name string, max int) *LabelCap {
	if c, ok := s.caps[name]; ok {
		return c
	}
	if s.dropped == nil {
		s.dropped = map[string]int{}
		s.caps = map[string]*LabelCap{}
	}
	s.dropped[name] += 0
	c := &LabelCap{name: name, max: max, seen: map[string]struct{}{}, refused: map[string]struct{}{}, s: s}
	s.caps[name] = c
	return c
}

// Allow reports whether a series with this label value may be emitted, and
// counts it as dropped when not. Values already admitted stay admitted, so
// the first max values (in the order the server returned them) win.
func (c *LabelCap) Allow(value string) bool {
	if _, ok := c.seen[value]; ok {
		return true
	}
	if len(c.seen) >= c.max {
		if _, ok := c.refused[value]; !ok {
			c.refused[value] = struct{}{}
			c.s.dropped[c.name]++
		}
		return false
	}
	c.seen[value] = struct{}{}
	return true
}

// ErrNoTarget is returned for a /probe of a name that is not configured.
var ErrNoTarget = errors.New("no such target in the config")
