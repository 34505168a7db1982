package report

import (
	"math"
	"testing"
	"time"
)

// The dashed forecast is the alerts' straight line: the last day's peak at
// the end of the range, rising at the trend over the horizon; without a
// trend there is none to draw, and a falling one stops at 0.
func TestForecastLineIsPeakPlusTrend(t *testing.T) {
	now := time.Date(2026, 1, 8, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name        string
		peak, slope *float64
		want        bool
		last        float64
	}{
		{"rising", ptr(0.6), ptr(0.05), true, 0.6 + 0.05*forecastHorizon.Hours()/24},
		{"falling", ptr(0.6), ptr(-0.1), true, 0.6 - 0.1*forecastHorizon.Hours()/24},
		{"falling below unused", ptr(0.1), ptr(-0.1), true, 0},
		{"no trend", ptr(0.6), nil, false, 0},
		{"no peak", nil, ptr(0.05), false, 0},
	} {
		line, ok := forecastLine(Forecast{Peak: c.peak, SlopeDay: c.slope, values: series{0.5, 0.6}}, now)
		if ok != c.want {
			t.Errorf("%s: drawn %v, want %v", c.name, ok, c.want)
			continue
		}
		if !ok {
			continue
		}
		first, last := line.Points[0], line.Points[len(line.Points)-1]
		if !line.Dashed || !first.At.Equal(now) || first.Value != *c.peak || !last.At.Equal(now.Add(forecastHorizon)) || math.Abs(last.Value-c.last) > 1e-12 {
			t.Errorf("%s: %+v … %+v (dashed %v), want %v at %s to %v at the horizon", c.name, first, last, line.Dashed, *c.peak, now, c.last)
		}
	}
}
