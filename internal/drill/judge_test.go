package drill

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func ms(n ...int) []time.Duration {
	out := make([]time.Duration, len(n))
	for i, v := range n {
		out[i] = time.Duration(v) * time.Millisecond
	}
	return out
}

func TestStatsOf(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(100-i) * time.Millisecond // unsorted on purpose
	}
	for _, tc := range []struct {
		name          string
		latencies     []time.Duration
		successes     int
		ratio         float64
		p50, p95, p99 time.Duration
	}{
		{"no requests", nil, 0, math.NaN(), 0, 0, 0},
		{"one", ms(7), 1, 1, 7 * time.Millisecond, 7 * time.Millisecond, 7 * time.Millisecond},
		{"a hundred, nearest rank", hundred, 99, 0.99, 50 * time.Millisecond, 95 * time.Millisecond, 99 * time.Millisecond},
		{"all errors", ms(1, 2, 3, 4), 0, 0, 2 * time.Millisecond, 4 * time.Millisecond, 4 * time.Millisecond},
	} {
		s := StatsOf(tc.latencies, tc.successes)
		if s.Requests != len(tc.latencies) || !(s.SuccessRatio == tc.ratio || math.IsNaN(s.SuccessRatio) && math.IsNaN(tc.ratio)) ||
			s.P50 != tc.p50 || s.P95 != tc.p95 || s.P99 != tc.p99 {
			t.Errorf("%s: %+v", tc.name, s)
		}
	}
}

func TestJudgeSLO(t *testing.T) {
	slo := SLO{SuccessRatio: ptr(0.99), P95: mdur("1500ms")}
	for _, tc := range []struct {
		name  string
		stats Stats
		met   bool
		why   string
	}{
		{"met", StatsOf(ms(100, 200, 1500), 3), true, ""},
		{"p95 at the limit is met", Stats{Requests: 1, Successes: 1, SuccessRatio: 1, P95: 1500 * time.Millisecond}, true, ""},
		{"slow", Stats{Requests: 10, Successes: 10, SuccessRatio: 1, P95: 1501 * time.Millisecond}, false, "p95 1.501s above 1.5s"},
		{"99 % is met", Stats{Requests: 100, Successes: 99, SuccessRatio: 0.99}, true, ""},
		{"98.99 % is not", Stats{Requests: 10000, Successes: 9899, SuccessRatio: 0.9899}, false, "success ratio 98.99% below 99.00%"},
		{"all errors", StatsOf(ms(1, 1), 0), false, "success ratio 0.00% below 99.00%"},
		{"zero requests", StatsOf(nil, 0), false, "no requests completed"},
	} {
		met, why := JudgeSLO(tc.stats, slo)
		if met != tc.met || !strings.Contains(strings.Join(why, "; "), tc.why) {
			t.Errorf("%s: met %v %q, want %v %q", tc.name, met, why, tc.met, tc.why)
		}
	}
}

func TestJudgeRegression(t *testing.T) {
	r := Regression{P95Increase: ptr(0.10), SuccessDrop: ptr(0.005)}
	base := BaselineDrill{Requests: 1000, SuccessRatio: 0.999, P95Seconds: 0.200}
	for _, tc := range []struct {
		name      string
		stats     Stats
		regressed bool
		why       string
	}{
		{"same", Stats{Requests: 10, SuccessRatio: 0.999, P95: 200 * time.Millisecond}, false, ""},
		{"p95 +10 % tolerated", Stats{Requests: 10, SuccessRatio: 0.999, P95: 220 * time.Millisecond}, false, ""},
		{"p95 +11 %", Stats{Requests: 10, SuccessRatio: 0.999, P95: 222 * time.Millisecond}, true, "p95 222ms, baseline 200ms"},
		{"success -0.5 point tolerated", Stats{Requests: 10, SuccessRatio: 0.994, P95: 100 * time.Millisecond}, false, ""},
		{"success -0.6 point", Stats{Requests: 10, SuccessRatio: 0.993, P95: 100 * time.Millisecond}, true, "success ratio 99.30%, baseline 99.90%"},
		{"all errors", Stats{Requests: 10, SuccessRatio: 0, P95: 1 * time.Millisecond}, true, "success ratio 0.00%"},
		{"zero requests: judged by the SLO, not here", Stats{SuccessRatio: math.NaN()}, false, ""},
	} {
		got, why := JudgeRegression(tc.stats, base, r)
		if got != tc.regressed || !strings.Contains(strings.Join(why, "; "), tc.why) {
			t.Errorf("%s: regressed %v %q, want %v %q", tc.name, got, why, tc.regressed, tc.why)
		}
	}
}

func TestExitCode(t *testing.T) {
	pass := DrillResult{Verdict: Verdict{SLOMet: true}}
	slo := DrillResult{Verdict: Verdict{SLOMet: false}}
	reg := DrillResult{Verdict: Verdict{SLOMet: true, Regressed: true}}
	stopped := DrillResult{Verdict: Verdict{SLOMet: true}, Interrupted: true}
	for _, tc := range []struct {
		results []DrillResult
		want    int
	}{
		{[]DrillResult{pass, pass}, ExitPass},
		{[]DrillResult{reg, pass}, ExitRegression},
		{[]DrillResult{reg, slo}, ExitSLOFailed},
		{[]DrillResult{slo, reg}, ExitSLOFailed},
		{[]DrillResult{slo, stopped}, ExitInterrupted},
	} {
		if got := ExitCode(tc.results); got != tc.want {
			t.Errorf("%+v: exit %d, want %d", tc.results, got, tc.want)
		}
	}
}

func TestBaselineRoundTrip(t *testing.T) {
	dir := t.TempDir()
	results := []DrillResult{
		{Drill: Drill{Name: "step"}, Stats: Stats{Requests: 100, SuccessRatio: 0.98, P95: 250 * time.Millisecond}},
		{Drill: Drill{Name: "empty"}, Stats: StatsOf(nil, 0)},
	}
	path := filepath.Join(dir, "baseline.json")
	f, _ := os.Create(path)
	if err := WriteJSON(f, BaselineOf(results)); err != nil {
		t.Fatal(err)
	}
	f.Close()
	b, err := ReadBaseline(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Drills) != 1 || b.Drills["step"].P95Seconds != 0.25 || b.Drills["step"].SuccessRatio != 0.98 {
		t.Errorf("read back %+v", b)
	}
	for name, text := range map[string]string{
		"other schema": `{"schema": "headroom.drill.baseline/v0", "drills": {}}`,
		"bad ratio":    `{"schema": "` + BaselineSchema + `", "drills": {"x": {"requests": 1, "success_ratio": 2, "p95_seconds": 1}}}`,
		"not json":     `drills: {}`,
	} {
		p := filepath.Join(dir, "bad.json")
		os.WriteFile(p, []byte(text), 0o644)
		if _, err := ReadBaseline(p); err == nil || !strings.Contains(err.Error(), "regression.baseline") {
			t.Errorf("%s: %v", name, err)
		}
	}
}
