package promtest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/alerts"
	"github.com/headroom-dev/headroom/catalogue"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
)

// Per-namespace thresholds with cAdvisor: the CPU, memory and saturation
// signals keep namespace, the scope and the default rule split on it, and
// a namespace's firing alert holds only its own series (the hysteresis
// join is on namespace too). TestBundles runs the generated group that
// feeds two namespaces at a value only the default threshold fires at.
func TestNamespaceScopes(t *testing.T) {
	cfg, err := catalogue.LoadOnto("health-agent", []byte(namespacesYAML))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []catalogue.SignalID{catalogue.SignalAPICPU, catalogue.SignalAPIMemory, catalogue.SignalSaturation} {
		s, _ := catalogue.SignalByID(catalogue.Signals(cfg), id)
		// saturation's cpu and memory rows are those records as they are.
		if !slices.Contains(s.Labels, "namespace") || (id != catalogue.SignalSaturation && !strings.Contains(s.Expr, "namespace")) {
			t.Errorf("%s does not keep namespace: labels %v, expr %s", id, s.Labels, s.Expr)
		}
	}
	rules := map[string][]string{}
	for _, g := range alerts.AlertingRules(catalogue.MustBuild(cfg)).Groups {
		for _, r := range g.Rules {
			rules[r.Alert] = append(rules[r.Alert], r.Expr)
		}
	}
	const cpu = `scope:cpu_high{service="health-agent-api", `
	for i, want := range []string{
		cpu + `scope=""} > 0.8`,
		cpu + `scope="namespace=\"batch\""} > 0.95`,
	} {
		if got := rules["CPUHigh"]; len(got) != 2 || !strings.Contains(got[i], want) || !strings.Contains(got[i], "on (service, namespace) ALERTS") {
			t.Errorf("CPUHigh rule %d lacks %s or the join on namespace:\n%s", i, want, strings.Join(got, "\n---\n"))
		}
	}
	if rec := recordedExpr(cfg, "scope:cpu_high"); !strings.Contains(rec, `service:api_cpu_utilisation:ratio{service="health-agent-api", namespace="batch"}`) ||
		!strings.Contains(rec, "or on (service, namespace) ") {
		t.Errorf("scope:cpu_high does not split on namespace:\n%s", rec)
	}
	files, err := Bundle(catalogue.MustBuild(cfg))
	if err != nil {
		t.Fatal(err)
	}
	want := `CPUHigh: where namespace="batch" (> 95% for 15m) beside the default (> 80% for 10m)`
	if !strings.Contains(string(files[alerts.TestsDir+"/api-test.yaml"]), want) {
		t.Errorf("no generated test group %q", want)
	}
	// The process source has no namespace: the signals stay service-wide.
	def, _ := catalogue.Preset("health-agent")
	if s, _ := catalogue.SignalByID(catalogue.Signals(def), "api_cpu"); len(s.Labels) != 0 {
		t.Errorf("api_cpu keeps %v with resources.source process", s.Labels)
	}
}

