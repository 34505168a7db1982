package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/prometheus/common/model"

	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/dashboards"
)

// pint's checks that query Prometheus; make lint runs the others offline.
var onlineChecks = []string{
	"alerts/absent", "alerts/count", "alerts/external_labels", "labels/conflict",
	"promql/counter", "promql/features", "promql/offset", "promql/range_query",
	"promql/rate", "promql/series", "promql/vector_matching", "rule/duplicate",
}

// repoRoot is where the Makefile builds pint from (internal/tools/go.mod).
const repoRoot = "../.."

// pintBuild is pint being built from the tools module while the scenarios
// run: a cold build takes minutes.
type pintBuild struct {
	done chan struct{}
	path string
	err  error
}

// buildPint starts building pint as the Makefile does, from the separate
// tools module.
func buildPint(t *testing.T) *pintBuild {
	p := &pintBuild{done: make(chan struct{}), path: filepath.Join(t.TempDir(), "pint")}
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	cmd := exec.CommandContext(ctx, goBin, "build", "-modfile=internal/tools/go.mod", "-o", p.path, "github.com/cloudflare/pint/cmd/pint")
	cmd.Dir = repoRoot
	go func() {
		defer close(p.done)
		defer cancel()
		if out, err := cmd.CombinedOutput(); err != nil {
			p.err = fmt.Errorf("building pint (%s in %s): %v\n%s", strings.Join(cmd.Args, " "), repoRoot, err, out)
		}
	}()
	t.Cleanup(func() { cancel(); <-p.done })
	return p
}

// wait returns pint's path once it is built, and fails the test if it
// could not be.
func (p *pintBuild) wait(t *testing.T) string {
	t.Helper()
	<-p.done
	if p.err != nil {
		t.Fatal(p.err)
	}
	return p.path
}

// absentInputs splits the documented external inputs (catalogue.Inputs, the
// one list) into those with no series in the end-to-end Prometheus and
// those it has: only the absent ones are excused, the others are checked
// like headroom's own series.
func (b *bundle) absentInputs(t *testing.T, cfg *catalogue.Config) (absent, present []string) {
	t.Helper()
	for _, in := range catalogue.Inputs(cfg) {
		if b.hasSeries(t, in.Name) {
			present = append(present, in.Name)
		} else {
			absent = append(absent, in.Name)
		}
	}
	return absent, present
}

// hasSeries reports whether Prometheus had any series of a metric in the
// last hour (the whole run).
func (b *bundle) hasSeries(t *testing.T, metric string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	series, _, _, err := b.prom.API.Series(ctx, []string{metric}, time.Now().Add(-time.Hour), time.Now())
	if err != nil {
		t.Fatalf("series of %s: %v", metric, err)
	}
	return len(series) > 0
}

// steadyWindow is how far back pint's promql/series looks: a window after
// the scenarios in which every source is up and in use. Over the whole run
// it would find series that come and go by design (Redis's stopped on
// purpose, its hit ratio absent without lookups) and call them "only
// sometimes present".
const steadyWindow = 20 * time.Second

// steadyState keeps the cache in use (a hit ratio needs lookups) for the
// rest of the test, waits for the rules' series to be recorded again after
// the scenarios and then for steadyWindow of steady data.
func (b *bundle) steadyState(t *testing.T, cfg *catalogue.Config) {
	t.Helper()
	client := b.cache.Client(t)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { stop(); <-done })
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			client.Set(ctx, "steady", "v", 0)
			client.Get(ctx, "steady")
			time.Sleep(20 * time.Millisecond)
		}
	}()
	for _, s := range catalogue.Signals(cfg) {
		if s.ID == "redis_hit_ratio" {
			b.prom.WaitFor(t, s.Record, 60*time.Second)
		}
	}
	time.Sleep(steadyWindow)
	// On a loaded machine (CI runs every package at once) a target can miss
	// its scrape deadline and drop its series for a scrape, or answer its
	// first commands and run out of time in a later one (up 1, that
	// collector's series dropped); the window pint looks back over must be
	// one in which the exporter and every collector of every target
	// answered each time, or pint reports a gap as a missing metric.
	window := model.Duration(steadyWindow).String()
	b.prom.WaitFor(t, fmt.Sprintf(`count(min_over_time(headroom_target_up[%s]) == 1) == count(headroom_target_up)
and on() count(min_over_time(headroom_scrape_collector_success[%s]) == 1) == count(headroom_scrape_collector_success)
and on() min_over_time(up{job="headroom"}[%s]) == 1`, window, window, window), 3*time.Minute)
}

