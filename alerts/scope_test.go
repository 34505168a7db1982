package alerts

import (
	"strings"
	"testing"
)

// A `where` scope names only labels its trigger's signal keeps, and sets
// something; each error names the scope's field.
func TestScopeErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"triggers:\n  CPUHigh:\n    where: [{match: 'namespace=\"batch\"', threshold: 0.9}]\n",
			`triggers.CPUHigh.where[0].match: label "namespace" is not kept by CPUHigh's signal service:api_cpu_utilisation:ratio{service="health-agent-api"} (it keeps no label but service); this signal is service-wide, so a namespace gets its own config`},
		// With cAdvisor, CPU keeps namespace; the error ratio, from the
		// API's own counter summed over its pods, still does not.
		{"resources: {source: cadvisor}\ntriggers:\n  CPUHigh:\n    where: [{match: 'namespace=\"batch\"', threshold: 0.9}]\n" +
			"  APIErrorRateHigh:\n    where: [{match: 'namespace=\"batch\"', threshold: 0.1}]\n",
			`triggers.APIErrorRateHigh.where[0].match: label "namespace" is not kept by APIErrorRateHigh's signal`},
		{"triggers:\n  DBPoolHigh:\n    where: [{match: 'target=\"a\"', threshold: 0.9}, {match: 'service=\"other\"', threshold: 0.9}]\n",
			"triggers.DBPoolHigh.where[1].match: label \"service\" is not kept by DBPoolHigh's signal pool:headroom_db_pool_utilisation:ratio{service=\"health-agent-api\"} (it keeps target, pool, database, user); a service gets its own config"},
		{"cluster_label: cluster\ntriggers:\n  CPUHigh:\n    where: [{match: 'cluster=\"a\", instance=\"x\"', threshold: 0.9}]\n",
			`triggers.CPUHigh.where[0].match: label "instance" is not kept by CPUHigh's signal service:api_cpu_utilisation:ratio{service="health-agent-api"} (it keeps cluster)`},
		{"triggers:\n  DBPoolHigh:\n    where: [{match: 'target=', threshold: 0.9}]\n", "triggers.DBPoolHigh.where[0].match: \"target=\" is not a list of label matchers"},
		{"triggers:\n  DBPoolHigh:\n    where: [{threshold: 0.9}]\n", "triggers.DBPoolHigh.where[0].match: must be set"},
		{"triggers:\n  DBPoolHigh:\n    where: [{match: 'target=\"a\"'}]\n", "triggers.DBPoolHigh.where[0]: sets none of threshold, for, keep_firing_for, margin"},
		{"triggers:\n  DBPoolHigh:\n    where: [{match: 'target=\"a\"', threshold: 0.9}, {match: 'target=\"b\"', threshold: 0.04}]\n",
			"triggers.DBPoolHigh.where[1].margin: 0.05 reaches the threshold 0.04"},
		{"triggers:\n  ExporterAbsent:\n    where: [{match: 'instance=\"a\"', for: 5m}]\n", "triggers.ExporterAbsent.where: ExporterAbsent is not a signal-versus-threshold comparison"},
		{"triggers:\n  ReplicationSlotInactive:\n    where: [{match: 'target=\"a\"', threshold: 1}]\n", "triggers.ReplicationSlotInactive.where"},
	} {
		_, err := LoadOnto("health-agent", []byte(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\nerror %v,\nwant it to contain %q", tc.text, err, tc.want)
		}
		if err != nil && strings.Contains(tc.text, "cadvisor") && strings.Contains(err.Error(), "CPUHigh") {
			t.Errorf("with cAdvisor a namespace scope of CPUHigh is refused: %v", err)
		}
	}
}

// Per-namespace thresholds with cAdvisor: the CPU, memory and saturation
// signals keep namespace, the scope and the default rule split on it, and
// a namespace's firing alert holds only its own series (the hysteresis
// join is on namespace too). TestBundles runs the generated group that
// feeds two namespaces at a value only the default threshold fires at.
func TestNamespaceScopes(t *testing.T) {
	cfg, err := LoadOnto("health-agent", []byte(namespacesYAML))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"api_cpu", "api_memory", "saturation"} {
		s, _ := signalByID(Signals(cfg), id)
		// saturation's cpu and memory rows are those records as they are.
		if !contains(s.Labels, "namespace") || (id != "saturation" && !strings.Contains(s.Expr, "namespace")) {
			t.Errorf("%s does not keep namespace: labels %v, expr %s", id, s.Labels, s.Expr)
		}
	}
	rules := map[string][]string{}
	for _, g := range AlertingRules(cfg).Groups {
		for _, r := range g.Rules {
			rules[r.Alert] = append(rules[r.Alert], r.Expr)
		}
	}
	const cpu = `service:api_cpu_utilisation:ratio{service="health-agent-api", `
	for i, want := range []string{
		cpu + `namespace!="batch"} > 0.8`,
		cpu + `namespace="batch"} > 0.95`,
	} {
		if got := rules["CPUHigh"]; len(got) != 2 || !strings.Contains(got[i], want) || !strings.Contains(got[i], "on (service, namespace) ALERTS") {
			t.Errorf("CPUHigh rule %d lacks %s or the join on namespace:\n%s", i, want, strings.Join(got, "\n---\n"))
		}
	}
	files, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := `CPUHigh: where namespace="batch" (> 95% for 15m) beside the default (> 80% for 10m)`
	if !strings.Contains(string(files[TestsDir+"/api-test.yaml"]), want) {
		t.Errorf("no generated test group %q", want)
	}
	// The process source has no namespace: the signals stay service-wide.
	def, _ := Preset("health-agent")
	if s, _ := signalByID(Signals(def), "api_cpu"); len(s.Labels) != 0 {
		t.Errorf("api_cpu keeps %v with resources.source process", s.Labels)
	}
}

