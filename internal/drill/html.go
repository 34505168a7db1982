package drill

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/headroom-dev/headroom/internal/charts"
)

// WriteHTML writes the report as one self-contained page: per drill a
// table of its stats and verdict, and charts of the load (planned and
// sent), the latency percentiles against the SLO's p95, and the errors,
// with the load change and the alerts' firing marked.
func WriteHTML(w io.Writer, rep Report) error {
	page := charts.Page{Title: "headroom drill of " + rep.Method + " " + rep.Target,
		Notes: []string{fmt.Sprintf("SLO: success ratio >= %s, p95 <= %s. Exit code %d.", percent(rep.SLO.SuccessRatio),
			time.Duration(rep.SLO.P95Seconds*float64(time.Second)), rep.ExitCode)}}
	for _, d := range rep.Drills {
		page.Sections = append(page.Sections, drillSection(d))
		page.Figures = append(page.Figures, drillCharts(d, rep.SLO)...)
	}
	return charts.Write(w, page)
}

func drillSection(d reportDrill) charts.Section {
	st := d.Stats
	verdict := "met"
	if !d.Verdict.SLOMet {
		verdict = "failed: " + strings.Join(d.Verdict.SLOFailed, "; ")
	}
	rows := [][]string{
		{"pattern", fmt.Sprintf("%s to %s req/s", d.Pattern, num(d.PeakRate))},
		{"requests", fmt.Sprintf("%d sent, %d succeeded (%s)", st.Requests, st.Successes, percent(deref(st.SuccessRatio)))},
		{"latency", fmt.Sprintf("p50 %s, p95 %s, p99 %s, max %s", dur(st.P50Seconds), dur(st.P95Seconds), dur(st.P99Seconds), dur(st.MaxSeconds))},
		{"SLO", verdict},
	}
	if d.Verdict.Regressed {
		rows = append(rows, []string{"baseline", "regressed: " + strings.Join(d.Verdict.Regression, "; ")})
	}
	if d.Interrupted {
		rows = append(rows, []string{"run", "interrupted"})
	}
	if r := d.Reaction; r != nil {
		if r.Error != "" {
			rows = append(rows, []string{"alerts", "not read: " + r.Error})
		}
		for _, re := range r.Reactions {
			rows = append(rows, []string{"alert " + re.Alert, reactionText(d.Start, re)})
		}
		for _, u := range r.Unexpected {
			rows = append(rows, []string{"unwanted " + u.Alert, u.Reason})
		}
		if r.Scaler != "" {
			rows = append(rows, []string{"scaler", fmt.Sprintf("%s: %d replicas asked for when the load changed, at most %d after", r.Scaler, r.DesiredBefore, r.DesiredAfter)})
		}
	}
	return charts.Section{Heading: d.Name, Columns: []string{"", ""}, Rows: rows}
}

func reactionText(start time.Time, re Reaction) string {
	at := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return "+" + t.Sub(start).Round(time.Second).String()
	}
	text := fmt.Sprintf("crossed %s, pending %s, fired %s, resolved %s", at(re.Crossed), at(re.Pending), at(re.Fired), at(re.Resolved))
	if re.Missed {
		text += fmt.Sprintf(" (missed: held over %s and did not fire)", time.Duration(re.Expected))
	}
	if re.Fired != nil && re.Crossed != nil {
		verdict := "in time"
		if !re.InTime {
			verdict = "late"
		}
		text += fmt.Sprintf(" (%s after crossing, expected <= %s: %s)", re.Fired.Sub(*re.Crossed).Round(time.Second), time.Duration(re.Expected), verdict)
	}
	return text
}

func drillCharts(d reportDrill, slo reportSLO) []charts.Figure {
	at := func(second int) time.Time { return d.Start.Add(time.Duration(second) * time.Second) }
	var planned, sent, errs, p50, p95, p99 []charts.Point
	for _, s := range d.Samples {
		t := at(s.Second)
		planned = append(planned, charts.Point{At: t, Value: s.Planned})
		sent = append(sent, charts.Point{At: t, Value: float64(s.Sent)})
		errs = append(errs, charts.Point{At: t, Value: float64(s.Errors)})
		if s.P50Seconds != nil {
			p50 = append(p50, charts.Point{At: t, Value: *s.P50Seconds})
			p95 = append(p95, charts.Point{At: t, Value: *s.P95Seconds})
			p99 = append(p99, charts.Point{At: t, Value: *s.P99Seconds})
		}
	}
	var events []charts.Event
	var spans []charts.Span
	if r := d.Reaction; r != nil {
		for i, re := range r.Reactions {
			if i == 0 {
				events = append(events, charts.Event{At: re.LoadChanged, Label: "load changed"})
			}
			if re.Fired != nil {
				events = append(events, charts.Event{At: *re.Fired, Label: re.Alert + " fired"})
			}
			if re.Pending != nil {
				to := d.End
				if re.Fired != nil {
					to = *re.Fired
				}
				spans = append(spans, charts.Span{From: *re.Pending, To: to, Label: re.Alert + " pending"})
			}
		}
	}
	return []charts.Figure{
		&charts.LineChart{Title: d.Name + ": load (requests a second)", Unit: "req/s", Events: events, Spans: spans,
			Lines: []charts.Line{{Name: "planned", Points: planned, Dashed: true}, {Name: "sent", Points: sent}}},
		&charts.LineChart{Title: d.Name + ": latency (seconds)", Unit: "s", Events: events,
			Thresholds: []charts.Threshold{{Name: "SLO p95", Value: slo.P95Seconds}},
			Lines:      []charts.Line{{Name: "p50", Points: p50}, {Name: "p95", Points: p95}, {Name: "p99", Points: p99}}},
		&charts.LineChart{Title: d.Name + ": errors a second", Unit: "errors/s", Events: events,
			Lines: []charts.Line{{Name: "errors", Points: errs, Step: true}}},
	}
}