// Scoped rules: one rule per scope and a default rule, each over its part
// of the trigger's scope record, which labels every series with the first
// scope that matches it (the scopes in order, joined by "or on").
func TestScopedRules(t *testing.T) {
	cfg, err := catalogue.LoadOnto("health-agent", []byte(scopedYAML))
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string][]string{}
	for _, g := range alerts.AlertingRules(catalogue.MustBuild(cfg)).Groups {
		for _, r := range g.Rules {
			rules[r.Alert] = append(rules[r.Alert], r.Expr+"\nlabels: "+labelText(r.Labels)+"\nfor: "+r.For.String())
		}
	}
	const db = `pool:headroom_db_pool_utilisation:ratio{service="health-agent-api"`
	const redis = `target:headroom_redis_memory_utilisation:ratio{service="health-agent-api"`
	const dbOn = "\nor on (cluster, service, target, pool, database, user) "
	const redisOn = "\nor on (cluster, service, target, source) "
	for _, tc := range []struct {
		alert, record string
		want          []string // per rule, in order: default, then each scope
		recorded      string   // the scope record's expression
	}{
		{"DBPoolHigh", "scope:db_pool_high", []string{
			`scope:db_pool_high{service="health-agent-api", scope=""} > 0.8`,
			`scope:db_pool_high{service="health-agent-api", scope="target=\"pg-batch\""} > 0.95` + "\nor\n(\n  " +
				`scope:db_pool_high{service="health-agent-api", scope="target=\"pg-batch\""} > 0.9`,
			`scope:db_pool_high{service="health-agent-api", scope="target=\"pg-reports\", pool=\"etl\""} > 0.9`,
		}, `label_replace(` + db + `, target="pg-batch"}, "scope", "target=\"pg-batch\"", "", "")` +
			dbOn + `label_replace(` + db + `, target="pg-reports", pool="etl"}, "scope", "target=\"pg-reports\", pool=\"etl\"", "", "")` +
			dbOn + db + `}`},
		{"RedisMemoryNearMax", "scope:redis_memory_near_max", []string{
			`scope:redis_memory_near_max{service="health-agent-api", scope=""} > 0.85`,
			`scope:redis_memory_near_max{service="health-agent-api", scope="target=~\"session-.*\""} > 0.95`,
			`scope:redis_memory_near_max{service="health-agent-api", scope="target=\"cache-small\""} > 0.7` + "\nor\n(\n  " +
				`scope:redis_memory_near_max{service="health-agent-api", scope="target=\"cache-small\""} > 0.6`,
		}, `label_replace(` + redis + `, target=~"session-.*"}, "scope", "target=~\"session-.*\"", "", "")` +
			redisOn + `label_replace(` + redis + `, target="cache-small"}, "scope", "target=\"cache-small\"", "", "")` +
			redisOn + redis + `}`},
		{"CPUHigh", "scope:cpu_high", []string{
			`scope:cpu_high{service="health-agent-api", scope=""} > 0.8`,
			`scope:cpu_high{service="health-agent-api", scope="cluster=\"staging\""} > 0.9`,
		}, `label_replace(service:api_cpu_utilisation:ratio{service="health-agent-api", cluster="staging"}, "scope", "cluster=\"staging\"", "", "")` +
			"\nor on (cluster, service) " + `service:api_cpu_utilisation:ratio{service="health-agent-api"}`},
		{"PostgresConnectionsNearMax", "scope:postgres_connections_near_max", []string{
			`scope=""} > 0.8`,
			`scope="target=\"pg-batch\""} > 0.8`,
		}, ""},
	} {
		if got := recordedExpr(cfg, tc.record); got == "" || !strings.Contains(got, tc.recorded) {
			t.Errorf("%s: record %s is\n%s\nwant\n%s", tc.alert, tc.record, got, tc.recorded)
		}
		got := rules[tc.alert]
		if len(got) != len(tc.want) {
			t.Errorf("%s: %d rules, want %d:\n%s", tc.alert, len(got), len(tc.want), strings.Join(got, "\n---\n"))
			continue
		}
		for i, w := range tc.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s rule %d lacks\n%s\nin\n%s", tc.alert, i, w, got[i])
			}
			expr, ruleLabels, _ := strings.Cut(got[i], "\nlabels: ")
			if (i == 0) == strings.Contains(ruleLabels, "scope=") {
				t.Errorf("%s rule %d: the scope label belongs on scoped rules only:\n%s", tc.alert, i, got[i])
			}
			if _, err := catalogue.ParseExpr(expr); err != nil {
				t.Errorf("%s rule %d: %v", tc.alert, i, err)
			}
		}
	}
	if got := rules["DBPoolHigh"]; len(got) == 3 && !strings.HasSuffix(got[1], "for: 10m") {
		t.Errorf("DBPoolHigh pg-batch scope keeps the default for:\n%s", got[1])
	}

	// The runbook lists each scope's threshold; the generated tests hold a
	// group per scope that a fixture can feed (not the regular expression).
	files, err := Bundle(catalogue.MustBuild(cfg))
	if err != nil {
		t.Fatal(err)
	}
	runbook := string(files[alerts.FileRunbook])
	for _, want := range []string{
		"DB pool utilisation > 95% where target=\"pg-batch\"",
		"DB pool utilisation > 90% where target=\"pg-reports\", pool=\"etl\"",
		"Redis memory utilisation > 95% where target=~\"session-.*\"",
		"Redis memory utilisation > 70% where target=\"cache-small\"",
		"Redis memory utilisation > 85%",
	} {
		if !strings.Contains(runbook, strings.ReplaceAll(want, "|", `\|`)) {
			t.Errorf("RUNBOOK.md lacks %q", want)
		}
	}
	var tests strings.Builder
	for _, name := range files.Names() {
		if strings.HasPrefix(name, alerts.TestsDir+"/") {
			tests.Write(files[name])
		}
	}
	for _, want := range []string{
		`DBPoolHigh: where target="pg-batch" (> 95% for 10m) beside the default (> 80% for 5m)`,
		`DBPoolHigh: where target="pg-reports", pool="etl" (> 90% for 5m)`,
		`PostgresConnectionsNearMax: where target="pg-batch" (> 80% for 15m) beside the default (> 80% for 5m)`,
		`RedisMemoryNearMax: where target="cache-small" (> 70% for 5m) beside the default (> 85% for 5m)`,
		`CPUHigh: where cluster="staging" (> 90% for 10m)`,
	} {
		if !strings.Contains(tests.String(), want) {
			t.Errorf("no generated test group %q", want)
		}
	}
}

