package promtest

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/alerts"
	"github.com/headroom-dev/headroom/catalogue"

	"github.com/prometheus/prometheus/model/labels"
	"gopkg.in/yaml.v3"
)

var snake = regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)

func TestEveryAlertCarriesTheLabelsAndAnnotations(t *testing.T) {
	for _, v := range variants {
		cfg := v.cfg(t)
		files, err := Bundle(catalogue.MustBuild(cfg))
		if err != nil {
			t.Fatal(err)
		}
		runbook := string(files[alerts.FileRunbook])
		ids := map[string]bool{}
		for _, tr := range catalogue.Catalogue(cfg) {
			if ids[string(tr.ID)] {
				t.Errorf("%s: id %s twice", v.name, tr.ID)
			}
			ids[string(tr.ID)] = true
			l := alerts.AlertRule(tr).Labels
			for _, k := range []string{"severity", "urgency", "direction", "action", "service"} {
				if l[k] == "" {
					t.Errorf("%s %s: no %s label", v.name, tr.ID, k)
				}
			}
			if !slices.Contains([]string{catalogue.SeverityCritical, catalogue.SeverityWarning, catalogue.SeverityInfo}, l["severity"]) {
				t.Errorf("%s: severity %q", tr.ID, l["severity"])
			}
			if !slices.Contains([]string{catalogue.UrgencyCritical, catalogue.UrgencyHigh, catalogue.UrgencyMedium, catalogue.UrgencyLow}, l["urgency"]) {
				t.Errorf("%s: urgency %q", tr.ID, l["urgency"])
			}
			if !slices.Contains([]string{"up", "down", "none"}, l["direction"]) {
				t.Errorf("%s: direction %q", tr.ID, l["direction"])
			}
			if !snake.MatchString(l["action"]) {
				t.Errorf("%s: action %q is not snake_case", tr.ID, l["action"])
			}
			if l["service"] != cfg.Service {
				t.Errorf("%s: service %q", tr.ID, l["service"])
			}
			a := alerts.AlertRule(tr).Annotations
			if a["summary"] == "" || !strings.Contains(a["description"], "$value") {
				t.Errorf("%s: summary %q, description without the live value: %q", tr.ID, a["summary"], a["description"])
			}
			if !strings.HasPrefix(a["runbook_url"], cfg.RunbookURL+"#") {
				t.Errorf("%s: runbook_url %q", tr.ID, a["runbook_url"])
			}
			anchor := strings.TrimPrefix(a["runbook_url"], cfg.RunbookURL+"#")
			if !strings.Contains(runbook, "\n## "+tr.Alert+"\n") || anchor != strings.ToLower(tr.Alert) {
				t.Errorf("%s: RUNBOOK.md has no section for anchor #%s", tr.ID, anchor)
			}
			if _, err := expandTemplate(a["description"], map[string]string{"target": "x"}, 1); err != nil {
				t.Errorf("%s: %v", tr.ID, err)
			}
		}
	}
}

func TestSimulatorMatchesTheRateRamp(t *testing.T) {
	s := catalogue.Signal{Window: 5 * time.Minute, Shape: catalogue.ShapeRate}
	got := simulate(s, constant(8, 1))
	want := []float64{0, 0.2, 0.4, 0.6, 0.8, 1, 1, 1}
	for k, w := range want[1:] {
		if got[k+1].v != w || !got[k+1].present {
			t.Errorf("step %d: %v, want %v", k+1, got[k+1], w)
		}
	}
	if got[0].present {
		t.Error("a rate with one sample is present")
	}
}

// ScaleOutExceedsDBConnections exists only where the pool size per pod is
// known and an autoscaler is configured; it tickets and scales nothing.
func TestDBConnectionGuardAlert(t *testing.T) {
	find := func(cfg *catalogue.Config) (catalogue.Trigger, bool) {
		for _, tr := range catalogue.Catalogue(cfg) {
			if tr.ID == catalogue.AlertScaleOutExceedsDBConnections {
				return tr, true
			}
		}
		return catalogue.Trigger{}, false
	}
	ha, err := catalogue.Preset("health-agent")
	if err != nil {
		t.Fatal(err)
	}
	tr, ok := find(ha)
	if !ok {
		t.Fatal("health-agent (pool size 13 from 4 cores) has no ScaleOutExceedsDBConnections")
	}
	if tr.Severity != catalogue.SeverityWarning || tr.Direction != catalogue.None || tr.Action != "lower_max_replicas_or_raise_db_connections" || tr.For != 15*time.Minute {
		t.Errorf("ScaleOutExceedsDBConnections: severity %s direction %s action %s for %v", tr.Severity, tr.Direction, tr.Action, tr.For)
	}
	for _, want := range []string{`kube_horizontalpodautoscaler_spec_max_replicas{horizontalpodautoscaler="health-agent-api-hpa"}`, "vector(20)", ") * 13",
		"headroom_pgbouncer_config_max_client_connections"} {
		if !strings.Contains(tr.Expr, want) {
			t.Errorf("expression lacks %s:\n%s", want, tr.Expr)
		}
	}
	amas, err := catalogue.Preset("amas")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := find(amas); ok {
		t.Error("amas (no pool size, no cores) has ScaleOutExceedsDBConnections")
	}
	for _, tc := range []struct{ yaml, want string }{
		{"autoscaling: {autoscaler: none}", ""},
		{"autoscaling: {db: {connects_through: postgres}}", "headroom_postgres_in_recovery"},
		{"autoscaling: {autoscaler: keda, db: {connects_through: postgres}}", `horizontalpodautoscaler=~"keda-hpa-health-agent-api-scaler|health-agent-api-hpa"`},
	} {
		cfg, err := catalogue.LoadOnto("health-agent", []byte(tc.yaml))
		if err != nil {
			t.Fatalf("%s: %v", tc.yaml, err)
		}
		tr, ok := find(cfg)
		if ok != (tc.want != "") || (ok && !strings.Contains(tr.Expr, tc.want)) {
			t.Errorf("%s: alert %v, expression %q; want %q", tc.yaml, ok, tr.Expr, tc.want)
		}
	}
	if _, err := catalogue.LoadOnto("health-agent", []byte("autoscaling: {db: {connects_through: mysql}}")); err == nil || !strings.Contains(err.Error(), "autoscaling.db.connects_through") {
		t.Errorf("connects_through mysql: %v", err)
	}
}

