package promtest

import (
	"slices"
	"strings"
	"testing"

	"github.com/headroom-dev/headroom/alerts"
	"github.com/headroom-dev/headroom/catalogue"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/headroom-dev/headroom/collectors"
)

// bundleExprs returns every expression of a config's bundle, by rule name.
func bundleExprs(cfg *catalogue.Config) map[string]string {
	out := map[string]string{}
	for _, g := range alerts.RecordingRules(catalogue.MustBuild(cfg)).Groups {
		for _, r := range g.Rules {
			out[r.Record] = r.Expr
		}
	}
	for _, tr := range catalogue.Catalogue(cfg) {
		out["alert "+string(tr.ID)] = tr.Expr
	}
	for _, g := range sloAlertGroups(cfg) {
		for _, r := range g.Rules {
			out["alert "+r.Alert+" "+r.Labels["slo"]+" "+r.Labels["long_window"]] = r.Expr
		}
	}
	return out
}

// sloAlertGroups are the burn-rate groups of a config's alerting rules.
func sloAlertGroups(cfg *catalogue.Config) []rulefmt.RuleGroup {
	var out []rulefmt.RuleGroup
	for _, g := range alerts.AlertingRules(catalogue.MustBuild(cfg)).Groups {
		if len(g.Rules) > 0 && g.Rules[0].Alert == catalogue.AlertErrorBudgetBurn {
			out = append(out, g)
		}
	}
	return out
}

// TestEveryMetricIsKnown: every metric an expression selects is exported by
// headroom (checked against the collectors' descriptors), recorded by the
// bundle, or a documented external input; and every label a headroom
// selector matches on is one of that metric's labels.
func TestEveryMetricIsKnown(t *testing.T) {
	exported := map[string]collectors.MetricInfo{}
	for _, m := range collectors.Metrics() {
		exported[m.Name] = m
		if m.Type == "histogram" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				exported[m.Name+s] = m
			}
		}
	}
	for _, v := range variants {
		cfg := v.cfg(t)
		recorded := map[string]bool{}
		for _, g := range alerts.RecordingRules(catalogue.MustBuild(cfg)).Groups {
			for _, r := range g.Rules {
				recorded[r.Record] = true
			}
		}
		external := map[string]bool{}
		for _, e := range catalogue.Inputs(cfg) {
			external[e.Name] = true
		}
		common := map[string]bool{"target": true, "job": true, "instance": true, labels.MetricName: true}
		if cfg.ClusterLabel != "" {
			common[cfg.ClusterLabel] = true
		}
		for name, expr := range bundleExprs(cfg) {
			e, err := catalogue.ParseExpr(expr)
			if err != nil {
				t.Errorf("%s %s: %v\n%s", v.name, name, err, expr)
				continue
			}
			parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
				vs, ok := n.(*parser.VectorSelector)
				if !ok {
					return nil
				}
				m, isHeadroom := exported[vs.Name]
				switch {
				case isHeadroom:
					known := map[string]bool{}
					for _, l := range m.Labels {
						known[l] = true
					}
					if strings.HasSuffix(vs.Name, "_bucket") {
						known["le"] = true
					}
					for _, lm := range vs.LabelMatchers {
						if !known[lm.Name] && !common[lm.Name] {
							t.Errorf("%s %s: %s has no label %s (it has %v)", v.name, name, vs.Name, lm.Name, m.Labels)
						}
					}
				case strings.HasPrefix(vs.Name, "headroom_"):
					t.Errorf("%s %s: %s is not exported by headroom's collectors", v.name, name, vs.Name)
				case recorded[vs.Name], external[vs.Name]:
				default:
					t.Errorf("%s %s: %s is neither headroom's, recorded, nor a documented input (alerts.ExternalInputs)", v.name, name, vs.Name)
				}
				return nil
			})
			// Aggregations directly over one headroom metric only group by its labels.
			parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
				agg, ok := n.(*parser.AggregateExpr)
				if !ok || agg.Without {
					return nil
				}
				sels := selectorsIn(agg.Expr)
				if len(sels) != 1 {
					return nil
				}
				m, ok := exported[sels[0].Name]
				if !ok {
					return nil
				}
				for _, g := range agg.Grouping {
					if !slices.Contains(m.Labels, g) && !common[g] && g != "le" {
						t.Errorf("%s %s: groups %s by %s, which it does not have", v.name, name, sels[0].Name, g)
					}
				}
				return nil
			})
		}
	}
}

func selectorsIn(n parser.Node) []*parser.VectorSelector {
	var out []*parser.VectorSelector
	parser.Inspect(n, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, vs)
		}
		return nil
	})
	return out
}

// TestClusterLabelIsCarried: with cluster_label set, every aggregation keeps
// it and every one-to-one join matches on it.
func TestClusterLabelIsCarried(t *testing.T) {
	cfg, err := catalogue.LoadOnto("health-agent", []byte("cluster_label: cluster\nresources:\n  source: node\n  network_bytes_per_second: 1e7\n"))
	if err != nil {
		t.Fatal(err)
	}
	for name, expr := range bundleExprs(cfg) {
		e, err := catalogue.ParseExpr(expr)
		if err != nil {
			t.Fatal(err)
		}
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			switch n := n.(type) {
			case *parser.AggregateExpr:
				if n.Without || !slices.Contains(n.Grouping, "cluster") {
					t.Errorf("%s: %s drops the cluster label", name, n)
				}
			case *parser.BinaryExpr:
				if n.VectorMatching != nil && n.VectorMatching.On && !slices.Contains(n.VectorMatching.MatchingLabels, "cluster") {
					t.Errorf("%s: %s joins without the cluster label", name, n)
				}
			}
			return nil
		})
	}
}

// TestSelectorsApply: the config's selectors reach every selector of their source.
func TestSelectorsApply(t *testing.T) {
	cfg, _ := catalogue.Preset("amas")
	for name, expr := range bundleExprs(cfg) {
		for _, vs := range selectorsIn(mustParse(t, expr)) {
			var want string
			switch {
			case strings.HasPrefix(vs.Name, "headroom_"):
				want = `job="headroom"`
			case strings.HasPrefix(vs.Name, "amas_"):
				want = `job="amas-orchestrator"`
			case strings.HasPrefix(vs.Name, "container_cpu"), strings.HasPrefix(vs.Name, "container_memory"), strings.HasPrefix(vs.Name, "kube_"):
				want = `namespace="amas-prod"`
			default:
				continue
			}
			if !hasMatcher(vs, want) {
				t.Errorf("%s: %s lacks %s", name, vs, want)
			}
		}
	}
}

func mustParse(t *testing.T, expr string) parser.Expr {
	t.Helper()
	e, err := catalogue.ParseExpr(expr)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func hasMatcher(vs *parser.VectorSelector, m string) bool {
	for _, lm := range vs.LabelMatchers {
		if lm.String() == m {
			return true
		}
	}
	return false
}
