package exposition

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// A sample writes what prometheus.NewConstMetric writes for the same
// descriptor and values, and with a target, the same series with the target
// label in its sorted place.
func TestSampleWritesWhatConstMetricsWrite(t *testing.T) {
	for _, tc := range []struct {
		name      string
		desc      *Desc
		valueType prometheus.ValueType
		labels    []string
	}{
		{"no labels", maxConnectionsDesc, prometheus.GaugeValue, nil},
		{"database and state", backendsDesc, prometheus.GaugeValue, []string{"db1", "idle"}},
		{"two labels, both before target", poolBackendsDesc, prometheus.GaugeValue, []string{"api", "active"}},
		{"counter", commitsDesc, prometheus.CounterValue, []string{"db1"}},
		{"declared unsorted, user after target", poolClientsDesc, prometheus.GaugeValue, []string{"db", "user", "waiting"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := &dto.Metric{}
			if err := prometheus.MustNewConstMetric(tc.desc.prom, tc.valueType, 7, tc.labels...).Write(want); err != nil {
				t.Fatal(err)
			}
			m := NewSample(tc.desc, 7, tc.labels...)
			got := &dto.Metric{}
			if err := m.Write(got); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, want) {
				t.Errorf("Write:\n got %v\nwant %v", got, want)
			}

			target := &dto.LabelPair{Name: proto.String("target"), Value: proto.String("primary")}
			want.Label = withLabel(want.Label, target)
			got = &dto.Metric{}
			m.(*sample).write(got, target)
			if !proto.Equal(got, want) {
				t.Errorf("write with target:\n got %v\nwant %v", got, want)
			}
		})
	}
}

func TestSampleRepairsOrRefuses(t *testing.T) {
	labels := []string{"caf\xe9", "idle"}
	got := &dto.Metric{}
	if err := NewSample(backendsDesc, 1, labels...).Write(got); err != nil {
		t.Fatal(err)
	}
	if v := got.GetLabel()[0].GetValue(); v != "caf\uFFFD" {
		t.Errorf("database label = %q, want the bad byte replaced", v)
	}
	if labels[0] != "caf\xe9" {
		t.Errorf("the caller's label values were changed: %q", labels[0])
	}

	if err := NewSample(backendsDesc, 1, "db1").Write(&dto.Metric{}); err == nil ||
		!strings.Contains(err.Error(), "1 label values for 2 labels") {
		t.Errorf("one value for two labels: err = %v", err)
	}
	// A descriptor is typed, so one not made by NewDesc cannot be given;
	// what can is one that declares a histogram, or one that is invalid.
	if err := NewSample(probeDurationDesc, 1).Write(&dto.Metric{}); err == nil {
		t.Error("a sample of a histogram's descriptor was accepted")
	}
	for _, tc := range []struct {
		desc   *Desc
		labels []string
	}{
		{NewDesc("headroom_twice", "h", Gauge, "db", "db"), []string{"a", "b"}},
		{NewDesc("headroom_own_target", "h", Gauge, "target"), []string{"a"}},
	} {
		if err := NewSample(tc.desc, 1, tc.labels...).Write(&dto.Metric{}); err == nil {
			t.Errorf("a sample of %s (labels %v) was accepted", tc.desc, tc.desc.Labels())
		}
	}
}

// A histogram is built only from a descriptor that declares one, with no
// labels but the target's (which the gatherer adds).
func TestNewHistogramRefuses(t *testing.T) {
	for _, d := range []*Desc{
		backendsDesc,
		NewDesc("headroom_labelled_seconds", "h", Histogram, "database"),
	} {
		if _, err := NewHistogram(d, HistogramOpts{Buckets: []float64{1}}); err == nil {
			t.Errorf("a histogram of %s (%s, labels %v) was built", d, d.Type(), d.Labels())
		}
	}
	if _, err := NewHistogram(probeDurationDesc, HistogramOpts{Buckets: []float64{1}}); err != nil {
		t.Error(err)
	}
}
