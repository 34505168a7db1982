package alerts

import (
	"context"
	"net/url"
	"testing"
	"time"

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
	for _, p := range Presets() {
		cfg, _ := Preset(p)
		for _, tr := range Catalogue(cfg) {
			for name, text := range ruleAnnotations(tr) {
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
