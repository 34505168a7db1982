package catalogue

import (
	"math"
	"sort"
)

// validateQuantileMargins refuses a hysteresis margin on a histogram
// quantile (the p95 latency) too narrow for its generated tests: the p95
// is interpolated within buckets, and the test that oscillates inside the
// margin needs each of its levels, the value it fires at and the value it
// recovers to in a bucket of its own (HistogramBounds). The error names the
// margin field and the narrowest margin that fits.
func (c *Config) validateQuantileMargins(cat []Trigger, bad func(field, format string, args ...any)) {
	for _, t := range cat {
		for _, r := range scopedRules(t) {
			if r.t.Signal.Shape != ShapeQuantile || !r.t.Hysteresis() || quantileLevelsFit(c, r.t, cat) {
				continue
			}
			bands := MarginBands(r.t)
			least := ""
			if m, ok := leastQuantileMargin(c, r.t, cat); ok {
				least = "; here at least " + Num(m)
			}
			bad(r.field+".margin", "%s is too narrow for %s's threshold %s (unit %s): a p95 is interpolated within histogram buckets, and the generated "+
				"hysteresis test needs its levels inside the margin (%s and %s), the value it fires at and the value it recovers to a bucket each%s",
				Num(r.t.Margin), ruleName(r), Num(r.t.Threshold), r.t.Signal.Unit, Num(bands[0]), Num(bands[1]), least)
		}
	}
}

// leastQuantileMargin is the narrowest margin, in the unit's steps, whose
// levels fit, searched by bisection between t's margin and its threshold
// (a wider margin spreads the levels further apart).
func leastQuantileMargin(c *Config, t Trigger, cat []Trigger) (float64, bool) {
	fits := func(m float64) bool {
		w := t
		w.Margin = m
		return m < t.Threshold && quantileLevelsFit(c, w, withTrigger(cat, w))
	}
	step := UnitRanges[t.Signal.Unit].step
	lo, hi := t.Margin, t.Threshold
	for i := 0; i < 60 && hi-lo > step/2; i++ {
		if mid := (lo + hi) / 2; fits(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	m := Round(math.Ceil(hi/step) * step)
	return m, fits(m)
}

// quantileLevelsFit reports whether the oscillation test's values of a
// trigger on a histogram quantile can each have a bucket.
func quantileLevelsFit(c *Config, t Trigger, cat []Trigger) bool {
	fire, _, recover := TestLevels(t, cat)
	_, _, ok := HistogramBounds(append(MarginBands(t), fire, recover))
	return ok
}

// withTrigger is the catalogue with t in place of its default rule (a
// scope's copy shares its trigger's id and leaves the catalogue as it is).
func withTrigger(cat []Trigger, t Trigger) []Trigger {
	if t.Match != "" {
		return cat
	}
	out := append([]Trigger{}, cat...)
	for i := range out {
		if out[i].ID == t.ID {
			out[i] = t
		}
	}
	return out
}

// TestLevels returns, for a trigger of catalogue cat, a value that fires,
// one just on the safe side of the threshold, and one well clear of it (past
// any hysteresis margin) for every trigger of the family. They are the
// levels a generated test crosses; validation checks that a histogram can
// tell them apart (validateQuantileMargins).
func TestLevels(t Trigger, cat []Trigger) (fire, safe, recover float64) {
	thr := t.Threshold
	switch t.Comparison {
	case Above, AtLeast:
		fire = thr * 1.1
		if t.Signal.Unit == UnitCount {
			fire = math.Max(thr*1.2, thr+1)
		}
		if fire <= thr {
			fire = thr + 1
		}
		if t.Signal.Unit == UnitRatio && fire > 1 {
			fire = (thr + 1) / 2
		}
		safe = thr * 0.98
		if t.Signal.Unit == UnitCount {
			safe = thr
		}
		recover = thr * 0.5
		for _, m := range Family(t, cat) {
			recover = math.Min(recover, m.Threshold*0.5)
			if m.Hysteresis() {
				recover = math.Min(recover, m.ClearLevel()*0.5)
			}
		}
	case Below:
		fire = thr * 0.5
		safe = thr * 1.02
		hi := thr + t.Margin
		recover = hi * 2
		if t.Signal.Unit == UnitRatio {
			recover = hi + (1-hi)/2
		}
	case Equal:
		fire, safe, recover = thr, 1-thr, 1-thr
	}
	return Round(fire), Round(safe), Round(recover)
}

// Family is the triggers of cat that share t's alertname and signal;
// promtool checks every alert of a name at once.
func Family(t Trigger, cat []Trigger) []Trigger {
	var out []Trigger
	for _, m := range cat {
		if m.Alert == t.Alert && m.Signal.ID == t.Signal.ID {
			out = append(out, m)
		}
	}
	return out
}

// MarginBands are the two levels a hysteresis test holds inside the
// margin, a quarter and three quarters of it from the threshold.
func MarginBands(t Trigger) []float64 {
	toward := 1.0 // from the threshold toward the clear level
	if t.Comparison != Below {
		toward = -1
	}
	return []float64{Round(t.Threshold + toward*t.Margin/4), Round(t.Threshold + toward*3*t.Margin/4)}
}

// HistogramBounds are the bucket bounds of a histogram whose p95 reads each
// of the values with all observations in one bucket: each distinct value
// gets a bucket from the bound below it, 1/0.95 as wide as the value's
// distance from that bound. ok is false when two values lie too close
// for a bucket each (Validate refuses margins that would need that).
func HistogramBounds(vals []float64) (bounds, distinct []float64, ok bool) {
	for _, v := range vals {
		if !math.IsNaN(v) && !containsFloat(distinct, v) {
			distinct = append(distinct, v)
		}
	}
	sort.Float64s(distinct)
	bounds = make([]float64, len(distinct))
	lower := 0.0
	for i, v := range distinct {
		if v <= lower {
			return nil, distinct, false
		}
		bounds[i] = Round(lower + (v-lower)/0.95)
		lower = bounds[i]
	}
	return bounds, distinct, true
}

func containsFloat(list []float64, v float64) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// Round trims float noise (0.30000000000000004) from computed levels.
func Round(v float64) float64 { return math.Round(v*1e9) / 1e9 }
