package alerts

import "math"

// validateQuantileMargins refuses a hysteresis margin on a histogram
// quantile (the p95 latency) too narrow for its generated tests: the p95
// is interpolated within buckets, and the test that oscillates inside the
// margin needs each of its levels, the value it fires at and the value it
// recovers to in a bucket of its own (histogramBounds). The error names the
// margin field and the narrowest margin that fits.
func (c *Config) validateQuantileMargins(cat []Trigger, bad func(field, format string, args ...any)) {
	for _, t := range cat {
		for _, r := range scopedRules(t) {
			if r.t.Signal.Shape != ShapeQuantile || !r.t.Hysteresis() || quantileLevelsFit(c, r.t, cat) {
				continue
			}
			bands := testGen{cfg: c, t: r.t, cat: cat}.marginBands()
			least := ""
			if m, ok := leastQuantileMargin(c, r.t, cat); ok {
				least = "; here at least " + num(m)
			}
			bad(r.field+".margin", "%s is too narrow for %s's threshold %s (unit %s): a p95 is interpolated within histogram buckets, and the generated "+
				"hysteresis test needs its levels inside the margin (%s and %s), the value it fires at and the value it recovers to a bucket each%s",
				num(r.t.Margin), ruleName(r), num(r.t.Threshold), r.t.Signal.Unit, num(bands[0]), num(bands[1]), least)
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
	step := unitRanges[t.Signal.Unit].step
	lo, hi := t.Margin, t.Threshold
	for i := 0; i < 60 && hi-lo > step/2; i++ {
		if mid := (lo + hi) / 2; fits(mid) {
			hi = mid
		} else {
			lo = mid
		}
	}
	m := round(math.Ceil(hi/step) * step)
	return m, fits(m)
}

// quantileLevelsFit reports whether the oscillation test's values of a
// trigger on a histogram quantile can each have a bucket.
func quantileLevelsFit(c *Config, t Trigger, cat []Trigger) bool {
	g := testGen{cfg: c, t: t, cat: cat}
	fire, _, recover := g.values()
	_, _, ok := histogramBounds(append(g.marginBands(), fire, recover))
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
