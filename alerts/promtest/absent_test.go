package promtest

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/headroom-dev/headroom/alerts"
	"github.com/headroom-dev/headroom/catalogue"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"gopkg.in/yaml.v3"
)

// TestEveryAlertHasAnInputsAbsentCase reads each committed bundle: for
// every alertname of its alert rules, some promtool test of its tests/
// must be the alert's "inputs absent" case: none of the series the alert
// reads (through recording rules) is among the case's input series, and
// some alert is expected firing. TestBundles runs those tests with promtool,
// so what they expect is what Prometheus does: never silence.
func TestEveryAlertHasAnInputsAbsentCase(t *testing.T) {
	for _, preset := range catalogue.Presets() {
		t.Run(preset, func(t *testing.T) {
			dir := filepath.Join(mixinDir, preset)
			read := func(name string) rulefmt.RuleGroups {
				var g rulefmt.RuleGroups
				b, err := os.ReadFile(filepath.Join(dir, name))
				if err == nil {
					err = yaml.Unmarshal(b, &g)
				}
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				return g
			}
			records, alerting := recordsOf(read(alerts.FileRules)), read(alerts.FileAlerts)
			inputs := map[string]map[string]bool{}
			buckets := map[string][]catalogue.BucketInput{}
			var names []string
			for _, g := range alerting.Groups {
				for _, r := range g.Rules {
					if inputs[r.Alert] == nil {
						inputs[r.Alert] = map[string]bool{}
						names = append(names, r.Alert)
					}
					for _, m := range rawInputs(t, r.Expr, records) {
						inputs[r.Alert][m] = true
					}
					bs, err := catalogue.RawBuckets(r.Expr, records)
					if err != nil {
						t.Fatalf("%s: %v", r.Alert, err)
					}
					for _, b := range bs {
						if !containsBucket(buckets[r.Alert], b) {
							buckets[r.Alert] = append(buckets[r.Alert], b)
						}
					}
				}
			}
			// The latency SLO reads its target bucket by le: the walk
			// must see it, or the bucket cases below check nothing.
			if len(buckets[catalogue.AlertErrorBudgetBurn]) == 0 {
				t.Fatalf("%s reads no bucket by its le: the walk is broken", catalogue.AlertErrorBudgetBurn)
			}
			if len(names) < 10 {
				t.Fatalf("only %d alertnames in %s: the walk is broken", len(names), alerts.FileAlerts)
			}

			files, err := filepath.Glob(filepath.Join(dir, alerts.TestsDir, "*.yaml"))
			if err != nil || len(files) == 0 {
				t.Fatalf("no promtool tests in %s: %v", dir, err)
			}
			var groups []testGroup
			for _, p := range files {
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				var tf testFile
				if err := yaml.Unmarshal(b, &tf); err != nil {
					t.Fatalf("%s: %v", p, err)
				}
				groups = append(groups, tf.Tests...)
			}

			sort.Strings(names)
			for _, name := range names {
				var why []string
				found := false
				for _, g := range groups {
					if !strings.HasPrefix(g.Name, inputsAbsentName(name)) {
						continue
					}
					if problem := absentCaseProblem(g, inputs[name]); problem != "" {
						why = append(why, g.Name+": "+problem)
						continue
					}
					found = true
				}
				if !found {
					t.Errorf("%s: no promtool test shows what fires when its inputs %v are absent %v", name, keys(inputs[name]), why)
				}
				// A histogram scraped without a bucket the alert reads
				// by its le is a world of its own: the metric is there.
				for _, b := range buckets[name] {
					var why []string
					found := false
					for _, g := range groups {
						if !strings.HasPrefix(g.Name, inputsAbsentName(name)) {
							continue
						}
						if problem := bucketCaseProblem(t, g, b); problem != "" {
							why = append(why, g.Name+": "+problem)
							continue
						}
						found = true
					}
					if !found {
						t.Errorf(`%s: no promtool test shows what fires when %s{le="+Inf"} is scraped without %s %v`, name, b.Metric, b, why)
					}
				}
			}
		})
	}
}

