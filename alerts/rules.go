package alerts

import (
	"fmt"

	"github.com/headroom-dev/headroom/catalogue"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
)

// RecordingRules returns the recording rule groups of the bundle, in
// evaluation order.
//
// The signals are one group: Prometheus evaluates the rules of a group in
// order and groups independently, so a rule that reads another group's
// series (saturation reads the API, DB pool and Redis signals) would see
// them one evaluation late, or not at all on the first (pint's
// rule/dependency). The SLOs are one group for the same reason, and so is
// the headroom left on each resource (remainingGroup). The scope
// records of scoped triggers and the autoscaler's records
// (catalogue.ScalingRecords) end the signals' group, after the signals
// they read.
func RecordingRules(bundle *catalogue.Bundle) rulefmt.RuleGroups {
	cfg, signals, cat := bundle.Config, bundle.Signals, bundle.Triggers
	g := rulefmt.RuleGroup{Name: fmt.Sprintf("headroom.%s.rules", cfg.Service)}
	for _, s := range signals {
		if s.Record == "" {
			continue
		}
		g.Rules = append(g.Rules, rulefmt.Rule{
			Record: s.Record,
			Expr:   s.Expr,
			Labels: map[string]string{"service": cfg.Service},
		})
	}
	for _, r := range catalogue.ScopeRecords(cfg, cat) {
		g.Rules = append(g.Rules, rulefmt.Rule{Record: r.Record, Expr: r.Expr, Labels: map[string]string{"service": cfg.Service}})
	}
	// What the autoscaler does (scaling events, requests per replica,
	// cost per request, cold-start latency), after the signals they read.
	for _, r := range catalogue.ScalingRecords(bundle) {
		g.Rules = append(g.Rules, rulefmt.Rule{Record: r.Record, Expr: r.Expr,
			Labels: map[string]string{"service": cfg.Service, "workload": cfg.ScaleTargetName()}})
	}
	out := rulefmt.RuleGroups{Groups: []rulefmt.RuleGroup{g, remainingGroup(bundle)}}
	out.Groups = append(out.Groups, sloRecordingGroups(cfg)...)
	if fg, ok := forecastGroup(bundle); ok {
		out.Groups = append(out.Groups, fg)
	}
	return out
}

// ForecastGroupName names the recording group of the forecasts.
func ForecastGroupName(cfg *catalogue.Config) string {
	return fmt.Sprintf("headroom.%s.forecast.rules", cfg.Service)
}

// forecastGroup is the forecasts' recording group, at its own interval:
// its coverage checks count samples of that interval, and its ranges of a
// day need no finer one. It comes after the signals' group it reads.
func forecastGroup(bundle *catalogue.Bundle) (rulefmt.RuleGroup, bool) {
	recs := catalogue.ForecastRecords(bundle)
	if len(recs) == 0 {
		return rulefmt.RuleGroup{}, false
	}
	g := rulefmt.RuleGroup{Name: ForecastGroupName(bundle.Config), Interval: model.Duration(catalogue.ForecastInterval)}
	for _, r := range recs {
		l := map[string]string{"service": bundle.Config.Service}
		for k, v := range r.Labels {
			l[k] = v
		}
		g.Rules = append(g.Rules, rulefmt.Rule{Record: r.Record, Expr: r.Expr, Labels: l})
	}
	return g, true
}

// AlertingRules returns the alerting rule groups of the bundle, one per
// resource group, then the SLOs' burn-rate alerts.
func AlertingRules(bundle *catalogue.Bundle) rulefmt.RuleGroups {
	out := alertingRules(bundle.Config, bundle.Triggers)
	out.Groups = append(out.Groups, sloAlertGroups(bundle.Config)...)
	return out
}

func alertingRules(cfg *catalogue.Config, cat []catalogue.Trigger) rulefmt.RuleGroups {
	var out rulefmt.RuleGroups
	index := map[string]int{}
	for _, t := range cat {
		name := fmt.Sprintf("headroom.%s.%s.alerts", cfg.Service, t.Group.Slug())
		i, ok := index[name]
		if !ok {
			i = len(out.Groups)
			index[name] = i
			out.Groups = append(out.Groups, rulefmt.RuleGroup{Name: name})
		}
		// A scoped trigger is one rule per scope and its default rule, all
		// of one alertname over disjoint series.
		for _, r := range append([]catalogue.Trigger{t}, t.Scopes...) {
			out.Groups[i].Rules = append(out.Groups[i].Rules, AlertRule(r))
		}
	}
	return out
}

// AlertRule is the alerting rule of a trigger (or of one of its scopes);
// the promtool tests expect its labels and annotations.
func AlertRule(t catalogue.Trigger) rulefmt.Rule {
	return rulefmt.Rule{
		Alert:         t.Alert,
		Expr:          t.Expr,
		For:           model.Duration(t.For),
		KeepFiringFor: model.Duration(t.KeepFiringFor),
		Labels:        ruleLabels(t),
		Annotations:   ruleAnnotations(t),
	}
}

// ruleLabels are the labels every alert carries, and its variant labels.
func ruleLabels(t catalogue.Trigger) map[string]string {
	l := map[string]string{
		"severity":  t.Severity,
		"urgency":   t.Urgency,
		"direction": string(t.Direction),
		"action":    t.Action,
		"service":   t.Service,
	}
	for k, v := range t.Labels {
		l[k] = v
	}
	return l
}

func ruleAnnotations(t catalogue.Trigger) map[string]string {
	return map[string]string{
		"summary":     t.Summary,
		"description": t.Description,
		"runbook_url": t.RunbookURL,
	}
}
