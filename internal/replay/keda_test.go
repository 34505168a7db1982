package replay

import (
	"reflect"
	"testing"

	"github.com/headroom-dev/headroom/alerts"
	"github.com/headroom-dev/headroom/alerts/autoscale"
)

// The amas preset's generated ScaledObject replays as the AMAS guide's
// autoscaler, and a threshold override in the config reaches the replay.
func TestFromScaledObject(t *testing.T) {
	cfg, err := alerts.Preset("amas")
	if err != nil {
		t.Fatal(err)
	}
	so, err := autoscale.ScaledObject(cfg)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := FromScaledObject(so)
	if err != nil {
		t.Fatal(err)
	}
	want := amas()
	want.Triggers = append(want.Triggers,
		Trigger{Name: "latency-p95", Type: Value, Target: 1, Activation: 0.5, Fallback: true},
		Trigger{Name: "cpu", Type: Utilization, Target: 70},
		Trigger{Name: "memory", Type: Utilization, Target: 80})
	// The generator writes Percent before Pods.
	if !reflect.DeepEqual(spec, want) {
		t.Errorf("spec\n%+v\nwant\n%+v", spec, want)
	}

	cfg, err = alerts.LoadOnto("amas", []byte("triggers:\n  QueueDepthHigh: {threshold: 40}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if so, err = autoscale.ScaledObject(cfg); err != nil {
		t.Fatal(err)
	}
	if spec, err = FromScaledObject(so); err != nil {
		t.Fatal(err)
	}
	if spec.Triggers[1].Name != "queue-depth" || spec.Triggers[1].Target != 40 {
		t.Errorf("queue trigger %+v, want target 40", spec.Triggers[1])
	}
}
