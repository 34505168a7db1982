package catalogue

import (
	"fmt"
	"math"
	"time"

	"github.com/prometheus/common/model"
)

// SLOs are the service-level objectives of the API that multi-window,
// multi-burn-rate alerts (Google SRE workbook, chapter 5) are generated for.
// The recording rules are named and labelled as Sloth names them
// (slo:sli_error:ratio_rate5m ..., labels sloth_id, sloth_service,
// sloth_slo, sloth_window) so that SLO dashboards built for Sloth read them.
type SLOs struct {
	// Window is the period the error budget is spent over (30d).
	Window model.Duration `yaml:"window"`
	// Availability: the share of requests that must not fail
	// (api.error_matcher over api.requests_metric).
	Availability AvailabilitySLO `yaml:"availability"`
	// Latency: the share of requests that must be faster than a target,
	// from the buckets of api.duration_histogram.
	Latency LatencySLO `yaml:"latency"`
}

// AvailabilitySLO is the objective on failed requests.
type AvailabilitySLO struct {
	Enabled bool `yaml:"enabled"`
	// Objective is the share of requests that must succeed (0.99).
	Objective float64 `yaml:"objective"`
}

// LatencySLO is the objective on slow requests.
type LatencySLO struct {
	Enabled bool `yaml:"enabled"`
	// Objective is the share of requests that must be faster than Target
	// (0.95 for a p95 target).
	Objective float64 `yaml:"objective"`
	// Target is the duration in seconds; it must be one of Buckets, since
	// only a bucket boundary counts requests exactly.
	Target float64 `yaml:"target"`
	// Buckets are the le boundaries of api.duration_histogram, in seconds.
	Buckets []float64 `yaml:"buckets"`
}

// BurnWindow is one pair of the multi-window, multi-burn-rate alerts: it
// fires when the error ratio over both windows is above Factor times the
// error budget.
type BurnWindow struct {
	Long, Short time.Duration
	Factor      float64
	Severity    string
	Urgency     string
}

// BurnWindows are the SRE workbook's pairs for a 30-day budget: page when 2%
// of it is gone in an hour or 5% in six hours, ticket when 10% is gone in a
// day or in three days.
var BurnWindows = []BurnWindow{
	{time.Hour, 5 * time.Minute, 14.4, SeverityCritical, UrgencyCritical},
	{6 * time.Hour, 30 * time.Minute, 6, SeverityCritical, UrgencyHigh},
	{24 * time.Hour, 2 * time.Hour, 3, SeverityWarning, UrgencyMedium},
	{72 * time.Hour, 6 * time.Hour, 1, SeverityWarning, UrgencyMedium},
}

// SLOWindows are the windows the SLI is recorded over: every window of a pair.
func SLOWindows() []time.Duration {
	return []time.Duration{5 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 24 * time.Hour, 72 * time.Hour}
}

// AlertErrorBudgetBurn is the alert name of every burn-rate pair; labels
// slo, long_window and short_window tell them apart.
const AlertErrorBudgetBurn = "ErrorBudgetBurn"

// SLO is one enabled objective of the config, ready to render.
type SLO struct {
	Name      string // availability, latency
	Objective float64
	What      string                       // "failed", "slower than 1.5s"
	SLI       func(w time.Duration) string // error ratio over a window
}

func (s SLO) Budget() float64 { return Round(1 - s.Objective) }

// Objectives are the config's enabled SLOs: availability, then latency.
func (c *Config) Objectives() []SLO {
	p := PromQL{c}
	api := c.Selectors.API
	var out []SLO
	if c.SLOs.Availability.Enabled {
		req := c.API.RequestsMetric
		out = append(out, SLO{Name: "availability", Objective: c.SLOs.Availability.Objective, What: "failed",
			SLI: func(w time.Duration) string {
				all := p.Agg("sum", fmt.Sprintf("rate(%s[%s])", Sel(req, api), Dur(w)))
				errs := p.Agg("sum", fmt.Sprintf("rate(%s[%s])", Sel(req, api, c.API.ErrorMatcher), Dur(w)))
				return fmt.Sprintf("(%s or %s * 0)\n  / (%s > 0)", errs, all, all)
			}})
	}
	if c.SLOs.Latency.Enabled {
		hist := c.API.DurationHistogram + "_bucket"
		out = append(out, SLO{Name: "latency", Objective: c.SLOs.Latency.Objective, What: "slower than " + UnitSeconds.Format(c.SLOs.Latency.Target),
			SLI: func(w time.Duration) string {
				all := p.Agg("sum", fmt.Sprintf("rate(%s[%s])", Sel(hist, api, `le="+Inf"`), Dur(w)))
				fast := p.Agg("sum", fmt.Sprintf("rate(%s[%s])", Sel(hist, api, leMatcher(c.SLOs.Latency.Target)), Dur(w)))
				return fmt.Sprintf("1 - %s\n  / (%s > 0)", fast, all)
			}})
	}
	return out
}

// leMatcher selects one bucket; Prometheus 3 writes integral boundaries as
// "3.0" where client libraries write "3", so both are matched.
func leMatcher(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("le=~%q", Num(v)+`(\.0)?`)
	}
	return fmt.Sprintf("le=%q", Num(v))
}

