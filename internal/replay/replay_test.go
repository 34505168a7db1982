package replay

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"

	"github.com/headroom-dev/headroom/alerts"
	"github.com/headroom-dev/headroom/catalogue"
)

// queueConfig is the amas preset with the two Prometheus triggers the
// series files feed (testdata/amas-queue.yaml).
func queueConfig(t *testing.T) *catalogue.Config {
	t.Helper()
	data, err := os.ReadFile("testdata/amas-queue.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := catalogue.LoadOnto("amas", data)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func replayFile(t *testing.T, cfg *catalogue.Config, name string, initial int32) *Report {
	t.Helper()
	src, err := ReadInputFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Replay(context.Background(), catalogue.MustBuild(cfg), src, Options{Initial: initial})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func stepReplicas(rep *Report) []int32 {
	out := make([]int32, len(rep.Steps))
	for i, s := range rep.Steps {
		out[i] = s.Replicas
	}
	return out
}

// stepsPerMinute at replay's default step of 15s.
const stepsPerMinute = 4

// stepAt is the index of the step at d into the file (whose first value is
// at the epoch; the replay starts once the 2m rate windows are filled).
func stepAt(rep *Report, d time.Duration) int {
	return int(time.Unix(0, 0).Add(d).Sub(rep.Start) / time.Duration(rep.Step))
}

// The known series, replayed through the generated rules and
// ScaledObject queries with Prometheus's engine, then the HPA algorithm.
func TestReplayKnownSeries(t *testing.T) {
	cfg := queueConfig(t)
	for _, c := range []struct {
		name    string
		file    string
		initial int32
		check   func(t *testing.T, rep *Report, r []int32)
	}{
		{"a step in load ramps up no faster than 5 pods or 100 % a minute", "step-up.yaml", 2, func(t *testing.T, rep *Report, r []int32) {
			for k := stepsPerMinute; k < len(r); k++ {
				if prev := r[k-stepsPerMinute]; r[k] > max(prev+5, 2*prev) {
					t.Fatalf("%s: %d replicas, a minute earlier %d: %v", rep.at(rep.Steps[k].At), r[k], prev, r)
				}
			}
			if rep.Peak != 50 || len(rep.Events) == 0 || rep.Events[0].Trigger != "queue-depth" || rep.Events[0].From != 2 {
				t.Errorf("peak %d, events %+v: want a ramp from 2 driven by queue-depth to max 50", rep.Peak, rep.Events)
			}
			// The load starts at 5m into the file; the scale-up window is 60 s.
			if first := rep.Events[0].At.Sub(time.Unix(0, 0)); first < 5*time.Minute || first > 6*time.Minute+15*time.Second {
				t.Errorf("first scale-up at +%s, want within the minute after the load at +5m", first)
			}
		}},
		{"a drop scales down no faster than 2 pods or 10 % a minute, only after 300 s", "drop.yaml", 20, func(t *testing.T, rep *Report, r []int32) {
			// The load drops after 4m45s into the file.
			drop := stepAt(rep, 4*time.Minute+45*time.Second)
			for k := drop; k < drop+int(300*time.Second/time.Duration(rep.Step)); k++ {
				if r[k] != 20 {
					t.Fatalf("%s: %d replicas within 300 s of the drop: %v", rep.at(rep.Steps[k].At), r[k], r)
				}
			}
			for k := stepsPerMinute; k < len(r); k++ {
				if prev := r[k-stepsPerMinute]; r[k] < max(prev-2, int32(float64(prev)*0.9)) {
					t.Fatalf("%s: %d replicas, a minute earlier %d: faster than 2 pods or 10 %% a minute: %v", rep.at(rep.Steps[k].At), r[k], prev, r)
				}
			}
			if last := r[len(r)-1]; last != 2 {
				t.Errorf("settles at %d, want min 2: %v", last, r)
			}
			for _, e := range rep.Events {
				if e.To > e.From {
					t.Errorf("scaled up on a drop: %+v", e)
				}
			}
		}},
		{"a sawtooth inside the tolerance scales nothing", "sawtooth.yaml", 10, func(t *testing.T, rep *Report, r []int32) {
			if len(rep.Events) != 0 || rep.Thrash != 0 || rep.Peak != 10 {
				t.Errorf("events %+v, thrash %d, peak %d: want none at 10", rep.Events, rep.Thrash, rep.Peak)
			}
			if len(rep.Missing) != 0 {
				t.Errorf("missing %+v", rep.Missing)
			}
		}},
		{"min and max hold", "bounds.yaml", 2, func(t *testing.T, rep *Report, r []int32) {
			for k, n := range r {
				if n < 2 || n > 50 {
					t.Fatalf("%s: %d replicas outside 2..50", rep.at(rep.Steps[k].At), n)
				}
			}
			if rep.Peak != 50 || r[len(r)-1] != 2 {
				t.Errorf("peak %d, last %d: want 50 then 2: %v", rep.Peak, r[len(r)-1], r)
			}
		}},
		{"a missing series holds the fallback and is reported", "missing.yaml", 20, func(t *testing.T, rep *Report, r []int32) {
			for k, n := range r {
				if n < 20 {
					t.Fatalf("%s: %d replicas while the series were missing", rep.at(rep.Steps[k].At), n)
				}
			}
			got := map[string]MissingSpan{}
			for _, m := range rep.Missing {
				got[m.Trigger] = m
			}
			for _, name := range []string{"requests-per-pod", "queue-depth"} {
				m, ok := got[name]
				if !ok || !m.Fallback || m.LowestReplicas != 20 || m.To != rep.Steps[len(rep.Steps)-1].At {
					t.Errorf("%s: missing span %+v, want one to the end, on fallback, holding 20", name, m)
				}
			}
			// Never read as 0: a missing trigger has no value at all.
			for _, st := range rep.Steps {
				for j, tr := range rep.Triggers {
					if slices.Contains(st.Missing, tr.Name) != (st.Values[j] == nil) {
						t.Fatalf("%s: %s missing %v, value %v", rep.at(st.At), tr.Name, st.Missing, st.Values[j])
					}
				}
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := replayFile(t, cfg, c.file, c.initial)
			c.check(t, rep, stepReplicas(rep))
		})
	}
}

// The alerts a replay reports are those promtool's rule unit tests see on
// the same series: for each alert instance, it fires (labels and
// annotations) at the step replay says it starts, not a step before, and
// no longer at the step replay says it ends.
func TestReplayAlertsAsPromtool(t *testing.T) {
	if _, err := exec.LookPath("promtool"); err != nil {
		t.Fatal("promtool is needed: apt-get install prometheus")
	}
	cfg := queueConfig(t)
	src, err := ReadInputFile("testdata/step-up.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// From the file's first value, as promtool evaluates.
	epoch := time.Unix(0, 0).UTC()
	_, end := src.Span()
	rep, err := Replay(context.Background(), catalogue.MustBuild(cfg), src, Options{Start: epoch, End: end, Initial: 2})
	if err != nil {
		t.Fatal(err)
	}
	files, err := alerts.Generate(catalogue.MustBuild(cfg))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var order []string
	for _, name := range []string{alerts.FileRules, alerts.FileAlerts} {
		if err := os.WriteFile(filepath.Join(dir, name), files[name], 0o644); err != nil {
			t.Fatal(err)
		}
		var rgs rulefmt.RuleGroups
		if err := yaml.Unmarshal(files[name], &rgs); err != nil {
			t.Fatal(err)
		}
		for _, g := range rgs.Groups {
			order = append(order, g.Name)
		}
	}
	var input struct {
		Interval    string           `yaml:"interval"`
		InputSeries []map[string]any `yaml:"input_series"`
	}
	data, err := os.ReadFile("testdata/step-up.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &input); err != nil {
		t.Fatal(err)
	}

	count := map[string]int{}
	for _, a := range rep.Alerts {
		count[a.Alert]++
	}
	type expAlert struct {
		Labels      map[string]string `yaml:"exp_labels"`
		Annotations map[string]string `yaml:"exp_annotations"`
	}
	type alertTest struct {
		EvalTime  string     `yaml:"eval_time"`
		Alertname string     `yaml:"alertname"`
		ExpAlerts []expAlert `yaml:"exp_alerts"`
	}
	var tests []alertTest
	checked := map[string]bool{}
	for _, a := range rep.Alerts {
		// One instance per name, so that a check at its start sees only it.
		if count[a.Alert] != 1 {
			continue
		}
		checked[a.Alert] = true
		at := func(ts time.Time) string { return ts.Sub(epoch).String() }
		tests = append(tests, alertTest{EvalTime: at(a.Start), Alertname: a.Alert, ExpAlerts: []expAlert{{a.Labels, a.Annotations}}})
		if a.Start.After(rep.Start) {
			tests = append(tests, alertTest{EvalTime: at(a.Start.Add(-time.Duration(rep.Step))), Alertname: a.Alert})
		}
		if a.End != nil {
			tests = append(tests, alertTest{EvalTime: at(*a.End), Alertname: a.Alert})
		}
	}
	if !checked["QueueDepthHigh"] {
		t.Fatalf("the step in the queue did not fire QueueDepthHigh once: %+v", rep.Alerts)
	}
	unit := map[string]any{
		"rule_files":          []string{alerts.FileRules, alerts.FileAlerts},
		"evaluation_interval": time.Duration(rep.Step).String(),
		"group_eval_order":    order,
		"tests": []map[string]any{{
			"interval":        input.Interval,
			"input_series":    input.InputSeries,
			"alert_rule_test": tests,
		}},
	}
	b, err := yaml.Marshal(unit)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "replay-test.yaml")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("promtool", "test", "rules", path).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool disagrees with replay's alerts (%d checks of %v): %v\n%s", len(tests), checked, err, out)
	}
	t.Logf("promtool agrees on %d checks of %d alerts", len(tests), len(checked))
}

// Bad input is refused naming the file, the line and the series.
func TestReadInputFileErrors(t *testing.T) {
	dir := t.TempDir()
	noInterval := filepath.Join(dir, "no-interval.yaml")
	misspelt := filepath.Join(dir, "misspelt.yaml")
	misspeltSeries := filepath.Join(dir, "misspelt-series.yaml")
	tooLong := filepath.Join(dir, "too-long.yaml")
	tooLongTogether := filepath.Join(dir, "too-long-together.yaml")
	histogram := filepath.Join(dir, "histogram.yaml")
	valuesInSeries := filepath.Join(dir, "values-in-series.yaml")
	for path, text := range map[string]string{
		// A short line that expands to more values than a file may hold
		// is refused before promtool's parser makes them.
		tooLong:         "interval: 1s\ninput_series:\n  - {series: 'm', values: '0+1x99999999999999999999'}\n",
		tooLongTogether: "interval: 1s\ninput_series:\n  - {series: 'm', values: '1x200000'}\n  - {series: 'n', values: '1 1x70000'}\n",
		histogram:       "interval: 1s\ninput_series:\n  - {series: 'm', values: '{{schema:0 sum:1 count:1}}x3'}\n",
		valuesInSeries:  "interval: 1s\ninput_series:\n  - {series: 'm 1x99999999999', values: ''}\n",
		noInterval:      "input_series:\n  - {series: 'm', values: '1'}\n",
		// A misspelt key is refused, not read as a file without it.
		misspelt:       "interval: 15s\nintervall: 1m\ninput_series:\n  - {series: 'm', values: '1'}\n",
		misspeltSeries: "interval: 15s\ninput_series:\n  - {series: 'm', values: '1'}\n  - {series: 'n', value: '1'}\n",
	} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		path string
		want []string
	}{
		{"testdata/bad-series.yaml", []string{"testdata/bad-series.yaml:5", "input_series[1]", `amas_queue_depth_current{job="amas-orchestrator"`}},
		{noInterval, []string{noInterval, "interval"}},
		{misspelt, []string{misspelt + ": intervall: line 2: unknown key (known here: input_series, interval)"}},
		{misspeltSeries, []string{misspeltSeries + ":4: input_series[1].value: line 4: unknown key (known here: series, values)"}},
		{filepath.Join(dir, "absent.yaml"), []string{"absent.yaml", "no such file"}},
		{tooLong, []string{tooLong + ":3: input_series[0] series 'm'", "expand to more than 262144"}},
		{tooLongTogether, []string{tooLongTogether + ":4: input_series[1] series 'n'", "expand to more than 262144"}},
		{histogram, []string{histogram + ":3: input_series[0]", "native histograms are not supported"}},
		{valuesInSeries, []string{valuesInSeries + ":3: input_series[0] series 'm 1x99999999999'"}},
	} {
		_, err := ReadInputFile(c.path)
		if err == nil {
			t.Errorf("%s: accepted", c.path)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not say %q", c.path, err, w)
			}
		}
	}
}

