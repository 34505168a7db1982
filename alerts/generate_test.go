package alerts

import (
	"testing"

	"github.com/headroom-dev/headroom/catalogue"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	sigsyaml "sigs.k8s.io/yaml"
)

// TestPrometheusRuleMatchesRuleFiles: the manifest carries exactly the rule
// files' groups.
func TestPrometheusRuleMatchesRuleFiles(t *testing.T) {
	for _, name := range catalogue.Presets() {
		cfg, _ := catalogue.Preset(name)
		files, err := Generate(catalogue.MustBuild(cfg))
		if err != nil {
			t.Fatal(err)
		}
		var pr monitoringv1.PrometheusRule
		if err := sigsyaml.UnmarshalStrict(files[FilePrometheusRule], &pr); err != nil {
			t.Fatal(err)
		}
		if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != "PrometheusRule" || pr.Name == "" {
			t.Errorf("%s: header %s %s %q", name, pr.APIVersion, pr.Kind, pr.Name)
		}
		want := append(RecordingRules(catalogue.MustBuild(cfg)).Groups, AlertingRules(catalogue.MustBuild(cfg)).Groups...)
		if len(pr.Spec.Groups) != len(want) {
			t.Fatalf("%s: %d groups, want %d", name, len(pr.Spec.Groups), len(want))
		}
		for i, g := range pr.Spec.Groups {
			w := want[i]
			if g.Name != w.Name || len(g.Rules) != len(w.Rules) {
				t.Fatalf("%s: group %d is %s with %d rules, want %s with %d", name, i, g.Name, len(g.Rules), w.Name, len(w.Rules))
			}
			for j, r := range g.Rules {
				wr := w.Rules[j]
				if r.Record != wr.Record || r.Alert != wr.Alert || r.Expr.String() != wr.Expr {
					t.Errorf("%s: rule %s%s differs", name, wr.Record, wr.Alert)
				}
				var f model.Duration
				if r.For != nil {
					f, _ = model.ParseDuration(string(*r.For))
				}
				if f != wr.For {
					t.Errorf("%s: %s for %v, want %v", name, wr.Alert, f, wr.For)
				}
			}
		}
	}
}
