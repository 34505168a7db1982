package alerts

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
		cfg, err := LoadOnto("health-agent", []byte(tc.text))
		if tc.refused != "" {
			if err == nil || !strings.Contains(err.Error(), tc.refused) {
				t.Errorf("%s: error %v, want %q", tc.name, err, tc.refused)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: refused: %v", tc.name, err)
			continue
		}
		files, err := Generate(cfg)
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
			if strings.HasPrefix(name, TestsDir+"/") && name != TestsDir+"/"+FileInputsAbsentTests {
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
func filesText(files Files) []byte {
	var out []byte
	for _, name := range files.Names() {
		if strings.HasPrefix(name, TestsDir+"/") {
			out = append(out, files[name]...)
		}
	}
	return out
}

// scopedGroups is a generated test file with only the groups of the
// config's scoped triggers; nil when it has none.
func scopedGroups(t *testing.T, cfg *Config, b []byte) []byte {
	t.Helper()
	var f testFile
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	var keep []testGroup
	for _, g := range f.Tests {
		for id, o := range cfg.Triggers {
			if len(o.Where) > 0 && (strings.HasPrefix(g.Name, id+": ") || strings.HasPrefix(g.Name, id+" where ")) {
				keep = append(keep, g)
				break
			}
		}
	}
	if len(keep) == 0 {
		return nil
	}
	f.Tests = keep
	out, err := marshalYAML(f)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
