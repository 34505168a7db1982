package drill

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ReportSchema names the JSON report's version (docs/drill.md).
const ReportSchema = "headroom.drill.report/v1"

// The exit codes a CI gate reads (docs/drill.md has the table).
const (
	ExitPass        = 0
	ExitError       = 1 // bad config, unreachable target, other errors
	ExitUsage       = 2 // a command line kingpin refuses
	ExitSLOFailed   = 3
	ExitRegression  = 4 // the SLO held, a regression against the baseline did not
	ExitReaction    = 5 // SLO and baseline held; an alert fired late or should not have fired
	ExitInterrupted = 130
)

// ExitCode is the run's exit status: an interruption first, then a
// failed SLO, then a regression, then a failed reaction check.
func ExitCode(results []DrillResult) int {
	code := ExitPass
	for _, r := range results {
		switch {
		case r.Interrupted:
			return ExitInterrupted
		case !r.Verdict.SLOMet:
			code = ExitSLOFailed
		case r.Verdict.Regressed && (code == ExitPass || code == ExitReaction):
			code = ExitRegression
		case r.Reaction != nil && !r.Reaction.OK() && code == ExitPass:
			code = ExitReaction
		}
	}
	return code
}

// Report is the JSON report.
type Report struct {
	Schema   string        `json:"schema"`
	Target   string        `json:"target"`
	Method   string        `json:"method"`
	SLO      reportSLO     `json:"slo"`
	Drills   []reportDrill `json:"drills"`
	ExitCode int           `json:"exit_code"`
}

type reportSLO struct {
	SuccessRatio float64 `json:"success_ratio"`
	P95Seconds   float64 `json:"p95_seconds"`
}

type reportDrill struct {
	Name        string         `json:"name"`
	Pattern     Pattern        `json:"pattern"`
	PeakRate    float64        `json:"peak_rate"`
	Start       time.Time      `json:"start"`
	End         time.Time      `json:"end"`
	Interrupted bool           `json:"interrupted"`
	Stats       reportStats    `json:"stats"`
	Verdict     Verdict        `json:"verdict"`
	Errors      map[string]int `json:"errors"`
	Reaction    *DrillReaction `json:"reaction,omitempty"`
	Samples     []reportSample `json:"samples"`
}

type reportStats struct {
	Requests     int      `json:"requests"`
	Successes    int      `json:"successes"`
	SuccessRatio *float64 `json:"success_ratio"`
	P50Seconds   *float64 `json:"p50_seconds"`
	P95Seconds   *float64 `json:"p95_seconds"`
	P99Seconds   *float64 `json:"p99_seconds"`
	MaxSeconds   *float64 `json:"max_seconds"`
}

type reportSample struct {
	Second     int      `json:"second"`
	Planned    float64  `json:"planned"`
	Sent       int      `json:"sent"`
	Successes  int      `json:"successes"`
	Errors     int      `json:"errors"`
	P50Seconds *float64 `json:"p50_seconds"`
	P95Seconds *float64 `json:"p95_seconds"`
	P99Seconds *float64 `json:"p99_seconds"`
}

// ReportOf is the JSON report of a run.
func ReportOf(c *Config, results []DrillResult) Report {
	rep := Report{Schema: ReportSchema, Target: c.Target.URL, Method: c.Target.Method,
		SLO:      reportSLO{SuccessRatio: *c.SLO.SuccessRatio, P95Seconds: time.Duration(c.SLO.P95).Seconds()},
		ExitCode: ExitCode(results)}
	for _, r := range results {
		d := reportDrill{Name: r.Drill.Name, Pattern: r.Drill.Pattern, PeakRate: r.Drill.Peak(), Start: r.Start.UTC(), End: r.End.UTC(),
			Interrupted: r.Interrupted, Verdict: r.Verdict, Errors: r.Errors, Reaction: r.Reaction, Samples: []reportSample{}}
		s := r.Stats
		d.Stats = reportStats{Requests: s.Requests, Successes: s.Successes}
		if s.Requests > 0 {
			d.Stats.SuccessRatio = &s.SuccessRatio
			d.Stats.P50Seconds, d.Stats.P95Seconds, d.Stats.P99Seconds, d.Stats.MaxSeconds = seconds(s.P50), seconds(s.P95), seconds(s.P99), seconds(s.Max)
		}
		for _, sm := range r.Samples {
			rs := reportSample{Second: sm.Second, Planned: round(sm.Planned), Sent: sm.Sent, Successes: sm.Successes, Errors: sm.Errors}
			if sm.Sent > 0 {
				rs.P50Seconds, rs.P95Seconds, rs.P99Seconds = seconds(sm.P50), seconds(sm.P95), seconds(sm.P99)
			}
			d.Samples = append(d.Samples, rs)
		}
		rep.Drills = append(rep.Drills, d)
	}
	return rep
}

func seconds(d time.Duration) *float64 { v := d.Seconds(); return &v }

func round(v float64) float64 { return math.Round(v*1000) / 1000 }

