package replay

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

const sync = 15 * time.Second

// amas is the AMAS guide's ScaledObject as the HPA sees it: per-pod RPS
// (AverageValue 15), queue depth (Value 25), 2..50 replicas, scale-up 60 s
// window, 100 % or 5 pods a minute, Max; scale-down 300 s, 10 % or 2 pods a
// minute, Min; fallback after 3 failures to 4 or the current count if higher.
func amas() Spec {
	return Spec{
		Triggers: []Trigger{
			{Name: "requests-per-pod", Type: AverageValue, Target: 15, Activation: 5, Fallback: true},
			{Name: "queue-depth", Type: Value, Target: 25, Activation: 10, Fallback: true},
		},
		MinReplicas: 2, MaxReplicas: 50,
		ScaleUp: &Rules{StabilizationWindow: 60 * time.Second, SelectPolicy: "Max", Policies: []Policy{
			{Type: "Percent", Value: 100, Period: time.Minute}, {Type: "Pods", Value: 5, Period: time.Minute}}},
		ScaleDown: &Rules{StabilizationWindow: 300 * time.Second, SelectPolicy: "Min", Policies: []Policy{
			{Type: "Percent", Value: 10, Period: time.Minute}, {Type: "Pods", Value: 2, Period: time.Minute}}},
		Fallback:       &Fallback{FailureThreshold: 3, Replicas: 4, CurrentIfHigher: true},
		CooldownPeriod: 180 * time.Second,
	}
}

// series makes n steps of (rps, queue) from a function of the step.
func series(n int, f func(k int) (rps, queue float64)) [][]float64 {
	out := make([][]float64, n)
	for k := range out {
		r, q := f(k)
		out[k] = []float64{r, q}
	}
	return out
}

