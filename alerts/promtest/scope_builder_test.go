package promtest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/headroom-dev/headroom/alerts"
	"github.com/headroom-dev/headroom/catalogue"

	"gopkg.in/yaml.v3"
)

// A valid `where` config generates, its generated tests passing under
// promtool, and an unusable one is refused by validation naming the scope's
// field: never an error of the test builder. The builder feeds each rule a
// series that rule covers, whatever the fixture's own labels: a regular
// expression or a negated matcher that also takes the fixture's series once
// left the default rule's test reading the scope's threshold ("does not
// fire within 4 steps").
func TestScopedConfigsGenerate(t *testing.T) {
	t.Parallel()
	var casesTests []string
	for _, tc := range []struct {
		name, text string
		// refused is the error's field and reason; "" generates.
		refused string
		// groups must be among the generated tests' group names.
		groups []string
	}{
		{name: "regex taking the fixture's target", text: `
triggers:
  DBPoolHigh: {where: [{match: 'target=~"pg-.*"', threshold: 0.9}]}
  ReplicationLagHigh: {where: [{match: 'target=~"pg-.*"', threshold: 60}]}
`, groups: []string{`DBPoolHigh: where target=~"pg-.*" (> 90% for 5m) beside the default (> 80% for 5m)`,
			`ReplicationLagHigh: where target=~"pg-.*" (> 1m for 2m) beside the default (> 10s for 2m)`}},
		{name: "equality taking the fixture's database", text: `
triggers:
  PgBouncerClientsWaiting: {where: [{match: 'database="app"', threshold: 3}]}
`, groups: []string{`PgBouncerClientsWaiting: where database="app" (> 3 for 2m) beside the default (> 0 for 2m)`}},
		{name: "negated matcher taking the fixture's target", text: `
triggers:
  DBPoolLow: {for: 10m, where: [{match: 'target!="pg-hot"', threshold: 0.1}]}
`, groups: []string{`DBPoolLow: where target!="pg-hot" (< 10% for 10m) beside the default (< 30% for 10m)`}},
		{name: "negated regex, then what it leaves", text: `
triggers:
  RedisMemoryNearMax:
    where:
      - {match: 'target!~"re.*"', threshold: 0.95}
      - {match: 'target=~"redis|cache"', threshold: 0.7}
`, groups: []string{`RedisMemoryNearMax: where target!~"re.*" (> 95% for 5m) beside the default (> 80% for 5m)`,
			`RedisMemoryNearMax: where target=~"redis|cache" (> 70% for 5m) beside the default (> 80% for 5m)`}},
		// No series is left to the default rule: allowed (the trigger's
		// own threshold may be the preset's), and each scope gets the
		// crossing tests the default rule would have had.
		{name: "scopes covering every series", text: `
triggers:
  DBPoolHigh: {where: [{match: 'target=~".*"', threshold: 0.9}]}
  RedisMemoryNearMax:
    where:
      - {match: 'target=~"re.*"', threshold: 0.9}
      - {match: 'target!~"re.*"', threshold: 0.95}
`, groups: []string{`DBPoolHigh where target=~".*": DB pool utilisation at 99% fires after 5m, resolves on recovery to 37.5%`,
			`RedisMemoryNearMax where target!~"re.*": Redis memory utilisation at 93.1% (threshold > 95%) does not fire`}},
		// resource is the saturation record's own label, not its inputs'
		// (kube-state-metrics' limits carry another resource label): the
		// fixture cannot make another resource, so the default rule gets
		// no series and the scope the crossing tests.
		{name: "a scope on a label the signal sets itself", text: cadvisorYAML + `
triggers:
  ResourceSaturated: {where: [{match: 'resource="cpu"', threshold: 0.95}]}
`, groups: []string{`ResourceSaturated where resource="cpu": Resource utilisation at 97.5% fires after 10m, resolves on recovery to 37.5%`}},
		{name: "a scope written as an earlier one", text: `
triggers:
  DBPoolHigh: {where: [{match: 'pool="etl"', threshold: 0.9}, {match: 'pool="etl"', threshold: 0.95}]}
`, refused: `triggers.DBPoolHigh.where[1].match: shadowed by where[0]`},
		{name: "a narrower scope after a wider one", text: `
triggers:
  DBPoolHigh: {where: [{match: 'target=~"pg-.*"', threshold: 0.9}, {match: 'target="pg-batch", pool="etl"', threshold: 0.95}]}
`, refused: `triggers.DBPoolHigh.where[1].match: shadowed by where[0]`},
		{name: "a scope two earlier ones cover together", text: `
triggers:
  PgBouncerClientsWaiting:
    where:
      - {match: 'database="app"', threshold: 3}
      - {match: 'database!="app"', threshold: 5}
      - {match: 'target="pgbouncer-2"', threshold: 8}
`, refused: `triggers.PgBouncerClientsWaiting.where[2].match: shadowed by where[0] to where[1] together`},
		{name: "contradictory matchers", text: `
triggers:
  DBPoolHigh: {where: [{match: 'target="a", target=~"b.*"', threshold: 0.9}]}
`, refused: `triggers.DBPoolHigh.where[0].match: {target="a", target=~"b.*"} matches no series`},
	} {
		cfg := loadOrRefuse(t, tc.name, "health-agent", tc.text, tc.refused)
		if cfg == nil {
			continue
		}
		files, err := Bundle(catalogue.MustBuild(cfg))
		if err != nil {
			t.Errorf("%s: does not generate: %v", tc.name, err)
			continue
		}
		// One promtool run below takes every case's scoped triggers'
		// groups, each file beside its own bundle; the other triggers'
		// groups are TestBundles' and would take seconds.
		dir := t.TempDir()
		for name, b := range files {
			p := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(name, alerts.TestsDir+"/") && name != alerts.TestsDir+"/"+FileInputsAbsentTests {
				if b = scopedGroups(t, cfg, b); b == nil {
					continue
				}
				casesTests = append(casesTests, p)
			}
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, g := range tc.groups {
			if !strings.Contains(string(filesText(files)), "name: '"+g) {
				t.Errorf("%s: no generated test group %q", tc.name, g)
			}
		}
	}
	if len(casesTests) == 0 {
		t.Fatal("no case generated tests")
	}
	tool(t, ".", "promtool", append([]string{"test", "rules"}, casesTests...)...)
}

// filesText is every generated test file, one after the other.
func filesText(files alerts.Files) []byte {
	var out []byte
	for _, name := range files.Names() {
		if strings.HasPrefix(name, alerts.TestsDir+"/") {
			out = append(out, files[name]...)
		}
	}
	return out
}

// scopedGroups is a generated test file with only the groups of the
// config's scoped triggers; nil when it has none.
func scopedGroups(t *testing.T, cfg *catalogue.Config, b []byte) []byte {
	t.Helper()
	var f testFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var keep []testGroup
	for _, g := range f.Tests {
		for id, o := range cfg.Triggers {
			if len(o.Where) > 0 && (strings.HasPrefix(g.Name, string(id)+": ") || strings.HasPrefix(g.Name, string(id)+" where ")) {
				keep = append(keep, g)
				break
			}
		}
	}
	if len(keep) == 0 {
		return nil
	}
	f.Tests = keep
	out, err := alerts.YAML(f)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Every shape of matcher (=, !=, =~, !~, each taking the test fixture's own
// series or not) on every label of every scopable trigger, alone or after
// another scope, either is refused by validation naming a scope's field or
// makes the trigger's tests: the builder never fails on a config validation
// let through. The tests are only built, not run (TestScopedConfigsGenerate
// runs some through promtool), to stay fast.
func TestScopeShapesNeverFailTheBuilder(t *testing.T) {
	t.Parallel()
	generated, refused := 0, 0
	// cAdvisor's resource signals keep namespace, and its limit series
	// carry a resource label of their own.
	for _, prefix := range []string{everyTrigger, everyTrigger + cadvisorYAML} {
		generated, refused = scopeShapes(t, prefix, generated, refused)
	}
	t.Logf("%d configs generated, %d refused", generated, refused)
	if generated < 100 || refused == 0 {
		t.Errorf("%d configs generated, %d refused: the shapes no longer cover both", generated, refused)
	}
}

const cadvisorYAML = `resources: {source: cadvisor}
selectors: {cadvisor: 'container="api"', kube_state_metrics: 'container="api"'}
`

// scopeShapes runs TestScopeShapesNeverFailTheBuilder's shapes over a
// config and counts the configs generated and refused.
func scopeShapes(t *testing.T, prefix string, generated, refused int) (int, int) {
	base, err := catalogue.LoadOnto("health-agent", []byte(prefix))
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range catalogue.Catalogue(base) {
		if testKindOf(tr) != testThreshold || tr.HasOwnExpr() || tr.Comparison == catalogue.Custom || len(tr.Signal.Labels) == 0 {
			continue
		}
		g := testGen{cfg: base, t: tr, cat: catalogue.Catalogue(base)}
		fire, _, _ := g.values()
		_, series, err := g.runRelabeled(constant(1, fire), testStep, nil)
		if err != nil {
			t.Fatalf("%s: fixture: %v", tr.ID, err)
		}
		thr := scopeThreshold(tr)
		var lists [][]string
		var carried []string
		for _, l := range tr.Signal.Labels {
			v := series[l]
			if v == "" {
				// A label the fixture does not write: the scope takes
				// series the test cannot make, or none at all.
				lists = append(lists, []string{fmt.Sprintf(`%s="x"`, l)}, []string{fmt.Sprintf(`%s=""`, l)})
				continue
			}
			carried = append(carried, l)
			for _, m := range []string{`%s="%s"`, `%s!="%s"`, `%s=~"%s.*"`, `%s!~"%s.*"`, `%s=~"x|%s"`, `%s=~".+"`, `%s=~".*"`} {
				one := m
				if strings.Count(m, "%s") == 2 {
					one = fmt.Sprintf(m, l, v)
				} else {
					one = fmt.Sprintf(m, l)
				}
				lists = append(lists, []string{one}, []string{one, fmt.Sprintf(`%s="%s"`, l, v)}, []string{fmt.Sprintf(`%s!="%s"`, l, v), one})
			}
		}
		if len(carried) >= 2 {
			a, b := carried[0], carried[1]
			lists = append(lists, []string{fmt.Sprintf(`%s="%s"`, a, series[a]), fmt.Sprintf(`%s!="%s"`, b, series[b])},
				[]string{fmt.Sprintf(`%s=~"%s.*", %s!="%s"`, a, series[a], b, series[b]), fmt.Sprintf(`%s="%s"`, b, series[b])})
		}
		for _, list := range lists {
			var text strings.Builder
			fmt.Fprintf(&text, "%striggers:\n  %s:\n    where:\n", prefix, tr.ID)
			for i, m := range list {
				set := "threshold: " + catalogue.Num(thr[i%2])
				if tr.Comparison == catalogue.Equal {
					set = fmt.Sprintf("for: %dm", 3+i) // a state, 0 or 1: only for differs
				}
				fmt.Fprintf(&text, "      - {match: '%s', %s}\n", m, set)
			}
			cfg, err := catalogue.LoadOnto("health-agent", []byte(text.String()))
			if err != nil {
				if !strings.Contains(err.Error(), "triggers."+string(tr.ID)+".where[") {
					t.Errorf("%s where %v: refused without naming a scope: %v", tr.ID, list, err)
				}
				refused++
				continue
			}
			if err := buildAlertTests(cfg, tr.Alert); err != nil {
				t.Errorf("%s where %v: validation let it through, the test builder fails: %v", tr.ID, list, err)
			}
			generated++
		}
	}
	return generated, refused
}

// scopeThreshold are two thresholds a scope of the trigger may set, past
// its own on the side it fires and apart from each other.
func scopeThreshold(t catalogue.Trigger) [2]float64 {
	thr := t.Threshold
	switch {
	case t.Comparison == catalogue.Below:
		return [2]float64{catalogue.Round(thr / 2), catalogue.Round(thr / 4)}
	case t.Signal.Unit == catalogue.UnitRatio:
		return [2]float64{catalogue.Round((thr + 1) / 2), catalogue.Round((3*thr + 1) / 4)}
	case t.Signal.Unit == catalogue.UnitCount:
		return [2]float64{thr + 2, thr + 4}
	}
	return [2]float64{catalogue.Round(thr*2 + 1), catalogue.Round(thr*3 + 2)}
}
