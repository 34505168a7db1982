package report

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/internal/kind"
	"github.com/headroom-dev/headroom/internal/replay"
)

// Input is one series the report reads: Expr evaluated at each step.
type Input struct {
	Key  string
	Expr string
	// Title names it in "no data" messages.
	Title string
}

// resource is a finite resource the checklist and the forecasts compare:
// the signal of one of the bundle's forecast tickets, with the scale-up
// trigger it forecasts.
type resource struct {
	name   string
	signal catalogue.Signal
	base   catalogue.Trigger
	ticket catalogue.Trigger
}

// key is the input the resource's values are read from.
func (r resource) key() string { return string(r.signal.ID) }

// resources are the bundle's forecast tickets in bundle order, so that the
// report forecasts what the alerts forecast: a preset's own triggers, and
// none whose forecast the config disables.
func resources(b *catalogue.Bundle) []resource {
	var out []resource
	for _, t := range b.Triggers {
		id, level, ok := catalogue.ForecastOf(t.ID)
		if !ok || level != catalogue.ForecastTicket {
			continue
		}
		base, ok := b.Trigger(id)
		if !ok {
			continue
		}
		out = append(out, resource{name: t.Signal.Title, signal: t.Signal, base: base, ticket: t})
	}
	return out
}

// Inputs are the series the report reads for a bundle: the utilisation
// signals' records, reduced to one series each (the busiest instance,
// pool or target), and the few raw series the decision tree needs.
// A signal's input is keyed by its id.
func Inputs(b *catalogue.Bundle) []Input {
	var in []Input
	have := map[string]bool{}
	sig := func(id catalogue.SignalID, agg string) {
		s, ok := b.Signal(id)
		if !ok || have[string(id)] {
			return
		}
		have[string(id)] = true
		in = append(in, Input{string(id), fmt.Sprintf("%s(%s)", agg, s.Query), s.Title})
	}
	for _, r := range resources(b) {
		sig(r.signal.ID, "max")
	}
	// The decision tree's, whether or not they are forecast.
	sig(catalogue.SignalDBPool, "max")
	sig(catalogue.SignalPostgresConnections, "max")
	sig(catalogue.SignalAPIRequests, "sum")
	sig(catalogue.SignalAPIErrorRatio, "max")
	sig(catalogue.SignalRedisHitRatio, "min")
	sig(catalogue.SignalRedisEvictions, "sum")
	sig(catalogue.SignalAPILatencyP95, "max")
	sig(catalogue.SignalPgbouncerPool, "max")
	// The post-scaling targets' signals, the worst series of each: the
	// lowest for a lower bound.
	for _, t := range targets(b) {
		agg := "max"
		if t.Comparison == catalogue.Below {
			agg = "min"
		}
		sig(t.Signal.ID, agg)
	}
	if s, ok := b.Signal(catalogue.SignalAPICPUInstance); ok {
		in = append(in, Input{"replicas", "count(" + s.Query + ")", "API instances (" + s.Record + ")"})
	}
	cfg := b.Config
	p := cfg.PromQL()
	// The tuple rates take the window of the request rate whose queries
	// they are; postgres_exporter's series have no selector of their own,
	// so only the cluster the bundle watches restricts them.
	tuples := func(metrics ...string) string {
		var sums []string
		for _, m := range metrics {
			sums = append(sums, fmt.Sprintf("sum(rate(%s[%s]))", m, catalogue.Dur(time.Duration(cfg.API.RateWindow))))
		}
		return catalogue.InCluster(cfg, strings.Join(sums, " + "))
	}
	in = append(in,
		Input{"redis_bytes", "max(" + p.Headroom("headroom_redis_memory_used_bytes", kind.Redis) + ")", "Redis used memory"},
		Input{"redis_replicas", "sum(" + p.Headroom("headroom_redis_connected_replicas", kind.Redis) + ")", "Redis replicas"},
		// headroom exports no tuple counts; postgres_exporter's are read when
		// the same Prometheus holds them.
		Input{"tuples_read", tuples("pg_stat_database_tup_fetched"), "pg_stat_database tuples read"},
		Input{"tuples_written", tuples("pg_stat_database_tup_inserted", "pg_stat_database_tup_updated", "pg_stat_database_tup_deleted"),
			"pg_stat_database tuples written"},
	)
	if g, ok := catalogue.DBConnectionHeadroom(cfg); ok {
		in = append(in, Input{"usable_connections", g.UsableExpr, "usable connections (" + g.Usable + ")"})
	}
	if cfg.Report.UsersMetric != "" {
		in = append(in, Input{"users", "sum(" + cfg.Report.UsersMetric + ")", "users (report.users_metric)"})
	}
	if cfg.Report.QueryLatencyMetric != "" {
		in = append(in, Input{"query_latency", "max(" + cfg.Report.QueryLatencyMetric + ")", "query latency (report.query_latency_metric)"})
	}
	return in
}

