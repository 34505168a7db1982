package slothcheck

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// tolerance is the relative difference two values may have: the two rule
// sets compute the same ratios in different orders (Sloth divides by its
// slo:error_budget:ratio series, 1-0.99, headroom by 0.01; Sloth averages
// the 5m ratios with sum_over_time / count_over_time, headroom with
// avg_over_time).
const tolerance = 1e-9

// labelDifference is a label a headroom record carries otherwise than
// Sloth's on purpose: the comparison leaves it out, and
// TestLabelDifferencesOnPurpose holds both sides to what it says.
type labelDifference struct {
	record, label string
	// headroom and sloth are the label's values ("" for none).
	headroom, sloth string
	why             string
}

// labelDifferences are all of them.
var labelDifferences = []labelDifference{
	{record: "sloth_slo_info", label: "sloth_mode", headroom: "headroom", sloth: "api-gen-prom",
		why: "Sloth's mode says how Sloth generated the rules (its CLI, its library, its Kubernetes controller); headroom generated these"},
	{record: "sloth_slo_info", label: "sloth_version", headroom: "", sloth: "*",
		why: "a Sloth version would claim a Sloth release generated the rules"},
	{record: "sloth_slo_info", label: "sloth_spec", headroom: "", sloth: "prometheus/v1",
		why: "there is no Sloth spec: the SLOs come from headroom's slos: config"},
}

// compared counts what a comparison looked at, so that a test can tell an
// agreement from two empty sets.
type compared struct {
	series, samples int
}

// compare lists where headroom's records differ from Sloth's: a series name
// or a label set one side lacks, a step one side has no value at, or values
// further apart than tolerance. Labels of labelDifferences are left out.
func compare(headroom, sloth recording) ([]string, compared) {
	var diffs []string
	var c compared
	const perSeries = 3
	names := map[string]bool{}
	for n := range headroom {
		names[n] = true
	}
	for n := range sloth {
		names[n] = true
	}
	delete(names, alertsSeries) // compareAlerts' job
	for _, name := range sortedKeys(names) {
		h, s := strip(name, headroom[name]), strip(name, sloth[name])
		switch {
		case len(h) == 0:
			diffs = append(diffs, fmt.Sprintf("%s: Sloth records it, headroom does not", name))
			continue
		case len(s) == 0:
			diffs = append(diffs, fmt.Sprintf("%s: headroom records it, Sloth does not", name))
			continue
		}
		keys := map[string]bool{}
		for k := range h {
			keys[k] = true
		}
		for k := range s {
			keys[k] = true
		}
		for _, k := range sortedKeys(keys) {
			hs, inH := h[k]
			ss, inS := s[k]
			switch {
			case !inH:
				diffs = append(diffs, fmt.Sprintf("%s%s: only Sloth records these labels", name, k))
				continue
			case !inS:
				diffs = append(diffs, fmt.Sprintf("%s%s: only headroom records these labels", name, k))
				continue
			}
			c.series++
			var times []int64
			for t := range hs {
				times = append(times, t)
			}
			for t := range ss {
				if _, ok := hs[t]; !ok {
					times = append(times, t)
				}
			}
			slices.Sort(times)
			n := 0
			for _, t := range times {
				hv, okH := hs[t]
				sv, okS := ss[t]
				at := time.UnixMilli(t).UTC().Format("2006-01-02T15:04")
				var d string
				switch {
				case !okH:
					d = fmt.Sprintf("%s%s at %s: Sloth %g, headroom no value", name, k, at, sv)
				case !okS:
					d = fmt.Sprintf("%s%s at %s: headroom %g, Sloth no value", name, k, at, hv)
				case !near(hv, sv):
					d = fmt.Sprintf("%s%s at %s: headroom %g, Sloth %g", name, k, at, hv, sv)
				default:
					c.samples++
					continue
				}
				if n < perSeries {
					diffs = append(diffs, d)
				}
				n++
			}
			if n > perSeries {
				diffs = append(diffs, fmt.Sprintf("%s%s: and %d more steps", name, k, n-perSeries))
			}
		}
	}
	return diffs, c
}