// pintConfig is pint's configuration for the end-to-end Prometheus: the
// online checks only, promql/series looking back over the steady window,
// and told (ignoreMetrics) which metrics are documented external inputs
// absent here.
func pintConfig(promURL string, ignore []string) string {
	quote := func(items []string) string {
		q := make([]string, len(items))
		for i, s := range items {
			q[i] = fmt.Sprintf("%q", s)
		}
		return strings.Join(q, ", ")
	}
	patterns := make([]string, len(ignore))
	for i, m := range ignore {
		patterns[i] = regexp.QuoteMeta(m)
	}
	return fmt.Sprintf(`prometheus "e2e" {
  uri      = %q
  timeout  = "1m"
  required = true
}

checks {
  enabled = [%s]
}

check "promql/series" {
  lookbackRange = %q
  lookbackStep  = "5s"
  ignoreMetrics = [%s]
}
`, promURL, quote(onlineChecks), model.Duration(steadyWindow).String(), quote(patterns))
}

// pintProblem is one problem pint reported.
type pintProblem struct {
	Severity string `json:"severity"`
	Reporter string `json:"reporter"`
	Problem  string `json:"problem"`
	Path     string `json:"path"`
	Lines    []int  `json:"lines"`
	// text is the console report, with the message naming the metric (the
	// JSON report has only the summary).
	text string
}

// excused: a metric missing from Prometheus that matches ignoreMetrics,
// which pint lowers to a warning and says so.
func (p pintProblem) excused() bool {
	return p.Reporter == "promql/series" && p.Severity == "Warning" && p.says("check ignore regexp")
}

// says reports whether the console report has a phrase, which pint may
// have wrapped over lines.
func (p pintProblem) says(phrase string) bool {
	return strings.Contains(strings.Join(strings.Fields(p.text), " "), phrase)
}

var pintHeader = regexp.MustCompile(`^(Information|Warning|Bug|Fatal): (.*) \(([a-z_]+/[a-z_]+)\)$`)

// parsePint pairs the console report's blocks with the JSON report,
// which is authoritative for how many problems there are and their
// severity.
func parsePint(console string, report []byte) ([]pintProblem, error) {
	var problems []pintProblem
	if err := json.Unmarshal(report, &problems); err != nil {
		return nil, fmt.Errorf("pint's JSON report: %v", err)
	}
	var blocks []string
	var cur *strings.Builder
	for _, line := range strings.Split(console, "\n") {
		if pintHeader.MatchString(line) {
			cur = &strings.Builder{}
			blocks = append(blocks, "")
		}
		if cur != nil {
			cur.WriteString(line + "\n")
			blocks[len(blocks)-1] = cur.String()
		}
	}
	if len(blocks) != len(problems) {
		return nil, fmt.Errorf("pint printed %d problems and reported %d in JSON", len(blocks), len(problems))
	}
	for i := range problems {
		m := pintHeader.FindStringSubmatch(strings.SplitN(blocks[i], "\n", 2)[0])
		if m[1] != problems[i].Severity || m[3] != problems[i].Reporter {
			return nil, fmt.Errorf("pint's console report %d (%s %s) is not its JSON report (%s %s)", i, m[1], m[3], problems[i].Severity, problems[i].Reporter)
		}
		problems[i].text = blocks[i]
	}
	return problems, nil
}