// SLOBucket is the bucket of api.duration_histogram the latency SLO counts
// fast requests in; ok is false without a latency SLO.
func (c *Config) SLOBucket() (b BucketInput, ok bool) {
	if !c.SLOs.Latency.Enabled {
		return BucketInput{}, false
	}
	ms, err := promqlParser.ParseMetricSelector("{" + leMatcher(c.SLOs.Latency.Target) + "}")
	if err != nil || len(ms) != 1 {
		return BucketInput{}, false // leMatcher writes one valid matcher
	}
	return BucketInput{Metric: c.API.DurationHistogram + "_bucket", LE: ms[0]}, true
}

// sloBucketAbsent is the latency SLO's companion of SignalAbsent. The
// target bucket is checked at generation against slos.latency.buckets
// only; a histogram scraped without it leaves the SLI absent (no series
// has it) or counts the requests of the series that lack it as slow, so
// the burn-rate alerts stay silent or page falsely. It fires per histogram
// series that has le="+Inf" and no target bucket: not when the whole
// histogram is absent, which SignalAbsent of the p95 signal reports.
func sloBucketAbsent(cfg *Config, p PromQL, b BucketInput, min time.Duration) Trigger {
	api := cfg.Selectors.API
	target := Num(cfg.SLOs.Latency.Target)
	missing := p.Agg("count", fmt.Sprintf("%s\n  unless ignoring (le)\n  %s", Sel(b.Metric, api, `le="+Inf"`), Sel(b.Metric, api, b.LE.String())))
	what := fmt.Sprintf(`%s series with le="+Inf" and no le="%s" bucket`, b.Metric, target)
	return Trigger{ID: SignalAbsentID(SignalSLOLatencyBucket), Alert: "SignalAbsent", Set: SetHealth, Source: "headroom", Group: GroupHeadroom,
		Direction: None, Comparison: Custom, For: 10 * min, Action: "restore_signal", Urgency: UrgencyMedium,
		Signal: Signal{ID: SignalSLOLatencyBucket, Expr: missing, Query: missing, Unit: UnitCount, Group: GroupHeadroom,
			Title: fmt.Sprintf("Duration histogram series without the latency SLO's %ss bucket", target),
			Help:  fmt.Sprintf("Series of %s that have le=\"+Inf\" but no le=\"%s\" bucket (slos.latency.target); no series when every one has it.", b.Metric, target)},
		Labels:  map[string]string{"signal": "slo:sli_error:ratio_rate5m", "slo": "latency"},
		When:    "some " + what,
		expr:    func(Trigger) string { return missing },
		Summary: "The latency SLO of {{ service }} cannot count its fast requests",
		Description: fmt.Sprintf("{{ $value }} %s for 10m: the latency SLO's error ratio (slo:sli_error:ratio_rate*{slo=\"latency\"}) counts their requests as slow, "+
			"or is absent when no series has the bucket, so ErrorBudgetBurn slo=\"latency\" pages falsely or never. "+
			"The histogram's buckets must include slos.latency.target.", what) + ActionSentence("restore_signal"),
		Runbook: Runbook{Meaning: signalAbsentMeaning, Steps: signalAbsentSteps(cfg)},
	}
}

// SLOLabels are the labels of an SLO's recorded series.
func (c *Config) SLOLabels(s SLO) map[string]string {
	return map[string]string{"service": c.Service, "slo": s.Name,
		"sloth_id": c.Service + "-" + s.Name, "sloth_service": c.Service, "sloth_slo": s.Name}
}

func (c *Config) SLOSelect(record string, s SLO) string {
	return PromQL{c}.Service(record, fmt.Sprintf("slo=%q", s.Name))
}

// validateSLOs checks the slos section.
func (c *Config) validateSLOs(bad func(field, format string, args ...any)) {
	if c.SLOs.Window < model.Duration(72*time.Hour) {
		bad("slos.window", "must be at least the longest alert window, 3d")
	}
	for field, o := range map[string]float64{"slos.availability.objective": c.SLOs.Availability.Objective, "slos.latency.objective": c.SLOs.Latency.Objective} {
		if o <= 0 || o >= 1 {
			bad(field, "%s is out of range for unit ratio (%s): it must be between 0 and 1 (exclusive), e.g. 0.99%s", Num(o), UnitRanges[UnitRatio].what, percentHint(o))
		}
	}
	l := c.SLOs.Latency
	if l.Enabled {
		checkValue(UnitSeconds, l.Target, "slos.latency.target", bad)
		for i, b := range l.Buckets {
			checkValue(UnitSeconds, b, fmt.Sprintf("slos.latency.buckets[%d]", i), bad)
		}
	}
	if l.Enabled && !containsFloat(l.Buckets, l.Target) {
		bad("slos.latency.target", "%s is not a bucket boundary of %s: in unit seconds it must be one of slos.latency.buckets %v, since only a boundary counts requests exactly",
			Num(l.Target), c.API.DurationHistogram, l.Buckets)
	}
}