// absentCaseProblem says why a test group is not an inputs-absent case of
// an alert reading the given series, or "" when it is one.
func absentCaseProblem(g testGroup, in map[string]bool) string {
	if len(g.InputSeries) == 0 {
		return "no input series at all"
	}
	for _, s := range g.InputSeries {
		if in[metricOf(s.Series)] {
			return "feeds " + s.Series
		}
	}
	for _, a := range g.AlertRuleTests {
		if len(a.ExpAlerts) > 0 {
			return ""
		}
	}
	return "expects no alert firing"
}

// bucketCaseProblem says why a test group is not the case of a histogram
// scraped without bucket b (its le="+Inf" series fed, no b bucket beside
// any of them, some alert expected firing), or "" when it is one.
func bucketCaseProblem(t *testing.T, g testGroup, b catalogue.BucketInput) string {
	t.Helper()
	gaps, err := bucketGaps(g.InputSeries, b, "")
	if err != nil {
		t.Fatal(err)
	}
	kept, err := withoutBucket(g.InputSeries, b)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case len(kept) != len(g.InputSeries):
		return "feeds the " + b.LE.String() + " bucket"
	case gaps[""] == 0:
		return `feeds no le="+Inf" series of ` + b.Metric
	}
	for _, a := range g.AlertRuleTests {
		if len(a.ExpAlerts) > 0 {
			return ""
		}
	}
	return "expects no alert firing"
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestAbsentCaseProblem: the meta-test's judgement of a case, on cases it
// must reject.
func TestAbsentCaseProblem(t *testing.T) {
	in := map[string]bool{"headroom_redis_memory_used_bytes": true}
	fires := []alertTest{{Alertname: "RedisDown", ExpAlerts: []expAlert{{}}}}
	for _, c := range []struct {
		name string
		g    testGroup
		want string
	}{
		{"a real case", testGroup{InputSeries: []inputSeries{{Series: `headroom_target_up{kind="redis"}`}}, AlertRuleTests: fires}, ""},
		{"feeds the input", testGroup{InputSeries: []inputSeries{{Series: `headroom_redis_memory_used_bytes{target="r"}`}}, AlertRuleTests: fires},
			`feeds headroom_redis_memory_used_bytes{target="r"}`},
		{"silence", testGroup{InputSeries: []inputSeries{{Series: `up{job="headroom"}`}},
			AlertRuleTests: []alertTest{{Alertname: "RedisMemoryNearMax", ExpAlerts: []expAlert{}}}}, "expects no alert firing"},
		{"empty world", testGroup{AlertRuleTests: fires}, "no input series at all"},
	} {
		if got := absentCaseProblem(c.g, in); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestBucketCaseProblem: the meta-test's judgement of a bucket case, on
// cases it must reject.
func TestBucketCaseProblem(t *testing.T) {
	b := catalogue.BucketInput{Metric: "h_bucket", LE: labels.MustNewMatcher(labels.MatchRegexp, "le", `3(\.0)?`)}
	fires := []alertTest{{Alertname: "SignalAbsent", ExpAlerts: []expAlert{{}}}}
	inf := inputSeries{Series: `h_bucket{instance="a", le="+Inf"}`}
	for _, c := range []struct {
		name string
		g    testGroup
		want string
	}{
		{"a real case", testGroup{InputSeries: []inputSeries{inf, {Series: `h_bucket{instance="a", le="1"}`}}, AlertRuleTests: fires}, ""},
		{"feeds the bucket", testGroup{InputSeries: []inputSeries{inf, {Series: `h_bucket{instance="a", le="3.0"}`}}, AlertRuleTests: fires},
			`feeds the le=~"3(\\.0)?" bucket`},
		{"no histogram", testGroup{InputSeries: []inputSeries{{Series: `up{job="api"}`}}, AlertRuleTests: fires}, `feeds no le="+Inf" series of h_bucket`},
		{"silence", testGroup{InputSeries: []inputSeries{inf}, AlertRuleTests: []alertTest{{Alertname: "ErrorBudgetBurn", ExpAlerts: []expAlert{}}}},
			"expects no alert firing"},
	} {
		if got := bucketCaseProblem(t, c.g, b); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}
