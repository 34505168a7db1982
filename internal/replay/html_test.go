package replay

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/internal/charts"
)

// The page draws what the HPA compared: an AverageValue's sum per pod of
// the replicas the step started with, a missing value as a gap; and one
// lane per alert instance, however often it fired.
func TestHTMLChartsDrawWhatTheHPACompared(t *testing.T) {
	at := func(s int) time.Time { return time.Unix(int64(s), 0) }
	f := func(v float64) *float64 { return &v }
	end := at(60)
	r := &Report{
		Initial: 2, Start: at(0), End: end, Origin: at(0), minReplicas: 2, maxReplicas: 10,
		Triggers: []TriggerReport{{Name: "requests-per-pod", Type: AverageValue, Target: 15}, {Name: "queue-depth", Type: Value, Target: 25}},
		Steps: []StepReport{
			{At: at(0), Replicas: 4, Desired: 4, Values: []*float64{f(60), f(10)}},
			{At: at(15), Replicas: 4, Desired: 40, Values: []*float64{f(60), nil}},
			{At: at(30), Replicas: 4, Desired: 0, Values: []*float64{nil, nil}},
		},
		Alerts: []AlertSpan{
			{Alert: "QueueDepthHigh", Labels: map[string]string{"severity": "critical"}, Start: at(0), End: ptr(at(15))},
			{Alert: "QueueDepthHigh", Labels: map[string]string{"severity": "critical"}, Start: at(30)},
			{Alert: "SignalAbsent", Labels: map[string]string{"signal": "x"}, Start: at(15)},
		},
	}
	for _, c := range []struct {
		name string
		got  []float64
		want []float64
	}{
		// 60 over the 2 replicas the first step started with (it set 4), then over 4.
		{"AverageValue per pod", values(r.triggerChart(0).Lines[0].Points), []float64{30, 15, math.NaN()}},
		{"Value as read", values(r.triggerChart(1).Lines[0].Points), []float64{10, math.NaN(), math.NaN()}},
		{"replicas", values(r.replicaChart().Lines[0].Points), []float64{4, 4, 4}},
		// 40 is past max 10; no proposal when no metric was read.
		{"proposal within min and max", values(r.replicaChart().Lines[1].Points), []float64{4, 10, math.NaN()}},
	} {
		if !slices.EqualFunc(c.got, c.want, func(a, b float64) bool { return a == b || math.IsNaN(a) && math.IsNaN(b) }) {
			t.Errorf("%s: %v, want %v", c.name, c.got, c.want)
		}
	}
	lanes := r.alertChart().Lanes
	if len(lanes) != 2 || lanes[0].Name != `QueueDepthHigh {severity="critical"}` || len(lanes[0].Spans) != 2 || !lanes[0].Spans[1].To.Equal(end) {
		t.Errorf("lanes %+v: want QueueDepthHigh's two firings in one lane, the second to the end, then SignalAbsent", lanes)
	}
}

func values(points []charts.Point) []float64 {
	out := make([]float64, len(points))
	for i, p := range points {
		out[i] = p.Value
	}
	return out
}

func ptr[T any](v T) *T { return &v }