// Every alert with hysteresis, in every preset, has a generated promtool
// group that oscillates inside its margin, counts one firing alert at every
// evaluation there, and ends resolved; so has every scope with hysteresis
// whose matchers are plain equalities (the scoped variant), and its count
// is of the scope's own alerts, scope label and all, which the scope's
// ALERTS join must match to hold.
func TestEveryHysteresisHasAnOscillationTest(t *testing.T) {
	configs := map[string]func(t *testing.T) *catalogue.Config{}
	for _, p := range catalogue.Presets() {
		configs[p] = preset(p)
	}
	for _, v := range variants {
		if v.name == "health-agent-scoped" {
			configs[v.name] = v.cfg
		}
	}
	if len(configs) != len(catalogue.Presets())+1 {
		t.Fatalf("no variant health-agent-scoped in bundle_test.go")
	}
	for name, load := range configs {
		cfg := load(t)
		files, err := Bundle(catalogue.MustBuild(cfg))
		if err != nil {
			t.Fatal(err)
		}
		groups := map[string]testGroup{}
		for _, f := range files.Names() {
			if !strings.HasPrefix(f, alerts.TestsDir+"/") {
				continue
			}
			var tf testFile
			if err := yaml.Unmarshal(files[f], &tf); err != nil {
				t.Fatal(err)
			}
			for _, g := range tf.Tests {
				if id, _, ok := strings.Cut(g.Name, ": hysteresis: "); ok {
					groups[id] = g
				}
			}
		}
		n, scoped := 0, 0
		for _, tr := range catalogue.Catalogue(cfg) {
			rules := []catalogue.Trigger{tr}
			for _, s := range tr.Scopes {
				if s.Hysteresis() && plainEqualities(s) {
					rules = append(rules, s)
				}
			}
			for _, r := range rules {
				if !r.Hysteresis() {
					continue
				}
				id := string(r.ID)
				if r.Match != "" {
					id += " where " + r.Match
					scoped++
				}
				n++
				g, ok := groups[id]
				if !ok {
					t.Errorf("%s: %s has no hysteresis test group", name, id)
					continue
				}
				if len(g.PromQLTests) != 1 || !strings.HasPrefix(g.PromQLTests[0].Expr, "count_over_time(ALERTS{alertname=\""+r.Alert+"\"") ||
					len(g.PromQLTests[0].ExpSamples) != 1 || g.PromQLTests[0].ExpSamples[0].Value < 4 {
					t.Errorf("%s: %s: no count of its firing evaluations: %+v", name, id, g.PromQLTests)
				} else if r.Match != "" && !strings.Contains(g.PromQLTests[0].ExpSamples[0].Labels, fmt.Sprintf("scope=%q", r.Match)) {
					t.Errorf("%s: %s: the count is not of the scope's alerts: %s", name, id, g.PromQLTests[0].ExpSamples[0].Labels)
				}
				last := g.AlertRuleTests[len(g.AlertRuleTests)-1]
				if len(last.ExpAlerts) != 0 {
					t.Errorf("%s: %s: the group does not end resolved", name, id)
				}
				for _, c := range g.AlertRuleTests[:4] {
					if len(c.ExpAlerts) != 1 {
						t.Errorf("%s: %s at %v: %d alerts inside the margin, want 1", name, id, c.EvalTime, len(c.ExpAlerts))
					}
				}
			}
		}
		if n == 0 {
			t.Errorf("%s: no trigger with hysteresis", name)
		}
		if name == "health-agent-scoped" && scoped == 0 {
			t.Errorf("%s: no scope with hysteresis", name)
		}
	}
}

// plainEqualities reports whether a scope's matchers are all label="value",
// the scopes a fixture can be relabeled into.
func plainEqualities(s catalogue.Trigger) bool {
	for _, m := range s.Matchers {
		if m.Type != labels.MatchEqual || m.Value == "" {
			return false
		}
	}
	return true
}

// Every description, of every rule and scope in every preset and variant,
// states its own action label in words, once: the sentence is built in one
// place (ActionSentence) from the trigger's Action, whether the
// description is derived or written out.
func TestDescriptionsStateTheirAction(t *testing.T) {
	for _, v := range variants {
		cfg := v.cfg(t)
		for _, tr := range catalogue.Catalogue(cfg) {
			for _, r := range append([]catalogue.Trigger{tr}, tr.Scopes...) {
				if r.Action == "" {
					continue
				}
				want := catalogue.ActionSentence(r.Action)
				if n := strings.Count(r.Description, " Action: "); n != 1 || !strings.Contains(r.Description, want) {
					t.Errorf("%s: %s %s: description %q, want %q once", v.name, r.ID, r.Match, r.Description, want)
				}
			}
		}
	}
}
