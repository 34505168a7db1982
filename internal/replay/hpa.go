// Package replay shows what a config's autoscaler and alerts would have
// done over past series, before its thresholds are deployed (`headroom
// replay`). Replay (evaluate.go) runs the generated rules and the scaler's
// queries with Prometheus's own rule manager and engine over series from a
// file or a Prometheus server; Run (this file) applies the Kubernetes
// HorizontalPodAutoscaler algorithm, with KEDA's fallback, activation and
// cooldown, to the trigger values, a pure function of its inputs.
//
// What it models, following pkg/controller/podautoscaler (Kubernetes 1.3x)
// and KEDA v2.21:
//   - per metric, desired = ceil(current x value / target) for Value and
//     Utilization targets, ceil(value / target) for AverageValue (the value
//     is the sum over the pods, so KEDA's HPA divides it by the replica
//     count), unchanged within the tolerance (10 %) of the target ratio;
//   - the maximum over metrics; a missing metric blocks any scale-down and,
//     when every metric is missing, any change at all (the HPA's rule);
//   - KEDA's fallback: after more than FailureThreshold failed polls in a
//     row a Prometheus trigger stands for Fallback.Replicas, or the current
//     count when that is higher (currentReplicasIfHigher);
//   - the behaviour: stabilisation windows (the lowest recommendation of the
//     scale-up window, the highest of the scale-down window), the rate
//     policies over their periods with selectPolicy Max, Min or Disabled,
//     Kubernetes' defaults where none is given, and min/max replicas;
//   - KEDA's activation and cooldown, which only govern scaling to and from
//     zero (MinReplicas 0); never to zero while a trigger is missing.
//
// Not modelled: pods that are not ready or lack metrics, and the load
// moving between pods when the count changes (the values are replayed as
// they were observed).
package replay

import (
	"fmt"
	"math"
	"time"
)

// MetricType is a trigger's target type.
type MetricType string

// Target types, as in autoscaling/v2.
const (
	AverageValue MetricType = "AverageValue"
	Value        MetricType = "Value"
	Utilization  MetricType = "Utilization"
)

// Trigger is one metric the autoscaler scales on.
type Trigger struct {
	Name string
	Type MetricType
	// Target is the threshold: per pod for AverageValue, of the whole value
	// for Value, in percent for Utilization.
	Target float64
	// Activation is KEDA's activation threshold: with MinReplicas 0, the
	// workload is scaled from zero when a value is above it.
	Activation float64
	// Fallback says KEDA's fallback covers the trigger (Prometheus triggers;
	// not CPU and memory).
	Fallback bool
}

// Policy limits one direction's change over Period: Pods pods or Percent %.
type Policy struct {
	Type   string // "Pods" or "Percent"
	Value  int32
	Period time.Duration
}

// Rules is one direction of the behaviour.
type Rules struct {
	StabilizationWindow time.Duration
	Policies            []Policy
	// SelectPolicy is Max (the policy allowing the biggest change, the
	// default), Min or Disabled.
	SelectPolicy string
}

// Fallback is KEDA's.
type Fallback struct {
	FailureThreshold int32
	Replicas         int32
	// CurrentIfHigher is behavior currentReplicasIfHigher; false is static.
	CurrentIfHigher bool
}

// Spec is an autoscaler.
type Spec struct {
	Triggers                 []Trigger
	MinReplicas, MaxReplicas int32
	// ScaleUp and ScaleDown nil take Kubernetes' defaults.
	ScaleUp, ScaleDown *Rules
	// Tolerance is the HPA's (0 takes 0.1).
	Tolerance float64
	// SyncPeriod is the HPA's evaluation interval, the step of the values (0 takes 15s).
	SyncPeriod time.Duration
	// Fallback nil: a failing trigger stays failing.
	Fallback *Fallback
	// CooldownPeriod is KEDA's: how long every trigger must be inactive
	// before scaling to zero (MinReplicas 0 only). Also the window in which
	// a reversal of direction counts as thrash (0 takes 300s).
	CooldownPeriod time.Duration
	// ScalesToIdle is KEDA's idleReplicaCount 0 below a MinReplicas of at
	// least 1: with every trigger inactive for the cooldown KEDA scales to
	// zero, and on activation straight back to MinReplicas.
	ScalesToIdle bool
}

