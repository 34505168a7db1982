package replay

import (
	"reflect"
	"strings"
	"testing"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"

	"github.com/headroom-dev/headroom/alerts/autoscale"
	"github.com/headroom-dev/headroom/catalogue"
)

// The amas preset's generated ScaledObject replays as the AMAS guide's
// autoscaler, and a threshold override in the config reaches the replay.
func TestFromScaledObject(t *testing.T) {
	cfg, err := catalogue.Preset("amas")
	if err != nil {
		t.Fatal(err)
	}
	so, err := autoscale.ScaledObject(catalogue.MustBuild(cfg))
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

	cfg, err = catalogue.LoadOnto("amas", []byte("triggers:\n  QueueDepthHigh: {threshold: 40}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if so, err = autoscale.ScaledObject(catalogue.MustBuild(cfg)); err != nil {
		t.Fatal(err)
	}
	if spec, err = FromScaledObject(so); err != nil {
		t.Fatal(err)
	}
	if spec.Triggers[1].Name != "queue-depth" || spec.Triggers[1].Target != 40 {
		t.Errorf("queue trigger %+v, want target 40", spec.Triggers[1])
	}

	// idle_replicas: 0 is replayed as KEDA's scale to zero and back to min.
	cfg, err = catalogue.LoadOnto("amas", []byte("autoscaling: {idle_replicas: 0, idle_wakes_on_outside_series: true}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if so, err = autoscale.ScaledObject(catalogue.MustBuild(cfg)); err != nil {
		t.Fatal(err)
	}
	if spec, err = FromScaledObject(so); err != nil || !spec.ScalesToIdle || spec.MinReplicas != 2 {
		t.Errorf("cold start: %+v %v, want ScalesToIdle with min replicas 2", spec, err)
	}
	so.Spec.IdleReplicaCount = new(int32(1))
	if _, err = FromScaledObject(so); err == nil || !strings.Contains(err.Error(), "idleReplicaCount 1") {
		t.Errorf("idleReplicaCount 1: %v, want it refused", err)
	}
}

// FromHPA models what headroom generates (resource Utilization targets)
// and refuses, naming the metric, what it would replay wrongly.
func TestFromHPA(t *testing.T) {
	cfg, err := catalogue.Preset("health-agent")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		edit  func(h *autoscalingv2.HorizontalPodAutoscaler)
		check func(t *testing.T, s Spec, err error)
	}{
		{"the preset's HPA", func(*autoscalingv2.HorizontalPodAutoscaler) {}, func(t *testing.T, s Spec, err error) {
			if err != nil || s.MinReplicas != 3 || s.MaxReplicas != 20 || len(s.Triggers) != 2 || s.Triggers[0].Target != 70 ||
				s.ScaleUp != nil || s.CooldownPeriod != DefaultScaleDown.StabilizationWindow {
				t.Errorf("spec %+v, %v", s, err)
			}
		}},
		{"a behaviour", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Behavior = &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: new(int32(120))}}
		}, func(t *testing.T, s Spec, err error) {
			if err != nil || s.ScaleDown == nil || s.ScaleDown.StabilizationWindow != 2*time.Minute || s.CooldownPeriod != 2*time.Minute {
				t.Errorf("spec %+v, %v", s, err)
			}
		}},
		{"a Pods metric", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics = append(h.Spec.Metrics, autoscalingv2.MetricSpec{Type: autoscalingv2.PodsMetricSourceType})
		}, func(t *testing.T, _ Spec, err error) {
			if err == nil || !strings.Contains(err.Error(), "metrics[2]") {
				t.Errorf("error %v, want one naming metrics[2]", err)
			}
		}},
		{"an AverageValue resource target", func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics[1].Resource.Target = autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType}
		}, func(t *testing.T, _ Spec, err error) {
			if err == nil || !strings.Contains(err.Error(), "metrics[1] (memory)") {
				t.Errorf("error %v, want one naming metrics[1] (memory)", err)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := autoscale.HPA(catalogue.MustBuild(cfg))
			c.edit(h)
			s, err := FromHPA(h)
			c.check(t, s, err)
		})
	}
}
