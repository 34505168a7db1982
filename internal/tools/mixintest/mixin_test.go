package mixintest

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-jsonnet"
	"go.yaml.in/yaml/v3"
)

// mixinDir is the repository's mixin/, what jsonnet-bundler vendors.
var mixinDir = filepath.Join("..", "..", "..", "mixin")

// presets are the mixin files a user imports, with the directory of the
// dashboards each exposes ("" for none: headroom commits the dashboards of
// the default preset only).
var presets = []struct {
	file, bundle, dashboards string
}{
	{"mixin.libsonnet", "health-agent", "dashboards"},
	{"health-agent.libsonnet", "health-agent", "dashboards"},
	{"amas.libsonnet", "amas", ""},
}

// evaluated is what a mixin exposes, as JSON decodes it.
type evaluated struct {
	Alerts     any            `json:"alerts"`
	Rules      any            `json:"rules"`
	Dashboards map[string]any `json:"dashboards"`
}

// evaluate imports a mixin file from jpath with _config overridden by the
// jsonnet object config, as a wrapper would.
func evaluate(jpath, importPath, config string) (evaluated, error) {
	vm := jsonnet.MakeVM()
	vm.Importer(&jsonnet.FileImporter{JPaths: []string{jpath}})
	snippet := fmt.Sprintf(`local m = (import %q) + { _config+:: %s };
{ alerts: m.prometheusAlerts, rules: m.prometheusRules, dashboards: m.grafanaDashboards }`, importPath, config)
	out, err := vm.EvaluateAnonymousSnippet("mixintest.jsonnet", snippet)
	if err != nil {
		return evaluated{}, err
	}
	var e evaluated
	err = json.Unmarshal([]byte(out), &e)
	return e, err
}

// override is a _config, in jsonnet and applied by hand to a generated
// dashboard: what the mixin must make of it.
type override struct {
	jsonnet string
	apply   func(dashboard map[string]any)
}

// provisioned is a generated dashboard as the mixin exposes it with the
// default _config: without the import's __inputs and __requires, and with
// the datasource variable starting on Grafana's default data source rather
// than on ${DS_PROMETHEUS}, which only the import substitutes.
func provisioned(dashboard map[string]any) {
	delete(dashboard, "__inputs")
	delete(dashboard, "__requires")
	for _, v := range datasourceVariables(dashboard) {
		delete(v, "current")
	}
}

func datasourceVariables(dashboard map[string]any) []map[string]any {
	var out []map[string]any
	templating, _ := dashboard["templating"].(map[string]any)
	list, _ := templating["list"].([]any)
	for _, v := range list {
		if v, ok := v.(map[string]any); ok && v["type"] == "datasource" {
			out = append(out, v)
		}
	}
	return out
}

var defaults = override{jsonnet: "{}", apply: provisioned}

// wrapped is every field of _config changed at once.
var wrapped = override{
	jsonnet: `{ datasourceName: 'Thanos', datasourceFilterRegex: '/^Thanos/', refresh: '30s', timezone: 'utc', dashboardTags: ['team-db'] }`,
	apply: func(d map[string]any) {
		provisioned(d)
		for _, v := range datasourceVariables(d) {
			v["current"] = map[string]any{"text": "Thanos", "value": "Thanos"}
			v["regex"] = "/^Thanos/"
		}
		d["refresh"] = "30s"
		d["timezone"] = "utc"
		d["tags"] = append(d["tags"].([]any), "team-db")
	},
}