// An unreachable Prometheus is an error naming its URL, not an empty replay.
func TestReplayUnreachablePrometheus(t *testing.T) {
	const url = "http://127.0.0.1:1"
	src, err := NewPrometheusSource(url, 15*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	end := time.Now()
	_, err = Replay(context.Background(), catalogue.MustBuild(queueConfig(t)), src, Options{Start: end.Add(-time.Hour), End: end})
	if err == nil || !strings.Contains(err.Error(), url) {
		t.Fatalf("error %v, want one naming %s", err, url)
	}
}

// The health-agent preset replays its HPA, whose CPU and memory targets
// are read from the catalogue's utilisation signals (and say so).
func TestScalerOfHPA(t *testing.T) {
	cfg, err := catalogue.Preset("health-agent")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ScalerOf(catalogue.MustBuild(cfg))
	if err != nil {
		t.Fatal(err)
	}
	want := []Trigger{{Name: "cpu", Type: Utilization, Target: 70}, {Name: "memory", Type: Utilization, Target: 80}}
	if len(sc.Spec.Triggers) != 2 || sc.Spec.Triggers[0] != want[0] || sc.Spec.Triggers[1] != want[1] ||
		sc.Spec.MinReplicas != 3 || sc.Spec.MaxReplicas != 20 {
		t.Errorf("spec %+v, want cpu 70 and memory 80 on 3..20", sc.Spec)
	}
	for i, q := range sc.Queries {
		if !strings.Contains(q, []string{"instance:api_cpu_utilisation:ratio", "instance:api_memory_utilisation:ratio"}[i]) {
			t.Errorf("trigger %s reads %q", sc.Spec.Triggers[i].Name, q)
		}
	}
	if len(sc.Notes) != 2 || !strings.Contains(sc.Notes[0], "catalogue signal api_cpu_instance") {
		t.Errorf("notes %q do not say where CPU and memory come from", sc.Notes)
	}
}

// With a cluster label, the HPA's CPU and memory reads are restricted to
// the autoscaled cluster, as the KEDA triggers are: another cluster's
// instances must not move this workload.
func TestScalerOfHPAInCluster(t *testing.T) {
	cfg, err := catalogue.LoadOnto("health-agent", []byte("cluster_label: cluster\nautoscaling: {cluster: eu-1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	sc, err := ScalerOf(catalogue.MustBuild(cfg))
	if err != nil {
		t.Fatal(err)
	}
	for i, q := range sc.Queries {
		e, err := catalogue.ParseExpr(q)
		if err != nil {
			t.Fatalf("trigger %s: %v", sc.Spec.Triggers[i].Name, err)
		}
		selectors := 0
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			vs, ok := n.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			selectors++
			if !slices.ContainsFunc(vs.LabelMatchers, func(m *labels.Matcher) bool {
				return m.Name == "cluster" && m.Type == labels.MatchEqual && m.Value == "eu-1"
			}) {
				t.Errorf("trigger %s: selector %s is not restricted to cluster eu-1", sc.Spec.Triggers[i].Name, vs)
			}
			return nil
		})
		if selectors == 0 {
			t.Errorf("trigger %s reads %q: no selector", sc.Spec.Triggers[i].Name, q)
		}
	}
}

// The SLO burn-rate alerts read windows of up to 3 days; a replay of
// minutes computes them on part of their window, and says so in the text
// and the JSON, while the alerts with short windows are not marked.
func TestReplayMarksWindowsLongerThanHistory(t *testing.T) {
	rep := replayFile(t, queueConfig(t), "step-up.yaml", 2)
	short := map[string]time.Duration{}
	for _, a := range rep.ShortHistory {
		short[a.Alert] = time.Duration(a.Window)
	}
	if short["ErrorBudgetBurn"] < 72*time.Hour {
		t.Errorf("ErrorBudgetBurn's 3d window over %s of history is not marked: %v", time.Duration(rep.History), rep.ShortHistory)
	}
	for _, name := range []string{"QueueDepthHigh", "ExporterAbsent", "SignalAbsent"} {
		if _, ok := short[name]; ok {
			t.Errorf("%s has a window shorter than %s, marked: %v", name, time.Duration(rep.History), rep.ShortHistory)
		}
	}
	for _, a := range rep.Alerts {
		_, isShort := short[a.Alert]
		if isShort != (a.WindowLongerThanHistory > 0) {
			t.Errorf("alert %s: marked %s, listed %v", a.Alert, time.Duration(a.WindowLongerThanHistory), isShort)
		}
	}
	var text, js strings.Builder
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "window longer than the history replayed") || !strings.Contains(text.String(), "ErrorBudgetBurn (72h0m0s)") {
		t.Errorf("text does not name the alerts with windows longer than the history:\n%s", text.String())
	}
	if !strings.Contains(js.String(), `"alerts_window_longer_than_history"`) || !strings.Contains(js.String(), `"alert": "ErrorBudgetBurn"`) {
		t.Errorf("JSON does not list them")
	}
}