// lintOnline runs pint's online checks over the rule files Prometheus
// loaded, against that Prometheus after the scenarios: any problem of
// warning severity or above fails, except a series pint cannot find whose
// metric is a documented external input (catalogue.Inputs) absent here.
func (b *bundle) lintOnline(t *testing.T, pint string, cfg *catalogue.Config) {
	b.steadyState(t, cfg)
	absent, present := b.absentInputs(t, cfg)
	if len(absent) == 0 {
		t.Fatal("every documented external input has series here: nothing shows that ignoreMetrics works")
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "pint.hcl")
	if err := os.WriteFile(config, []byte(pintConfig("http://"+b.prom.Addr(), absent)), 0o644); err != nil {
		t.Fatal(err)
	}
	// A problem must survive a second look: on a loaded machine pint has
	// once found no series in a window where Prometheus, asked the same
	// thing right after, had every sample (seen in CI, not reproduced on
	// a quiet machine). A real gap, a metric nothing exports, stays.
	var problems []pintProblem
	for attempt := 1; ; attempt++ {
		problems = runPint(t, pint, config, b.ruleFiles)
		serious := 0
		for _, p := range problems {
			if !p.excused() && p.Severity != "Information" {
				serious++
			}
		}
		if serious == 0 || attempt == 3 {
			break
		}
		t.Logf("pint attempt %d: %d problems; looking again in 5s", attempt, serious)
		b.explainAbsent(t, problems)
		time.Sleep(5 * time.Second)
	}
	counts := map[string]int{}
	for _, p := range problems {
		counts[p.Severity]++
		switch {
		case p.excused():
			counts["excused"]++
		case p.Severity == "Information":
			t.Logf("pint information:\n%s", p.text)
		default:
			t.Errorf("pint %s in %s:\n%s", p.Severity, filepath.Base(p.Path), p.text)
		}
	}
	t.Logf("pint against %s: %d rule files, checks %s; problems by severity %v; external inputs absent here (excused): %s; present (checked): %s",
		b.prom.Addr(), len(b.ruleFiles), strings.Join(onlineChecks, ", "), counts, strings.Join(absent, ", "), strings.Join(present, ", "))

	// The same configuration catches a metric nothing exports, and excuses
	// an absent external input, so the clean run above means something.
	probe := filepath.Join(dir, "probe.yaml")
	rules := fmt.Sprintf("groups:\n  - name: probe\n    rules:\n      - record: probe:missing:sum\n        expr: sum(headroom_no_such_metric)\n"+
		"      - record: probe:external:sum\n        expr: sum(%s)\n", absent[0])
	if err := os.WriteFile(probe, []byte(rules), 0o644); err != nil {
		t.Fatal(err)
	}
	var caught, excused bool
	for _, p := range runPint(t, pint, config, []string{probe}) {
		caught = caught || (p.Reporter == "promql/series" && p.Severity == "Bug" && p.says("headroom_no_such_metric"))
		excused = excused || (p.excused() && p.says(absent[0]))
	}
	if !caught || !excused {
		t.Errorf("pint on a rule with a missing metric: caught %v; on an absent external input %s: excused %v", caught, absent[0], excused)
	}
}

// runPint lints rule files with a pint config and returns every problem
// of every severity.
func runPint(t *testing.T, pint, config string, files []string) []pintProblem {
	t.Helper()
	report := filepath.Join(t.TempDir(), "pint.json")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	args := append([]string{"--no-color", "--config", config, "--log-level", "ERROR", "lint", "--min-severity", "info",
		"--fail-on", "bug", "--show-duplicates", "--json", report}, files...)
	out, runErr := exec.CommandContext(ctx, pint, args...).CombinedOutput()
	js, err := os.ReadFile(report)
	if err != nil {
		t.Fatalf("pint wrote no report (%v): %v\n%s", runErr, err, out)
	}
	problems, err := parsePint(string(out), js)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	severe := 0
	for _, p := range problems {
		if p.Severity == "Bug" || p.Severity == "Fatal" {
			severe++
		}
	}
	// pint's own verdict (--fail-on bug) must agree with what was read of
	// its report.
	if (runErr != nil) != (severe > 0) {
		t.Fatalf("pint exited with %v but reported %d bugs or fatal problems:\n%s", runErr, severe, out)
	}
	return problems
}

