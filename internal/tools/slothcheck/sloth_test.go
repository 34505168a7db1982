package slothcheck

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"
)

// presets are the bundles `make generate` writes under mixin/.
var presets = []string{"health-agent", "amas"}

const (
	day = 24 * time.Hour
	// step is the rule evaluation interval: Prometheus's would be shorter,
	// but both rule sets read the same steps.
	step = 10 * time.Minute
)

// story is four days of an API whose traffic swings over the day: an
// outage (60% of requests fail for an hour), a slow spell (80% of requests
// slower than the target for six hours around the day's peak), and
// recovery. Four days, so that the 3d windows fill; the outage and the
// spell page and ticket, with both SLOs' alerts.
var story = scenario{
	span:    4 * day,
	traffic: swinging,
	bad: func(slo string, t time.Duration) float64 {
		switch {
		case slo == "availability" && t >= day+10*time.Hour && t < day+11*time.Hour:
			return 0.6
		case slo == "latency" && t >= 2*day+3*time.Hour && t < 2*day+9*time.Hour:
			return 0.8
		case slo == "availability":
			return 0.002
		default:
			return 0.01
		}
	},
}

// swinging is 10 to 30 requests a second over the day: the ratio of the
// summed rates differs from the mean of the ratios.
func swinging(t time.Duration) float64 { return 20 + 10*math.Sin(2*math.Pi*t.Hours()/24) }

// ruleSets are headroom's SLO recording group of a preset (first) and its
// burn-rate alerts, Sloth's recording and alert groups for the same SLOs,
// and those SLOs.
func ruleSets(t *testing.T, preset string) (headroom, sloth rulesFile, defs []sloDef) {
	t.Helper()
	g, err := headroomSLOGroup(preset)
	if err != nil {
		t.Fatal(err)
	}
	alerts, err := headroomBurnAlerts(preset)
	if err != nil {
		t.Fatal(err)
	}
	defs, period, err := sloDefs(g)
	if err != nil {
		t.Fatal(err)
	}
	records, slothAlerts, err := slothRules(context.Background(), slothSpecs(defs), period)
	if err != nil {
		t.Fatal(err)
	}
	headroom.Groups = append([]ruleGroup{g}, alerts.Groups...)
	sloth.Groups = append(records.Groups, slothAlerts.Groups...)
	return headroom, sloth, defs
}

func sloNames(defs []sloDef) []string {
	var out []string
	for _, d := range defs {
		out = append(out, d.name)
	}
	return out
}

func run(t *testing.T, headroom, sloth rulesFile, defs []sloDef, sc scenario) (h, s recording) {
	t.Helper()
	in, err := inputs(defs, sc)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := evaluate(context.Background(), t.TempDir(), map[string]rulesFile{"headroom": headroom, "sloth": sloth}, in, sc.span, step)
	if err != nil {
		t.Fatal(err)
	}
	return recs["headroom"], recs["sloth"]
}

// TestHeadroomRecordsWhatSlothRecords: every series Sloth records for a
// preset's SLOs, headroom records with the same labels (but for
// labelDifferences) and the same value at every step of the story, and
// headroom records no other series under Sloth's names. And each of
// Sloth's burn-rate alerts fires at the steps one of headroom's of the
// paired severity does (alertSeverities).
func TestHeadroomRecordsWhatSlothRecords(t *testing.T) {
	for _, preset := range presets {
		t.Run(preset, func(t *testing.T) {
			t.Parallel()
			hRules, sRules, defs := ruleSets(t, preset)
			h, s := run(t, hRules, sRules, defs, story)
			diffs, c := compare(h, s)
			if len(diffs) > 0 {
				t.Errorf("headroom's records differ from Sloth's:\n%s", report(diffs))
			}
			// Every record of every SLO at every step: 15 records of
			// 576 steps an SLO, less the first steps of nothing to rate.
			if want := 15 * len(defs); c.series != want {
				t.Errorf("compared %d series, want %d", c.series, want)
			}
			if c.samples < c.series*500 {
				t.Errorf("compared %d samples over %d series: the story did not fill them", c.samples, c.series)
			}
			// The story is what it says: each SLO burns its budget more
			// than 14.4 times too fast at some step (a page).
			for _, d := range defs {
				if burn := peak(s["slo:current_burn_rate:ratio"], d.name); burn < 14.4 {
					t.Errorf("%s: the story's peak burn rate is %g, want a page's 14.4", d.name, burn)
				}
			}
			alertDiffs, firing := compareAlerts(h, s, sloNames(defs))
			if len(alertDiffs) > 0 {
				t.Errorf("headroom's burn-rate alerts fire otherwise than Sloth's:\n%s", report(alertDiffs))
			}
			for _, d := range defs {
				for _, sev := range alertSeverities {
					if firing[d.name+" "+sev.sloth] == 0 {
						t.Errorf("%s: Sloth's %s never fires in the story", d.name, sev.sloth)
					}
				}
			}
			t.Logf("%s: %d SLOs, %d series, %d samples alike; alerts fire at the same steps (steps firing: %v)", preset, len(defs), c.series, c.samples, firing)
		})
	}
}

