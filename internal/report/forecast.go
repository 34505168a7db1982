package report

import (
	"fmt"
	"math"
	"time"
)

// forecastWindow is the window of both the peak and the trend, as in the
// forecast alerts: (T − max_over_time(s[1d])) / deriv(avg_over_time(s[1d])[1d]).
const forecastWindow = 24 * time.Hour

// minCoverage is the share of the two days the formula reads that must
// hold values, as the alerts demand: a new pod or a restarted exporter
// gets no forecast rather than a wild one.
const minCoverage = 0.9

// Saturation is a forecast's numbers; nil where unknown.
type Saturation struct {
	Peak, SlopePerDay, Seconds *float64
	Detail                     string
}

// TimeToThreshold is the forecast alerts' formula computed over s (values
// step apart, the last one now): the time until the one-day peak reaches
// threshold at the slope of the one-day average over the last day. The
// one-day average takes out a daily cycle, which a plain predict_linear
// mistakes for growth every morning.
func TimeToThreshold(s []float64, step time.Duration, threshold float64) Saturation {
	n := int(forecastWindow / step)
	if n < 2 || len(s) < 2*n {
		return Saturation{Detail: "under 2 days of history: the trend needs a day of one-day averages"}
	}
	recent := s[len(s)-2*n:]
	if got := float64(len(known(recent))) / float64(len(recent)); got < minCoverage {
		return Saturation{Detail: fmt.Sprintf("the last 2 days are %.0f %% covered, under %.0f %%", got*100, minCoverage*100)}
	}
	out := Saturation{Peak: peak(s[len(s)-n:])}
	// avg_over_time(s[1d]) at each of the last day's steps, then deriv():
	// the least-squares slope against time.
	var sx, sy, sxx, sxy, m float64
	for k := len(s) - n; k < len(s); k++ {
		a := mean(s[k-n+1 : k+1])
		if a == nil {
			continue
		}
		x := float64(k) * step.Seconds()
		sx, sy, sxx, sxy, m = sx+x, sy+*a, sxx+x*x, sxy+x**a, m+1
	}
	den := m*sxx - sx*sx
	if m < 2 || den == 0 {
		out.Detail = "too few one-day averages for a trend"
		return out
	}
	slope := (m*sxy - sx*sy) / den
	out.SlopePerDay = ptr(slope * 86400)
	switch {
	case *out.Peak >= threshold:
		out.Detail = "already over the threshold: the threshold alert's, not a forecast's"
	case slope <= 0 || math.IsNaN(slope):
		out.Detail = "not rising"
	default:
		out.Seconds = ptr((threshold - *out.Peak) / slope)
		out.Detail = "at the trend of the last day"
	}
	return out
}
