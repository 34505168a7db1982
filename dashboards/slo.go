package dashboards

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/headroom-dev/headroom/catalogue"
)

// Names of the bundle's SLO series and alert (Sloth's names, alerts/slo.go).
const (
	sloBudgetRemaining = "slo:period_error_budget_remaining:ratio"
	sloPeriodBurnRate  = "slo:period_burn_rate:ratio"
	sloErrorBudget     = "slo:error_budget:ratio"
	sloObjective       = "slo:objective:ratio"
	sloErrorRatio      = "slo:sli_error:ratio_rate" // + window
	alertBudgetBurn    = "ErrorBudgetBurn"
)

// sloView is one SLO of the bundle as the overview draws it: taken from
// the model the rules are generated from, so that the row follows the
// config (which SLOs are enabled, objectives, burn pairs).
type sloView struct {
	name      string  // the slo label: availability, latency
	objective float64 // 0.99
	budget    float64 // 1 - objective
	burns     []burnPair
	runbook   string
}

// burnPair is one ErrorBudgetBurn rule: it fires when the error ratio over
// both windows is above factor times the error budget.
type burnPair struct {
	long, short time.Duration
	factor      float64
	severity    string
}

// slos are the bundle's SLOs in the order the config generates them, with
// the burn pairs of their ErrorBudgetBurn rules: the model's objectives and
// burn windows (catalogue.SLO, catalogue.BurnWindows), from which the rules
// are generated too.
func (g *gen) slos() []sloView {
	var out []sloView
	for _, s := range g.cfg().Objectives() {
		v := sloView{name: s.Name, objective: s.Objective, budget: s.Budget(),
			runbook: g.cfg().RunbookURL + "#" + catalogue.Anchor(catalogue.AlertErrorBudgetBurn)}
		for _, bw := range catalogue.BurnWindows {
			thr := catalogue.Round(bw.Factor * v.budget)
			v.burns = append(v.burns, burnPair{long: bw.Long, short: bw.Short,
				factor: math.Round(thr/v.budget*1e4) / 1e4, severity: bw.Severity})
		}
		out = append(out, v)
	}
	return out
}

// windows are the error-ratio windows the burn-rate panel draws: the
// shortest window of the pairs (how fast the budget burns now) and the long
// window of every pair (what each ErrorBudgetBurn rule compares).
func (s sloView) windows() []time.Duration {
	if len(s.burns) == 0 {
		return nil
	}
	shortest := s.burns[0].short
	var out []time.Duration
	for _, b := range s.burns {
		shortest = min(shortest, b.short)
		out = append(out, b.long)
	}
	out = append(out, shortest)
	slices.Sort(out)
	return slices.Compact(out)
}

// burnSteps colour a burn rate by the pairs' severities: from each factor
// up, the colour of the most severe pair at or below it; a step at every
// factor draws its line.
func (s sloView) burnSteps() []dashboard.Threshold {
	bs := append([]burnPair(nil), s.burns...)
	sort.Slice(bs, func(i, j int) bool { return bs[i].factor < bs[j].factor })
	steps := []dashboard.Threshold{{Color: colorOK}}
	color := colorOK
	for _, b := range bs {
		if c := severityColor(b.severity); c == colorCritical || color == colorOK {
			color = c
		}
		v := b.factor
		steps = append(steps, dashboard.Threshold{Value: &v, Color: color})
	}
	return steps
}

func severityColor(s string) string {
	if s == catalogue.SeverityCritical {
		return colorCritical
	}
	return colorWarning
}

// pct writes a ratio as a percentage: 0.99 → 99%.
func pct(v float64) string { return catalogue.Num(math.Round(v*1e6)/1e4) + "%" }

// sloWhat says what the SLO counts as a good request.
func (g *gen) sloWhat(s sloView) string {
	switch s.name {
	case "availability":
		return "of the API's requests must not fail (" + g.cfg().API.ErrorMatcher + " on " + g.cfg().API.RequestsMetric + ")"
	case "latency":
		return fmt.Sprintf("of the API's requests must be faster than %ss (%s)", catalogue.Num(g.cfg().SLOs.Latency.Target), g.cfg().API.DurationHistogram)
	}
	return "of the API's requests must be good"
}

