package alerts

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/internal/kind"

	"gopkg.in/yaml.v3"
)

// The Alertmanager config routes by the labels every alert carries:
// scale-down alerts are tickets whatever else they say; critical pages;
// warning tickets; info goes to capacity review. Severity follows from
// urgency (critical and high page, medium tickets, low is info), so
// "critical and high urgency scale-up and health alerts page".

type amConfig struct {
	Route        amRoute      `yaml:"route"`
	InhibitRules []amInhibit  `yaml:"inhibit_rules"`
	Receivers    []amReceiver `yaml:"receivers"`
}

type amRoute struct {
	Receiver       string    `yaml:"receiver"`
	Matchers       []string  `yaml:"matchers,omitempty"`
	GroupBy        []string  `yaml:"group_by,omitempty"`
	GroupWait      string    `yaml:"group_wait,omitempty"`
	GroupInterval  string    `yaml:"group_interval,omitempty"`
	RepeatInterval string    `yaml:"repeat_interval,omitempty"`
	Routes         []amRoute `yaml:"routes,omitempty"`

	comment string
}

type amInhibit struct {
	SourceMatchers []string `yaml:"source_matchers"`
	TargetMatchers []string `yaml:"target_matchers"`
	Equal          []string `yaml:"equal"`

	comment string
}

type amReceiver struct {
	Name string `yaml:"name"`

	comment string
}

// InhibitRule describes one generated inhibition rule, for documentation
// and tests.
type InhibitRule struct {
	Why            string
	SourceMatchers []string
	TargetMatchers []string
	Equal          []string
}

func alertmanagerConfig(cfg *catalogue.Config, cat []catalogue.Trigger) amConfig {
	r := cfg.Receivers
	route := amRoute{
		// With cluster_label, one cluster's alerts never share a
		// notification with another's.
		Receiver: r.Ticket, GroupBy: cfg.PromQL().Labels("service", "alertname"),
		GroupWait: "30s", GroupInterval: "5m", RepeatInterval: "4h",
		Routes: []amRoute{
			{Receiver: r.Ticket, Matchers: []string{`direction="down"`}, RepeatInterval: "24h",
				comment: "Scale-down alerts are tickets, never pages."},
			{Receiver: r.Pager, Matchers: []string{`severity="critical"`}, RepeatInterval: "1h",
				comment: "Critical and high urgency scale-up and health alerts page."},
			{Receiver: r.Ticket, Matchers: []string{`severity="warning"`},
				comment: "Medium urgency: tickets."},
			{Receiver: r.CapacityReview, Matchers: []string{`severity="info"`}, RepeatInterval: "24h",
				comment: "Post-scaling targets missed: the capacity review's list."},
		},
	}
	var inhibits []amInhibit
	for _, ir := range InhibitRules(cfg, cat) {
		inhibits = append(inhibits, amInhibit{SourceMatchers: ir.SourceMatchers, TargetMatchers: ir.TargetMatchers, Equal: ir.Equal, comment: ir.Why})
	}
	return amConfig{
		Route:        route,
		InhibitRules: inhibits,
		Receivers: []amReceiver{
			{Name: r.Pager, comment: "Placeholder: add the pager's notifier, e.g. pagerduty_configs or opsgenie_configs."},
			{Name: r.Ticket, comment: "Placeholder: add the ticket queue's notifier, e.g. webhook_configs (Jira, GitHub) or email_configs."},
			{Name: r.CapacityReview, comment: "Placeholder: where capacity-review items collect, e.g. a Slack channel or e-mail digest."},
		},
	}
}

