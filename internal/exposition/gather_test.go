package exposition

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// brokenMetric is a metric of a known descriptor that fails to write.
type brokenMetric struct{ desc *Desc }

func (m brokenMetric) Desc() *prometheus.Desc  { return m.desc.prom }
func (m brokenMetric) described() *Desc        { return m.desc }
func (m brokenMetric) Write(*dto.Metric) error { return errors.New("broken on purpose") }

// TestGathererRejectsWhatARegistryWould: what a registry would refuse is
// dropped with an error naming it, and the rest is still served.
func TestGathererRejectsWhatARegistryWould(t *testing.T) {
	unknown := prometheus.NewDesc("headroom_not_made_by_newdesc", "h", nil, nil)
	for _, tc := range []struct {
		name    string
		metrics []prometheus.Metric
		wantErr string
		series  int // backendsDesc series kept
	}{
		{"duplicate series", []prometheus.Metric{
			NewSample(backendsDesc, 1, "app", "idle"),
			NewSample(backendsDesc, 2, "app", "idle"),
			NewSample(backendsDesc, 3, "app", "active"),
		}, "1 duplicate", 2},
		{"metric that fails to write", []prometheus.Metric{
			brokenMetric{backendsDesc},
			NewSample(backendsDesc, 3, "app", "active"),
		}, "broken on purpose", 1},
		{"descriptor headroom does not know", []prometheus.Metric{
			prometheus.MustNewConstMetric(unknown, prometheus.GaugeValue, 1),
			NewSample(backendsDesc, 3, "app", "active"),
		}, "not made by exposition", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fams, err := families(nil, []string{"pg"}, [][]prometheus.Metric{tc.metrics})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
			}
			if strings.Contains(tc.wantErr, "duplicate") && !strings.Contains(err.Error(), "headroom_postgres_backends") {
				t.Errorf("error %v does not name the metric", err)
			}
			if len(fams) != 1 || len(fams[0].GetMetric()) != tc.series {
				t.Fatalf("kept %v, want %d series of headroom_postgres_backends", fams, tc.series)
			}
			for _, m := range fams[0].GetMetric() {
				if m.GetLabel()[len(m.GetLabel())-1].GetValue() != "pg" {
					t.Errorf("series %v lacks its target label", m.GetLabel())
				}
			}
		})
	}
}

// The merge interleaves the targets' sorted series (and keeps the static
// families): a family two targets report comes out sorted by label
// values, and a series two parts both carry is kept once, the first
// part's, with an error, as a registry would refuse it.
func TestMergeInterleavesTargets(t *testing.T) {
	up := func(kind string, v float64) prometheus.Metric {
		return NewSample(targetUpDesc, v, kind)
	}
	static := []*dto.MetricFamily{{Name: proto.String("go_goroutines"), Help: proto.String("Goroutines."),
		Type: dto.MetricType_GAUGE.Enum(), Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: proto.Float64(3)}}}}}
	fams, err := families(static, []string{"zeta", "alpha", "zeta"}, [][]prometheus.Metric{
		{up("redis", 1), up("postgres", 1)},
		{up("postgres", 0)},
		{up("redis", 0)},
	})
	if err == nil || !strings.Contains(err.Error(), "headroom_target_up: 1 duplicate series dropped") {
		t.Errorf("err = %v, want the duplicate named", err)
	}
	var got []string
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			var pairs []string
			for _, lp := range m.GetLabel() {
				pairs = append(pairs, lp.GetName()+"="+lp.GetValue())
			}
			got = append(got, fmt.Sprintf("%s{%s} %g", f.GetName(), strings.Join(pairs, ","), m.GetGauge().GetValue()))
		}
	}
	want := []string{
		"go_goroutines{} 3",
		"headroom_target_up{kind=postgres,target=alpha} 0",
		"headroom_target_up{kind=postgres,target=zeta} 1",
		"headroom_target_up{kind=redis,target=zeta} 1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("merged:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// families merges the static families with each target's metrics, sorted
// by name and, within a family, by label values.
func families(static []*dto.MetricFamily, targets []string, results [][]prometheus.Metric) ([]*dto.MetricFamily, error) {
	parts := make([]partialFamilies, len(targets))
	for i, metrics := range results {
		parts[i] = sourceFamilies(&dto.LabelPair{Name: proto.String(TargetLabel), Value: proto.String(targets[i])}, metrics)
	}
	return merge(static, parts)
}

// fixedSource answers every scrape with the same series.
type fixedSource struct {
	name    string
	metrics []prometheus.Metric
}

func (s fixedSource) Name() string                                { return s.name }
func (s fixedSource) Collect(context.Context) []prometheus.Metric { return s.metrics }

// Sources label every scrape's series with the label pairs made once by
// NewSources, and Only gives a probe the same one: a scrape allocates no
// label of its own per target.
func TestSourcesLabelEveryScrapeOnce(t *testing.T) {
	sources := NewSources(
		fixedSource{"pg", []prometheus.Metric{NewSample(backendsDesc, 1, "app", "idle")}},
		fixedSource{"replica", []prometheus.Metric{NewSample(backendsDesc, 2, "app", "idle")}},
	)
	targets := func(s Sources) map[string]*dto.LabelPair {
		fams, err := NewGatherer(context.Background(), nil, s).Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*dto.LabelPair{}
		for _, f := range fams {
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == TargetLabel {
						out[l.GetValue()] = l
					}
				}
			}
		}
		return out
	}
	first, second, probe := targets(sources), targets(sources), targets(sources.Only(1))
	if len(first) != 2 || len(probe) != 1 || probe["replica"] == nil {
		t.Fatalf("targets %v, probe of replica %v", first, probe)
	}
	for name, l := range first {
		if second[name] != l {
			t.Errorf("the second scrape labels %s with a new pair", name)
		}
	}
	if probe["replica"] != first["replica"] {
		t.Errorf("a probe of replica labels it with a new pair")
	}
}
