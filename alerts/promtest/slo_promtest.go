package promtest

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/headroom-dev/headroom/alerts"
	"github.com/headroom-dev/headroom/catalogue"
)

// sloTests are the promtool tests of the burn-rate alerts: for each SLO and
// window pair, an error ratio just above the pair's rate fires it (and every
// slower pair), one just below does not; and after a known outage the
// error-budget-remaining series reads what is left.
func sloTests(cfg *catalogue.Config) ([]testGroup, error) {
	var groups []testGroup
	const n = 11 // steps: every window's ratio is the constant ratio from step 1
	for _, s := range cfg.Objectives() {
		for i, bw := range catalogue.BurnWindows {
			for _, above := range []bool{true, false} {
				r := catalogue.Round(bw.Factor * s.Budget() * 1.1)
				if !above {
					r = catalogue.Round(bw.Factor * s.Budget() * 0.9)
				}
				f := &fx{cfg: cfg, step: testStep}
				sloFixture(cfg, f, s, constant(n, r))
				if f.err != nil {
					return nil, f.err
				}
				exp := []expAlert{}
				for j, other := range catalogue.BurnWindows {
					if other.Factor*s.Budget() >= r || (j == i && !above) {
						continue
					}
					a, err := burnAlert(cfg, s, other, r)
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
					Name: fmt.Sprintf("ErrorBudgetBurn %s %s/%s: error ratio %s (%s× budget) %s", s.Name, catalogue.Dur(bw.Long), catalogue.Dur(bw.Short),
						catalogue.UnitRatio.Format(r), catalogue.Num(catalogue.Round(r/s.Budget())), word),
					Interval: model.Duration(testStep), InputSeries: f.series,
					AlertRuleTests: []alertTest{{EvalTime: at(n - 1), Alertname: catalogue.AlertErrorBudgetBurn, ExpAlerts: exp}},
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
		sloFixture(cfg, f, s, vals)
		spent := 0.05 * 12 / 120
		lbls := with(cfg.SLOLabels(s), "sloth_window", catalogue.Dur(time.Duration(cfg.SLOs.Window)))
		if cfg.ClusterLabel != "" {
			lbls[cfg.ClusterLabel] = clusterValue
		}
		// Rounded: the mean of 120 ratios is not exact in floating point.
		left := math.Round((1-spent/s.Budget())*1e4) / 1e4
		// In the middle of the outage the 5m ratio is the outage's, and the
		// current burn rate is that ratio over the budget.
		during := with(lbls, "sloth_window", "5m")
		groups = append(groups, testGroup{
			Name:     fmt.Sprintf("SLO %s: 12 minutes at 5%% errors in 2 hours leave %s of the error budget", s.Name, catalogue.UnitRatio.Format(1-spent/s.Budget())),
			Interval: model.Duration(testStep), InputSeries: f.series,
			PromQLTests: []exprTest{
				{Expr: "round(" + cfg.SLOSelect("slo:period_error_budget_remaining:ratio", s) + ", 0.0001)", EvalTime: at(120),
					ExpSamples: []expSample{{Labels: seriesString("", lbls), Value: left}}},
				{Expr: "round(" + cfg.SLOSelect("slo:current_burn_rate:ratio", s) + ", 0.0001)", EvalTime: at(58),
					ExpSamples: []expSample{{Labels: seriesString("", during), Value: math.Round(0.05/s.Budget()*1e4) / 1e4}}},
				{Expr: "round(" + cfg.SLOSelect("slo:current_burn_rate:ratio", s) + ", 0.0001)", EvalTime: at(120),
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
func sloFixture(c *catalogue.Config, f *fx, s catalogue.SLO, vals []float64) {
	const perSecond, start = 10, 1e6
	l := f.apiInstance()
	good := complement(vals)
	offset := func(name string, l map[string]string, vals []float64, start float64) {
		f.counter(name, l, vals, perSecond)
		last := f.series[len(f.series)-1]
		vs := strings.Fields(last.Values)
		for i := range vs {
			var v float64
			fmt.Sscan(vs[i], &v)
			vs[i] = catalogue.Num(catalogue.Round(v + start))
		}
		f.series[len(f.series)-1].Values = strings.Join(vs, " ")
	}
	switch s.Name {
	case "availability":
		offset(c.API.RequestsMetric, with(l, f.errLabels()...), vals, start)
		offset(c.API.RequestsMetric, with(l, f.okLabels()...), good, start)
	case "latency":
		h := c.API.DurationHistogram + "_bucket"
		offset(h, with(l, "le", catalogue.Num(c.SLOs.Latency.Target)), good, start)
		offset(h, with(l, "le", "+Inf"), constant(len(vals), 1), 2*start)
	}
}

// burnAlert is the alert promtool reports for a pair at error ratio v.
func burnAlert(c *catalogue.Config, s catalogue.SLO, bw catalogue.BurnWindow, v float64) (expAlert, error) {
	r := alerts.BurnRule(c, s, bw)
	lbls := with(c.SLOLabels(s))
	delete(lbls, "sloth_window")
	if c.ClusterLabel != "" {
		lbls[c.ClusterLabel] = clusterValue
	}
	for k, val := range r.Labels {
		lbls[k] = val
	}
	lbls["sloth_window"] = catalogue.Dur(bw.Long)
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
