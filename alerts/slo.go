package alerts

import (
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/rulefmt"

	"github.com/headroom-dev/headroom/catalogue"
)

// sloRecordingGroups is the recording rule group of the config's SLOs: one
// group, so that the rules that read the SLI see this evaluation's value
// (pint's rule/dependency goes by series name, not by the slo label).
func sloRecordingGroups(cfg *catalogue.Config) []rulefmt.RuleGroup {
	ss := cfg.Objectives()
	if len(ss) == 0 {
		return nil
	}
	g := rulefmt.RuleGroup{Name: fmt.Sprintf("headroom.%s.slo.rules", cfg.Service)}
	for _, s := range ss {
		add := func(record, expr string, extra ...string) {
			labels := cfg.SLOLabels(s)
			for i := 0; i+1 < len(extra); i += 2 {
				labels[extra[i]] = extra[i+1]
			}
			g.Rules = append(g.Rules, rulefmt.Rule{Record: record, Expr: expr, Labels: labels})
		}
		for _, w := range catalogue.SLOWindows() {
			add("slo:sli_error:ratio_rate"+catalogue.Dur(w), s.SLI(w), "sloth_window", catalogue.Dur(w))
		}
		period := time.Duration(cfg.SLOs.Window)
		add("slo:objective:ratio", "vector("+catalogue.Num(s.Objective)+")")
		add("slo:error_budget:ratio", "vector("+catalogue.Num(s.Budget())+")")
		add("slo:time_period:days", "vector("+catalogue.Num(period.Hours()/24)+")")
		// The period's error ratio is the mean of the 5m ratios, as Sloth
		// computes it: a rate over 30d would need 30 days of raw samples.
		add("slo:sli_error:ratio_rate"+catalogue.Dur(period),
			fmt.Sprintf("avg_over_time(%s[%s])", cfg.SLOSelect("slo:sli_error:ratio_rate5m", s), catalogue.Dur(period)), "sloth_window", catalogue.Dur(period))
		add("slo:current_burn_rate:ratio", fmt.Sprintf("%s\n  / %s", cfg.SLOSelect("slo:sli_error:ratio_rate5m", s), catalogue.Num(s.Budget())))
		add("slo:period_burn_rate:ratio", fmt.Sprintf("%s\n  / %s", cfg.SLOSelect("slo:sli_error:ratio_rate"+catalogue.Dur(period), s), catalogue.Num(s.Budget())))
		add("slo:period_error_budget_remaining:ratio", "1 - "+cfg.SLOSelect("slo:period_burn_rate:ratio", s))
		// Sloth's dashboards list services and SLOs from this info series;
		// sloth_objective is in percent, as Sloth writes it.
		add("sloth_slo_info", "vector(1)", "sloth_mode", "headroom", "sloth_objective", catalogue.Num(catalogue.Round(s.Objective*100)))
	}
	return []rulefmt.RuleGroup{g}
}

// sloAlertGroups are the burn-rate alerts: one rule per SLO and window pair.
func sloAlertGroups(cfg *catalogue.Config) []rulefmt.RuleGroup {
	var out []rulefmt.RuleGroup
	for _, s := range cfg.Objectives() {
		g := rulefmt.RuleGroup{Name: fmt.Sprintf("headroom.%s.slo-%s.alerts", cfg.Service, s.Name)}
		for _, bw := range catalogue.BurnWindows {
			g.Rules = append(g.Rules, BurnRule(cfg, s, bw))
		}
		out = append(out, g)
	}
	return out
}

// BurnRule is the burn-rate alert of an SLO over a pair of windows.
func BurnRule(c *catalogue.Config, s catalogue.SLO, bw catalogue.BurnWindow) rulefmt.Rule {
	thr := bw.Factor * s.Budget()
	long, short := catalogue.Dur(bw.Long), catalogue.Dur(bw.Short)
	expr := fmt.Sprintf("%s > %s\nand ignoring (sloth_window)\n%s > %s",
		c.SLOSelect("slo:sli_error:ratio_rate"+long, s), catalogue.Num(catalogue.Round(thr)), c.SLOSelect("slo:sli_error:ratio_rate"+short, s), catalogue.Num(catalogue.Round(thr)))
	period := time.Duration(c.SLOs.Window)
	exhausted := time.Duration(float64(period) / bw.Factor).Round(time.Hour)
	action := "restore_" + s.Name
	return rulefmt.Rule{
		Alert: catalogue.AlertErrorBudgetBurn,
		Expr:  expr,
		Labels: map[string]string{
			"severity": bw.Severity, "urgency": bw.Urgency, "direction": string(catalogue.None), "action": action, "service": c.Service,
			"slo": s.Name, "long_window": long, "short_window": short,
		},
		Annotations: map[string]string{
			"summary": fmt.Sprintf("%s burns its %s error budget %s× too fast (%s and %s windows)", c.Service, s.Name, catalogue.Num(bw.Factor), long, short),
			"description": fmt.Sprintf("{{ $value | humanizePercentage }} of %s's requests %s over the last %s (and over %s), above %s: %s× the error budget "+
				"of the %s %s objective. At this rate the %s budget is gone in %s. Action: %s.",
				c.Service, s.What, long, short, catalogue.UnitRatio.Format(thr), catalogue.Num(bw.Factor), catalogue.UnitRatio.Format(s.Objective), s.Name,
				catalogue.Dur(period), catalogue.Dur(exhausted), strings.ReplaceAll(action, "_", " ")),
			"runbook_url": c.RunbookURL + "#" + catalogue.Anchor(catalogue.AlertErrorBudgetBurn),
		},
	}
}

// sloRunbook is RUNBOOK.md's section of the burn-rate alerts.
func sloRunbook(cfg *catalogue.Config) string {
	ss := cfg.Objectives()
	if len(ss) == 0 {
		return ""
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("\n## %s\n\n", catalogue.AlertErrorBudgetBurn)
	w("The service spends its error budget too fast (multi-window, multi-burn-rate alerts over a %s budget; label `slo` says which objective).\n\n", catalogue.Dur(time.Duration(cfg.SLOs.Window)))
	w("| slo | objective | windows | burn rate | severity |\n|---|---|---|---|---|\n")
	for _, s := range ss {
		for _, bw := range catalogue.BurnWindows {
			w("| %s | %s | %s and %s | %s× | %s |\n", s.Name, catalogue.UnitRatio.Format(s.Objective), catalogue.Dur(bw.Long), catalogue.Dur(bw.Short), catalogue.Num(bw.Factor), bw.Severity)
		}
	}
	w("\n- Both windows must be above the rate: the long one shows the budget is really being spent, the short one that it still is.\n")
	w("- Look at what changed: deploys, the LLM provider's status, PostgreSQL and Redis alerts firing at the same time; roll back first.\n")
	w("- `slo:period_error_budget_remaining:ratio{service=%q}` is what is left of the budget; a page spends 2%% of it an hour.\n", cfg.Service)
	return b.String()
}