// The `where` example in the amas preset's comments is a complete config:
// loaded onto the preset as written, it generates, and the scope is in the
// rules. (KEDA refuses a cluster label without autoscaling.cluster, which
// an example that only named cluster_label left out.)
func TestAMASWhereExampleGenerates(t *testing.T) {
	src, err := catalogue.PresetSource(catalogue.SetAMAS)
	if err != nil {
		t.Fatal(err)
	}
	var example []string
	in := false
	for _, line := range strings.Split(string(src), "\n") {
		if strings.Contains(line, "Example, a hotter staging") {
			in = true
			continue
		}
		if in && strings.HasPrefix(line, "#   ") {
			example = append(example, strings.TrimPrefix(line, "#   "))
		} else if in && len(example) > 0 {
			break
		}
	}
	if len(example) == 0 {
		t.Fatal("amas.yaml has no `where` example")
	}
	text := strings.Join(example, "\n")
	cfg, err := catalogue.LoadOnto(catalogue.SetAMAS, []byte(text))
	if err != nil {
		t.Fatalf("the amas.yaml example does not load:\n%s\n%v", text, err)
	}
	files, err := Bundle(catalogue.MustBuild(cfg))
	if err != nil {
		t.Fatalf("the amas.yaml example does not generate:\n%s\n%v", text, err)
	}
	if !strings.Contains(string(files[alerts.FileAlerts]), `scope: cluster="staging"`) {
		t.Errorf("the amas.yaml example's scope is not in %s", alerts.FileAlerts)
	}
}

// recordedExpr is the expression of a config's recording rule, "" when it
// has none of that name.
func recordedExpr(cfg *catalogue.Config, record string) string {
	for _, g := range alerts.RecordingRules(catalogue.MustBuild(cfg)).Groups {
		for _, r := range g.Rules {
			if r.Record == record {
				return r.Expr
			}
		}
	}
	return ""
}

// manyScopesYAML gives DBPoolHigh n `where` scopes: by target alone, by
// target and pool (which the old shape excluded with "unless on"), some
// with their own for and margin.
func manyScopesYAML(n int) string {
	var b strings.Builder
	b.WriteString("triggers:\n  DBPoolHigh:\n    where:\n")
	for i := 0; i < n; i++ {
		switch i % 3 {
		case 0:
			fmt.Fprintf(&b, "      - {match: 'target=\"pg-%d\"', threshold: 0.9%d}\n", i, i%10)
		case 1:
			fmt.Fprintf(&b, "      - {match: 'target=\"pg-%d\", pool=\"etl\"', threshold: 0.9%d, for: 10m}\n", i, i%10)
		default:
			fmt.Fprintf(&b, "      - {match: 'target=~\"pg-%d-.*\"', margin: 0.1, keep_firing_for: 5m}\n", i)
		}
	}
	return b.String()
}