// strip keys a record's series by their labels less those of
// labelDifferences.
func strip(name string, series map[string]recordedSeries) map[string]map[int64]float64 {
	var drop []string
	for _, d := range labelDifferences {
		if d.record == name {
			drop = append(drop, d.label)
		}
	}
	out := map[string]map[int64]float64{}
	for _, s := range series {
		out[labels.NewBuilder(s.labels).Del(drop...).Labels().String()] = s.samples
	}
	return out
}

// near: within tolerance, or both NaN (Sloth's 0/0 on both sides).
func near(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b || math.Abs(a-b) <= tolerance*math.Max(math.Abs(a), math.Abs(b))
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// report is diffs one a line, for a failure message.
func report(diffs []string) string {
	const most = 40
	if len(diffs) > most {
		diffs = append(diffs[:most:most], fmt.Sprintf("... and %d more", len(diffs)-most))
	}
	return strings.Join(diffs, "\n")
}

// alertSeverities pair Sloth's alerts with headroom's. Sloth writes one
// page alert an SLO for both of the SRE workbook's page pairs (1h and 5m at
// 14.4×, 6h and 30m at 6×) and one ticket alert for both ticket pairs;
// headroom writes one ErrorBudgetBurn a pair (labels long_window and
// short_window), so that its summary, runbook and inhibition can name the
// pair. Sloth's page fires at a step when one of headroom's critical ones
// does, its ticket when a warning one does.
var alertSeverities = []struct{ sloth, headroom string }{{"page", "critical"}, {"ticket", "warning"}}

// burnAlert is the name both rule sets give the burn-rate alerts here
// (Sloth's is the spec's alerting.name).
const burnAlert = "ErrorBudgetBurn"

// compareAlerts lists the steps at which Sloth's burn-rate alert of an SLO
// and severity fires and none of headroom's of that SLO and the paired
// severity does, or the reverse; firing counts the steps each fired at, by
// SLO and Sloth severity.
func compareAlerts(headroom, sloth recording, slos []string) (diffs []string, firing map[string]int) {
	firing = map[string]int{}
	for _, slo := range slos {
		for _, sev := range alertSeverities {
			h := firingSteps(headroom, slo, "severity", sev.headroom)
			s := firingSteps(sloth, slo, "sloth_severity", sev.sloth)
			firing[slo+" "+sev.sloth] = len(s)
			var times []int64
			for t := range h {
				if !s[t] {
					times = append(times, t)
				}
			}
			for t := range s {
				if !h[t] {
					times = append(times, t)
				}
			}
			slices.Sort(times)
			for i, t := range times {
				if i == 3 {
					diffs = append(diffs, fmt.Sprintf("%s{slo=%q} %s: and %d more steps", burnAlert, slo, sev.sloth, len(times)-i))
					break
				}
				at := time.UnixMilli(t).UTC().Format("2006-01-02T15:04")
				if s[t] {
					diffs = append(diffs, fmt.Sprintf("%s{slo=%q} at %s: Sloth's %s fires, no %s one of headroom's", burnAlert, slo, at, sev.sloth, sev.headroom))
				} else {
					diffs = append(diffs, fmt.Sprintf("%s{slo=%q} at %s: a %s one of headroom's fires, not Sloth's %s", burnAlert, slo, at, sev.headroom, sev.sloth))
				}
			}
		}
	}
	return diffs, firing
}

// firingSteps are the steps at which an alert of the SLO with the label
// fires.
func firingSteps(r recording, slo, label, value string) map[int64]bool {
	out := map[int64]bool{}
	for _, s := range r[alertsSeries] {
		ls := s.labels
		if ls.Get("alertname") != burnAlert || ls.Get("slo") != slo || ls.Get(label) != value || ls.Get("alertstate") != "firing" {
			continue
		}
		for t, v := range s.samples {
			if v == 1 {
				out[t] = true
			}
		}
	}
	return out
}