// DefaultScaleUp and DefaultScaleDown are Kubernetes' behaviour when none is given.
var (
	DefaultScaleUp = Rules{StabilizationWindow: 0, SelectPolicy: "Max", Policies: []Policy{
		{Type: "Pods", Value: 4, Period: 15 * time.Second}, {Type: "Percent", Value: 100, Period: 15 * time.Second}}}
	DefaultScaleDown = Rules{StabilizationWindow: 300 * time.Second, SelectPolicy: "Max", Policies: []Policy{
		{Type: "Percent", Value: 100, Period: 15 * time.Second}}}
)

// Step is the autoscaler at one evaluation.
type Step struct {
	At       time.Time
	Replicas int32
	// Desired is the metrics' proposal before the behaviour (0 when no
	// metric could be read).
	Desired int32
	// Driver is the trigger with the highest proposal.
	Driver string
	// Missing lists the triggers without a value; Fallback those standing
	// for the fallback count.
	Missing  []string
	Fallback []string
}

// Event is one change of the replica count.
type Event struct {
	At       time.Time
	From, To int32
	Trigger  string
}

// Result is a replay.
type Result struct {
	Steps  []Step
	Events []Event
	Peak   int32
	// Thrash counts reversals of direction within the cooldown of the previous change.
	Thrash int
	// MissingSteps counts evaluations with at least one trigger missing.
	MissingSteps int
}

// Run replays values[k][i], the value of Triggers[i] at start + k x
// SyncPeriod (NaN when missing), from initial replicas.
func Run(spec Spec, start time.Time, initial int32, values [][]float64) (Result, error) {
	if err := spec.check(); err != nil {
		return Result{}, err
	}
	for k, row := range values {
		if len(row) != len(spec.Triggers) {
			return Result{}, fmt.Errorf("step %d has %d values for %d triggers", k, len(row), len(spec.Triggers))
		}
	}
	h := newHPA(spec)
	// As the HPA controller does for an autoscaler it has not seen before
	// (maybeInitScaleDownStabilizationWindow): the scale-down window starts
	// out holding the current count, so a replay that begins in a lull does
	// not scale in before the window has passed.
	if h.down.StabilizationWindow > 0 {
		h.recs = append(h.recs, recommendation{start, initial})
	}
	res := Result{Peak: initial}
	cur := initial
	for k, row := range values {
		now := start.Add(time.Duration(k) * h.sync)
		st := h.step(now, cur, row)
		if st.Replicas != cur {
			ev := Event{At: now, From: cur, To: st.Replicas, Trigger: st.Driver}
			if n := len(res.Events); n > 0 {
				prev := res.Events[n-1]
				if (prev.To > prev.From) != (ev.To > ev.From) && now.Sub(prev.At) < h.cooldown {
					res.Thrash++
				}
			}
			res.Events = append(res.Events, ev)
		}
		cur = st.Replicas
		if cur > res.Peak {
			res.Peak = cur
		}
		if len(st.Missing) > 0 {
			res.MissingSteps++
		}
		res.Steps = append(res.Steps, st)
	}
	return res, nil
}

func (s Spec) check() error {
	if len(s.Triggers) == 0 {
		return fmt.Errorf("no triggers")
	}
	if s.MinReplicas < 0 || s.MaxReplicas < 1 || s.MaxReplicas < s.MinReplicas {
		return fmt.Errorf("replicas %d..%d", s.MinReplicas, s.MaxReplicas)
	}
	for _, t := range s.Triggers {
		if t.Target <= 0 {
			return fmt.Errorf("trigger %s: target must be > 0", t.Name)
		}
		switch t.Type {
		case AverageValue, Value, Utilization:
		default:
			return fmt.Errorf("trigger %s: metric type %q", t.Name, t.Type)
		}
	}
	return nil
}

type recommendation struct {
	at       time.Time
	replicas int32
}

type scaleEvent struct {
	at     time.Time
	change int32
}

type hpa struct {
	spec           Spec
	up, down       Rules
	tolerance      float64
	sync, cooldown time.Duration
	recs           []recommendation
	ups, downs     []scaleEvent
	failures       []int32
	lastActive     time.Time
	everActive     bool
}

