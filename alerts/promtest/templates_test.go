package promtest

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/alerts"
	"github.com/headroom-dev/headroom/catalogue"

	"github.com/prometheus/common/helpers/templates"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/template"
)

// TestTemplatesRenderAsPrometheusDoes: the generated tests state alerts'
// annotations, rendered by expandTemplate; Prometheus's own template
// package must agree on every annotation of the catalogue.
func TestTemplatesRenderAsPrometheusDoes(t *testing.T) {
	lbls := map[string]string{"target": "pg", "pool": "api", "service": "svc", "resource": "cpu", "database": "app", "user": "u",
		"slot": "s1", "job": "headroom", "instance": "h:9630", "source": "maxmemory"}
	values := []float64{0, 0.0123, 0.5, 0.88, 1, 3, 5.5, 16.5, 66, 90, 1234, 1 << 30, 1.5 * (1 << 30)}
	for _, p := range catalogue.Presets() {
		cfg, _ := catalogue.Preset(p)
		for _, tr := range catalogue.Catalogue(cfg) {
			for name, text := range alerts.AlertRule(tr).Annotations {
				for _, v := range values {
					ours, err := expandTemplate(text, lbls, v)
					if err != nil {
						t.Fatalf("%s %s: %v", tr.ID, name, err)
					}
					theirs := prometheusExpand(t, text, lbls, v)
					if ours != theirs {
						t.Errorf("%s %s at %v:\n ours   %q\n theirs %q", tr.ID, name, v, ours, theirs)
					}
				}
			}
		}
	}
}

