package alerts

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/headroom-dev/headroom/catalogue"

	"github.com/prometheus/common/model"
)

// Two services, each with its own config (service, API selector and
// CPUHigh threshold), have their bundles loaded into one promtool run over
// the same input values: each alerts at its own threshold only, and one
// service's firing alert never holds the other's through the hysteresis
// join, even while the other's signal sits inside its own margin; with
// both bundles' inhibitions in one Alertmanager, neither mutes the other.
func TestTwoServicesAlertAtTheirOwnThresholds(t *testing.T) {
	cfgs := []*catalogue.Config{
		fromYAML("health-agent", "service: checkout\nselectors: {api: 'job=\"checkout\"'}\ntriggers: {CPUHigh: {threshold: 0.7}}\n")(t),
		fromYAML("health-agent", "service: search\nselectors: {api: 'job=\"search\"'}\ntriggers: {CPUHigh: {threshold: 0.9}}\n")(t),
	}
	// 80%: past checkout's 70% only. 87%: inside search's margin (85-90%)
	// while checkout fires, for longer than CPUHigh's 10m. 68%: inside checkout's margin (65-70%), which
	// holds checkout's alert. 50%: past both clear levels.
	vals := phases(0.8, 18, 0.87, 14, 0.68, 10, 0.5, 10)
	dir := t.TempDir()
	var ruleFiles, recording, alerting []string
	var series []inputSeries
	type service struct {
		trigger catalogue.Trigger
		labels  map[string]string
		states  []alertState
	}
	var services []service
	for _, cfg := range cfgs {
		sub, _ := generateTo(t, cfg)
		for _, f := range []string{FileRules, FileAlerts} {
			b, err := os.ReadFile(filepath.Join(sub, f))
			if err != nil {
				t.Fatal(err)
			}
			name := cfg.Service + "-" + f
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
			ruleFiles = append(ruleFiles, name)
		}
		for _, g := range RecordingRules(catalogue.MustBuild(cfg)).Groups {
			recording = append(recording, g.Name)
		}
		for _, g := range AlertingRules(catalogue.MustBuild(cfg)).Groups {
			alerting = append(alerting, g.Name)
		}
		tr, ok := findTrigger(catalogue.Catalogue(cfg), "CPUHigh")
		if !ok {
			t.Fatalf("%s: no CPUHigh", cfg.Service)
		}
		g := testGen{cfg: cfg, t: tr, cat: catalogue.Catalogue(cfg)}
		f, l, err := g.run(vals, testStep)
		if err != nil {
			t.Fatal(err)
		}
		series = append(series, f.series...)
		services = append(services, service{tr, l, simulateAlert(tr, simulate(tr.Signal, vals))})
	}

	var checks []alertTest
	firedFor := map[string]int{}
	for _, k := range []int{17, 18 + 13, 32 + 9, 42 + 9} {
		exp := []expAlert{}
		for _, s := range services {
			st := s.states[k]
			if !st.firing {
				continue
			}
			firedFor[s.trigger.Service]++
			a, err := alertFor(s.trigger, s.labels, st.value.v)
			if err != nil {
				t.Fatal(err)
			}
			exp = append(exp, a)
		}
		checks = append(checks, alertTest{EvalTime: at(k), Alertname: "CPUHigh", ExpAlerts: exp})
	}
	// What the checks expect: checkout fires at 80% and holds at 68%;
	// search never fires; both are resolved at 50%.
	if firedFor["checkout"] != 3 || firedFor["search"] != 0 {
		t.Fatalf("the simulation expects checkout firing %d times, search %d; want 3 and 0", firedFor["checkout"], firedFor["search"])
	}
	tf := testFile{
		RuleFiles: ruleFiles, EvaluationInterval: model.Duration(testStep), GroupEvalOrder: append(recording, alerting...),
		Tests: []testGroup{{Name: "checkout (70%) and search (90%) at the same CPU", Interval: model.Duration(testStep),
			InputSeries: series, AlertRuleTests: checks}},
	}
	b, err := marshalYAML(tf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "two-services-test.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	tool(t, dir, "promtool", "test", "rules", "two-services-test.yaml")

	// Both bundles' inhibitions in one Alertmanager: a scale-up or outage
	// of one service mutes that service's alerts only.
	am := loadAlertmanager(t, cfgs[0])
	am.InhibitRules = append(am.InhibitRules, loadAlertmanager(t, cfgs[1]).InhibitRules...)
	alert := func(cfg *catalogue.Config, id string, extra ...string) model.LabelSet {
		tr, ok := findTrigger(catalogue.Catalogue(cfg), id)
		if !ok {
			t.Fatalf("%s: no %s", cfg.Service, id)
		}
		return sampleAlert(tr, extra...)
	}
	checkout, search := cfgs[0], cfgs[1]
	for _, tc := range []struct {
		name   string
		firing model.LabelSet
		target model.LabelSet
		want   bool
	}{
		{"checkout's CPULow while checkout's CPUHigh", alert(checkout, "CPUHigh"), alert(checkout, "CPULow"), true},
		{"search's CPULow while checkout's CPUHigh", alert(checkout, "CPUHigh"), alert(search, "CPULow"), false},
		{"search's APIErrorRateHigh while search's APIDown", alert(search, "APIDown", "target", "api"), alert(search, "APIErrorRateHigh"), true},
		{"checkout's APIErrorRateHigh while search's APIDown", alert(search, "APIDown", "target", "api"), alert(checkout, "APIErrorRateHigh"), false},
	} {
		if got := muted(t, am, []model.LabelSet{tc.firing}, tc.target); got != tc.want {
			t.Errorf("%s: muted %v, want %v", tc.name, got, tc.want)
		}
	}
}