func peak(series map[string]recordedSeries, slo string) float64 {
	m := math.Inf(-1)
	for _, s := range series {
		if s.labels.Get("sloth_slo") == slo {
			for _, v := range s.samples {
				m = math.Max(m, v)
			}
		}
	}
	return m
}

// TestLabelDifferencesOnPurpose holds each labelDifference to both rule
// sets: headroom's rule carries the value it says, Sloth's the value it
// says ("*" for any), so that the list says what the comparison skips.
func TestLabelDifferencesOnPurpose(t *testing.T) {
	for _, preset := range presets {
		hRules, sRules, defs := ruleSets(t, preset)
		for _, d := range labelDifferences {
			for _, def := range defs {
				h, s := findRule(hRules, d.record, def.name), findRule(sRules, d.record, def.name)
				if h == nil || s == nil {
					t.Fatalf("%s %s %s: headroom's rule %v, Sloth's %v", preset, def.name, d.record, h, s)
				}
				if got := h.Labels[d.label]; got != d.headroom {
					t.Errorf("%s %s %s: headroom's %s is %q, the difference says %q", preset, def.name, d.record, d.label, got, d.headroom)
				}
				got := s.Labels[d.label]
				if d.sloth == "*" && got == "" || d.sloth != "*" && got != d.sloth {
					t.Errorf("%s %s %s: Sloth's %s is %q, the difference says %q", preset, def.name, d.record, d.label, got, d.sloth)
				}
			}
		}
	}
}

func findRule(f rulesFile, record, slo string) *rule {
	for _, g := range f.Groups {
		for i, r := range g.Rules {
			if r.Record == record && r.Labels["sloth_slo"] == slo {
				return &g.Rules[i]
			}
		}
	}
	return nil
}

// valueDifference is a story over which headroom's values differ from
// Sloth's on purpose, with what each side records.
type valueDifference struct {
	name, why string
	story     scenario
	// check says where the two differ, and fails when they do not differ
	// that way.
	check func(t *testing.T, h, s recording)
}

// valueDifferences are all of them. The story of
// TestHeadroomRecordsWhatSlothRecords has neither cause: its failed
// requests' series exists from the start and its traffic never stops.
var valueDifferences = []valueDifference{
	{
		name: "no failed request yet",
		why: "client libraries create the failed requests' series at the first failure; until then Sloth's error ratio " +
			"has no series (its dashboards show no data) and its 30d ratio averages only the time since, overstating it; " +
			"headroom records 0 (`or ... * 0`)",
		story: scenario{span: 12 * time.Hour, traffic: swinging, lazyErrors: true,
			bad: func(slo string, t time.Duration) float64 {
				if slo == "availability" && t >= 6*time.Hour && t < 7*time.Hour {
					return 0.05
				}
				return 0
			}},
		check: func(t *testing.T, h, s recording) {
			const sli = "slo:sli_error:ratio_rate5m"
			early := at(5 * time.Hour)
			hv, okH := sampleAt(h, sli, "availability", early)
			_, okS := sampleAt(s, sli, "availability", early)
			if !okH || hv != 0 || okS {
				t.Errorf("%s at 5h: headroom %g (recorded %t), Sloth recorded %t; want headroom 0, Sloth nothing", sli, hv, okH, okS)
			}
			const period = "slo:sli_error:ratio_rate30d"
			end := at(12 * time.Hour)
			hp, _ := sampleAt(h, period, "availability", end)
			sp, _ := sampleAt(s, period, "availability", end)
			if !(hp > 0 && sp > 1.5*hp) {
				t.Errorf("%s at the end: headroom %g, Sloth %g; want Sloth's over the 6h since the first failure above headroom's over 12h", period, hp, sp)
			}
		},
	},
	{
		name: "no traffic",
		why: "an idle API's error ratio is 0/0: Sloth records NaN, which then holds every sum_over_time over it, so its " +
			"30d ratio and period burn rate stay NaN for 30 days; headroom records nothing (`/ (total > 0)`)",
		story: scenario{span: 8 * time.Hour,
			traffic: func(t time.Duration) float64 {
				if t >= 3*time.Hour && t < 4*time.Hour {
					return 0
				}
				return 20
			},
			bad: func(string, time.Duration) float64 { return 0.01 }},
		check: func(t *testing.T, h, s recording) {
			const sli = "slo:sli_error:ratio_rate5m"
			for _, slo := range []string{"availability", "latency"} {
				idle := at(3*time.Hour + 30*time.Minute)
				_, okH := sampleAt(h, sli, slo, idle)
				sv, okS := sampleAt(s, sli, slo, idle)
				if okH || !okS || !math.IsNaN(sv) {
					t.Errorf("%s{slo=%q} while idle: headroom recorded %t, Sloth %g (recorded %t); want headroom nothing, Sloth NaN", sli, slo, okH, sv, okS)
				}
				const period = "slo:period_burn_rate:ratio"
				end := at(8 * time.Hour)
				hp, okH := sampleAt(h, period, slo, end)
				sp, _ := sampleAt(s, period, slo, end)
				if !okH || math.IsNaN(hp) || !math.IsNaN(sp) {
					t.Errorf("%s{slo=%q} at the end: headroom %g, Sloth %g; want headroom a number, Sloth NaN", period, slo, hp, sp)
				}
			}
		},
	},
}