func newHPA(spec Spec) *hpa {
	h := &hpa{spec: spec, up: DefaultScaleUp, down: DefaultScaleDown, tolerance: spec.Tolerance, sync: spec.SyncPeriod, cooldown: spec.CooldownPeriod,
		failures: make([]int32, len(spec.Triggers))}
	if spec.ScaleUp != nil {
		h.up = fill(*spec.ScaleUp, DefaultScaleUp)
	}
	if spec.ScaleDown != nil {
		h.down = fill(*spec.ScaleDown, DefaultScaleDown)
	}
	if h.tolerance == 0 {
		h.tolerance = 0.1
	}
	if h.sync == 0 {
		h.sync = 15 * time.Second
	}
	if h.cooldown == 0 {
		h.cooldown = 300 * time.Second
	}
	return h
}

// fill takes the defaults' policies and select policy where r has none,
// as the API server's defaulting does.
func fill(r, def Rules) Rules {
	if len(r.Policies) == 0 {
		r.Policies = def.Policies
	}
	if r.SelectPolicy == "" {
		r.SelectPolicy = "Max"
	}
	return r
}

// proposal is one metric's desired replica count (the HPA's replica calculator).
func (h *hpa) proposal(t Trigger, v float64, cur int32) int32 {
	if cur == 0 {
		cur = 1
	}
	var ratio float64
	switch t.Type {
	case AverageValue:
		ratio = v / (t.Target * float64(cur))
		if math.Abs(1-ratio) <= h.tolerance {
			return cur
		}
		return int32(math.Ceil(v / t.Target))
	default:
		ratio = v / t.Target
		if math.Abs(1-ratio) <= h.tolerance {
			return cur
		}
		return int32(math.Ceil(ratio * float64(cur)))
	}
}

// fallbackValue is the value KEDA reports for a trigger on fallback: the
// one that makes the HPA propose the fallback count.
func (h *hpa) fallbackValue(t Trigger, cur int32) float64 {
	n := h.spec.Fallback.Replicas
	if h.spec.Fallback.CurrentIfHigher && cur > n {
		n = cur
	}
	if t.Type == AverageValue || cur == 0 {
		return float64(n) * t.Target
	}
	return float64(n) / float64(cur) * t.Target
}

func (h *hpa) step(now time.Time, cur int32, row []float64) Step {
	st := Step{At: now, Replicas: cur}
	active := false
	valid := 0
	best := int32(-1)
	// KEDA judges activity on its external triggers only, and holds a
	// workload with none of them active (scale_handler.go): CPU and memory
	// never wake it, nor keep it up, nor does their absence block idling.
	external, externalMissing := false, false
	for _, t := range h.spec.Triggers {
		external = external || t.Type != Utilization
	}
	if !external {
		active = true
	}
	for i, t := range h.spec.Triggers {
		v := row[i]
		if math.IsNaN(v) || math.IsInf(v, 0) {
			st.Missing = append(st.Missing, t.Name)
			externalMissing = externalMissing || t.Type != Utilization
			h.failures[i]++
			if !(t.Fallback && h.spec.Fallback != nil && h.failures[i] > h.spec.Fallback.FailureThreshold) {
				continue
			}
			st.Fallback = append(st.Fallback, t.Name)
			v = h.fallbackValue(t, cur)
			active = true // a trigger on fallback holds the workload up
		} else {
			h.failures[i] = 0
			if t.Type != Utilization && v > t.Activation {
				active = true
			}
		}
		valid++
		if p := h.proposal(t, v, cur); p > best {
			best, st.Driver = p, t.Name
		}
	}
	if active {
		h.lastActive, h.everActive = now, true
	}

	// KEDA scales to and from zero itself; the HPA never sees 0. From
	// zero it goes to 1, or with an idle count to MinReplicas.
	if h.spec.MinReplicas == 0 || h.spec.ScalesToIdle {
		if cur == 0 {
			if active {
				st.Replicas = max(h.spec.MinReplicas, 1)
				st.Desired = st.Replicas
			}
			return st
		}
		// KEDA scales to zero only when no trigger errored (isError in
		// scale_scaledobjects.go): a missing series is not evidence of no load.
		if !active && !externalMissing && (!h.everActive || now.Sub(h.lastActive) >= h.cooldown) {
			st.Replicas = 0
			st.Driver = "cooldown"
			return st
		}
	}
	minR := max(h.spec.MinReplicas, 1)
	// Outside the bounds (they changed, or the replay starts there): straight in.
	if cur < minR || cur > h.spec.MaxReplicas {
		st.Replicas = min(max(cur, minR), h.spec.MaxReplicas)
		st.Driver = "bounds"
		return st
	}

	// Invalid metrics: no change when all are missing; no scale-down when some are.
	if valid == 0 {
		return st
	}
	if valid < len(h.spec.Triggers) && best < cur {
		st.Desired = best
		return st
	}
	st.Desired = best
	desired := h.stabilise(now, cur, best)
	desired = h.limit(now, cur, desired, minR)
	if desired > cur {
		h.ups = append(h.ups, scaleEvent{now, desired - cur})
	} else if desired < cur {
		h.downs = append(h.downs, scaleEvent{now, cur - desired})
	}
	st.Replicas = desired
	return st
}

