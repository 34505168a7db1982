package promtest

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/headroom-dev/headroom/alerts"
	"github.com/headroom-dev/headroom/catalogue"

	"github.com/prometheus/common/model"
)

// Two services, each with its own config (service, API selector and
// CPUHigh threshold), have their bundles loaded into one promtool run over
// the same input values: each alerts at its own threshold only, and one
// service's firing alert never holds the other's through the hysteresis
// join, even while the other's signal sits inside its own margin (their
// Alertmanager inhibitions: alerts' TestTwoServicesMuteOnlyTheirOwnAlerts).
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
		for _, f := range []string{alerts.FileRules, alerts.FileAlerts} {
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
		for _, g := range alerts.RecordingRules(catalogue.MustBuild(cfg)).Groups {
			recording = append(recording, g.Name)
		}
		for _, g := range alerts.AlertingRules(catalogue.MustBuild(cfg)).Groups {
			alerting = append(alerting, g.Name)
		}
		tr, ok := catalogue.MustBuild(cfg).Trigger(catalogue.TriggerCPUHigh)
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
	b, err := alerts.YAML(tf)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "two-services-test.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	tool(t, dir, "promtool", "test", "rules", "two-services-test.yaml")

}
