package replay

import (
	"fmt"
	"strconv"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
)

// FromScaledObject is the Spec of a KEDA ScaledObject (as alerts/autoscale
// generates it): so a replay runs exactly the thresholds, bounds, behaviour
// and fallback that would be deployed.
func FromScaledObject(so *kedav1alpha1.ScaledObject) (Spec, error) {
	s := so.Spec
	spec := Spec{MinReplicas: 0, MaxReplicas: 100, CooldownPeriod: 300 * time.Second}
	if s.MinReplicaCount != nil {
		spec.MinReplicas = *s.MinReplicaCount
	}
	if s.MaxReplicaCount != nil {
		spec.MaxReplicas = *s.MaxReplicaCount
	}
	if idle := s.IdleReplicaCount; idle != nil {
		// KEDA's webhook accepts only 0, below minReplicaCount.
		if *idle != 0 || spec.MinReplicas < 1 {
			return Spec{}, fmt.Errorf("idleReplicaCount %d with minReplicaCount %d is not modelled (KEDA accepts only 0 below a minimum of at least 1)", *idle, spec.MinReplicas)
		}
		spec.ScalesToIdle = true
	}
	if s.CooldownPeriod != nil {
		spec.CooldownPeriod = time.Duration(*s.CooldownPeriod) * time.Second
	}
	if f := s.Fallback; f != nil {
		if f.Behavior != "" && f.Behavior != kedav1alpha1.FallbackBehaviorStatic && f.Behavior != kedav1alpha1.FallbackBehaviorCurrentReplicasIfHigher {
			return Spec{}, fmt.Errorf("fallback behavior %q is not modelled", f.Behavior)
		}
		spec.Fallback = &Fallback{FailureThreshold: f.FailureThreshold, Replicas: f.Replicas,
			CurrentIfHigher: f.Behavior == kedav1alpha1.FallbackBehaviorCurrentReplicasIfHigher}
	}
	if a := s.Advanced; a != nil && a.HorizontalPodAutoscalerConfig != nil {
		if b := a.HorizontalPodAutoscalerConfig.Behavior; b != nil {
			spec.ScaleUp, spec.ScaleDown = rulesOf(b.ScaleUp), rulesOf(b.ScaleDown)
		}
	}
	for _, t := range s.Triggers {
		var tr Trigger
		var err error
		switch t.Type {
		case "prometheus":
			tr = Trigger{Name: t.Name, Type: MetricType(t.MetricType), Fallback: true}
			if tr.Type == "" {
				tr.Type = AverageValue
			}
			if tr.Target, err = strconv.ParseFloat(t.Metadata["threshold"], 64); err != nil {
				return Spec{}, fmt.Errorf("trigger %s: threshold: %w", t.Name, err)
			}
			if a := t.Metadata["activationThreshold"]; a != "" {
				if tr.Activation, err = strconv.ParseFloat(a, 64); err != nil {
					return Spec{}, fmt.Errorf("trigger %s: activationThreshold: %w", t.Name, err)
				}
			}
		case "cpu", "memory":
			if t.MetricType != autoscalingv2.UtilizationMetricType {
				return Spec{}, fmt.Errorf("trigger %s: only Utilization is modelled for %s", t.Name, t.Type)
			}
			tr = Trigger{Name: t.Name, Type: Utilization}
			if tr.Target, err = strconv.ParseFloat(t.Metadata["value"], 64); err != nil {
				return Spec{}, fmt.Errorf("trigger %s: value: %w", t.Name, err)
			}
		default:
			return Spec{}, fmt.Errorf("trigger %s: type %q is not modelled", t.Name, t.Type)
		}
		spec.Triggers = append(spec.Triggers, tr)
	}
	return spec, spec.check()
}

func rulesOf(r *autoscalingv2.HPAScalingRules) *Rules {
	if r == nil {
		return nil
	}
	out := &Rules{}
	if r.StabilizationWindowSeconds != nil {
		out.StabilizationWindow = time.Duration(*r.StabilizationWindowSeconds) * time.Second
	}
	if r.SelectPolicy != nil {
		out.SelectPolicy = string(*r.SelectPolicy)
	}
	for _, p := range r.Policies {
		out.Policies = append(out.Policies, Policy{Type: string(p.Type), Value: p.Value, Period: time.Duration(p.PeriodSeconds) * time.Second})
	}
	return out
}

// FromHPA is the Spec of a plain autoscaling/v2 HorizontalPodAutoscaler (as
// alerts/autoscale generates it for the health-agent preset, or for amas
// without KEDA). Only resource metrics with Utilization targets are
// modelled: those are all headroom generates. It has no fallback (a missing
// metric is simply invalid for the HPA) and no cooldown; the window in
// which a reversal counts as thrash is the scale-down stabilisation window.
func FromHPA(h *autoscalingv2.HorizontalPodAutoscaler) (Spec, error) {
	s := h.Spec
	spec := Spec{MinReplicas: 1, MaxReplicas: s.MaxReplicas}
	if s.MinReplicas != nil {
		spec.MinReplicas = *s.MinReplicas
	}
	if b := s.Behavior; b != nil {
		spec.ScaleUp, spec.ScaleDown = rulesOf(b.ScaleUp), rulesOf(b.ScaleDown)
	}
	spec.CooldownPeriod = DefaultScaleDown.StabilizationWindow
	if spec.ScaleDown != nil {
		spec.CooldownPeriod = spec.ScaleDown.StabilizationWindow
	}
	for i, m := range s.Metrics {
		if m.Type != autoscalingv2.ResourceMetricSourceType || m.Resource == nil {
			return Spec{}, fmt.Errorf("metrics[%d]: type %q is not modelled (only Resource)", i, m.Type)
		}
		r := m.Resource
		if r.Target.Type != autoscalingv2.UtilizationMetricType || r.Target.AverageUtilization == nil {
			return Spec{}, fmt.Errorf("metrics[%d] (%s): only averageUtilization targets are modelled", i, r.Name)
		}
		spec.Triggers = append(spec.Triggers, Trigger{Name: string(r.Name), Type: Utilization, Target: float64(*r.Target.AverageUtilization)})
	}
	return spec, spec.check()
}