// stabilise is stabilizeRecommendationWithBehaviors: the proposal is held
// between the lowest recommendation of the scale-up window and the highest
// of the scale-down window.
func (h *hpa) stabilise(now time.Time, cur, desired int32) int32 {
	upRec, downRec := desired, desired
	upCut, downCut := now.Add(-h.up.StabilizationWindow), now.Add(-h.down.StabilizationWindow)
	keep := h.recs[:0]
	longest := max(h.up.StabilizationWindow, h.down.StabilizationWindow)
	for _, r := range h.recs {
		if r.at.After(upCut) {
			upRec = min(upRec, r.replicas)
		}
		if r.at.After(downCut) {
			downRec = max(downRec, r.replicas)
		}
		if r.at.After(now.Add(-longest)) {
			keep = append(keep, r)
		}
	}
	h.recs = append(keep, recommendation{now, desired})
	rec := cur
	if rec < upRec {
		rec = upRec
	}
	if rec > downRec {
		rec = downRec
	}
	return rec
}

// limit is convertDesiredReplicasWithBehaviorRate: the rate policies and
// the replica bounds.
func (h *hpa) limit(now time.Time, cur, desired, minR int32) int32 {
	maxR := h.spec.MaxReplicas
	switch {
	case desired > cur:
		upLimit := h.scaleUpLimit(now, cur)
		if upLimit < cur {
			upLimit = cur
		}
		return min(desired, maxR, upLimit)
	case desired < cur:
		downLimit := h.scaleDownLimit(now, cur)
		if downLimit > cur {
			downLimit = cur
		}
		return max(desired, minR, downLimit)
	}
	return min(max(desired, minR), maxR)
}

func changed(events []scaleEvent, now time.Time, period time.Duration) int32 {
	var n int32
	for _, e := range events {
		if e.at.After(now.Add(-period)) {
			n += e.change
		}
	}
	return n
}

func (h *hpa) scaleUpLimit(now time.Time, cur int32) int32 {
	if h.up.SelectPolicy == "Disabled" {
		return cur
	}
	pickMin := h.up.SelectPolicy == "Min"
	result := int32(math.MinInt32)
	if pickMin {
		result = math.MaxInt32
	}
	for _, p := range h.up.Policies {
		start := cur - changed(h.ups, now, p.Period) + changed(h.downs, now, p.Period)
		var proposed int32
		if p.Type == "Pods" {
			proposed = start + p.Value
		} else {
			proposed = int32(math.Ceil(float64(start) * (1 + float64(p.Value)/100)))
		}
		if pickMin {
			result = min(result, proposed)
		} else {
			result = max(result, proposed)
		}
	}
	return result
}

func (h *hpa) scaleDownLimit(now time.Time, cur int32) int32 {
	if h.down.SelectPolicy == "Disabled" {
		return cur
	}
	pickMin := h.down.SelectPolicy == "Min" // the smallest change: the highest count
	result := int32(math.MaxInt32)
	if pickMin {
		result = math.MinInt32
	}
	for _, p := range h.down.Policies {
		start := cur - changed(h.ups, now, p.Period) + changed(h.downs, now, p.Period)
		var proposed int32
		if p.Type == "Pods" {
			proposed = start - p.Value
		} else {
			proposed = int32(float64(start) * (1 - float64(p.Value)/100))
		}
		if pickMin {
			result = max(result, proposed)
		} else {
			result = min(result, proposed)
		}
	}
	return result
}