func run(t *testing.T, spec Spec, initial int32, values [][]float64) Result {
	t.Helper()
	res, err := Run(spec, t0, initial, values)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func replicas(res Result) []int32 {
	out := make([]int32, len(res.Steps))
	for i, s := range res.Steps {
		out[i] = s.Replicas
	}
	return out
}

const perMinute = int(time.Minute / sync)

// A step in load ramps up no faster than 5 pods or 100 % a minute
// (whichever allows more), reaches what the load needs, and never passes max.
func TestStepUpRampsWithinPolicy(t *testing.T) {
	// 2 pods, then 600 requests/s: 600 / 15 = 40 pods.
	res := run(t, amas(), 2, series(60, func(k int) (float64, float64) {
		if k < 4 {
			return 20, 0
		}
		return 600, 0
	}))
	r := replicas(res)
	for k := perMinute; k < len(r); k++ {
		prev := r[k-perMinute]
		if limit := max(prev+5, 2*prev); r[k] > limit {
			t.Fatalf("step %d: %d replicas, a minute earlier %d: more than 5 pods or 100 %% a minute (%v)", k, r[k], prev, r)
		}
	}
	if r[len(r)-1] != 40 || res.Peak != 40 {
		t.Errorf("settles at %d (peak %d), want 40: %v", r[len(r)-1], res.Peak, r)
	}
	// The 60 s scale-up stabilisation: nothing in the first minute of load.
	for k := 4; k < 4+perMinute-1; k++ {
		if r[k] != 2 {
			t.Errorf("step %d: %d replicas inside the scale-up stabilisation window", k, r[k])
		}
	}
	if res.Events[0].Trigger != "requests-per-pod" || res.Events[0].From != 2 {
		t.Errorf("first event %+v, want requests-per-pod from 2", res.Events[0])
	}
}

// A spike shorter than the scale-up window scales nothing.
func TestShortSpikeIgnored(t *testing.T) {
	res := run(t, amas(), 4, series(40, func(k int) (float64, float64) {
		if k >= 10 && k < 13 { // 45 s
			return 600, 0
		}
		return 60, 0
	}))
	if len(res.Events) != 0 {
		t.Errorf("a 45 s spike scaled: %+v", res.Events)
	}
}

// A drop scales down only after 300 s of lower recommendations, then no
// faster than 2 pods or 10 % a minute (whichever removes fewer), down to min.
func TestDropScalesDownSlowly(t *testing.T) {
	res := run(t, amas(), 30, series(300, func(k int) (float64, float64) {
		if k < 8 {
			return 30 * 15, 0 // exactly on target at 30 pods
		}
		return 0, 0
	}))
	r := replicas(res)
	// The last recommendation of 30 is at step 7; the scale-down window
	// holds it for 300 s from there.
	last30 := 7
	for k := last30; k < last30+int(300*time.Second/sync); k++ {
		if r[k] != 30 {
			t.Fatalf("step %d (%s after the last high recommendation): %d replicas before 300 s of stability", k, time.Duration(k-last30)*sync, r[k])
		}
	}
	if k := last30 + int(300*time.Second/sync); r[k] != 28 {
		t.Errorf("step %d, 300 s on: %d replicas, want 28 (2 pods, the smaller of 2 pods and 10 %%)", k, r[k])
	}
	for k := perMinute; k < len(r); k++ {
		prev := r[k-perMinute]
		if floor := max(prev-2, int32(float64(prev)*0.9)); r[k] < floor {
			t.Fatalf("step %d: %d replicas, a minute earlier %d: faster than 2 pods or 10 %% a minute", k, r[k], prev)
		}
	}
	if last := r[len(r)-1]; last != 2 {
		t.Errorf("settles at %d, want min 2: %v", last, r)
	}
	for _, e := range res.Events {
		if e.To > e.From {
			t.Errorf("scaled up on a drop: %+v", e)
		}
	}
}

// A sawtooth around the target inside the 10 % tolerance scales nothing.
func TestSawtoothInsideToleranceNoScaling(t *testing.T) {
	res := run(t, amas(), 10, series(200, func(k int) (float64, float64) {
		f := 0.92
		if k%4 < 2 {
			f = 1.08
		}
		return 10 * 15 * f, 25 * f
	}))
	if len(res.Events) != 0 || res.Thrash != 0 {
		t.Errorf("scaled inside the tolerance: %+v", res.Events)
	}
}

// Min and max hold whatever the load.
func TestBoundsHold(t *testing.T) {
	res := run(t, amas(), 2, series(200, func(k int) (float64, float64) {
		if k < 100 {
			return 1e6, 1e6
		}
		return 0, 0
	}))
	for i, n := range replicas(res) {
		if n < 2 || n > 50 {
			t.Fatalf("step %d: %d replicas outside 2..50", i, n)
		}
	}
	if res.Peak != 50 {
		t.Errorf("peak %d, want max 50", res.Peak)
	}
	// Started below min: straight to min.
	res = run(t, amas(), 1, series(1, func(int) (float64, float64) { return 0, 0 }))
	if res.Steps[0].Replicas != 2 {
		t.Errorf("from 1 below min 2: %d", res.Steps[0].Replicas)
	}
}

// A missing series holds capacity and is reported: before the failure
// threshold the HPA refuses to scale down on partial metrics, after it the
// fallback stands for the current count (higher than 4). The same outage
// read as 0 (KEDA's ignoreNullValues default) would have scaled in.
func TestMissingSeriesHoldsFallback(t *testing.T) {
	nan := math.NaN()
	values := series(120, func(k int) (float64, float64) {
		if k < 8 {
			return 20 * 15, 0
		}
		return nan, nan // Prometheus is gone
	})
	res := run(t, amas(), 20, values)
	for i, n := range replicas(res) {
		if n != 20 {
			t.Fatalf("step %d: %d replicas during a Prometheus outage at 20", i, n)
		}
	}
	if res.MissingSteps != 112 {
		t.Errorf("missing steps %d, want 112", res.MissingSteps)
	}
	st := res.Steps[8+2]
	if len(st.Missing) != 2 || len(st.Fallback) != 0 {
		t.Errorf("third failed poll: missing %v fallback %v, want both missing, no fallback yet", st.Missing, st.Fallback)
	}
	st = res.Steps[8+3]
	if len(st.Fallback) != 2 {
		t.Errorf("fourth failed poll (> failureThreshold 3): fallback %v, want both", st.Fallback)
	}

	zeros := series(120, func(k int) (float64, float64) {
		if k < 8 {
			return 20 * 15, 0
		}
		return 0, 0
	})
	if r := run(t, amas(), 20, zeros); r.Steps[len(r.Steps)-1].Replicas >= 20 {
		t.Errorf("the outage read as 0 did not scale in, so this test proves nothing: %v", replicas(r))
	}

	// Below the fallback count, the fallback scales up to it.
	res = run(t, amas(), 2, series(20, func(int) (float64, float64) { return nan, nan }))
	if last := res.Steps[len(res.Steps)-1].Replicas; last != 4 {
		t.Errorf("fallback from 2: %d, want 4: %v", last, replicas(res))
	}
	// One trigger missing, the other low: no scale-down on partial metrics.
	res = run(t, amas(), 10, series(120, func(int) (float64, float64) { return 0, nan }))
	spec := amas()
	spec.Fallback = nil
	res2 := run(t, spec, 10, series(120, func(int) (float64, float64) { return 0, nan }))
	for _, r := range []Result{res, res2} {
		if n := r.Steps[len(r.Steps)-1].Replicas; n < 10 {
			t.Errorf("scaled down to %d with a trigger missing", n)
		}
	}
}

// The replica calculator: AverageValue divides the sum by the target,
// Value and Utilization scale the current count by value / target.
func TestProposal(t *testing.T) {
	h := newHPA(Spec{})
	for _, c := range []struct {
		t    Trigger
		v    float64
		cur  int32
		want int32
	}{
		{Trigger{Type: AverageValue, Target: 15}, 600, 2, 40},
		{Trigger{Type: AverageValue, Target: 15}, 160, 10, 10}, // 1.067: inside tolerance
		{Trigger{Type: AverageValue, Target: 15}, 170, 10, 12}, // 1.133: ceil(170/15)
		{Trigger{Type: Value, Target: 25}, 50, 3, 6},
		{Trigger{Type: Value, Target: 1}, 1.05, 7, 7},
		{Trigger{Type: Utilization, Target: 70}, 35, 10, 5},
	} {
		if got := h.proposal(c.t, c.v, c.cur); got != c.want {
			t.Errorf("%s target %g value %g at %d: %d, want %d", c.t.Type, c.t.Target, c.v, c.cur, got, c.want)
		}
	}
}

// Kubernetes' default behaviour when none is given: up at most 4 pods or
// 100 % per 15 s, down after a 300 s window.
func TestDefaultBehaviour(t *testing.T) {
	spec := Spec{Triggers: []Trigger{{Name: "cpu", Type: Utilization, Target: 70}}, MinReplicas: 1, MaxReplicas: 100}
	res := run(t, spec, 1, [][]float64{{700}, {700}, {700}})
	if got := replicas(res); got[0] != 5 || got[1] != 10 || got[2] != 20 {
		t.Errorf("default scale-up from 1 at 10x: %v, want 5 10 20", got)
	}
}

// KEDA's activation and cooldown take a workload with min 0 to zero after
// the cooldown without activity, and back to one when a trigger is active.
func TestActivationAndCooldown(t *testing.T) {
	spec := amas()
	spec.MinReplicas = 0
	res := run(t, spec, 2, series(40, func(k int) (float64, float64) {
		if k >= 30 {
			return 6, 0 // above the activation of 5
		}
		return 1, 0
	}))
	r := replicas(res)
	// Never active since the start (initialCooldownPeriod 0): zero at once.
	if r[0] != 0 {
		t.Errorf("step 0: %d, want 0", r[0])
	}
	if r[29] != 0 {
		t.Errorf("after %s below activation: %d, want 0: %v", 29*sync, r[29], r)
	}
	if r[30] != 1 {
		t.Errorf("active again: %d, want 1", r[30])
	}
}

// KEDA never scales to zero while a trigger errors (isError in
// scale_scaledobjects.go): a series missing from the first step, with the
// other trigger below activation, must hold the workload up, and the
// cooldown to zero starts counting only once every trigger reads again.
func TestMissingTriggerNeverScalesToZero(t *testing.T) {
	for _, tc := range []struct {
		name     string
		fallback *Fallback
	}{
		{"without fallback", nil},
		{"before the fallback threshold", &Fallback{FailureThreshold: 100, Replicas: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := amas()
			spec.MinReplicas = 0
			spec.Fallback = tc.fallback
			res := run(t, spec, 2, series(40, func(k int) (float64, float64) {
				if k < 30 {
					return 1, math.NaN() // queue depth missing, requests below activation
				}
				return 1, 0
			}))
			r := replicas(res)
			for k := range 30 {
				if r[k] == 0 {
					t.Fatalf("step %d: scaled to zero while queue-depth was missing: %v", k, r)
				}
			}
			if r[30] != 0 {
				t.Errorf("step 30: every trigger reads and none was ever active: %d, want 0", r[30])
			}
		})
	}
}

// Direction changes within the cooldown of the previous change are thrash;
// a reversal at or after the cooldown, or a second change the same way, is
// not. An AverageValue trigger (target 10) proposes value / 10 replicas
// whatever the current count, inside the default rate policies, so each
// change below is one step and the count is known exactly.
func TestThrashCounted(t *testing.T) {
	spec := Spec{Triggers: []Trigger{{Name: "q", Type: AverageValue, Target: 10}}, MinReplicas: 1, MaxReplicas: 20,
		ScaleUp: &Rules{}, ScaleDown: &Rules{StabilizationWindow: 0}, CooldownPeriod: 120 * time.Second}
	// value per step (15 s) from step k on.
	load := []struct {
		from int
		v    float64
	}{
		{0, 80},  // +0s     4 -> 8
		{2, 40},  // +30s    8 -> 4  reversal 30s after: thrash 1
		{11, 80}, // +2m45s  4 -> 8  reversal 2m15s after: not thrash
		{12, 40}, // +3m0s   8 -> 4  thrash 2
		{14, 80}, // +3m30s  4 -> 8  thrash 3
		{23, 40}, // +5m45s  8 -> 4  2m15s after: not thrash
		{24, 20}, // +6m0s   4 -> 2  same direction: not thrash
		{32, 40}, // +8m0s   2 -> 4  exactly the cooldown after: not thrash
		{33, 20}, // +8m15s  4 -> 2  thrash 4
	}
	var values [][]float64
	for k := range 36 {
		v := 0.0
		for _, l := range load {
			if k >= l.from {
				v = l.v
			}
		}
		values = append(values, []float64{v})
	}
	res := run(t, spec, 4, values)
	var got []string
	for _, e := range res.Events {
		got = append(got, fmt.Sprintf("+%s %d->%d", e.At.Sub(t0), e.From, e.To))
	}
	want := []string{"+0s 4->8", "+30s 8->4", "+2m45s 4->8", "+3m0s 8->4", "+3m30s 4->8", "+5m45s 8->4", "+6m0s 4->2", "+8m0s 2->4", "+8m15s 4->2"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Fatalf("events %v, want %v", got, want)
	}
	if res.Thrash != 4 {
		t.Errorf("thrash %d, want 4 (the reversals 30s, 15s, 30s and 15s after the previous change)", res.Thrash)
	}
}

func TestRunRejectsBadInput(t *testing.T) {
	if _, err := Run(amas(), t0, 2, [][]float64{{1}}); err == nil {
		t.Error("a row with too few values was accepted")
	}
	s := amas()
	s.MaxReplicas = 1
	if _, err := Run(s, t0, 2, nil); err == nil {
		t.Error("max below min was accepted")
	}
}

// KEDA's idleReplicaCount 0: below activation for the cooldown the
// workload goes to zero, and on activation straight back to its minimum,
// not to 1.
func TestIdleReplicasScaleToZeroAndBackToMin(t *testing.T) {
	spec := amas()
	spec.ScalesToIdle = true
	res := run(t, spec, spec.MinReplicas, series(40, func(k int) (float64, float64) {
		if k >= 30 {
			return 6, 0 // above the activation of 5
		}
		return 1, 0
	}))
	r := replicas(res)
	if r[29] != 0 {
		t.Errorf("after %s below activation: %d, want 0: %v", 29*sync, r[29], r)
	}
	if r[30] != spec.MinReplicas {
		t.Errorf("active again: %d, want min replicas %d: %v", r[30], spec.MinReplicas, r)
	}
}

// KEDA judges activity on its external triggers only: a CPU trigger's
// value (even missing) neither holds an idle workload up nor wakes it, and
// a workload with only CPU and memory triggers is never idled.
func TestIdleIgnoresResourceTriggers(t *testing.T) {
	spec := amas()
	spec.ScalesToIdle = true
	spec.Triggers = append(spec.Triggers, Trigger{Name: "cpu", Type: Utilization, Target: 70})
	values := make([][]float64, 40)
	for k := range values {
		cpu := 50.0
		if k%3 == 0 {
			cpu = math.NaN() // cAdvisor gone with the pods
		}
		values[k] = []float64{1, 0, cpu}
	}
	if r := replicas(run(t, spec, spec.MinReplicas, values)); r[29] != 0 {
		t.Errorf("requests below activation, CPU at 50 %%: %d replicas after %s, want 0: %v", r[29], 29*sync, r)
	}
	only := amas()
	only.ScalesToIdle = true
	only.Triggers = []Trigger{{Name: "cpu", Type: Utilization, Target: 70}}
	cpuOnly := make([][]float64, 40)
	for k := range cpuOnly {
		cpuOnly[k] = []float64{1}
	}
	for i, n := range replicas(run(t, only, only.MinReplicas, cpuOnly)) {
		if n == 0 {
			t.Fatalf("only a CPU trigger: idled at step %d", i)
		}
	}
}
