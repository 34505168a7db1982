package catalogue

import (
	"fmt"
	"math"
)

// unitRange is what a signal of a unit can read. A threshold must lie in
// it, and keep at least step away from an end its comparison can never
// cross: a ratio is never above 1, so "> 1" could never fire, and it is
// never below 0, so "< 0" could never fire and ">= 0" always would.
// docs/thresholds.md is this table in words; keep the two together.
type unitRange struct {
	min, max float64
	// minOpen: the signal never reads min itself (a latency of 0 s), so
	// min is out of range for every comparison.
	minOpen bool
	// step is the smallest difference a threshold is meant to make: 0.1%
	// of a ratio, a millisecond, one byte. The generated rules and tests
	// keep nine decimals, far below it.
	step float64
	// what says what the unit's values are, for errors.
	what string
}

var UnitRanges = map[Unit]unitRange{
	UnitRatio:     {min: 0, max: 1, step: 0.001, what: "a share from 0 to 1, where 0.8 is 80%"},
	UnitSeconds:   {min: 0, max: math.Inf(1), minOpen: true, step: 0.001, what: "a duration in seconds, above 0"},
	UnitBytes:     {min: 0, max: math.Inf(1), step: 1, what: "a size in bytes, 0 or more"},
	UnitPerSecond: {min: 0, max: math.Inf(1), step: 0.001, what: "events per second, 0 or more"},
	UnitCount:     {min: 0, max: math.Inf(1), step: 0.001, what: "a number of things, 0 or more"},
	UnitBool:      {min: 0, max: 1, step: 1, what: "1 or 0"},
}

// ThresholdRange is the lowest and highest threshold (both allowed) a
// comparison of a unit's signal can take.
func ThresholdRange(u Unit, c Comparison) (lo, hi float64) {
	r := UnitRanges[u]
	lo, hi = r.min, r.max
	if r.minOpen {
		lo += r.step
	}
	switch c {
	case Above:
		hi -= r.step // "> max" never fires
	case AtLeast, Below:
		if !r.minOpen {
			lo += r.step // ">= min" always fires, "< min" never
		}
	}
	return Round(lo), Round(hi)
}

// RangeText is a range for people: "from 0 to 0.999", "at least 0.001",
// "0 or 1".
func RangeText(u Unit, lo, hi float64) string {
	switch {
	case u == UnitBool && lo != hi:
		return Num(lo) + " or " + Num(hi)
	case lo == hi:
		return "exactly " + Num(lo)
	case math.IsInf(hi, 1):
		return "at least " + Num(lo)
	}
	return "from " + Num(lo) + " to " + Num(hi)
}

// checkThreshold refuses a threshold its signal's unit cannot meet: out of
// the unit's range, or at an end the comparison can never cross (or always
// does), naming the field, the unit and the allowed range.
func checkThreshold(t Trigger, v float64, field string, bad func(field, format string, args ...any)) {
	u := t.Signal.Unit
	r, ok := UnitRanges[u]
	if !ok {
		return
	}
	lo, hi := ThresholdRange(u, t.Comparison)
	inRange := !math.IsNaN(v) && !math.IsInf(v, 0) && v >= lo && v <= hi
	if u == UnitBool {
		inRange = inRange && (v == r.min || v == r.max)
	}
	if inRange {
		return
	}
	hint := ""
	if u == UnitRatio {
		hint = percentHint(v)
	}
	bad(field, "%s is out of range for %s's unit %s (%s): a %q threshold must be %s%s",
		Num(v), t.ID, u, r.what, string(t.Comparison), RangeText(u, lo, hi), hint)
}

// checkValue refuses a value (not a threshold) outside its unit's range.
func checkValue(u Unit, v float64, field string, bad func(field, format string, args ...any)) {
	r := UnitRanges[u]
	lo, hi := ThresholdRange(u, Equal)
	if math.IsNaN(v) || math.IsInf(v, 0) || v < lo || v > hi {
		bad(field, "%s is out of range for unit %s (%s): it must be %s", Num(v), u, r.what, RangeText(u, lo, hi))
	}
}

// percentHint is the hint for a ratio written as a percentage (80 for
// 80%); "" for any other value.
func percentHint(v float64) string {
	if v > 1 && v <= 100 {
		return fmt.Sprintf("; %s%% is written %s", Num(v), Num(Round(v/100)))
	}
	return ""
}

// Step is the smallest difference a threshold of the unit is meant to make.
func (u Unit) Step() float64 { return UnitRanges[u].step }

// Describe says what the unit's values are, for errors and docs ("a share
// from 0 to 1, where 0.8 is 80%").
func (u Unit) Describe() string { return UnitRanges[u].what }