var origin = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) int64 { return origin.Add(d).UnixMilli() }

// sampleAt is the sample of the record of an SLO at t.
func sampleAt(r recording, record, slo string, t int64) (float64, bool) {
	for _, s := range r[record] {
		if s.labels.Get("sloth_slo") == slo {
			v, ok := s.samples[t]
			return v, ok
		}
	}
	return 0, false
}

// TestValueDifferencesOnPurpose runs each valueDifference's story over the
// health-agent preset (both SLOs) and holds both sides to it.
func TestValueDifferencesOnPurpose(t *testing.T) {
	hRules, sRules, defs := ruleSets(t, "health-agent")
	for _, d := range valueDifferences {
		t.Run(d.name, func(t *testing.T) {
			h, s := run(t, hRules, sRules, defs, d.story)
			d.check(t, h, s)
			if diffs, _ := compare(h, s); len(diffs) == 0 {
				t.Errorf("the comparison finds no difference over the story %q", d.name)
			}
		})
	}
}

// TestComparisonCatchesAMismatch alters one headroom rule in memory at a
// time, as a generator bug would, and wants the comparison to name it.
func TestComparisonCatchesAMismatch(t *testing.T) {
	hRules, sRules, defs := ruleSets(t, "health-agent")
	short := story
	short.span = 8 * time.Hour
	short.bad = func(slo string, t time.Duration) float64 {
		if t >= 2*time.Hour && t < 3*time.Hour {
			return 0.3
		}
		return 0.01
	}
	cases := []struct {
		name, record string
		alter        func(r *rule) bool // false: drop the rule
		want         string
	}{
		{"the pages at 0.5", burnAlert, func(r *rule) bool {
			r.Expr = strings.NewReplacer("> 0.144", "> 0.5", "> 0.06", "> 0.5").Replace(r.Expr)
			return true
		}, "Sloth's page fires, no critical one"},
		{"the burn rate over twice the budget", "slo:current_burn_rate:ratio",
			func(r *rule) bool { r.Expr = strings.Replace(r.Expr, "/ 0.01", "/ 0.02", 1); return true }, "headroom"},
		{"the 1h ratio over 2h", "slo:sli_error:ratio_rate1h",
			func(r *rule) bool { r.Expr = strings.ReplaceAll(r.Expr, "[1h]", "[2h]"); return true }, "headroom"},
		{"the period ratio as a max", "slo:sli_error:ratio_rate30d",
			func(r *rule) bool { r.Expr = strings.Replace(r.Expr, "avg_over_time", "max_over_time", 1); return true }, "headroom"},
		{"no sloth_window", "slo:sli_error:ratio_rate30d",
			func(r *rule) bool { delete(r.Labels, "sloth_window"); return true }, "only headroom records these labels"},
		{"no objective", "slo:objective:ratio",
			func(*rule) bool { return false }, "only Sloth records these labels"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var altered rulesFile
			for _, g := range hRules.Groups {
				var rs []rule
				for _, r := range g.Rules {
					r.Labels = cloneMap(r.Labels)
					name := r.Record + r.Alert
					slo := r.Labels["slo"]
					if name == tc.record && slo == "availability" && !tc.alter(&r) {
						continue
					}
					rs = append(rs, r)
				}
				altered.Groups = append(altered.Groups, ruleGroup{Name: g.Name, Rules: rs})
			}
			h, s := run(t, altered, sRules, defs, short)
			diffs, _ := compare(h, s)
			alertDiffs, _ := compareAlerts(h, s, sloNames(defs))
			found := false
			for _, d := range append(diffs, alertDiffs...) {
				if strings.HasPrefix(d, tc.record+"{") && strings.Contains(d, tc.want) {
					found = true
				}
			}
			if !found {
				t.Errorf("no difference on %s naming %q:\n%s", tc.record, tc.want, report(diffs))
			}
		})
	}
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
