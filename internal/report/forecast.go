package report

import (
	"fmt"
	"math"
	"time"

	"github.com/headroom-dev/headroom/catalogue"
)

// Saturation is a forecast's numbers; nil where unknown.
type Saturation struct {
	Peak, SlopePerDay, Seconds *float64
	Detail                     string
}

// TimeToThreshold is the forecast alerts' formula computed over s (values
// step apart, the last one now) with a trigger's forecast settings: the
// time until the peak of the last season (catalogue.ForecastSeason)
// reaches threshold at the slope of the season's mean over the trend
// window (f.Window). The season's mean takes out a daily cycle, which a
// plain predict_linear mistakes for growth every morning. As in the
// alerts' records, a mean needs its season, and the trend its window,
// covered to catalogue.ForecastCoverage: a new pod or a restarted exporter
// gets no forecast rather than a wild one.
func TimeToThreshold(s []float64, step time.Duration, threshold float64, f catalogue.Forecast) Saturation {
	n, w := int(catalogue.ForecastSeason/step), int(f.Window/step)
	if n < 1 || w < 2 || len(s) < n+w-1 {
		return Saturation{Detail: fmt.Sprintf("under %s of history: the trend needs a %s window of %s means",
			catalogue.Dur(f.History()), catalogue.Dur(f.Window), catalogue.Dur(catalogue.ForecastSeason))}
	}
	out := Saturation{Peak: peak(s[len(s)-n:])}
	// avg_over_time(s[season]) at each step of the window, where the season
	// is covered, then deriv(): the least-squares slope against time.
	var sx, sy, sxx, sxy, m float64
	for k := len(s) - w; k < len(s); k++ {
		season := s[k-n+1 : k+1]
		if float64(len(known(season))) < catalogue.ForecastCoverage*float64(n) {
			continue
		}
		a := mean(season)
		x := float64(k) * step.Seconds()
		sx, sy, sxx, sxy, m = sx+x, sy+*a, sxx+x*x, sxy+x**a, m+1
	}
	if m < catalogue.ForecastCoverage*float64(w) {
		out.Detail = fmt.Sprintf("%.0f %% of the last %s has %s means, under %.0f %%", m/float64(w)*100, catalogue.Dur(f.Window),
			catalogue.Dur(catalogue.ForecastSeason), catalogue.ForecastCoverage*100)
		return out
	}
	den := m*sxx - sx*sx
	if m < 2 || den == 0 {
		out.Detail = "too few means for a trend"
		return out
	}
	slope := (m*sxy - sx*sy) / den
	out.SlopePerDay = ptr(slope * 86400)
	switch {
	case out.Peak == nil:
		out.Detail = "no value in the last " + catalogue.Dur(catalogue.ForecastSeason)
	case *out.Peak >= threshold:
		out.Detail = "already over the threshold: the threshold alert's, not a forecast's"
	case slope <= 0 || math.IsNaN(slope):
		out.Detail = "not rising"
	default:
		out.Seconds = ptr((threshold - *out.Peak) / slope)
		out.Detail = "at the trend of the last " + catalogue.Dur(f.Window)
	}
	return out
}