// problems lists how a mixin's evaluation e differs from the generated files
// under dir: the preset's rules and alerts as Prometheus reads them, and
// exactly the JSON files of its dashboards directory, each made what
// o.apply makes of it.
func problems(dir, bundle, dashboards string, e evaluated, o override) []string {
	var out []string
	for _, f := range []struct {
		name string
		got  any
	}{{"prometheus_alerts.yaml", e.Alerts}, {"prometheus_rules.yaml", e.Rules}} {
		want, err := readYAML(filepath.Join(dir, bundle, f.name))
		if err != nil {
			return append(out, err.Error())
		}
		out = append(out, compareGroups(bundle+"/"+f.name, want, f.got)...)
	}

	var files []string
	if dashboards != "" {
		paths, err := filepath.Glob(filepath.Join(dir, dashboards, "*.json"))
		if err != nil {
			return append(out, err.Error())
		}
		for _, p := range paths {
			files = append(files, filepath.Base(p))
		}
	}
	keys := make([]string, 0, len(e.Dashboards))
	for k := range e.Dashboards {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, f := range files {
		if !slices.Contains(keys, f) {
			out = append(out, fmt.Sprintf("%s/%s is not in grafanaDashboards", dashboards, f))
		}
	}
	for _, k := range keys {
		if !slices.Contains(files, k) {
			out = append(out, fmt.Sprintf("grafanaDashboards has %s, which is not a file of %q", k, dashboards))
			continue
		}
		want, err := readJSON(filepath.Join(dir, dashboards, k))
		if err != nil {
			out = append(out, err.Error())
			continue
		}
		o.apply(want)
		if !reflect.DeepEqual(e.Dashboards[k], any(want)) {
			out = append(out, fmt.Sprintf("grafanaDashboards[%s] differs from %s/%s: %s", k, dashboards, k, firstDifference("", want, e.Dashboards[k])))
		}
	}
	return out
}

// compareGroups says which groups or rules differ, by name, rather than
// that two large trees do.
func compareGroups(file string, want, got any) []string {
	if reflect.DeepEqual(want, got) {
		return nil
	}
	return []string{fmt.Sprintf("%s: the mixin's groups differ: %s", file, firstDifference("", want, got))}
}

// firstDifference is the path of the first place where two decoded JSON
// values differ, with both values when they are short.
func firstDifference(path string, want, got any) string {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return fmt.Sprintf("%s: want an object, got %T", path, got)
		}
		keys := make([]string, 0, len(w)+len(g))
		for k := range w {
			keys = append(keys, k)
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		for _, k := range keys {
			if !reflect.DeepEqual(w[k], g[k]) {
				return firstDifference(path+"."+k, w[k], g[k])
			}
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			return fmt.Sprintf("%s: want a list, got %T", path, got)
		}
		for i := range min(len(w), len(g)) {
			if !reflect.DeepEqual(w[i], g[i]) {
				return firstDifference(fmt.Sprintf("%s[%d]", path, i), w[i], g[i])
			}
		}
		return fmt.Sprintf("%s: want %d items, got %d", path, len(w), len(g))
	}
	return fmt.Sprintf("%s: want %s, got %s", path, short(want), short(got))
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 120 {
		return string(b[:120]) + "..."
	}
	return string(b)
}

// readYAML decodes a rule file with the YAML library Prometheus's rule
// loader uses, into what JSON would decode, so that it compares with the
// mixin's evaluation.
func readYAML(path string) (any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	j, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out any
	return out, json.Unmarshal(j, &out)
}

