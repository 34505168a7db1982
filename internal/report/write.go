package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// WriteJSON writes the report as the JSON document docs/report.md
// describes.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report for a terminal.
func (r *Report) WriteText(w io.Writer) error { return r.write(w, false) }

// WriteMarkdown writes the report as Markdown.
func (r *Report) WriteMarkdown(w io.Writer) error { return r.write(w, true) }

// section is one part of the report in every format: paragraphs before
// a table, the table (none when cols is nil), paragraphs after.
type section struct {
	head          string
	before, after []string
	cols          []string
	rows          [][]string
}

// sections are the report's parts after its heading, in order.
func (r *Report) sections() []section {
	var out []section
	var rows [][]string
	for _, it := range r.Checklist {
		rows = append(rows, []string{string(it.Status), it.Name, value(it.Value, it.Unit), it.Detail})
	}
	out = append(out, section{head: "Pre-scaling checklist", cols: []string{"status", "item", "value", "how"}, rows: rows})

	rows = nil
	for _, rec := range r.Recommendations {
		rows = append(rows, []string{rec.Area, rec.Action, string(rec.Status), rec.Because})
	}
	out = append(out, section{head: "Decision tree", cols: []string{"area", "action", "status", "because"}, rows: rows})

	cost := section{head: "Cost"}
	if c := r.Cost; c.Now == nil {
		cost.before = []string{fmt.Sprintf("Unknown: %s.", c.Detail)}
	} else {
		tiers := []*Tier{c.Now}
		if c.After != nil {
			tiers = append(tiers, c.After)
		}
		for i, t := range tiers {
			when := "now"
			if i == 1 {
				when = "after"
			}
			for _, it := range t.Items {
				cost.rows = append(cost.rows, []string{when, fmt.Sprintf("%d users", t.Users), it.Service, it.Size, fmt.Sprintf("%d", it.Count), dollars(it.Monthly)})
			}
			cost.rows = append(cost.rows, []string{when, fmt.Sprintf("%d users", t.Users), "total", "", "", dollars(t.Monthly)})
		}
		cost.cols = []string{"when", "tier", "item", "size", "count", "monthly"}
		cost.after = []string{fmt.Sprintf("Now %s a month for %s users: %s per user, %s per request (%s requests a month). %s.",
			dollars(c.Now.Monthly), value(c.Users, "users"), money(c.PerUser, 2), money(c.PerRequest, 8), value(c.RequestsPerMonth, ""), c.Detail)}
	}
	out = append(out, cost)

	rows = nil
	for _, f := range r.Saturation {
		alert := f.Alert
		if alert == "" {
			alert = "—"
		}
		rows = append(rows, []string{f.Resource, f.Trigger + " " + num(f.Threshold), value(f.Peak, f.Unit), trend(f),
			hours(f.Hours), alert + " (page < " + f.PageHorizon + ", ticket < " + f.TicketHorizon + ")", f.Detail})
	}
	out = append(out, section{head: "Time to saturation",
		before: []string{"(threshold − peak of the last day) ÷ slope of the one-day average over the trigger's forecast window: the forecast alerts' formula and settings. " +
			"\"alert\" is the forecast alert the time would fire."},
		cols: []string{"resource", "threshold", "peak (1d)", "trend", "time to threshold", "alert", "note"}, rows: rows})

	val := section{head: "Post-scaling validation"}
	if v := r.Validation; v == nil {
		val.before = []string{"No replica-count change in the range."}
	} else {
		val.before = []string{fmt.Sprintf("Replicas %d → %d at %s; the targets after it:", v.From, v.To, v.At.Format("2006-01-02 15:04Z"))}
		for _, it := range v.Targets {
			val.rows = append(val.rows, []string{string(it.Status), it.Name, value(it.Value, it.Unit), it.Detail})
		}
		val.cols = []string{"status", "target", "value", "how"}
	}
	return append(out, val)
}

// intro is the lines under the report's title.
func (r *Report) intro() []string {
	out := []string{fmt.Sprintf("Preset %s, %s, %s to %s, step %s.", r.Preset, r.Source,
		r.Start.Format("2006-01-02 15:04Z"), r.End.Format("2006-01-02 15:04Z"), r.Step)}
	if len(r.NoData) > 0 {
		out = append(out, fmt.Sprintf("No data for: %s.", strings.Join(r.NoData, ", ")))
	}
	return out
}

// write renders the text and Markdown forms, which differ only in markup.
func (r *Report) write(w io.Writer, md bool) error {
	var b strings.Builder
	head := func(s string) {
		if md {
			fmt.Fprintf(&b, "\n## %s\n\n", s)
		} else {
			fmt.Fprintf(&b, "\n%s\n%s\n", s, strings.Repeat("-", len([]rune(s))))
		}
	}
	table := func(cols []string, rows [][]string) {
		if md {
			fmt.Fprintf(&b, "| %s |\n|%s\n", strings.Join(cols, " | "), strings.Repeat("---|", len(cols)))
			for _, row := range rows {
				fmt.Fprintf(&b, "| %s |\n", strings.Join(row, " | "))
			}
			return
		}
		width := make([]int, len(cols))
		for _, row := range append([][]string{cols}, rows...) {
			for i, c := range row {
				width[i] = max(width[i], len([]rune(c)))
			}
		}
		for _, row := range append([][]string{cols}, rows...) {
			for i, c := range row {
				if i == len(row)-1 {
					b.WriteString(c)
				} else {
					fmt.Fprintf(&b, "%s%s  ", c, strings.Repeat(" ", width[i]-len([]rune(c))))
				}
			}
			b.WriteString("\n")
		}
	}
	if md {
		fmt.Fprintf(&b, "# Headroom report: %s\n\n", r.Service)
	} else {
		fmt.Fprintf(&b, "Headroom report: %s\n", r.Service)
	}
	for _, line := range r.intro() {
		b.WriteString(line + "\n")
	}
	for _, s := range r.sections() {
		head(s.head)
		for _, p := range s.before {
			b.WriteString(p + "\n")
		}
		if s.cols != nil {
			if len(s.before) > 0 {
				b.WriteString("\n")
			}
			table(s.cols, s.rows)
		}
		for _, p := range s.after {
			b.WriteString("\n" + p + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func value(v *float64, unit string) string {
	if v == nil {
		return "unknown"
	}
	switch unit {
	case "ratio":
		return pct(*v)
	case "days":
		return fmt.Sprintf("%.1f days", *v)
	case "seconds":
		return fmt.Sprintf("%.3g s", *v)
	case "users", "":
		return fmt.Sprintf("%.0f", *v)
	}
	return fmt.Sprintf("%.3g", *v)
}

func dollars(v float64) string { return fmt.Sprintf("$%.0f", v) }

func money(v *float64, digits int) string {
	if v == nil {
		return "unknown"
	}
	return fmt.Sprintf("$%.*f", digits, *v)
}

func perDay(v *float64, unit string) string {
	if v == nil {
		return "unknown"
	}
	if unit != "ratio" {
		return fmt.Sprintf("%+.3g/day", *v)
	}
	return fmt.Sprintf("%+.2f points/day", *v*100)
}

// trend is a forecast's slope over its window.
func trend(f Forecast) string {
	if f.SlopeDay == nil {
		return "unknown"
	}
	return perDay(f.SlopeDay, f.Unit) + " over " + f.Window
}

func hours(v *float64) string {
	if v == nil {
		return "—"
	}
	if *v >= 48 {
		return fmt.Sprintf("%.1f days", *v/24)
	}
	return fmt.Sprintf("%.1f h", *v)
}
