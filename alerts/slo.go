package alerts

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
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

// burnWindow is one pair of the multi-window, multi-burn-rate alerts: it
// fires when the error ratio over both windows is above Factor times the
// error budget.
type burnWindow struct {
	Long, Short time.Duration
	Factor      float64
	Severity    string
	Urgency     string
}

// burnWindows are the SRE workbook's pairs for a 30-day budget: page when 2%
// of it is gone in an hour or 5% in six hours, ticket when 10% is gone in a
// day or in three days.
var burnWindows = []burnWindow{
	{time.Hour, 5 * time.Minute, 14.4, SeverityCritical, UrgencyCritical},
	{6 * time.Hour, 30 * time.Minute, 6, SeverityCritical, UrgencyHigh},
	{24 * time.Hour, 2 * time.Hour, 3, SeverityWarning, UrgencyMedium},
	{72 * time.Hour, 6 * time.Hour, 1, SeverityWarning, UrgencyMedium},
}

// sloWindows are the windows the SLI is recorded over: every window of a pair.
func sloWindows() []time.Duration {
	return []time.Duration{5 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour, 24 * time.Hour, 72 * time.Hour}
}

// alertErrorBudgetBurn is the alert name of every burn-rate pair; labels
// slo, long_window and short_window tell them apart.
const alertErrorBudgetBurn = "ErrorBudgetBurn"

// slo is one enabled objective of the config, ready to render.
type slo struct {
	name      string // availability, latency
	objective float64
	what      string                       // "failed", "slower than 1.5s"
	sli       func(w time.Duration) string // error ratio over a window
}

func (s slo) budget() float64 { return round(1 - s.objective) }

func (c *Config) slos() []slo {
	p := pq{c}
	api := c.Selectors.API
	var out []slo
	if c.SLOs.Availability.Enabled {
		req := c.API.RequestsMetric
		out = append(out, slo{name: "availability", objective: c.SLOs.Availability.Objective, what: "failed",
			sli: func(w time.Duration) string {
				all := p.agg("sum", fmt.Sprintf("rate(%s[%s])", sel(req, api), dur(w)))
				errs := p.agg("sum", fmt.Sprintf("rate(%s[%s])", sel(req, api, c.API.ErrorMatcher), dur(w)))
				return fmt.Sprintf("(%s or %s * 0)\n  / (%s > 0)", errs, all, all)
			}})
	}
	if c.SLOs.Latency.Enabled {
		hist := c.API.DurationHistogram + "_bucket"
		out = append(out, slo{name: "latency", objective: c.SLOs.Latency.Objective, what: "slower than " + formatValue(UnitSeconds, c.SLOs.Latency.Target),
			sli: func(w time.Duration) string {
				all := p.agg("sum", fmt.Sprintf("rate(%s[%s])", sel(hist, api, `le="+Inf"`), dur(w)))
				fast := p.agg("sum", fmt.Sprintf("rate(%s[%s])", sel(hist, api, leMatcher(c.SLOs.Latency.Target)), dur(w)))
				return fmt.Sprintf("1 - %s\n  / (%s > 0)", fast, all)
			}})
	}
	return out
}

// leMatcher selects one bucket; Prometheus 3 writes integral boundaries as
// "3.0" where client libraries write "3", so both are matched.
func leMatcher(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("le=~%q", num(v)+`(\.0)?`)
	}
	return fmt.Sprintf("le=%q", num(v))
}

// sloBucket is the bucket of api.duration_histogram the latency SLO counts
// fast requests in; ok is false without a latency SLO.
func (c *Config) sloBucket() (b bucketInput, ok bool) {
	if !c.SLOs.Latency.Enabled {
		return bucketInput{}, false
	}
	ms, err := promqlParser.ParseMetricSelector("{" + leMatcher(c.SLOs.Latency.Target) + "}")
	if err != nil || len(ms) != 1 {
		return bucketInput{}, false // leMatcher writes one valid matcher
	}
	return bucketInput{metric: c.API.DurationHistogram + "_bucket", le: ms[0]}, true
}