// dashboardSeries checks that every metric a dashboard panel or variable
// selects has series in the end-to-end Prometheus, or is a documented
// external input.
func (b *bundle) dashboardSeries(t *testing.T, cfg *catalogue.Config) {
	ds, err := dashboards.Build(catalogue.MustBuild(cfg))
	if err != nil {
		t.Fatal(err)
	}
	external := map[string]bool{}
	for _, in := range catalogue.Inputs(cfg) {
		external[in.Name] = true
	}
	// The forecast records need a day of history before they hold a trend,
	// which no end-to-end run has; the dashboards' TestRenderForecasts
	// checks their panels against backfilled records instead.
	forecast := map[string]bool{}
	for _, r := range catalogue.ForecastRecords(catalogue.MustBuild(cfg)) {
		forecast[r.Record] = true
	}

	usedBy := map[string][]string{}
	// A scaling record that reads an external input (kube-state-metrics'
	// replicas, which no end-to-end run has) has no series either; the
	// other metrics its expression reads are checked like the panels'.
	for _, r := range catalogue.ScalingRecords(catalogue.MustBuild(cfg)) {
		names, err := catalogue.SelectedMetrics(r.Expr)
		if err != nil {
			t.Errorf("%s: %v", r.Record, err)
			continue
		}
		for _, n := range names {
			if external[n] {
				external[r.Record] = true
			} else {
				usedBy[n] = append(usedBy[n], "record "+r.Record)
			}
		}
	}
	queries := 0
	use := func(where, expr string) {
		queries++
		names, err := catalogue.SelectedMetrics(withoutVariables(expr))
		if err != nil {
			t.Errorf("%s: %v\n%s", where, err, expr)
			return
		}
		for _, n := range names {
			usedBy[n] = append(usedBy[n], where)
		}
	}
	for _, name := range dashboards.Names {
		d := ds[name]
		queries, err := dashboards.Queries(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range queries {
			if q.Expr != "" {
				use(fmt.Sprintf("%s/%s", name, q.Panel), q.Expr)
			}
		}
		for _, v := range d.Templating.List {
			if v.Type != dashboard.VariableTypeQuery || v.Query == nil || v.Query.String == nil {
				continue
			}
			m := labelValues.FindStringSubmatch(*v.Query.String)
			if m == nil {
				t.Errorf("%s variable %s: %q is not label_values(selector, label)", name, v.Name, *v.Query.String)
				continue
			}
			use(fmt.Sprintf("%s/variable %s", name, v.Name), m[1])
		}
	}
	var metrics, excused []string
	for m := range usedBy {
		metrics = append(metrics, m)
	}
	sort.Strings(metrics)
	for _, m := range metrics {
		if b.hasSeries(t, m) {
			continue
		}
		if external[m] || forecast[m] {
			excused = append(excused, m)
			continue
		}
		t.Errorf("%s has no series in the end-to-end Prometheus and is not a documented external input (catalogue.ExternalInputs); used by %s",
			m, strings.Join(usedBy[m], "; "))
	}
	t.Logf("%d dashboard queries select %d metrics; absent here but documented external inputs or forecast records: %s", queries, len(metrics), strings.Join(excused, ", "))
}

var labelValues = regexp.MustCompile(`^label_values\((.+), *(\w+)\)$`)

// withoutVariables makes a panel query parse: Grafana's range variables
// become durations and the dashboard variables match everything, as with
// All selected.
func withoutVariables(expr string) string {
	return strings.NewReplacer("$__rate_interval", "1m", "$__interval", "1m", "$__range", "1h",
		`"$cluster"`, `".*"`, `"$job"`, `".*"`, `"$target"`, `".*"`).Replace(expr)
}

// explainAbsent logs, for each metric pint found no series of, what
// Prometheus holds of it over the whole run and what the collectors of
// its kind reported: the evidence for a gap that a second look clears.
func (b *bundle) explainAbsent(t *testing.T, problems []pintProblem) {
	t.Helper()
	seen := map[string]bool{}
	for _, p := range problems {
		if p.excused() || p.Severity == "Information" {
			continue
		}
		for _, m := range regexp.MustCompile("`(headroom_[a-z_]+)`").FindAllStringSubmatch(p.text, -1) {
			if seen[m[1]] {
				continue
			}
			seen[m[1]] = true
			t.Logf("%s over the run: %v", m[1], b.prom.Query(t, fmt.Sprintf("count_over_time(%s[1h])", m[1])))
			t.Logf("collectors over the last minute: %v", b.prom.Query(t, "min_over_time(headroom_scrape_collector_success[1m])"))
		}
	}
}
