package promtest

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/headroom-dev/headroom/catalogue"
)

// everyTrigger is a config that includes every trigger set and a queue, so
// that every catalogue entry with a threshold is in it.
const everyTrigger = "include: [health-agent, amas, health, validation]\napi: {queue_depth_metric: queue_depth}\n"

// The catalogue's scale-up and scale-down triggers on one signal are named
// as pairs: the ones Validate keeps apart.
func TestScalePairsOfTheCatalogue(t *testing.T) {
	cfg, err := catalogue.LoadOnto("health-agent", []byte(everyTrigger))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range catalogue.ScalePairs(catalogue.Catalogue(cfg)) {
		got = append(got, string(p.Up.ID)+"/"+string(p.Down.ID))
	}
	sort.Strings(got)
	want := "CPUHigh/CPULow DBPoolHigh/DBPoolLow MemoryHigh/MemoryLow ResourcePressureCPU/CPULow ResourcePressureMemory/MemoryLow"
	if strings.Join(got, " ") != want {
		t.Errorf("pairs %v, want %s", got, want)
	}
}

// The range table is what the test builder can build: every trigger with a
// threshold generates at both ends of its range, and is refused just past
// them. The trigger's scale partners and margin are set aside, since the
// pair check is another test's.
func TestEveryThresholdInRangeGenerates(t *testing.T) {
	base, err := catalogue.LoadOnto("health-agent", []byte(everyTrigger))
	if err != nil {
		t.Fatal(err)
	}
	cat := catalogue.Catalogue(base)
	partners := map[string][]string{}
	for _, p := range catalogue.ScalePairs(cat) {
		partners[string(p.Up.ID)] = append(partners[string(p.Up.ID)], string(p.Down.ID))
		partners[string(p.Down.ID)] = append(partners[string(p.Down.ID)], string(p.Up.ID))
	}
	n := 0
	for _, tr := range cat {
		if tr.Comparison == catalogue.Custom {
			continue
		}
		lo, hi := catalogue.ThresholdRange(tr.Signal.Unit, tr.Comparison)
		if math.IsInf(hi, 1) {
			hi = 1e6
		}
		step := tr.Signal.Unit.Step()
		for _, v := range []struct {
			threshold float64
			ok        bool
		}{{lo, true}, {hi, true}, {lo - step, false}, {hi + step, hi == 1e6}} {
			text := everyTrigger + fmt.Sprintf("triggers:\n  %q: {threshold: %s, margin: 0}\n", tr.ID, catalogue.Num(v.threshold))
			for _, p := range partners[string(tr.ID)] {
				text += fmt.Sprintf("  %s: {enabled: false}\n", p)
			}
			cfg, err := catalogue.LoadOnto("health-agent", []byte(text))
			if !v.ok {
				if err == nil || !strings.Contains(err.Error(), "triggers."+string(tr.ID)+".threshold: "+catalogue.Num(v.threshold)+" is out of range") {
					t.Errorf("%s threshold %s: error %v, want it refused", tr.ID, catalogue.Num(v.threshold), err)
				}
				continue
			}
			if err != nil {
				t.Errorf("%s threshold %s refused: %v", tr.ID, catalogue.Num(v.threshold), err)
				continue
			}
			if err := buildAlertTests(cfg, tr.Alert); err != nil {
				t.Errorf("%s threshold %s, in range, does not generate: %v", tr.ID, catalogue.Num(v.threshold), err)
			}
			n++
		}
	}
	if n < 40 {
		t.Errorf("only %d thresholds generated; the catalogue has more", n)
	}
}

// A margin on the p95 latency too narrow for a histogram bucket per level
// of its hysteresis test is refused naming the margin and the narrowest
// that fits; one that fits generates, scoped or not.
func TestQuantileMargins(t *testing.T) {
	const cluster = "cluster_label: cluster\nautoscaling: {cluster: eu-1}\n"
	for _, tc := range []struct{ preset, text, want string }{
		{"health-agent", "triggers:\n  APILatencyP95High: {threshold: 2, margin: 0.05}\n",
			"triggers.APILatencyP95High.margin: 0.05 is too narrow for APILatencyP95High's threshold 2 (unit seconds): a p95 is interpolated within histogram buckets, " +
				"and the generated hysteresis test needs its levels inside the margin (1.9875 and 1.9625), the value it fires at and the value it recovers to a bucket each; here at least 0.098"},
		{"amas", cluster + "triggers:\n  LatencyP95High: {where: [{match: 'cluster=\"a\"', threshold: 3, margin: 0.2}]}\n",
			"triggers.LatencyP95High.where[0].margin: 0.2 is too narrow for LatencyP95High where {cluster=\"a\"}'s threshold 3 (unit seconds)"},
		{"health-agent", "triggers:\n  APILatencyP95High: {threshold: 2, margin: 0.1}\n", ""},
		{"amas", cluster + "triggers:\n  LatencyP95High: {where: [{match: 'cluster=\"a\"', threshold: 3, margin: 0.26}]}\n", ""},
	} {
		cfg := loadOrRefuse(t, fmt.Sprintf("%q", tc.text), tc.preset, tc.text, tc.want)
		if cfg == nil {
			continue
		}
		if _, err := Bundle(catalogue.MustBuild(cfg)); err != nil {
			t.Errorf("%q: %v", tc.text, err)
		}
	}
}

// catalogue.Build, which every generator's bundle comes from, validates the
// config it is given, so a config built in code with a contradiction is
// refused too, not only one read from a file.
func TestGenerateRefusesAContradiction(t *testing.T) {
	cfg, err := catalogue.Preset("health-agent")
	if err != nil {
		t.Fatal(err)
	}
	high, low := 0.5, 0.7
	cfg.Triggers["CPUHigh"] = catalogue.Override{Threshold: &high}
	cfg.Triggers["CPULow"] = catalogue.Override{Threshold: &low}
	if _, err := catalogue.Build(cfg); err == nil || !strings.Contains(err.Error(), "scale-down CPULow and scale-up CPUHigh can both fire") {
		t.Fatalf("generate: %v", err)
	}
}

// loadOrRefuse reads text onto a preset. With refused set, the load must
// fail naming it, and nil is returned; otherwise it must load. Either
// failure is reported under name.
func loadOrRefuse(t *testing.T, name, preset, text, refused string) *catalogue.Config {
	t.Helper()
	cfg, err := catalogue.LoadOnto(preset, []byte(text))
	switch {
	case refused != "":
		if err == nil || !strings.Contains(err.Error(), refused) {
			t.Errorf("%s:\nerror %v\nwant it to contain\n%s", name, err, refused)
		}
		return nil
	case err != nil:
		t.Errorf("%s: refused: %v", name, err)
		return nil
	}
	return cfg
}

// buildAlertTests builds the promtool tests of one alertname's rules, what
// a config must let the builder make; the whole bundle takes ten times as
// long.
func buildAlertTests(cfg *catalogue.Config, alert string) error {
	var family []catalogue.Trigger
	for _, m := range catalogue.Catalogue(cfg) {
		if m.Alert == alert {
			family = append(family, m)
		}
	}
	_, err := promtoolTests(cfg, family, nil, nil)
	return err
}