// sloBucketAbsent is the latency SLO's companion of SignalAbsent. The
// target bucket is checked at generation against slos.latency.buckets
// only; a histogram scraped without it leaves the SLI absent (no series
// has it) or counts the requests of the series that lack it as slow, so
// the burn-rate alerts stay silent or page falsely. It fires per histogram
// series that has le="+Inf" and no target bucket: not when the whole
// histogram is absent, which SignalAbsent of the p95 signal reports.
func sloBucketAbsent(cfg *Config, p pq, b bucketInput, min time.Duration) Trigger {
	api := cfg.Selectors.API
	target := num(cfg.SLOs.Latency.Target)
	missing := p.agg("count", fmt.Sprintf("%s\n  unless ignoring (le)\n  %s", sel(b.metric, api, `le="+Inf"`), sel(b.metric, api, b.le.String())))
	what := fmt.Sprintf(`%s series with le="+Inf" and no le="%s" bucket`, b.metric, target)
	return Trigger{ID: "SignalAbsent:slo_latency_bucket", Alert: "SignalAbsent", Set: SetHealth, Source: "headroom", Group: GroupHeadroom,
		Direction: None, Comparison: customSignal, For: 10 * min, Action: "restore_signal", Urgency: UrgencyMedium,
		Signal: Signal{ID: "slo_latency_bucket", Expr: missing, Query: missing, Unit: UnitCount, Group: GroupHeadroom,
			Title: fmt.Sprintf("Duration histogram series without the latency SLO's %ss bucket", target),
			Help:  fmt.Sprintf("Series of %s that have le=\"+Inf\" but no le=\"%s\" bucket (slos.latency.target); no series when every one has it.", b.metric, target)},
		Labels:  map[string]string{"signal": "slo:sli_error:ratio_rate5m", "slo": "latency"},
		When:    "some " + what,
		expr:    func(Trigger) string { return missing },
		Summary: "The latency SLO of {{ service }} cannot count its fast requests",
		Description: fmt.Sprintf("{{ $value }} %s for 10m: the latency SLO's error ratio (slo:sli_error:ratio_rate*{slo=\"latency\"}) counts their requests as slow, "+
			"or is absent when no series has the bucket, so ErrorBudgetBurn slo=\"latency\" pages falsely or never. "+
			"The histogram's buckets must include slos.latency.target.", what) + actionSentence("restore_signal"),
		Runbook: Runbook{Meaning: signalAbsentMeaning, Steps: signalAbsentSteps(cfg)},
	}
}

// sloLabels are the labels of an SLO's recorded series.
func (c *Config) sloLabels(s slo) map[string]string {
	return map[string]string{"service": c.Service, "slo": s.name,
		"sloth_id": c.Service + "-" + s.name, "sloth_service": c.Service, "sloth_slo": s.name}
}

func (c *Config) sloSelect(record string, s slo) string {
	return pq{c}.service(record, fmt.Sprintf("slo=%q", s.name))
}