// Where the exporter measured the usable connections, the guard compares
// with them, as the alert and the dashboard do, and says so; the
// configured number stands in only where there is no measurement.
func TestReplayDBGuardPrefersMeasured(t *testing.T) {
	cfg := dbGuardConfig(t)
	series, err := os.ReadFile("testdata/step-up.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// A primary (not in recovery) with 600 usable connections: 50 pods x 10 fit.
	measured := string(series) + `  - series: 'headroom_postgres_usable_connections{job="headroom", target="primary"}'
    values: '600x100'
  - series: 'headroom_postgres_in_recovery{job="headroom", target="primary"}'
    values: '0x100'
`
	for _, tc := range []struct {
		name, series string
		from         string
		usable       int
		crossed      bool
	}{
		{"measured", measured, UsableMeasured, 600, false},
		{"configured", string(series), UsableConfigured, 200, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "series.yaml")
			if err := os.WriteFile(path, []byte(tc.series), 0o600); err != nil {
				t.Fatal(err)
			}
			src, err := ReadInputFile(path)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := Replay(context.Background(), catalogue.MustBuild(cfg), src, Options{Initial: 2})
			if err != nil {
				t.Fatal(err)
			}
			g := rep.DBGuard
			if !g.Enabled || g.UsableFrom != tc.from || g.UsableConnections != tc.usable || (g.CrossedAt != nil) != tc.crossed || g.PeakConnections != 500 {
				t.Errorf("guard %+v, want %d usable %s, crossed %v, peak 500", g, tc.usable, tc.from, tc.crossed)
			}
			var text strings.Builder
			if err := rep.WriteText(&text); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(text.String(), tc.from) {
				t.Errorf("the text does not say the usable connections are %s:\n%s", tc.from, text.String())
			}
		})
	}
}

