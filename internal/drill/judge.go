package drill

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"slices"
	"time"
)

// Stats are what a drill's responses came to.
type Stats struct {
	Requests int `json:"requests"`
	// Successes are 2xx responses: a redirect is not followed, so it is
	// not counted as served.
	Successes int `json:"successes"`
	// SuccessRatio is NaN (null in JSON) without requests.
	SuccessRatio float64 `json:"-"`
	// Latencies are over every response, errors included, as vegeta and
	// k6 count them; NaN without requests.
	P50 time.Duration `json:"-"`
	P95 time.Duration `json:"-"`
	P99 time.Duration `json:"-"`
	Max time.Duration `json:"-"`
}

// StatsOf computes the stats of latencies (one per request) of which
// successes succeeded.
func StatsOf(latencies []time.Duration, successes int) Stats {
	s := Stats{Requests: len(latencies), Successes: successes, SuccessRatio: math.NaN()}
	if len(latencies) == 0 {
		return s
	}
	sorted := slices.Clone(latencies)
	slices.Sort(sorted)
	s.SuccessRatio = float64(successes) / float64(len(latencies))
	s.P50, s.P95, s.P99 = quantile(sorted, 0.5), quantile(sorted, 0.95), quantile(sorted, 0.99)
	s.Max = sorted[len(sorted)-1]
	return s
}

// quantile is the nearest-rank quantile of sorted values: the smallest
// value with at least q of the values at or below it.
func quantile(sorted []time.Duration, q float64) time.Duration {
	rank := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

// Verdict is a drill's SLO and regression judgement.
type Verdict struct {
	SLOMet     bool     `json:"slo_met"`
	SLOFailed  []string `json:"slo_failed,omitempty"`
	Regressed  bool     `json:"regressed"`
	Regression []string `json:"regression,omitempty"`
	// NoBaseline says the baseline had no such drill (or no requests in
	// it), so nothing was compared.
	NoBaseline bool `json:"no_baseline,omitempty"`
}

// JudgeSLO checks stats against the SLO. No requests fail it: nothing was
// measured, which a CI gate must not read as a pass.
func JudgeSLO(s Stats, slo SLO) (met bool, why []string) {
	if s.Requests == 0 {
		return false, []string{"no requests completed: nothing to judge"}
	}
	if want := *slo.SuccessRatio; s.SuccessRatio < want {
		why = append(why, fmt.Sprintf("success ratio %s below %s", percent(s.SuccessRatio), percent(want)))
	}
	if want := time.Duration(slo.P95); s.P95 > want {
		why = append(why, fmt.Sprintf("p95 %s above %s", s.P95.Round(time.Millisecond), want))
	}
	return len(why) == 0, why
}

// JudgeRegression compares stats with a baseline drill's: p95 may rise by
// the relative tolerance, the success ratio fall by the absolute one.
func JudgeRegression(s Stats, base BaselineDrill, r Regression) (regressed bool, why []string) {
	if s.Requests == 0 {
		return false, nil
	}
	basePct := time.Duration(base.P95Seconds * float64(time.Second))
	if limit := float64(basePct) * (1 + *r.P95Increase); float64(s.P95) > limit {
		why = append(why, fmt.Sprintf("p95 %s, baseline %s (+%s tolerated)", s.P95.Round(time.Millisecond),
			basePct.Round(time.Millisecond), percent(*r.P95Increase)))
	}
	if limit := base.SuccessRatio - *r.SuccessDrop; s.SuccessRatio < limit-1e-12 {
		why = append(why, fmt.Sprintf("success ratio %s, baseline %s (-%.1f points tolerated)", percent(s.SuccessRatio),
			percent(base.SuccessRatio), 100**r.SuccessDrop))
	}
	return len(why) > 0, why
}

// BaselineSchema names the baseline file's version: a file of another
// version is refused by name rather than misread.
const BaselineSchema = "headroom.drill.baseline/v1"

// Baseline is a saved run's stats per drill, the file --save-baseline
// writes and regression.baseline reads.
type Baseline struct {
	Schema string                   `json:"schema"`
	Drills map[string]BaselineDrill `json:"drills"`
}

// BaselineDrill is one drill's saved stats.
type BaselineDrill struct {
	Requests     int     `json:"requests"`
	SuccessRatio float64 `json:"success_ratio"`
	P95Seconds   float64 `json:"p95_seconds"`
}

// BaselineOf is the baseline a run's drills make; drills without
// requests are left out.
func BaselineOf(results []DrillResult) Baseline {
	b := Baseline{Schema: BaselineSchema, Drills: map[string]BaselineDrill{}}
	for _, r := range results {
		if r.Stats.Requests == 0 {
			continue
		}
		b.Drills[r.Drill.Name] = BaselineDrill{Requests: r.Stats.Requests, SuccessRatio: r.Stats.SuccessRatio, P95Seconds: r.Stats.P95.Seconds()}
	}
	return b
}

// ReadBaseline reads a baseline file, refusing another schema.
func ReadBaseline(path string) (Baseline, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Baseline{}, fmt.Errorf("regression.baseline: %w", err)
	}
	var b Baseline
	if err := json.Unmarshal(data, &b); err != nil {
		return Baseline{}, fmt.Errorf("regression.baseline %s: %w", path, err)
	}
	if b.Schema != BaselineSchema {
		return Baseline{}, fmt.Errorf("regression.baseline %s: schema %q, want %q", path, b.Schema, BaselineSchema)
	}
	for name, d := range b.Drills {
		if d.Requests <= 0 || d.SuccessRatio < 0 || d.SuccessRatio > 1 || d.P95Seconds < 0 || math.IsNaN(d.P95Seconds) {
			return Baseline{}, fmt.Errorf("regression.baseline %s: drill %q: requests %d, success_ratio %v, p95_seconds %v out of range",
				path, name, d.Requests, d.SuccessRatio, d.P95Seconds)
		}
	}
	return b, nil
}

// Judge fills in each result's verdict; base may be nil (no baseline).
func Judge(results []DrillResult, slo SLO, r Regression, base *Baseline) {
	for i := range results {
		res := &results[i]
		res.Verdict.SLOMet, res.Verdict.SLOFailed = JudgeSLO(res.Stats, slo)
		if base == nil {
			continue
		}
		b, ok := base.Drills[res.Drill.Name]
		if !ok {
			res.Verdict.NoBaseline = true
			continue
		}
		res.Verdict.Regressed, res.Verdict.Regression = JudgeRegression(res.Stats, b, r)
	}
}

func percent(v float64) string {
	if math.IsNaN(v) {
		return "n/a"
	}
	return fmt.Sprintf("%.2f%%", 100*v)
}
