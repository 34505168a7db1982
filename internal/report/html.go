package report

import (
	"fmt"
	"io"
	"math"
	"time"

	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/internal/charts"
)

// forecastHorizon is how far the HTML charts draw a forecast without a
// horizon of its own: the forecast alerts' default ticket horizon.
var forecastHorizon = catalogue.DefaultForecast.TicketHorizon

// horizon is how far the HTML draws a forecast: its ticket horizon, the
// furthest its alerts look.
func (f Forecast) horizon() time.Duration {
	if f.ticketHorizon > 0 {
		return f.ticketHorizon
	}
	return forecastHorizon
}

// forecastPoints is the number of segments of a drawn forecast: it is a
// straight line, and a few points keep the page small.
const forecastPoints = 24

// WriteHTML writes the report as one self-contained page: the sections of
// the other formats as tables, then for each resource its utilisation over
// the range with its threshold and, dashed, the forecast: the last day's
// peak rising at the trend of the one-day average, over the forecast
// horizon.
func (r *Report) WriteHTML(w io.Writer) error {
	page := charts.Page{
		Title: "Headroom report: " + r.Service,
		Notes: append(r.intro(), "Times are UTC."),
	}
	for _, s := range r.sections() {
		page.Sections = append(page.Sections, charts.Section{Heading: s.head, Before: s.before, After: s.after, Columns: s.cols, Rows: s.rows})
	}
	for _, f := range r.Saturation {
		page.Figures = append(page.Figures, r.utilisationChart(f))
	}
	return charts.Write(w, page)
}

// utilisationChart is a resource's utilisation with its threshold and,
// when the trend is known, the forecast from the end of the range.
func (r *Report) utilisationChart(f Forecast) *charts.LineChart {
	measured := charts.Line{Name: f.Resource + " (" + f.Signal + ")"}
	for k, v := range f.values {
		measured.Points = append(measured.Points, charts.Point{At: r.Start.Add(time.Duration(k) * r.step), Value: v})
	}
	c := &charts.LineChart{
		Title: fmt.Sprintf("%s: %s", f.Resource, hours(f.Hours)+" to "+f.Trigger), Unit: f.Unit,
		Lines:      []charts.Line{measured},
		Thresholds: []charts.Threshold{{Name: f.Trigger, Value: f.Threshold}},
	}
	if f.Hours == nil {
		c.Title = fmt.Sprintf("%s: %s", f.Resource, f.Detail)
	}
	// The forecast starts at the range's last value.
	now := r.Start.Add(time.Duration(max(len(f.values)-1, 0)) * r.step)
	if line, ok := forecastLine(f, now); ok {
		c.Lines = append(c.Lines, line)
	}
	if f.Hours != nil && time.Duration(*f.Hours*float64(time.Hour)) <= f.horizon() {
		c.Events = append(c.Events, charts.Event{At: now.Add(time.Duration(*f.Hours * float64(time.Hour))), Label: "reaches " + num(f.Threshold)})
	}
	return c
}

// forecastLine is peak + trend × t from the last value over the horizon,
// the straight line the forecast alerts extrapolate.
func forecastLine(f Forecast, now time.Time) (charts.Line, bool) {
	if f.Peak == nil || f.SlopeDay == nil || math.IsNaN(*f.SlopeDay) || len(f.values) == 0 {
		return charts.Line{}, false
	}
	line := charts.Line{Name: "forecast: peak of the last day " + perDay(f.SlopeDay, f.Unit), Dashed: true}
	for i := range forecastPoints + 1 {
		t := f.horizon() * time.Duration(i) / forecastPoints
		// A falling trend stops at 0: no resource is less than unused.
		line.Points = append(line.Points, charts.Point{At: now.Add(t), Value: max(*f.Peak+*f.SlopeDay*t.Hours()/24, 0)})
	}
	return line, true
}