// WriteJSON writes the JSON report (or a baseline) indented.
func WriteJSON(w io.Writer, rep any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

// CSVHeader is the per-second CSV's columns (docs/drill.md).
var CSVHeader = []string{"drill", "second", "planned", "sent", "successes", "errors", "p50_seconds", "p95_seconds", "p99_seconds"}

// WriteCSV writes every drill's per-second samples; a second without
// responses has empty latency cells.
func WriteCSV(w io.Writer, rep Report) error {
	out := csv.NewWriter(w)
	if err := out.Write(CSVHeader); err != nil {
		return err
	}
	cell := func(v *float64) string {
		if v == nil {
			return ""
		}
		return strconv.FormatFloat(*v, 'g', -1, 64)
	}
	for _, d := range rep.Drills {
		for _, s := range d.Samples {
			row := []string{d.Name, strconv.Itoa(s.Second), strconv.FormatFloat(s.Planned, 'g', -1, 64), strconv.Itoa(s.Sent),
				strconv.Itoa(s.Successes), strconv.Itoa(s.Errors), cell(s.P50Seconds), cell(s.P95Seconds), cell(s.P99Seconds)}
			if err := out.Write(row); err != nil {
				return err
			}
		}
	}
	out.Flush()
	return out.Error()
}

// WriteText writes the human-readable summary.
func WriteText(w io.Writer, rep Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "drill of %s %s; SLO: success ratio >= %s, p95 <= %s\n", rep.Method, rep.Target,
		percent(rep.SLO.SuccessRatio), time.Duration(rep.SLO.P95Seconds*float64(time.Second)))
	for _, d := range rep.Drills {
		planned := 0.0
		for _, s := range d.Samples {
			planned += s.Planned
		}
		fmt.Fprintf(&b, "\n%s (%s to %s req/s, %s)", d.Name, d.Pattern, num(d.PeakRate), d.End.Sub(d.Start).Round(time.Second))
		if d.Interrupted {
			b.WriteString(", interrupted")
		}
		b.WriteString("\n")
		st := d.Stats
		fmt.Fprintf(&b, "  requests  %d sent of %.0f planned, %d succeeded (%s)\n", st.Requests, planned, st.Successes, percent(deref(st.SuccessRatio)))
		if st.Requests > 0 {
			fmt.Fprintf(&b, "  latency   p50 %s  p95 %s  p99 %s  max %s\n", dur(st.P50Seconds), dur(st.P95Seconds), dur(st.P99Seconds), dur(st.MaxSeconds))
		}
		verdict := "met"
		if !d.Verdict.SLOMet {
			verdict = "FAILED: " + strings.Join(d.Verdict.SLOFailed, "; ")
		}
		fmt.Fprintf(&b, "  SLO       %s\n", verdict)
		switch {
		case d.Verdict.Regressed:
			fmt.Fprintf(&b, "  baseline  REGRESSED: %s\n", strings.Join(d.Verdict.Regression, "; "))
		case d.Verdict.NoBaseline:
			b.WriteString("  baseline  no such drill in the baseline: not compared\n")
		}
		if d.Reaction != nil {
			writeReaction(&b, d.Start, *d.Reaction)
		}
		var errs []string
		for text := range d.Errors {
			errs = append(errs, text)
		}
		sort.Strings(errs)
		for _, text := range errs {
			fmt.Fprintf(&b, "  error     %dx %s\n", d.Errors[text], text)
		}
	}
	fmt.Fprintf(&b, "\nexit code %d\n", rep.ExitCode)
	_, err := io.WriteString(w, b.String())
	return err
}

// writeReaction writes what the alerts and the autoscaler did, times as
// offsets from the drill's start.
func writeReaction(b *strings.Builder, start time.Time, r DrillReaction) {
	at := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return "+" + t.Sub(start).Round(time.Second).String()
	}
	if r.Error != "" {
		fmt.Fprintf(b, "  alerts    NOT READ: %s\n", r.Error)
		return
	}
	if len(r.Reactions) == 0 {
		b.WriteString("  alerts    no scaling trigger crossed, nothing pending or fired\n")
	}
	for _, re := range r.Reactions {
		name := re.Alert
		for _, k := range slices.Sorted(maps.Keys(re.Labels)) {
			name += fmt.Sprintf(" %s=%s", k, re.Labels[k])
		}
		fmt.Fprintf(b, "  alert     %s (%s, %s): load changed %s, crossed %s, pending %s, fired %s, resolved %s",
			name, re.Direction, re.Severity, at(&re.LoadChanged), at(re.Crossed), at(re.Pending), at(re.Fired), at(re.Resolved))
		if re.Crossed != nil {
			fmt.Fprintf(b, "; load to signal %s", re.Crossed.Sub(re.LoadChanged).Round(time.Second))
		}
		switch {
		case re.Fired != nil && re.Crossed != nil:
			verdict := "in time"
			if !re.InTime {
				verdict = "LATE"
			}
			fmt.Fprintf(b, "; fired %s after crossing (expected <= %s): %s", re.Fired.Sub(*re.Crossed).Round(time.Second), time.Duration(re.Expected), verdict)
		case re.Missed:
			fmt.Fprintf(b, "; MISSED: held over %s and did not fire", time.Duration(re.Expected))
		case re.Fired == nil:
			b.WriteString("; did not fire")
		}
		b.WriteString("\n")
	}
	if len(r.Unexpected) == 0 {
		b.WriteString("  unwanted  none: no alert fired that should not have\n")
	}
	for _, u := range r.Unexpected {
		fmt.Fprintf(b, "  UNWANTED  %s at %s: %s\n", u.Alert, at(&u.Fired), u.Reason)
	}
	switch {
	case r.ReplayError != "":
		fmt.Fprintf(b, "  scaler    not evaluated: %s\n", r.ReplayError)
	case r.Scaler != "":
		fmt.Fprintf(b, "  scaler    %s asked for %d replicas when the load changed, at most %d after\n", r.Scaler, r.DesiredBefore, r.DesiredAfter)
	}
}

func deref(v *float64) float64 {
	if v == nil {
		return math.NaN()
	}
	return *v
}

func dur(v *float64) string {
	if v == nil {
		return "n/a"
	}
	return time.Duration(*v * float64(time.Second)).Round(100 * time.Microsecond).String()
}