// prometheusExpand renders like rules.AlertingRule does.
func prometheusExpand(t *testing.T, text string, lbls map[string]string, v float64) string {
	t.Helper()
	const defs = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"
	data := template.AlertTemplateData(lbls, map[string]string{}, "", promql.Sample{Metric: labels.FromMap(lbls), F: v})
	u, _ := url.Parse("http://localhost")
	te := template.NewTemplateExpander(context.Background(), defs+text, "annotation", data, 0,
		func(context.Context, string, time.Time) (promql.Vector, error) { return nil, nil }, u, []string{"missingkey=zero"})
	out, err := te.Expand()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestDescriptionsShowValueThresholdAndAction renders every alert's summary
// and description, of every rule and `where` scope of both presets and the
// bundle test's variants, through Prometheus's template engine, with a value
// that fires it: the description must show that value with its unit, the
// threshold as text (from the config: a variant's pool size, a scope's
// threshold) and the action, and nothing may be left unrendered.
func TestDescriptionsShowValueThresholdAndAction(t *testing.T) {
	lbls := map[string]string{"target": "pg", "pool": "api", "service": "svc", "resource": "cpu", "database": "app", "user": "u",
		"slot": "s1", "job": "headroom", "instance": "h:9630", "source": "maxmemory", "kind": "postgres"}
	for _, variant := range variants {
		p, cfg := variant.name, variant.cfg(t)
		cat := catalogue.Catalogue(cfg)
		// Alerts whose expression is not a signal against a threshold: a
		// firing value, and what the description must then say of it and of
		// the threshold.
		custom := map[string]struct {
			value                float64
			labels               map[string]string
			valueText, threshold string
		}{
			"APIDown":                   {3, nil, "failed 3 probes within 30s", "3 failed probes within 30s"},
			"APIDown(every probe)":      {0, nil, "failed every probe for 1m", "3 failed probes within 30s"},
			"ExporterAbsent":            {0, nil, "up = 0", "for 2m"},
			"ExporterAbsent(no target)": {1, map[string]string{"instance": ""}, "No target of job headroom exists", "for 2m"},
			"SignalAbsent":              {1, nil, "absent = 1", "for 10m"},
		}
		for _, tr := range cat {
			if tr.IsForecast() {
				// Keyed by trigger id: ResourcePressureCPU and Memory share
				// an alertname and have thresholds of their own.
				custom[string(tr.ID)] = struct {
					value                float64
					labels               map[string]string
					valueText, threshold string
				}{10800, nil, "in about 3h 0m 0s", tr.Signal.Unit.Format(tr.Threshold) + " (" + tr.Labels["trigger"] + "'s threshold"}
			}
		}
		if b, ok := cfg.SLOBucket(); ok {
			// Keyed by trigger id: the latency SLO's bucket is a SignalAbsent
			// rule that counts series rather than reporting absence.
			custom["SignalAbsent:slo_latency_bucket"] = struct {
				value                float64
				labels               map[string]string
				valueText, threshold string
			}{2, nil, fmt.Sprintf(`2 %s series with le="+Inf" and no le="%s" bucket`, b.Metric, catalogue.Num(cfg.SLOs.Latency.Target)), "for 10m"}
		}
		if h, ok := catalogue.DBConnectionHeadroom(cfg); ok {
			custom["ScaleOutExceedsDBConnections"] = struct {
				value                float64
				labels               map[string]string
				valueText, threshold string
			}{60, nil, "60 more connections", fmt.Sprintf("x %d connections per pod", h.PoolSizePerPod)}
		}
		if a, ok := catalogue.AutoscalerOf(cfg); ok {
			for id, e := range map[catalogue.TriggerID]struct {
				value                float64
				valueText, threshold string
			}{
				catalogue.TriggerAutoscalerMaxedOut:       {60, "ask for 60 replicas", fmt.Sprintf("the configured %d", a.MaxReplicas)},
				catalogue.TriggerKEDAScalerErrors:         {0.25, "has failed 250m times a second for 5m", "keda_scaler_detail_errors_total"},
				catalogue.TriggerKEDAScalerEmptyResponses: {3, "has returned nothing 3 times in 5m", "keda_scaler_empty_upstream_responses_total"},
				catalogue.TriggerKEDAScalerInputStale:     {7, "has stayed at 7 for more than", "keda_scaler_metrics_value"},
				catalogue.TriggerAutoscalerNotActive:      {1, "is paused", "for 10m"},
				catalogue.TriggerAutoscalerAbsent:         {1, "for 10m (absent = 1)", "kube-state-metrics reports no HPA"},
				catalogue.TriggerAutoscalerThrashing:      {3, "rose 3 times and fell at least", "2 times within"},
				catalogue.TriggerAutoscalerNotScalingDown: {10, "has held 10 replicas", "every scale-down condition held"},
			} {
				custom[string(id)] = struct {
					value                float64
					labels               map[string]string
					valueText, threshold string
				}{e.value, nil, e.valueText, e.threshold}
			}
		}
		type tc struct {
			name, summary, description, action string
			labels                             map[string]string
			value                              float64
			want                               []string
		}
		var cases []tc
		scoped := 0
		for _, tr := range cat {
			c := tc{name: string(tr.ID), summary: tr.Summary, description: tr.Description, action: tr.Action, labels: lbls}
			if tr.Comparison == catalogue.Custom {
				base := tr.Alert
				if _, ok := custom[string(tr.ID)]; ok {
					base = string(tr.ID)
				}
				for _, key := range []string{base, base + "(every probe)", base + "(no target)"} {
					cu, ok := custom[key]
					if !ok {
						continue
					}
					c := c
					c.name, c.value, c.want = key, cu.value, []string{cu.valueText, cu.threshold}
					c.labels = with(lbls)
					for k, v := range cu.labels {
						if v == "" {
							delete(c.labels, k)
						} else {
							c.labels[k] = v
						}
					}
					cases = append(cases, c)
				}
				if _, ok := custom[base]; !ok {
					t.Errorf("%s %s: no expectation for this custom-expression alert; add one", p, tr.ID)
				}
				continue
			}
			for _, r := range append([]catalogue.Trigger{tr}, tr.Scopes...) {
				c := c
				if r.Match != "" {
					c.name, c.summary, c.description = string(tr.ID)+" where "+r.Match, r.Summary, r.Description
				}
				fire, _, _ := testGen{cfg: cfg, t: r, cat: cat}.values()
				c.value = fire
				c.want = []string{valueText(t, r.Signal.Unit, fire), r.Signal.Unit.Format(r.Threshold)}
				if r.Match != "" {
					c.want = append(c.want, "set for "+r.Match)
					scoped++
				}
				cases = append(cases, c)
			}
		}
		for _, g := range sloAlertGroups(cfg) {
			for _, r := range g.Rules {
				// The pair's rate is in its summary: "burns ... 14.4× too fast".
				thr := 0.0
				for _, bw := range catalogue.BurnWindows {
					if catalogue.Dur(bw.Long) == r.Labels["long_window"] {
						for _, s := range cfg.Objectives() {
							if s.Name == r.Labels["slo"] {
								thr = bw.Factor * s.Budget()
							}
						}
					}
				}
				v := catalogue.Round(thr * 1.1)
				cases = append(cases, tc{name: "ErrorBudgetBurn " + r.Labels["slo"] + " " + r.Labels["long_window"], summary: r.Annotations["summary"],
					description: r.Annotations["description"], action: r.Labels["action"], labels: lbls, value: v,
					want: []string{valueText(t, catalogue.UnitRatio, v), "above " + catalogue.UnitRatio.Format(thr)}})
			}
		}
		if p == "health-agent-scoped" && scoped == 0 {
			t.Errorf("%s: no scoped rule rendered", p)
		}
		for _, c := range cases {
			summary := prometheusExpand(t, c.summary, c.labels, c.value)
			desc := prometheusExpand(t, c.description, c.labels, c.value)
			for _, out := range []string{summary, desc} {
				for _, bad := range []string{"<no value>", "{{", "}}", "%!"} {
					if strings.Contains(out, bad) {
						t.Errorf("%s %s: %q left in %q", p, c.name, bad, out)
					}
				}
			}
			want := append(c.want, "Action: "+strings.ReplaceAll(c.action, "_", " ")+".")
			for _, w := range want {
				if !strings.Contains(desc, w) {
					t.Errorf("%s %s at %v: description lacks %q:\n  %s", p, c.name, c.value, w, desc)
				}
			}
		}
	}
}

// valueText is how a description must show a value of a unit: 87%, 5.5s,
// 1.1GiB, 2.5/s.
func valueText(t *testing.T, u catalogue.Unit, v float64) string {
	t.Helper()
	switch u {
	case catalogue.UnitRatio:
		return strconv.FormatFloat(v*100, 'g', 4, 64) + "%"
	case catalogue.UnitSeconds:
		s, err := templates.HumanizeDuration(v)
		if err != nil {
			t.Fatal(err)
		}
		return s
	case catalogue.UnitBytes:
		prefix := ""
		for _, p := range []string{"Ki", "Mi", "Gi", "Ti"} {
			if v < 1024 {
				break
			}
			prefix, v = p, v/1024
		}
		return strconv.FormatFloat(v, 'g', 4, 64) + prefix + "B"
	case catalogue.UnitPerSecond:
		return strconv.FormatFloat(v, 'g', 4, 64) + "/s"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