// The database-connection guard is crossed at the first step whose
// replicas x pool size per pod exceed the usable connections.
func TestReplayDBGuard(t *testing.T) {
	cfg := dbGuardConfig(t)
	rep := replayFile(t, cfg, "step-up.yaml", 2)
	g := rep.DBGuard
	var want *Event
	for i, e := range rep.Events {
		if e.To*10 > 200 {
			want = &rep.Events[i]
			break
		}
	}
	if want == nil || !g.Enabled || g.CrossedAt == nil || !g.CrossedAt.Equal(want.At) || g.ReplicasAtCrossed != want.To || g.PeakConnections != 500 {
		t.Errorf("guard %+v, want crossed at the scale to %+v, peak 500 connections", g, want)
	}

	rep = replayFile(t, queueConfig(t), "step-up.yaml", 2)
	if rep.DBGuard.Enabled || rep.DBGuard.CrossedAt != nil {
		t.Errorf("no pool size configured, guard %+v", rep.DBGuard)
	}
}

// dbGuardConfig is the queue-driven amas config with 10 connections a pod
// against 200 usable: the guard is crossed past 20 pods.
func dbGuardConfig(t *testing.T) *catalogue.Config {
	t.Helper()
	data, err := os.ReadFile("testdata/amas-queue.yaml")
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, "autoscaling:\n  db: {pool_size_per_pod: 10, usable_connections: 200, allow_exceeding_connections: true}\n"...)
	cfg, err := catalogue.LoadOnto("amas", data)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
