package alerts

import (
	"fmt"

	"github.com/prometheus/prometheus/model/rulefmt"

	"github.com/headroom-dev/headroom/catalogue"
)

// remainingGroup records what is left of each resource with a known limit,
// headroom:<resource>:remaining and :remaining_ratio. They read raw series
// and each other only (a ratio its remaining, a service its instances, in
// that order), so they are a group of their own beside the signals'.
func remainingGroup(bundle *catalogue.Bundle) rulefmt.RuleGroup {
	svc := bundle.Config.Service
	g := rulefmt.RuleGroup{Name: fmt.Sprintf("headroom.%s.remaining.rules", svc)}
	for _, r := range bundle.Remaining() {
		g.Rules = append(g.Rules,
			rulefmt.Rule{Record: r.ID.Record(), Expr: r.Expr, Labels: map[string]string{"service": svc}},
			rulefmt.Rule{Record: r.ID.RatioRecord(), Expr: r.RatioExpr, Labels: map[string]string{"service": svc}})
	}
	return g
}

// remainingRunbook is the runbook's table of the headroom rules: per
// resource, its unit and labels, and the config field or metric that
// supplies its limit.
func remainingRunbook(bundle *catalogue.Bundle) string {
	rs := bundle.Remaining()
	if len(rs) == 0 {
		return ""
	}
	out := "\n## Headroom left\n\n" +
		"What is left of each resource with a known limit, `headroom:<resource>:remaining` in the resource's unit (negative\n" +
		"when the usage is over the limit) and `headroom:<resource>:remaining_ratio` as a share of the limit. A resource\n" +
		"whose limit is not known has no series: set the config field or make the metric exist (docs/headroom.md).\n\n" +
		"| resource | unit | labels | used | limit from |\n|---|---|---|---|---|\n"
	for _, r := range rs {
		used := r.Usage
		if r.Of != "" {
			used = fmt.Sprintf("%s of `%s` over its instances (ratio: %s)", r.Agg, r.Of.Record(), r.RatioAgg)
		}
		out += fmt.Sprintf("| `%s` (%s) | %s | %s | %s | %s |\n", r.ID, r.Title, r.Counts, labelList(r.Labels), mdEscape(used), mdEscape(r.Limit))
	}
	return out
}

func labelList(l []string) string {
	if len(l) == 0 {
		return "service"
	}
	out := "service"
	for _, n := range l {
		out += ", " + n
	}
	return out
}