// InhibitRules returns the bundle's inhibition rules.
func InhibitRules(cfg *catalogue.Config, cat []catalogue.Trigger) []InhibitRule {
	var out []InhibitRule
	out = append(out, InhibitRule{
		Why:            "A scale-down alert is inhibited while any scale-up alert fires for the same service.",
		SourceMatchers: []string{`direction="up"`}, TargetMatchers: []string{`direction="down"`}, Equal: []string{"service"},
	})
	levels := InhibitRule{
		Why:            "The critical level of an alert inhibits its warning level (ReplicationLagHigh 60s over 10s).",
		SourceMatchers: []string{`severity="critical"`}, TargetMatchers: []string{`severity="warning"`},
		Equal: []string{"alertname", "service", "target"},
	}
	if forecasts := forecastAlerts(cat); len(forecasts) > 0 {
		// A forecast's series are finer than a target (a pool, a
		// database): its levels get their own rule, on all its labels.
		levels.TargetMatchers = append(levels.TargetMatchers, matchNone("alertname", forecasts))
	}
	out = append(out, levels)
	byKind := map[kind.Kind][]string{}
	present := map[string]bool{}
	for _, t := range cat {
		present[t.Alert] = true
		if t.Kind != "" && !slices.Contains(byKind[t.Kind], t.Alert) {
			byKind[t.Kind] = append(byKind[t.Kind], t.Alert)
		}
	}
	var downs, datapath []string
	for _, k := range catalogue.TargetDownTriggers {
		if present[string(k.ID)] {
			downs = append(downs, string(k.ID))
		}
		for _, a := range byKind[k.Kind] {
			if !slices.Contains(datapath, a) {
				datapath = append(datapath, a)
			}
		}
	}
	sort.Strings(datapath)
	if len(downs) > 0 && len(datapath) > 0 {
		out = append(out, InhibitRule{
			Why:            "Data-path alerts of a PostgreSQL, PgBouncer or Redis target are inhibited while that target is down.",
			SourceMatchers: []string{matchAny("alertname", downs)}, TargetMatchers: []string{matchAny("alertname", datapath)},
			Equal: []string{"service", "target"},
		})
	}
	if present[string(catalogue.TriggerAPIDown)] && len(byKind[kind.API]) > 0 {
		api := append([]string{}, byKind[kind.API]...)
		if len(cfg.Objectives()) > 0 {
			// An outage burns the error budget at once: APIDown has
			// already paged for it.
			api = append(api, catalogue.AlertErrorBudgetBurn)
		}
		sort.Strings(api)
		out = append(out, InhibitRule{
			Why:            "The API's error, latency, traffic and error-budget alerts are inhibited while its health probe fails (they are symptoms of the outage).",
			SourceMatchers: []string{fmt.Sprintf("alertname=%q", catalogue.TriggerAPIDown)}, TargetMatchers: []string{matchAny("alertname", api)}, Equal: []string{"service"},
		})
	}
	out = append(out, forecastInhibitRules(cfg, cat)...)
	// With cluster_label, every rule holds within one cluster: a scale-up
	// in cluster a says nothing about cluster b's scale-down.
	for i := range out {
		out[i].Equal = cfg.PromQL().Labels(out[i].Equal...)
	}
	// But not the missing signals': SignalAbsent is absent() of a
	// service's record and carries no cluster label, so an equal on it
	// would never match the target or exporter down that explains it.
	return append(out, absentInhibitRules(cat, downs, present)...)
}

// absentInhibitRules mute a missing signal computed from headroom's
// metrics while the exporter or a target is down.
func absentInhibitRules(cat []catalogue.Trigger, downs []string, present map[string]bool) []InhibitRule {
	var out []InhibitRule
	var headroomSignals []string
	for _, t := range cat {
		if t.Alert == "SignalAbsent" && strings.Contains(t.Signal.Expr, "headroom_") {
			headroomSignals = append(headroomSignals, t.Signal.Record)
		}
	}
	if len(headroomSignals) > 0 && present["ExporterAbsent"] {
		sort.Strings(headroomSignals)
		out = append(out, InhibitRule{
			Why:            "A missing signal computed from headroom's metrics is inhibited while the exporter or a target is down: that alert already says why.",
			SourceMatchers: []string{matchAny("alertname", append([]string{"ExporterAbsent"}, downs...))},
			TargetMatchers: []string{`alertname="SignalAbsent"`, matchAny("signal", headroomSignals)},
			Equal:          []string{"service"},
		})
	}
	return out
}