// sloRecordingGroups is the recording rule group of the config's SLOs: one
// group, so that the rules that read the SLI see this evaluation's value
// (pint's rule/dependency goes by series name, not by the slo label).
func sloRecordingGroups(cfg *Config) []rulefmt.RuleGroup {
	ss := cfg.slos()
	if len(ss) == 0 {
		return nil
	}
	g := rulefmt.RuleGroup{Name: fmt.Sprintf("headroom.%s.slo.rules", cfg.Service)}
	for _, s := range ss {
		add := func(record, expr string, extra ...string) {
			g.Rules = append(g.Rules, rulefmt.Rule{Record: record, Expr: expr, Labels: with(cfg.sloLabels(s), extra...)})
		}
		for _, w := range sloWindows() {
			add("slo:sli_error:ratio_rate"+dur(w), s.sli(w), "sloth_window", dur(w))
		}
		period := time.Duration(cfg.SLOs.Window)
		add("slo:objective:ratio", "vector("+num(s.objective)+")")
		add("slo:error_budget:ratio", "vector("+num(s.budget())+")")
		add("slo:time_period:days", "vector("+num(period.Hours()/24)+")")
		// The period's error ratio is the mean of the 5m ratios, as Sloth
		// computes it: a rate over 30d would need 30 days of raw samples.
		add("slo:sli_error:ratio_rate"+dur(period),
			fmt.Sprintf("avg_over_time(%s[%s])", cfg.sloSelect("slo:sli_error:ratio_rate5m", s), dur(period)), "sloth_window", dur(period))
		add("slo:current_burn_rate:ratio", fmt.Sprintf("%s\n  / %s", cfg.sloSelect("slo:sli_error:ratio_rate5m", s), num(s.budget())))
		add("slo:period_burn_rate:ratio", fmt.Sprintf("%s\n  / %s", cfg.sloSelect("slo:sli_error:ratio_rate"+dur(period), s), num(s.budget())))
		add("slo:period_error_budget_remaining:ratio", "1 - "+cfg.sloSelect("slo:period_burn_rate:ratio", s))
		// Sloth's dashboards list services and SLOs from this info series;
		// sloth_objective is in percent, as Sloth writes it.
		add("sloth_slo_info", "vector(1)", "sloth_mode", "headroom", "sloth_objective", num(round(s.objective*100)))
	}
	return []rulefmt.RuleGroup{g}
}

// sloAlertGroups are the burn-rate alerts: one rule per SLO and window pair.
func sloAlertGroups(cfg *Config) []rulefmt.RuleGroup {
	var out []rulefmt.RuleGroup
	for _, s := range cfg.slos() {
		g := rulefmt.RuleGroup{Name: fmt.Sprintf("headroom.%s.slo-%s.alerts", cfg.Service, s.name)}
		for _, bw := range burnWindows {
			g.Rules = append(g.Rules, cfg.burnRule(s, bw))
		}
		out = append(out, g)
	}
	return out
}

func (c *Config) burnRule(s slo, bw burnWindow) rulefmt.Rule {
	thr := bw.Factor * s.budget()
	long, short := dur(bw.Long), dur(bw.Short)
	expr := fmt.Sprintf("%s > %s\nand ignoring (sloth_window)\n%s > %s",
		c.sloSelect("slo:sli_error:ratio_rate"+long, s), num(round(thr)), c.sloSelect("slo:sli_error:ratio_rate"+short, s), num(round(thr)))
	period := time.Duration(c.SLOs.Window)
	exhausted := time.Duration(float64(period) / bw.Factor).Round(time.Hour)
	action := "restore_" + s.name
	return rulefmt.Rule{
		Alert: alertErrorBudgetBurn,
		Expr:  expr,
		Labels: map[string]string{
			"severity": bw.Severity, "urgency": bw.Urgency, "direction": string(None), "action": action, "service": c.Service,
			"slo": s.name, "long_window": long, "short_window": short,
		},
		Annotations: map[string]string{
			"summary": fmt.Sprintf("%s burns its %s error budget %s× too fast (%s and %s windows)", c.Service, s.name, num(bw.Factor), long, short),
			"description": fmt.Sprintf("{{ $value | humanizePercentage }} of %s's requests %s over the last %s (and over %s), above %s: %s× the error budget "+
				"of the %s %s objective. At this rate the %s budget is gone in %s. Action: %s.",
				c.Service, s.what, long, short, formatValue(UnitRatio, thr), num(bw.Factor), formatValue(UnitRatio, s.objective), s.name,
				dur(period), dur(exhausted), strings.ReplaceAll(action, "_", " ")),
			"runbook_url": c.RunbookURL + "#" + anchor(alertErrorBudgetBurn),
		},
	}
}