// Every file of a bundle grows in proportion to the scopes at most: five
// times the scopes, under six times the bytes. Each rule once excluded
// every earlier scope, so the rules and the runbook grew with the square
// of the scopes (and generation with more).
func TestScopesGrowLinearly(t *testing.T) {
	t.Parallel()
	sizes := map[int]alerts.Files{}
	for _, n := range []int{50, 250} {
		cfg, err := catalogue.LoadOnto("health-agent", []byte(manyScopesYAML(n)))
		if err != nil {
			t.Fatal(err)
		}
		if sizes[n], err = Bundle(catalogue.MustBuild(cfg)); err != nil {
			t.Fatal(err)
		}
	}
	total := map[int]int{}
	for _, name := range sizes[250].Names() {
		small, large := len(sizes[50][name]), len(sizes[250][name])
		total[50] += small
		total[250] += large
		if small == 0 || float64(large)/float64(small) >= 6 {
			t.Errorf("%s: %d bytes with 50 scopes, %d with 250", name, small, large)
		}
	}
	t.Logf("bundle: %d bytes with 50 scopes, %d with 250", total[50], total[250])
}

// The first scope that matches a series wins it, whatever the later ones
// say, and the series no scope matches are the default rule's: Prometheus
// (promtool) evaluates the generated rules over pools that several scopes
// match. (A scope that could win no series, such as one written exactly as
// an earlier one, is refused: TestScopedConfigsGenerate.)
func TestFirstScopeWins(t *testing.T) {
	t.Parallel()
	cfg, err := catalogue.LoadOnto("health-agent", []byte(`
triggers:
  DBPoolHigh:
    where:
      - {match: 'pool="etl"', threshold: 0.9}
      - {match: 'target="pg-reports"', threshold: 0.95}
      - {match: 'target=~"batch-.*"', threshold: 0.85}
`))
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := generateTo(t, cfg)
	var db catalogue.Trigger
	for _, tr := range catalogue.Catalogue(cfg) {
		if tr.ID == "DBPoolHigh" {
			db = tr
		}
	}
	pool := func(target, pool string) map[string]string {
		return map[string]string{"service": cfg.Service, "target": target, "pool": pool}
	}
	const v = 0.92 // past every threshold but the third scope's 0.95
	series := []struct {
		labels map[string]string
		scope  string             // the scope label the record gives it
		fires  *catalogue.Trigger // the rule that fires for it
	}{
		{pool("pg-reports", "etl"), `pool="etl"`, &db.Scopes[0]},
		{pool("pg-reports", "web"), `target="pg-reports"`, nil},
		{pool("batch-1", "web"), `target=~"batch-.*"`, &db.Scopes[2]},
		{pool("other", "web"), "", &db},
	}
	var in []inputSeries
	var recorded []expSample
	firing := []expAlert{}
	for _, s := range series {
		// The signal's record is fed directly: its own rule, without
		// headroom's series, records nothing.
		in = append(in, inputSeries{Series: seriesString(db.Signal.Record, s.labels), Values: "0.92x15"})
		l := with(s.labels)
		if s.scope != "" {
			l["scope"] = s.scope
		}
		recorded = append(recorded, expSample{Labels: seriesString(catalogue.ScopeRecordName(db), l), Value: v})
		if s.fires != nil {
			a, err := alertFor(*s.fires, l, v)
			if err != nil {
				t.Fatal(err)
			}
			firing = append(firing, a)
		}
	}
	var order []string
	for _, rg := range []rulefmt.RuleGroups{alerts.RecordingRules(catalogue.MustBuild(cfg)), alerts.AlertingRules(catalogue.MustBuild(cfg))} {
		for _, g := range rg.Groups {
			order = append(order, g.Name)
		}
	}
	at := model.Duration(10 * time.Minute)
	b, err := alerts.YAML(testFile{
		RuleFiles: []string{alerts.FileRules, alerts.FileAlerts}, EvaluationInterval: model.Duration(time.Minute), GroupEvalOrder: order,
		Tests: []testGroup{{
			Name: "first scope wins", Interval: model.Duration(time.Minute), InputSeries: in,
			PromQLTests:    []exprTest{{Expr: catalogue.ScopeRecordName(db), EvalTime: at, ExpSamples: recorded}},
			AlertRuleTests: []alertTest{{EvalTime: at, Alertname: "DBPoolHigh", ExpAlerts: firing}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "first-scope-test.yaml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	tool(t, dir, "promtool", "test", "rules", "first-scope-test.yaml")
}