// Exprs are the inputs' expressions, in order.
func Exprs(in []Input) []string {
	out := make([]string, len(in))
	for i, x := range in {
		out[i] = x.Expr
	}
	return out
}

// series is one input's values at each step.
type series []float64

type history struct {
	rng *replay.Range
	by  map[string]series
	// res are the bundle's resources.
	res []resource
	// capacityPerPod is the request rate an API instance can serve; 0
	// when unknown.
	capacityPerPod float64
}

func (h history) get(key string) series { return h.by[key] }

// lastDay is the part of s in the range's last day.
func (h history) lastDay(s series) series {
	n := int(24 * time.Hour / h.rng.Step)
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// Build turns the evaluated inputs into the report. It fails only when
// the range holds no value of any input: anything else missing is unknown.
func Build(b *catalogue.Bundle, inputs []Input, rng *replay.Range) (*Report, error) {
	h := history{rng: rng, by: map[string]series{}, res: resources(b)}
	if c, ok := b.CapacityPerPod(); ok {
		h.capacityPerPod = c
	}
	var noData []string
	for i, in := range inputs {
		h.by[in.Key] = rng.Values[i]
		if !slices.ContainsFunc(rng.Values[i], func(v float64) bool { return !math.IsNaN(v) }) {
			noData = append(noData, in.Title)
		}
	}
	if len(noData) == len(inputs) {
		return nil, fmt.Errorf("%s has no data from %s to %s for any signal the report reads: %s", rng.Source,
			rng.Start.UTC().Format(time.RFC3339), rng.End.UTC().Format(time.RFC3339), strings.Join(noData, ", "))
	}
	cfg := b.Config
	r := &Report{
		Version: SchemaVersion, Service: cfg.Service, Preset: cfg.Preset, Source: rng.Source,
		Start: rng.Start.UTC(), End: rng.End.UTC(), Step: catalogue.Dur(rng.Step), NoData: noData, step: rng.Step,
	}
	users, usersDetail := h.users(cfg)
	h.checklist(r, users, usersDetail)
	h.decide(r, cfg, users)
	h.cost(r, cfg, users)
	h.forecasts(r)
	h.validate(r, b)
	return r, nil
}

// users is the peak concurrent users of the last day.
func (h history) users(cfg *catalogue.Config) (*float64, string) {
	if cfg.Report.UsersMetric != "" {
		return peak(h.lastDay(h.get("users"))), "peak of report.users_metric over the last day"
	}
	if cfg.Report.RequestsPerUser <= 0 {
		return nil, "set report.users_metric, or report.requests_per_user to derive users from the request rate"
	}
	p := peak(h.lastDay(h.get(string(catalogue.SignalAPIRequests))))
	if p == nil {
		return nil, "no request rate"
	}
	return ptr(*p / cfg.Report.RequestsPerUser), fmt.Sprintf("peak request rate over the last day %.3g/s ÷ report.requests_per_user %g", *p, cfg.Report.RequestsPerUser)
}

// checklist evaluates the guide's pre-scaling checklist.
func (h history) checklist(r *Report, users *float64, usersDetail string) {
	// Monitored: from the first to the last step where any resource had a value.
	first, last := -1, -1
	for _, res := range h.res {
		for k, v := range h.get(res.key()) {
			if !math.IsNaN(v) {
				if first < 0 || k < first {
					first = k
				}
				last = max(last, k)
			}
		}
	}
	monitored := Item{Name: "Metrics monitored for 7+ days", Unit: "days", Status: Unknown, Detail: "no utilisation signal had data"}
	if first >= 0 {
		days := float64(last-first) * h.rng.Step.Hours() / 24
		monitored.Value, monitored.Detail = ptr(days), "first to last value of a utilisation signal"
		monitored.Status = verdict(days >= 7-h.rng.Step.Hours()/24)
	}
	// Bottleneck: the highest p95 of the utilisation signals.
	bottleneck, best := "", math.Inf(-1)
	var known []string
	for _, res := range h.res {
		if p := h.utilisation(res); p != nil {
			known = append(known, fmt.Sprintf("%s %s", res.name, pct(*p)))
			if *p > best {
				bottleneck, best = res.name, *p
			}
		}
	}
	bn := Item{Name: "Bottleneck identified", Unit: "ratio", Status: Unknown, Detail: "no utilisation signal had data"}
	util := Item{Name: "Utilisation over 70 % before scaling", Unit: "ratio", Status: Unknown, Detail: "no bottleneck"}
	if bottleneck != "" {
		bn.Status, bn.Value = Pass, ptr(best)
		bn.Detail = bottleneck + " (p95 over the range; " + strings.Join(known, ", ") + ")"
		util.Value, util.Status = ptr(best), verdict(best > 0.7)
		util.Detail = "p95 of " + bottleneck + " over the range"
	}
	r.Checklist = append(r.Checklist, monitored, bn, util,
		h.meanItem("Error rate under 1 %", string(catalogue.SignalAPIErrorRatio), func(v float64) bool { return v < 0.01 }),
		h.meanItem("Cache hit rate over 60 %", string(catalogue.SignalRedisHitRatio), func(v float64) bool { return v > 0.6 }))
	target := Item{Name: "Target user count estimated", Unit: "users", Status: Unknown, Detail: usersDetail}
	if users != nil {
		target.Status, target.Value = Pass, users
	}
	r.Checklist = append(r.Checklist, target)
}

func (h history) meanItem(name, key string, ok func(float64) bool) Item {
	it := Item{Name: name, Unit: "ratio", Status: Unknown, Detail: "no data"}
	if m := mean(h.get(key)); m != nil {
		it.Value, it.Status, it.Detail = m, verdict(ok(*m)), "mean over the range"
	}
	return it
}

// utilisation is a resource's p95 over the range as a share of what it
// can take: a ratio signal as it is, a per-second rate (requests per
// instance) over the capacity per pod; nil when neither is known.
func (h history) utilisation(res resource) *float64 {
	p := quantile(h.get(res.key()), 0.95)
	if p == nil || res.signal.Unit == catalogue.UnitRatio {
		return p
	}
	if res.signal.ID == catalogue.SignalAPIRequestsPerInstance && h.capacityPerPod > 0 {
		return ptr(*p / h.capacityPerPod)
	}
	return nil
}

// forecasts is each resource's time to its scale-up threshold, with the
// settings of the resource's forecast alerts, and the alert that the time
// would fire.
func (h history) forecasts(r *Report) {
	for _, res := range h.res {
		t, fs := res.base, res.ticket.Forecast()
		f := Forecast{Resource: res.name, Signal: string(res.signal.ID), Trigger: t.Alert, Threshold: t.Threshold, Unit: string(res.signal.Unit),
			Window: catalogue.Dur(fs.Window), TicketHorizon: catalogue.Dur(fs.TicketHorizon), PageHorizon: catalogue.Dur(fs.PageHorizon),
			values: h.get(res.key()), ticketHorizon: fs.TicketHorizon}
		fc := TimeToThreshold(h.get(res.key()), h.rng.Step, t.Threshold, fs)
		f.Peak, f.SlopeDay, f.Detail = fc.Peak, fc.SlopePerDay, fc.Detail
		if fc.Seconds != nil {
			f.Hours = ptr(*fc.Seconds / 3600)
			// The alerts compare the seconds with each horizon; the page's
			// is the nearer.
			left := time.Duration(*fc.Seconds * float64(time.Second))
			switch {
			case left < fs.PageHorizon:
				f.Alert = string(catalogue.ForecastPage)
			case left < fs.TicketHorizon:
				f.Alert = string(catalogue.ForecastTicket)
			}
		}
		r.Saturation = append(r.Saturation, f)
	}
}

// validate checks the post-scaling targets after the last replica-count
// change of the range.
func (h history) validate(r *Report, b *catalogue.Bundle) {
	reps := h.get("replicas")
	at := -1
	for k := 1; k < len(reps); k++ {
		if !math.IsNaN(reps[k]) && !math.IsNaN(reps[k-1]) && reps[k] != reps[k-1] {
			at = k
		}
	}
	if at < 0 {
		return
	}
	v := &Validation{At: h.rng.Start.Add(time.Duration(at) * h.rng.Step).UTC(), From: int(reps[at-1]), To: int(reps[at])}
	for _, t := range targets(b) {
		after := h.get(string(t.Signal.ID))
		if after != nil {
			after = after[at:]
		}
		// The target holds when the alert's comparison is false at the
		// p95 of the values after the change (the 5th percentile for a
		// lower bound): the alert would not have fired for long.
		it := Item{Name: t.Signal.Title + " " + string(oppose(t.Comparison)) + " " + num(t.Threshold), Unit: string(t.Signal.Unit), Status: Unknown, Detail: "no data after the change"}
		q := 0.95
		if t.Comparison == catalogue.Below {
			q = 0.05
		}
		if v := quantile(after, q); v != nil {
			it.Value = v
			it.Status = verdict(!compare(t.Comparison, *v, t.Threshold))
			it.Detail = fmt.Sprintf("p%d after the change (%s)", int(q*100), t.ID)
		}
		v.Targets = append(v.Targets, it)
	}
	r.Validation = v
}

// targets are the bundle's post-scaling targets, the CapacityTargetMissed
// triggers, in bundle order.
func targets(b *catalogue.Bundle) []catalogue.Trigger {
	var out []catalogue.Trigger
	for _, t := range b.Triggers {
		if t.Alert == catalogue.AlertCapacityTargetMissed {
			out = append(out, t)
		}
	}
	return out
}

func oppose(c catalogue.Comparison) string {
	switch c {
	case catalogue.Above, catalogue.AtLeast:
		return "<"
	case catalogue.Below:
		return ">"
	}
	return "≠"
}

func compare(c catalogue.Comparison, v, t float64) bool {
	switch c {
	case catalogue.Above:
		return v > t
	case catalogue.AtLeast:
		return v >= t
	case catalogue.Below:
		return v < t
	}
	return v == t
}

func verdict(ok bool) Status {
	if ok {
		return Pass
	}
	return Fail
}

func ptr(v float64) *float64 { return &v }

func known(s series) []float64 {
	var out []float64
	for _, v := range s {
		if !math.IsNaN(v) {
			out = append(out, v)
		}
	}
	return out
}

func peak(s series) *float64 {
	k := known(s)
	if len(k) == 0 {
		return nil
	}
	return ptr(slices.Max(k))
}

func low(s series) *float64 {
	k := known(s)
	if len(k) == 0 {
		return nil
	}
	return ptr(slices.Min(k))
}

func mean(s series) *float64 {
	k := known(s)
	if len(k) == 0 {
		return nil
	}
	var sum float64
	for _, v := range k {
		sum += v
	}
	return ptr(sum / float64(len(k)))
}

// quantile is the q-quantile of the known values, nearest rank.
func quantile(s series, q float64) *float64 {
	k := known(s)
	if len(k) == 0 {
		return nil
	}
	sort.Float64s(k)
	i := int(math.Ceil(q*float64(len(k)))) - 1
	return ptr(k[max(i, 0)])
}

func pct(v float64) string { return fmt.Sprintf("%.1f %%", v*100) }

func num(v float64) string { return fmt.Sprintf("%g", v) }