// validateSLOs checks the slos section.
func (c *Config) validateSLOs(bad func(field, format string, args ...any)) {
	if c.SLOs.Window < model.Duration(72*time.Hour) {
		bad("slos.window", "must be at least the longest alert window, 3d")
	}
	for field, o := range map[string]float64{"slos.availability.objective": c.SLOs.Availability.Objective, "slos.latency.objective": c.SLOs.Latency.Objective} {
		if o <= 0 || o >= 1 {
			bad(field, "%s is out of range for unit ratio (%s): it must be between 0 and 1 (exclusive), e.g. 0.99%s", num(o), unitRanges[UnitRatio].what, percentHint(o))
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
			num(l.Target), c.API.DurationHistogram, l.Buckets)
	}
}

// sloRunbook is RUNBOOK.md's section of the burn-rate alerts.
func sloRunbook(cfg *Config) string {
	ss := cfg.slos()
	if len(ss) == 0 {
		return ""
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("\n## %s\n\n", alertErrorBudgetBurn)
	w("The service spends its error budget too fast (multi-window, multi-burn-rate alerts over a %s budget; label `slo` says which objective).\n\n", dur(time.Duration(cfg.SLOs.Window)))
	w("| slo | objective | windows | burn rate | severity |\n|---|---|---|---|---|\n")
	for _, s := range ss {
		for _, bw := range burnWindows {
			w("| %s | %s | %s and %s | %s× | %s |\n", s.name, formatValue(UnitRatio, s.objective), dur(bw.Long), dur(bw.Short), num(bw.Factor), bw.Severity)
		}
	}
	w("\n- Both windows must be above the rate: the long one shows the budget is really being spent, the short one that it still is.\n")
	w("- Look at what changed: deploys, the LLM provider's status, PostgreSQL and Redis alerts firing at the same time; roll back first.\n")
	w("- `slo:period_error_budget_remaining:ratio{service=%q}` is what is left of the budget; a page spends 2%% of it an hour.\n", cfg.Service)
	return b.String()
}

// sloTests are the promtool tests of the burn-rate alerts: for each SLO and
// window pair, an error ratio just above the pair's rate fires it (and every
// slower pair), one just below does not; and after a known outage the
// error-budget-remaining series reads what is left.
func sloTests(cfg *Config) ([]testGroup, error) {
	var groups []testGroup
	const n = 11 // steps: every window's ratio is the constant ratio from step 1
	for _, s := range cfg.slos() {
		for i, bw := range burnWindows {
			for _, above := range []bool{true, false} {
				r := round(bw.Factor * s.budget() * 1.1)
				if !above {
					r = round(bw.Factor * s.budget() * 0.9)
				}
				f := &fx{cfg: cfg, step: testStep}
				cfg.sloFixture(f, s, constant(n, r))
				if f.err != nil {
					return nil, f.err
				}
				exp := []expAlert{}
				for j, other := range burnWindows {
					if other.Factor*s.budget() >= r || (j == i && !above) {
						continue
					}
					a, err := cfg.burnAlert(s, other, r)
					if err != nil {
						return nil, err
					}
					exp = append(exp, a)
				}
				word := "fires"
				if !above {
					word = "does not fire"
				}
				groups = append(groups, testGroup{
					Name: fmt.Sprintf("ErrorBudgetBurn %s %s/%s: error ratio %s (%s× budget) %s", s.name, dur(bw.Long), dur(bw.Short),
						formatValue(UnitRatio, r), num(round(r/s.budget())), word),
					Interval: model.Duration(testStep), InputSeries: f.series,
					AlertRuleTests: []alertTest{{EvalTime: at(n - 1), Alertname: alertErrorBudgetBurn, ExpAlerts: exp}},
				})
			}
		}
		// A known outage: 10 requests/s for two hours, 5% of them failing
		// for 12 minutes. 0.5% of the requests failed, half of a 1% budget.
		vals := constant(121, 0)
		for k := 50; k < 62; k++ {
			vals[k] = 0.05
		}
		f := &fx{cfg: cfg, step: testStep}
		cfg.sloFixture(f, s, vals)
		spent := 0.05 * 12 / 120
		lbls := with(cfg.sloLabels(s), "sloth_window", dur(time.Duration(cfg.SLOs.Window)))
		if cfg.ClusterLabel != "" {
			lbls[cfg.ClusterLabel] = clusterValue
		}
		// Rounded: the mean of 120 ratios is not exact in floating point.
		left := math.Round((1-spent/s.budget())*1e4) / 1e4
		// In the middle of the outage the 5m ratio is the outage's, and the
		// current burn rate is that ratio over the budget.
		during := with(lbls, "sloth_window", "5m")
		groups = append(groups, testGroup{
			Name:     fmt.Sprintf("SLO %s: 12 minutes at 5%% errors in 2 hours leave %s of the error budget", s.name, formatValue(UnitRatio, 1-spent/s.budget())),
			Interval: model.Duration(testStep), InputSeries: f.series,
			PromQLTests: []exprTest{
				{Expr: "round(" + cfg.sloSelect("slo:period_error_budget_remaining:ratio", s) + ", 0.0001)", EvalTime: at(120),
					ExpSamples: []expSample{{Labels: seriesString("", lbls), Value: left}}},
				{Expr: "round(" + cfg.sloSelect("slo:current_burn_rate:ratio", s) + ", 0.0001)", EvalTime: at(58),
					ExpSamples: []expSample{{Labels: seriesString("", during), Value: math.Round(0.05/s.budget()*1e4) / 1e4}}},
				{Expr: "round(" + cfg.sloSelect("slo:current_burn_rate:ratio", s) + ", 0.0001)", EvalTime: at(120),
					ExpSamples: []expSample{{Labels: seriesString("", during), Value: 0}}},
			},
		})
	}
	return groups, nil
}

// sloFixture writes input series whose error ratio (failed or slow
// requests over all) is vals[k] in the interval before step k. Counters
// start far above what they gain, so that rate() extrapolates the bad and
// all requests alike (its clamp at a counter's zero point never applies).
func (c *Config) sloFixture(f *fx, s slo, vals []float64) {
	const perSecond, start = 10, 1e6
	l := f.apiInstance()
	good := make([]float64, len(vals))
	for i, v := range vals {
		good[i] = 1 - v
	}
	offset := func(name string, l map[string]string, vals []float64, start float64) {
		f.counter(name, l, vals, perSecond)
		last := f.series[len(f.series)-1]
		vs := strings.Fields(last.Values)
		for i := range vs {
			var v float64
			fmt.Sscan(vs[i], &v)
			vs[i] = num(round(v + start))
		}
		f.series[len(f.series)-1].Values = strings.Join(vs, " ")
	}
	switch s.name {
	case "availability":
		offset(c.API.RequestsMetric, with(l, f.errLabels()...), vals, start)
		offset(c.API.RequestsMetric, with(l, f.okLabels()...), good, start)
	case "latency":
		h := c.API.DurationHistogram + "_bucket"
		offset(h, with(l, "le", num(c.SLOs.Latency.Target)), good, start)
		offset(h, with(l, "le", "+Inf"), constant(len(vals), 1), 2*start)
	}
}

// burnAlert is the alert promtool reports for a pair at error ratio v.
func (c *Config) burnAlert(s slo, bw burnWindow, v float64) (expAlert, error) {
	r := c.burnRule(s, bw)
	lbls := with(c.sloLabels(s))
	delete(lbls, "sloth_window")
	if c.ClusterLabel != "" {
		lbls[c.ClusterLabel] = clusterValue
	}
	for k, val := range r.Labels {
		lbls[k] = val
	}
	lbls["sloth_window"] = dur(bw.Long)
	ann := map[string]string{}
	for k, text := range r.Annotations {
		out, err := expandTemplate(text, lbls, v)
		if err != nil {
			return expAlert{}, err
		}
		ann[k] = out
	}
	return expAlert{ExpLabels: lbls, ExpAnnotations: ann}, nil
}
