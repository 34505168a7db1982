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
	fmt.Fprintf(&b, "Preset %s, %s, %s to %s, step %s.\n", r.Preset, r.Source,
		r.Start.Format("2006-01-02 15:04Z"), r.End.Format("2006-01-02 15:04Z"), r.Step)
	if len(r.NoData) > 0 {
		fmt.Fprintf(&b, "No data for: %s.\n", strings.Join(r.NoData, ", "))
	}
	head("Pre-scaling checklist")
	var rows [][]string
	for _, it := range r.Checklist {
		rows = append(rows, []string{string(it.Status), it.Name, value(it.Value, it.Unit), it.Detail})
	}
	table([]string{"status", "item", "value", "how"}, rows)

	head("Decision tree")
	rows = nil
	for _, rec := range r.Recommendations {
		rows = append(rows, []string{rec.Area, rec.Action, string(rec.Status), rec.Because})
	}
	table([]string{"area", "action", "status", "because"}, rows)

	head("Cost")
	c := r.Cost
	if c.Now == nil {
		fmt.Fprintf(&b, "Unknown: %s.\n", c.Detail)
	} else {
		rows = nil
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
				rows = append(rows, []string{when, fmt.Sprintf("%d users", t.Users), it.Service, it.Size, fmt.Sprintf("%d", it.Count), dollars(it.Monthly)})
			}
			rows = append(rows, []string{when, fmt.Sprintf("%d users", t.Users), "total", "", "", dollars(t.Monthly)})
		}
		table([]string{"when", "tier", "item", "size", "count", "monthly"}, rows)
		fmt.Fprintf(&b, "\nNow %s a month for %s users: %s per user", dollars(c.Now.Monthly), value(c.Users, "users"), money(c.PerUser, 2))
		fmt.Fprintf(&b, ", %s per request (%s requests a month). %s.\n", money(c.PerRequest, 8), value(c.RequestsPerMonth, ""), c.Detail)
	}

	head("Time to saturation")
	b.WriteString("(threshold − peak of the last day) ÷ slope of the one-day average over the last day: the forecast alerts' formula.\n\n")
	rows = nil
	for _, f := range r.Saturation {
		rows = append(rows, []string{f.Resource, f.Trigger + " " + num(f.Threshold), value(f.Peak, "ratio"), perDay(f.SlopeDay), hours(f.Hours), f.Detail})
	}
	table([]string{"resource", "threshold", "peak (1d)", "trend", "time to threshold", "note"}, rows)

	head("Post-scaling validation")
	if v := r.Validation; v == nil {
		b.WriteString("No replica-count change in the range.\n")
	} else {
		fmt.Fprintf(&b, "Replicas %d → %d at %s; the targets after it:\n\n", v.From, v.To, v.At.Format("2006-01-02 15:04Z"))
		rows = nil
		for _, it := range v.Targets {
			rows = append(rows, []string{string(it.Status), it.Name, value(it.Value, it.Unit), it.Detail})
		}
		table([]string{"status", "target", "value", "how"}, rows)
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

func perDay(v *float64) string {
	if v == nil {
		return "unknown"
	}
	return fmt.Sprintf("%+.2f points/day", *v*100)
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
