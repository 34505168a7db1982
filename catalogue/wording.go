package catalogue

import (
	"math"
	"time"
)

// Word says the comparison in a sentence: "above", "at or above".
func (c Comparison) Word() string {
	switch c {
	case Above:
		return "above"
	case AtLeast:
		return "at or above"
	case Below:
		return "below"
	case Equal:
		return "at"
	}
	return ""
}

// Inverse is the PromQL operator under which the comparison does not hold
// (a runbook's "resolves when").
func (c Comparison) Inverse() string {
	switch c {
	case Above:
		return "<="
	case AtLeast:
		return "<"
	case Below:
		return ">="
	case Equal:
		return "!="
	}
	return ""
}

// PassSymbol is the condition, for people, under which a target compared
// this way is met: "≤" for a target that must not go above.
func (c Comparison) PassSymbol() string {
	switch c {
	case Above:
		return "≤"
	case AtLeast:
		return "<"
	case Below:
		return "≥"
	}
	return "≠"
}

// Worst is the aggregation that finds the series closest to firing.
func (c Comparison) Worst() string {
	if c == Below || c == Equal {
		return "min"
	}
	return "max"
}

// WorstWord names the series Worst finds: "lowest" or "highest".
func (c Comparison) WorstWord() string {
	if c.Worst() == "min" {
		return "lowest"
	}
	return "highest"
}

// Word names what a trigger of the direction is: "scale-up trigger".
func (d Direction) Word() string {
	switch d {
	case Up:
		return "scale-up trigger"
	case Down:
		return "scale-down trigger"
	}
	return "health alert"
}

// ValueTemplate shows an alert's value with its unit: 87%, 1.5s, 2.1GiB,
// 3/s.
func (u Unit) ValueTemplate() string {
	switch u {
	case UnitRatio:
		return "{{ $value | humanizePercentage }}"
	case UnitSeconds:
		return "{{ $value | humanizeDuration }}"
	case UnitBytes:
		return "{{ $value | humanize1024 }}B"
	case UnitPerSecond:
		return "{{ $value | humanize }}/s"
	}
	return "{{ $value | humanize }}"
}

// Format writes a value of the unit for people: 80%, 5s, 1GiB, 1/s.
func (u Unit) Format(v float64) string {
	switch u {
	case UnitRatio:
		return Num(math.Round(v*100*1000)/1000) + "%"
	case UnitSeconds:
		if v >= 60 && v == math.Trunc(v) {
			return Dur(time.Duration(v) * time.Second)
		}
		return Num(v) + "s"
	case UnitBytes:
		for _, s := range []struct {
			n    float64
			unit string
		}{{1 << 40, "TiB"}, {1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
			if v >= s.n && v/s.n == math.Trunc(v/s.n) {
				return Num(v/s.n) + s.unit
			}
		}
		return Num(v) + "B"
	case UnitPerSecond:
		return Num(v) + "/s"
	}
	return Num(v)
}
