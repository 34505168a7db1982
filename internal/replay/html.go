package replay

import (
	"fmt"
	"io"
	"math"
	"time"

	"github.com/headroom-dev/headroom/internal/charts"
)

// WriteHTML writes the report as one self-contained page of charts: the
// replicas with the scale events, each trigger's value against its target
// (the load that drove the scaler), and the alerts that fired.
func (r *Report) WriteHTML(w io.Writer) error {
	page := charts.Page{
		Title: fmt.Sprintf("Replay of %s (preset %s, service %s)", r.Scaler, r.Preset, r.Service),
		Notes: []string{
			fmt.Sprintf("Over %s, from %s to %s, every %s (%d steps). Times are UTC.", r.Source,
				r.Start.Format(time.RFC3339), r.End.Format(time.RFC3339), time.Duration(r.Step), len(r.Steps)),
			r.replicasLine(),
			r.dbGuardLine(),
		},
	}
	page.Notes = append(page.Notes, r.Notes...)
	page.Figures = append(page.Figures, r.replicaChart())
	for i := range r.Triggers {
		page.Figures = append(page.Figures, r.triggerChart(i))
	}
	if len(r.Alerts) == 0 {
		page.Notes = append(page.Notes, "No alert fired.")
	} else {
		page.Figures = append(page.Figures, r.alertChart())
	}
	return charts.Write(w, page)
}

// replicaChart is the replicas the scaler set and the metrics' proposal
// within min and max (what the behaviour was moving towards), with the scale
// events and the spans in which a trigger was missing.
func (r *Report) replicaChart() *charts.LineChart {
	replicas := charts.Line{Name: "replicas", Step: true}
	proposal := charts.Line{Name: "proposal of the metrics, within min and max", Step: true, Dashed: true}
	for _, st := range r.Steps {
		replicas.Points = append(replicas.Points, charts.Point{At: st.At, Value: float64(st.Replicas)})
		desired := math.NaN() // no metric could be read
		if st.Desired > 0 {
			desired = float64(min(max(st.Desired, r.minReplicas), r.maxReplicas))
		}
		proposal.Points = append(proposal.Points, charts.Point{At: st.At, Value: desired})
	}
	c := &charts.LineChart{
		Title: "Replicas", Unit: "replicas",
		Lines:      []charts.Line{replicas, proposal},
		Thresholds: []charts.Threshold{{Name: "max", Value: float64(r.maxReplicas)}, {Name: "min", Value: float64(r.minReplicas)}},
	}
	for _, e := range r.Events {
		c.Events = append(c.Events, charts.Event{At: e.At, Label: fmt.Sprintf("%d → %d %s", e.From, e.To, e.Trigger)})
	}
	if g := r.DBGuard; g.CrossedAt != nil {
		c.Events = append(c.Events, charts.Event{At: *g.CrossedAt, Label: "DB-connection guard crossed"})
	}
	for _, m := range r.Missing {
		label := m.Trigger + " missing"
		if m.Fallback {
			label += ", fallback"
		}
		c.Spans = append(c.Spans, charts.Span{From: m.From, To: m.To, Label: label})
	}
	return c
}

// triggerChart is trigger i's value as the HPA compares it with the
// target: an AverageValue's sum divided by the replicas the step started
// with, the others as read.
func (r *Report) triggerChart(i int) *charts.LineChart {
	t := r.Triggers[i]
	line := charts.Line{Name: t.Name}
	unit := "value"
	switch t.Type {
	case AverageValue:
		line.Name, unit = t.Name+" per pod (the sum ÷ replicas)", "per pod"
	case Utilization:
		unit = "percent"
	}
	current := r.Initial
	for _, st := range r.Steps {
		v := math.NaN()
		if p := st.Values[i]; p != nil {
			v = *p
			if t.Type == AverageValue {
				v /= float64(max(current, 1))
			}
		}
		line.Points = append(line.Points, charts.Point{At: st.At, Value: v})
		current = st.Replicas
	}
	c := &charts.LineChart{
		Title: fmt.Sprintf("%s (%s): %s", t.Name, t.Type, oneLine(t.Query)), Unit: unit,
		Lines:      []charts.Line{line},
		Thresholds: []charts.Threshold{{Name: "target", Value: t.Target}},
	}
	if t.Activation > 0 {
		c.Thresholds = append(c.Thresholds, charts.Threshold{Name: "activation", Value: t.Activation})
	}
	return c
}

// alertChart is a lane for each alert instance (alert and labels), with a
// span for each time it fired; one still firing runs to the end.
func (r *Report) alertChart() *charts.SpanChart {
	c := &charts.SpanChart{Title: "Alerts fired", From: r.Start, To: r.End}
	lane := map[string]int{}
	for _, a := range r.Alerts {
		name := a.Alert + " " + alertLabels(a.Labels)
		if a.WindowLongerThanHistory > 0 {
			name += " (window longer than the history)"
		}
		i, ok := lane[name]
		if !ok {
			i = len(c.Lanes)
			lane[name] = i
			c.Lanes = append(c.Lanes, charts.Lane{Name: name})
		}
		end, label := r.End, "still firing"
		if a.End != nil {
			end, label = *a.End, "until "+r.at(*a.End)
		}
		c.Lanes[i].Spans = append(c.Lanes[i].Spans, charts.Span{From: a.Start, To: end, Label: "from " + r.at(a.Start) + " " + label})
	}
	return c
}