// Scoped rules: one rule per scope with its matchers in the signal's
// selector, earlier scopes excluded from later ones, and a default rule
// that excludes every scope, so that exactly one rule covers each series.
func TestScopedRules(t *testing.T) {
	cfg, err := LoadOnto("health-agent", []byte(scopedYAML))
	if err != nil {
		t.Fatal(err)
	}
	rules := map[string][]string{}
	for _, g := range AlertingRules(cfg).Groups {
		for _, r := range g.Rules {
			rules[r.Alert] = append(rules[r.Alert], r.Expr+"\nlabels: "+labelText(r.Labels)+"\nfor: "+r.For.String())
		}
	}
	const db = `pool:headroom_db_pool_utilisation:ratio{service="health-agent-api"`
	const redis = `target:headroom_redis_memory_utilisation:ratio{service="health-agent-api"`
	for _, tc := range []struct {
		alert string
		want  []string // per rule, in order: default, then each scope
	}{
		{"DBPoolHigh", []string{
			`(` + db + `, target!="pg-batch"} unless on (cluster, service, target, pool, database, user) (` + db + `, target="pg-reports", pool="etl"})) > 0.8`,
			db + `, target="pg-batch"} > 0.95` + "\nor\n(\n  " + db + `, target="pg-batch"} > 0.9`,
			db + `, target="pg-reports", pool="etl", target!="pg-batch"} > 0.9`,
		}},
		{"RedisMemoryNearMax", []string{
			redis + `, target!~"session-.*", target!="cache-small"} > 0.85`,
			redis + `, target=~"session-.*"} > 0.95`,
			redis + `, target="cache-small", target!~"session-.*"} > 0.7` + "\nor\n(\n  " + redis + `, target="cache-small", target!~"session-.*"} > 0.6`,
		}},
		{"CPUHigh", []string{
			`service:api_cpu_utilisation:ratio{service="health-agent-api", cluster!="staging"} > 0.8`,
			`service:api_cpu_utilisation:ratio{service="health-agent-api", cluster="staging"} > 0.9`,
		}},
		{"PostgresConnectionsNearMax", []string{
			`target!="pg-batch"} > 0.8`,
			`target="pg-batch"} > 0.8`,
		}},
	} {
		got := rules[tc.alert]
		if len(got) != len(tc.want) {
			t.Errorf("%s: %d rules, want %d:\n%s", tc.alert, len(got), len(tc.want), strings.Join(got, "\n---\n"))
			continue
		}
		for i, w := range tc.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%s rule %d lacks\n%s\nin\n%s", tc.alert, i, w, got[i])
			}
			if (i == 0) == strings.Contains(got[i], "scope=") {
				t.Errorf("%s rule %d: the scope label belongs on scoped rules only:\n%s", tc.alert, i, got[i])
			}
			if _, err := ParseExpr(strings.SplitN(got[i], "\nlabels: ", 2)[0]); err != nil {
				t.Errorf("%s rule %d: %v", tc.alert, i, err)
			}
		}
	}
	if got := rules["DBPoolHigh"]; len(got) == 3 && !strings.HasSuffix(got[1], "for: 10m") {
		t.Errorf("DBPoolHigh pg-batch scope keeps the default for:\n%s", got[1])
	}

	// The runbook lists each scope's threshold; the generated tests hold a
	// group per scope that a fixture can feed (not the regular expression).
	files, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	runbook := string(files[FileRunbook])
	for _, want := range []string{
		"DB pool utilisation > 95% where target=\"pg-batch\"",
		"DB pool utilisation > 90% where target=\"pg-reports\", pool=\"etl\"",
		"Redis memory utilisation > 95% where target=~\"session-.*\"",
		"Redis memory utilisation > 70% where target=\"cache-small\"",
		"Redis memory utilisation > 85%",
	} {
		if !strings.Contains(runbook, mdEscape(want)) {
			t.Errorf("RUNBOOK.md lacks %q", want)
		}
	}
	var tests strings.Builder
	for _, name := range files.Names() {
		if strings.HasPrefix(name, TestsDir+"/") {
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
	src, err := PresetSource(SetAMAS)
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
	cfg, err := LoadOnto(SetAMAS, []byte(text))
	if err != nil {
		t.Fatalf("the amas.yaml example does not load:\n%s\n%v", text, err)
	}
	files, err := Generate(cfg)
	if err != nil {
		t.Fatalf("the amas.yaml example does not generate:\n%s\n%v", text, err)
	}
	if !strings.Contains(string(files[FileAlerts]), `scope: cluster="staging"`) {
		t.Errorf("the amas.yaml example's scope is not in %s", FileAlerts)
	}
}