// forecastInhibitRules let each threshold alert inhibit its forecasts for
// the same series: once the threshold is crossed, the forecast has nothing
// left to say. A firing forecast is a scale-up alert (direction up), so the
// first rule already inhibits the service's scale-down alerts with it.
func forecastInhibitRules(cfg *catalogue.Config, cat []catalogue.Trigger) []InhibitRule {
	var out []InhibitRule
	seen := map[string]bool{}
	for _, t := range cat {
		if !t.IsForecast() || seen[t.Alert] {
			continue
		}
		seen[t.Alert] = true
		base, _, _ := catalogue.ForecastOf(t.ID)
		b, ok := findTrigger(cat, base)
		if !ok {
			continue
		}
		equal := append([]string{"service"}, t.Signal.Labels...)
		equal = append(equal, slices.Sorted(maps.Keys(b.Labels))...)
		equal = cfg.PromQL().Labels(equal...)
		out = append(out, InhibitRule{
			Why:            fmt.Sprintf("%s inhibits its forecast %s for the same series: the threshold is already crossed.", b.Alert, t.Alert),
			SourceMatchers: []string{fmt.Sprintf("alertname=%q", b.Alert)}, TargetMatchers: []string{fmt.Sprintf("alertname=%q", t.Alert)},
			Equal: equal,
		}, InhibitRule{
			Why: fmt.Sprintf("%s's page (the nearer horizon) inhibits its ticket for the same series, and only for it: "+
				"another pool's or database's ticket still reaches its receiver.", t.Alert),
			SourceMatchers: []string{fmt.Sprintf("alertname=%q", t.Alert), fmt.Sprintf("severity=%q", catalogue.SeverityCritical)},
			TargetMatchers: []string{fmt.Sprintf("alertname=%q", t.Alert), fmt.Sprintf("severity=%q", catalogue.SeverityWarning)},
			Equal:          equal,
		})
	}
	return out
}

// forecastAlerts are the alertnames of a catalogue's forecasts, sorted.
func forecastAlerts(cat []catalogue.Trigger) []string {
	var out []string
	for _, t := range cat {
		if t.IsForecast() && !slices.Contains(out, t.Alert) {
			out = append(out, t.Alert)
		}
	}
	sort.Strings(out)
	return out
}

// findTrigger is a trigger of a catalogue by id.
func findTrigger(cat []catalogue.Trigger, id catalogue.TriggerID) (catalogue.Trigger, bool) {
	for _, t := range cat {
		if t.ID == id {
			return t, true
		}
	}
	return catalogue.Trigger{}, false
}

// matchAny writes label="a" for one value and label=~"a|b" for several.
func matchAny(label string, values []string) string {
	if len(values) == 1 {
		return fmt.Sprintf("%s=%q", label, values[0])
	}
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = strings.NewReplacer(".", `\.`, "|", `\|`).Replace(v)
	}
	return fmt.Sprintf("%s=~%q", label, strings.Join(quoted, "|"))
}

// matchNone is a matcher that no value of values passes.
func matchNone(label string, values []string) string {
	m := matchAny(label, values)
	if len(values) == 1 {
		return strings.Replace(m, "=", "!=", 1)
	}
	return strings.Replace(m, "=~", "!~", 1)
}

// renderAlertmanager writes alertmanager.yml with comments on its parts.
func renderAlertmanager(cfg *catalogue.Config, cat []catalogue.Trigger) ([]byte, error) {
	c := alertmanagerConfig(cfg, cat)
	var doc yaml.Node
	if err := doc.Encode(c); err != nil {
		return nil, err
	}
	doc.HeadComment = fmt.Sprintf("Alertmanager config for %s, generated by `headroom generate` from the %s preset; do not edit by hand.\n"+
		"Fill in the receivers' notifiers (they are placeholders), or copy the route and inhibit_rules into your own config.", cfg.Service, cfg.Preset)
	field := func(n *yaml.Node, key string) *yaml.Node {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i+1]
			}
		}
		return nil
	}
	if routes := field(field(&doc, "route"), "routes"); routes != nil {
		for i, n := range routes.Content {
			n.HeadComment = c.Route.Routes[i].comment
		}
	}
	if rules := field(&doc, "inhibit_rules"); rules != nil {
		for i, n := range rules.Content {
			n.HeadComment = c.InhibitRules[i].comment
		}
	}
	if recv := field(&doc, "receivers"); recv != nil {
		for i, n := range recv.Content {
			n.HeadComment = c.Receivers[i].comment
		}
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