func readJSON(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

// Every preset's mixin exposes exactly its generated rules, alerts and
// dashboards, with the default _config and with every field of it changed.
func TestMixinExposesTheGeneratedFiles(t *testing.T) {
	for _, p := range presets {
		for _, c := range []struct {
			name string
			o    override
		}{{"defaults", defaults}, {"wrapped", wrapped}} {
			o := c.o
			t.Run(p.file+"/"+c.name, func(t *testing.T) {
				e, err := evaluate(mixinDir, p.file, o.jsonnet)
				if err != nil {
					t.Fatal(err)
				}
				for _, problem := range problems(mixinDir, p.bundle, p.dashboards, e, o) {
					t.Error(problem)
				}
				// Not two empty sets agreeing.
				for _, file := range []any{e.Alerts, e.Rules} {
					m, _ := file.(map[string]any)
					if groups, _ := m["groups"].([]any); len(groups) == 0 {
						t.Error("no groups")
					}
				}
				if p.dashboards != "" && len(e.Dashboards) == 0 {
					t.Error("no dashboards")
				}
			})
		}
	}
}

// With the default _config the dashboards are what headroom provisions
// itself: the dashboards of the sidecar ConfigMaps, so that kube-prometheus
// and `kubectl apply -f configmaps.yaml` give the same Grafana.
func TestDefaultDashboardsAreTheConfigMaps(t *testing.T) {
	e, err := evaluate(mixinDir, "mixin.libsonnet", "{}")
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(mixinDir, "dashboards", "configmaps.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	byUID := map[string]any{}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	for {
		var cm struct {
			Data map[string]string `yaml:"data"`
		}
		if err := dec.Decode(&cm); err != nil {
			break
		}
		for _, j := range cm.Data {
			var d map[string]any
			if err := json.Unmarshal([]byte(j), &d); err != nil {
				t.Fatal(err)
			}
			byUID[d["uid"].(string)] = d
		}
	}
	if len(byUID) != len(e.Dashboards) {
		t.Errorf("%d ConfigMaps, %d dashboards in the mixin", len(byUID), len(e.Dashboards))
	}
	for file, d := range e.Dashboards {
		uid := d.(map[string]any)["uid"].(string)
		if !reflect.DeepEqual(byUID[uid], d) {
			t.Errorf("%s differs from its ConfigMap: %s", file, firstDifference("", byUID[uid], d))
		}
	}
}

// jsonnet-bundler vendors mixin/ under vendor/github.com/headroom-dev/headroom/mixin
// (and, with legacy imports, links it as vendor/NAME); its imports are
// relative to its files, so it evaluates from either with -J vendor alone.
func TestMixinEvaluatesVendored(t *testing.T) {
	vendor := filepath.Join(t.TempDir(), "vendor")
	abs, err := filepath.Abs(mixinDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, link := range []string{"github.com/headroom-dev/headroom/mixin", "headroom-mixin"} {
		at := filepath.Join(vendor, filepath.FromSlash(link))
		if err := os.MkdirAll(filepath.Dir(at), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(abs, at); err != nil {
			t.Fatal(err)
		}
		for _, p := range presets {
			e, err := evaluate(vendor, link+"/"+p.file, "{}")
			if err != nil {
				t.Fatal(err)
			}
			for _, problem := range problems(mixinDir, p.bundle, p.dashboards, e, defaults) {
				t.Errorf("%s/%s: %s", link, p.file, problem)
			}
		}
	}
}

// A mixin that lost track of the generated files fails: in a copy of
// mixin/, a dashboard renamed (its import breaks), a dashboard added that
// the mixin does not list, and the rules exposed as the alerts.
func TestMixinDriftIsCaught(t *testing.T) {
	cases := []struct {
		name   string
		change func(dir string) error
		want   string // in the evaluation error or a problem
	}{
		{
			name: "a dashboard renamed",
			change: func(dir string) error {
				d := filepath.Join(dir, "dashboards")
				return os.Rename(filepath.Join(d, "headroom-redis.json"), filepath.Join(d, "headroom-valkey.json"))
			},
			want: "headroom-redis.json",
		},
		{
			name: "a dashboard added",
			change: func(dir string) error {
				d := filepath.Join(dir, "dashboards")
				b, err := os.ReadFile(filepath.Join(d, "headroom-redis.json"))
				if err != nil {
					return err
				}
				return os.WriteFile(filepath.Join(d, "headroom-kafka.json"), b, 0o644)
			},
			want: "dashboards/headroom-kafka.json is not in grafanaDashboards",
		},
		{
			name: "the rules exposed as the alerts",
			change: func(dir string) error {
				f := filepath.Join(dir, "health-agent.libsonnet")
				b, err := os.ReadFile(f)
				if err != nil {
					return err
				}
				s := strings.Replace(string(b), "health-agent/prometheus_alerts.yaml", "health-agent/prometheus_rules.yaml", 1)
				return os.WriteFile(f, []byte(s), 0o644)
			},
			want: "prometheus_alerts.yaml: the mixin's groups differ",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := copyDir(mixinDir, dir); err != nil {
				t.Fatal(err)
			}
			if err := c.change(dir); err != nil {
				t.Fatal(err)
			}
			var found []string
			e, err := evaluate(dir, "health-agent.libsonnet", "{}")
			if err != nil {
				found = append(found, err.Error())
			} else {
				found = problems(dir, "health-agent", "dashboards", e, defaults)
			}
			if !slices.ContainsFunc(found, func(s string) bool { return strings.Contains(s, c.want) }) {
				t.Errorf("want a failure naming %q, got %q", c.want, found)
			}
		})
	}
}

func copyDir(from, to string) error {
	return filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
}