// sloDescribe names the SLO, its objective and the ErrorBudgetBurn alerts
// on it.
func (g *gen) sloDescribe(s sloView, what string) string {
	var b strings.Builder
	window := catalogue.Dur(time.Duration(g.cfg().SLOs.Window))
	fmt.Fprintf(&b, "**%s SLO** of %s: %s %s over %s; the error budget is %s of the requests. %s",
		s.name, g.cfg().Service, pct(s.objective), g.sloWhat(s), window, pct(s.budget), what)
	var page, ticket []string
	for _, p := range s.burns {
		part := fmt.Sprintf("%s× over %s and %s", catalogue.Num(p.factor), catalogue.Dur(p.long), catalogue.Dur(p.short))
		if p.severity == catalogue.SeverityCritical {
			page = append(page, part)
		} else {
			ticket = append(ticket, part)
		}
	}
	fmt.Fprintf(&b, "\n\nAlert **%s** (slo=%q, labels long_window and short_window) fires when the error ratio over both windows of a pair is above the burn rate times the budget", alertBudgetBurn, s.name)
	if len(page) > 0 {
		fmt.Fprintf(&b, "; pages (critical) at %s", strings.Join(page, ", "))
	}
	if len(ticket) > 0 {
		fmt.Fprintf(&b, "; tickets (warning) at %s", strings.Join(ticket, ", "))
	}
	b.WriteString(". A burn rate of 1 spends exactly the budget over the window.")
	if s.runbook != "" {
		fmt.Fprintf(&b, "\n\nRunbook: %s", s.runbook)
	}
	return b.String()
}

// sloSel selects a recorded SLO series of this service under the
// dashboard's variables.
func (g *gen) sloSel(record string, s sloView) string {
	return g.scope(fmt.Sprintf("%s{service=%q, slo=%q}", record, g.cfg().Service, s.name), nil)
}

// sloLinks are an SLO panel's runbook and the API dashboard.
func (g *gen) sloLinks(s sloView) []link {
	var out []link
	if s.runbook != "" {
		out = append(out, link{"Runbook: " + alertBudgetBurn, s.runbook})
	}
	return append(out, link{"headroom / " + titles[API], panelLinkURL(g.cfg(), API)})
}

// errorBudgetRow is one line per SLO: the error budget left over the SLO
// window, the period's burn rate, and the burn rate over the alert windows
// with the ErrorBudgetBurn rates drawn.
func (g *gen) errorBudgetRow(bd *board) {
	ss := g.slos()
	if len(ss) == 0 {
		return
	}
	window := catalogue.Dur(time.Duration(g.cfg().SLOs.Window))
	bd.row("Error budget: SLOs over "+window, false)
	for _, s := range ss {
		bd.stat(spec{
			Title: fmt.Sprintf("%s: error budget remaining (%s)", s.name, window),
			Desc: g.sloDescribe(s, fmt.Sprintf("Shows the share of the budget left over the last %s (`%s`): below 0 the objective is missed.",
				window, sloBudgetRemaining)),
			Unit:    "percentunit",
			Queries: []query{{Expr: fmt.Sprintf("min(%s)", g.sloSel(sloBudgetRemaining, s))}},
			Steps:   stepsAt(colorCritical, 0, colorWarning, 0.25, colorOK),
			W:       4, H: 6, Decimals: ptr(1.0),
			Links: g.sloLinks(s),
		})
		bd.stat(spec{
			Title: fmt.Sprintf("%s: burn rate (%s)", s.name, window),
			Desc: g.sloDescribe(s, fmt.Sprintf("Shows the burn rate over the last %s (`%s`): the error ratio over the error budget. "+
				"Above 1 the budget is overspent.", window, sloPeriodBurnRate)),
			Unit:    "suffix:×",
			Queries: []query{{Expr: fmt.Sprintf("max(%s)", g.sloSel(sloPeriodBurnRate, s))}},
			Steps:   stepsAt(colorOK, 0.75, colorWarning, 1, colorCritical),
			W:       4, H: 6, Decimals: ptr(2.0), Min: ptr(0.0),
			Links: g.sloLinks(s),
		})
		var qs []query
		lg := ""
		if g.cfg().ClusterLabel != "" {
			lg = "{{" + g.cfg().ClusterLabel + "}} "
		}
		for _, w := range s.windows() {
			qs = append(qs, query{
				Expr:   fmt.Sprintf("%s / ignoring (sloth_window) (%s > 0)", g.sloSel(sloErrorRatio+catalogue.Dur(w), s), g.sloSel(sloErrorBudget, s)),
				Legend: lg + catalogue.Dur(w),
			})
		}
		bd.ts(spec{
			Title: fmt.Sprintf("%s: burn rate over the alert windows", s.name),
			Desc: g.sloDescribe(s, "Shows the burn rate (`"+sloErrorRatio+"WINDOW` over `"+sloErrorBudget+"`) over the alert windows, "+
				"with the ErrorBudgetBurn rates drawn: a pair fires when both of its windows are above its rate."),
			Unit:    "suffix:×",
			Queries: qs,
			Steps:   s.burnSteps(),
			Lines:   true,
			W:       16, H: 6, Min: ptr(0.0),
			Links: g.sloLinks(s),
		})
	}
}
