package dashboards

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/prometheus/prometheus/promql/parser"
	"gopkg.in/yaml.v3"

	"github.com/headroom-dev/headroom/alerts"
	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/collectors"
)

func init() {
	// Panels' options and queries decode into their plugins' types.
	plugins.RegisterDefaultPlugins()
}

// generated is every preset's config and files.
type generated struct {
	cfg   *catalogue.Config
	files map[string][]byte
}

// customConfig is a user's config: a cluster label, its own service and
// targets, a threshold override.
const customConfig = `preset: amas
service: checkout
cluster_label: k8s_cluster
autoscaling: {cluster: eu-1}
targets: {postgres: "pg-.*", redis: "cache"}
triggers:
  RequestRateHigh: {threshold: 40}
`

func generateAll(t *testing.T) []generated {
	t.Helper()
	var cfgs []*catalogue.Config
	for _, name := range catalogue.Presets() {
		cfg, err := catalogue.Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		cfgs = append(cfgs, cfg)
	}
	custom, err := catalogue.Load([]byte(customConfig))
	if err != nil {
		t.Fatal(err)
	}
	cfgs = append(cfgs, custom)
	var out []generated
	for _, cfg := range cfgs {
		name := cfg.Preset + "/" + cfg.Service
		files, err := Generate(catalogue.MustBuild(cfg))
		if err != nil {
			t.Fatalf("preset %s: %v", name, err)
		}
		again, err := Generate(catalogue.MustBuild(cfg))
		if err != nil || !reflect.DeepEqual(files, again) {
			t.Fatalf("preset %s: Generate is not deterministic (%v)", name, err)
		}
		out = append(out, generated{cfg, files})
	}
	return out
}

// strict decodes a dashboard model, after the SDK's strict decoder has
// accepted it: that decoder rejects a field its types (or a panel plugin's
// options, or a query's type) do not know and a value of the wrong type,
// at any depth.
//
// The value comes from the plain decoder because, at v0.0.22, the strict
// decoder reports errors at every depth but drops values on the way up:
// PanelOrRowPanel, the panel options and the queries are kept only when
// the nested decoder returns a nil error, and it returns its empty
// cog.BuildErrors instead (see noBuildErrors), so every top-level panel
// comes back empty. The round-trip test re-encodes the plain decoder's
// value and compares it with the input, so nothing is dropped unseen.
func strict(raw []byte) (dashboard.Dashboard, error) {
	var d dashboard.Dashboard
	if err := noBuildErrors(d.UnmarshalJSONStrict(raw)); err != nil {
		return dashboard.Dashboard{}, err
	}
	d = dashboard.Dashboard{}
	err := json.Unmarshal(raw, &d)
	return d, err
}

// noBuildErrors is nil for a strict decoder's success. The SDK's generated
// UnmarshalJSONStrict methods (v0.0.14 onwards, still at v0.0.22) end with
// "return errs" where errs is a cog.BuildErrors that stays nil when
// nothing is wrong: the nil slice in a non-nil error interface. An empty
// list therefore means no field was rejected.
func noBuildErrors(err error) error {
	var errs cog.BuildErrors
	if errors.As(err, &errs) && len(errs) == 0 {
		return nil
	}
	return err
}

// unwrap removes the import wrapper (__inputs, __requires) from a file.
func unwrap(t *testing.T, raw []byte) (inputs, requires json.RawMessage, body []byte) {
	t.Helper()
	var top map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		t.Fatal(err)
	}
	inputs, requires = top["__inputs"], top["__requires"]
	delete(top, "__inputs")
	delete(top, "__requires")
	body, err := json.Marshal(top)
	if err != nil {
		t.Fatal(err)
	}
	return inputs, requires, body
}

func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}

// firstJSONDiff is the path of a value that differs between two JSON
// documents, "" when they are equal.
func firstJSONDiff(t *testing.T, a, b []byte) string {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	var diff func(path string, x, y any) string
	diff = func(path string, x, y any) string {
		switch xv := x.(type) {
		case map[string]any:
			yv, ok := y.(map[string]any)
			if !ok {
				return path
			}
			for _, k := range keys(xv) {
				if d := diff(path+"."+k, xv[k], yv[k]); d != "" {
					return d
				}
			}
			for _, k := range keys(yv) {
				if _, ok := xv[k]; !ok {
					return path + "." + k + " (added)"
				}
			}
			return ""
		case []any:
			yv, ok := y.([]any)
			if !ok || len(xv) != len(yv) {
				return path
			}
			for i := range xv {
				if d := diff(fmt.Sprintf("%s[%d]", path, i), xv[i], yv[i]); d != "" {
					return d
				}
			}
			return ""
		}
		if !reflect.DeepEqual(x, y) {
			return fmt.Sprintf("%s (%v, then %v)", path, x, y)
		}
		return ""
	}
	return diff("", x, y)
}

// The JSON files and the ConfigMaps' dashboards decode strictly into the
// SDK's dashboard types and encode back to the same JSON.
func TestRoundTripThroughSDK(t *testing.T) {
	for _, gen := range generateAll(t) {
		for _, name := range Names {
			raw := gen.files[FileName(name)]
			inputs, requires, body := unwrap(t, raw)
			var in []input
			if err := json.Unmarshal(inputs, &in); err != nil || len(in) != 1 || in[0].Name != DatasourceInput || in[0].PluginID != "prometheus" {
				t.Errorf("%s %s: __inputs = %s, want the %s datasource input", gen.cfg.Service, name, inputs, DatasourceInput)
			}
			var req []requirement
			if err := json.Unmarshal(requires, &req); err != nil || len(req) < 3 || req[1].ID != "prometheus" {
				t.Errorf("%s %s: __requires = %s", gen.cfg.Service, name, requires)
			}
			d, err := strict(body)
			if err != nil {
				t.Errorf("%s %s: strict decode: %v", gen.cfg.Service, name, err)
				continue
			}
			back, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			if path := firstJSONDiff(t, body, back); path != "" {
				t.Errorf("%s %s: JSON changes through the SDK's types at %s", gen.cfg.Service, name, path)
			}
		}
	}
}

// The strict decoder rejects what Grafana's schema does not have: an
// unknown field and a value of the wrong type, on the dashboard, a panel,
// its plugin's options and its queries.
func TestStrictDecoderRejects(t *testing.T) {
	_, files := generateCommitted(t)
	_, _, body := unwrap(t, files[FileName(Overview)])
	if _, err := strict(body); err != nil {
		t.Fatalf("the generated overview: %v", err)
	}
	firstPanel := func(d map[string]any) map[string]any {
		for _, p := range d["panels"].([]any) {
			if p := p.(map[string]any); p["type"] != "row" {
				return p
			}
		}
		t.Fatal("no panel outside a row")
		return nil
	}
	for _, tc := range []struct {
		name   string
		mutate func(d map[string]any)
		want   string
	}{
		{"unknown dashboard field", func(d map[string]any) { d["editabel"] = true }, "editabel"},
		{"dashboard field of the wrong type", func(d map[string]any) { d["title"] = 5 }, "title"},
		{"unknown panel field", func(d map[string]any) { firstPanel(d)["datasouce"] = "x" }, "datasouce"},
		{"panel field of the wrong type", func(d map[string]any) {
			firstPanel(d)["gridPos"].(map[string]any)["w"] = "12"
		}, "gridPos"},
		{"unknown option of the panel's plugin", func(d map[string]any) {
			firstPanel(d)["options"].(map[string]any)["colourMode"] = "background"
		}, "colourMode"},
		{"unknown query field", func(d map[string]any) {
			firstPanel(d)["targets"].([]any)[0].(map[string]any)["exprr"] = "up"
		}, "exprr"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var d map[string]any
			if err := json.Unmarshal(body, &d); err != nil {
				t.Fatal(err)
			}
			tc.mutate(d)
			raw, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			_, err = strict(raw)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name %s", err, tc.want)
			}
		})
	}
}

type configMapDoc struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name   string            `yaml:"name"`
		Labels map[string]string `yaml:"labels"`
	} `yaml:"metadata"`
	Data map[string]string `yaml:"data"`
}

func configMaps(t *testing.T, raw []byte) []configMapDoc {
	t.Helper()
	var out []configMapDoc
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	for {
		var cm configMapDoc
		if err := dec.Decode(&cm); err != nil {
			if err.Error() == "EOF" {
				break
			}
			t.Fatal(err)
		}
		out = append(out, cm)
	}
	return out
}

// One ConfigMap per dashboard, labelled for the Grafana sidecar, holding
// the dashboard with its uid and no import inputs left to substitute.
func TestConfigMaps(t *testing.T) {
	for _, gen := range generateAll(t) {
		cms := configMaps(t, gen.files[FileConfigMaps])
		if len(cms) != len(Names) {
			t.Fatalf("%s: %d ConfigMaps, want %d", gen.cfg.Service, len(cms), len(Names))
		}
		for i, cm := range cms {
			uid := UID(gen.cfg, Names[i])
			if cm.APIVersion != "v1" || cm.Kind != "ConfigMap" || cm.Metadata.Labels[SidecarLabel] != "1" {
				t.Errorf("%s: ConfigMap %s: %s %s labels %v", gen.cfg.Service, cm.Metadata.Name, cm.APIVersion, cm.Kind, cm.Metadata.Labels)
			}
			if !regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`).MatchString(cm.Metadata.Name) || len(cm.Metadata.Name) > 253 {
				t.Errorf("%s: ConfigMap name %q is not a DNS subdomain", gen.cfg.Service, cm.Metadata.Name)
			}
			body, ok := cm.Data[uid+".json"]
			if !ok || len(cm.Data) != 1 {
				t.Errorf("%s: ConfigMap %s: data keys %v, want %s.json", gen.cfg.Service, cm.Metadata.Name, keys(cm.Data), uid)
				continue
			}
			// kubectl apply (client side) keeps the object in a 256KiB annotation.
			if len(body) > 200<<10 {
				t.Errorf("%s: ConfigMap %s holds %d bytes: too big for kubectl apply", gen.cfg.Service, cm.Metadata.Name, len(body))
			}
			if strings.Contains(body, "${"+DatasourceInput+"}") || strings.Contains(body, "__inputs") {
				t.Errorf("%s: ConfigMap %s still has import inputs: the sidecar does not substitute them", gen.cfg.Service, cm.Metadata.Name)
			}
			d, err := strict([]byte(body))
			if err != nil {
				t.Errorf("%s: ConfigMap %s: %v", gen.cfg.Service, cm.Metadata.Name, err)
				continue
			}
			if *d.Uid != uid {
				t.Errorf("%s: ConfigMap %s holds uid %s, want %s", gen.cfg.Service, cm.Metadata.Name, *d.Uid, uid)
			}
			// Same dashboard as the file but for the datasource default.
			_, _, fileBody := unwrap(t, gen.files[FileName(Names[i])])
			fd, _ := strict(fileBody)
			setDatasourceDefault(&fd, "")
			a, _ := json.Marshal(fd)
			b, _ := json.Marshal(d)
			if !sameJSON(t, a, b) {
				t.Errorf("%s: ConfigMap %s differs from %s beyond the datasource default", gen.cfg.Service, cm.Metadata.Name, FileName(Names[i]))
			}
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func dashboardsOf(t *testing.T, gen generated) map[string]dashboard.Dashboard {
	t.Helper()
	out := map[string]dashboard.Dashboard{}
	for _, name := range Names {
		_, _, body := unwrap(t, gen.files[FileName(name)])
		d, err := strict(body)
		if err != nil {
			t.Fatalf("%s %s: %v", gen.cfg.Service, name, err)
		}
		out[name] = d
	}
	return out
}

// uids are stable, unique across presets and dashboards, and valid.
func TestUIDs(t *testing.T) {
	seen := map[string]string{}
	for _, gen := range generateAll(t) {
		for name, d := range dashboardsOf(t, gen) {
			uid := *d.Uid
			if uid != UID(gen.cfg, name) || len(uid) > 40 || !regexp.MustCompile(`^[a-z0-9-]+$`).MatchString(uid) {
				t.Errorf("%s %s: uid %q", gen.cfg.Service, name, uid)
			}
			if other, dup := seen[uid]; dup {
				t.Errorf("uid %s used by %s and %s %s", uid, other, gen.cfg.Service, name)
			}
			seen[uid] = gen.cfg.Service + " " + name
		}
	}
	// Stable: links and bookmarks depend on them.
	cfg, _ := catalogue.Preset(catalogue.SetHealthAgent)
	if got := UID(cfg, Overview); got != "headroom-health-agent-api-overview" {
		t.Errorf("overview uid = %s", got)
	}
	long := *cfg
	long.Service = strings.Repeat("a-very-long-service-name-", 4)
	other := long
	other.Service += "2"
	for _, name := range Names {
		a, b := UID(&long, name), UID(&other, name)
		if len(a) > 40 || a == b || !strings.HasSuffix(a, "-"+name) {
			t.Errorf("long service names: %s and %s", a, b)
		}
	}
}

// walkJSON calls f for every object in a decoded JSON value, with the key
// it is under.
func walkJSON(v any, key string, f func(key string, obj map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		f(key, x)
		for k, c := range x {
			walkJSON(c, k, f)
		}
	case []any:
		for _, c := range x {
			walkJSON(c, key, f)
		}
	}
}

// Every panel and every query reads the datasource variable; nothing
// names a data source uid.
func TestDatasourceIsAVariable(t *testing.T) {
	want := map[string]any{"type": "prometheus", "uid": "${" + DatasourceVar + "}"}
	for _, gen := range generateAll(t) {
		for name, d := range dashboardsOf(t, gen) {
			_, _, body := unwrap(t, gen.files[FileName(name)])
			var v any
			json.Unmarshal(body, &v)
			walkJSON(v, "", func(key string, obj map[string]any) {
				if ds, ok := obj["datasource"]; ok && !reflect.DeepEqual(ds, want) {
					t.Errorf("%s %s: datasource %v, want %v", gen.cfg.Service, name, ds, want)
				}
			})
			for _, p := range allPanels(d) {
				if len(p.Targets) == 0 {
					if p.Type != "row" && p.Type != "text" {
						t.Errorf("%s %s: panel %q has no queries", gen.cfg.Service, name, str(p.Title))
					}
					continue
				}
				if p.Datasource == nil || str(p.Datasource.Uid) != "${datasource}" {
					t.Errorf("%s %s: panel %q: datasource %v", gen.cfg.Service, name, str(p.Title), p.Datasource)
				}
				for _, q := range exprsOf(t, p) {
					if q.ds != "${datasource}" {
						t.Errorf("%s %s: panel %q: query datasource %q", gen.cfg.Service, name, str(p.Title), q.ds)
					}
				}
			}
			var dsVars int
			for _, v := range d.Templating.List {
				switch v.Type {
				case dashboard.VariableTypeDatasource:
					dsVars++
					if v.Name != DatasourceVar || str(v.Query.String) != "prometheus" || v.Current == nil || str(v.Current.Value.String) != "${"+DatasourceInput+"}" {
						t.Errorf("%s %s: datasource variable %+v", gen.cfg.Service, name, v)
					}
				case dashboard.VariableTypeQuery:
					if v.Datasource == nil || str(v.Datasource.Uid) != "${datasource}" {
						t.Errorf("%s %s: variable %s datasource %v", gen.cfg.Service, name, v.Name, v.Datasource)
					}
				}
			}
			if dsVars != 1 {
				t.Errorf("%s %s: %d datasource variables", gen.cfg.Service, name, dsVars)
			}
			var names []string
			for _, v := range d.Templating.List {
				names = append(names, v.Name)
			}
			if strings.Join(names, ",") != "datasource,cluster,job,target" {
				t.Errorf("%s %s: variables %v, want datasource, cluster, job, target", gen.cfg.Service, name, names)
			}
		}
	}
}

// panelQuery is one query of a panel as the tests see it.
type panelQuery struct {
	expr, ds string
}

func exprsOf(t *testing.T, p dashboard.Panel) []panelQuery {
	t.Helper()
	qs, err := panelQueries(p)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]panelQuery, len(qs))
	for i, q := range qs {
		out[i] = panelQuery{q.Expr, q.Datasource}
	}
	return out
}

// substitute replaces Grafana's range variables so that a query parses as
// Prometheus receives it; dashboard variables stand inside label matchers.
func substitute(expr, rateInterval string) string {
	return strings.NewReplacer("$__rate_interval", rateInterval, "$__interval", "1m", "$__range", "1h").Replace(expr)
}

var varRef = regexp.MustCompile(`\$\{?(\w+)`)

// allowedMetrics are the metrics a dashboard may select: what the exporter
// exports, what the bundle records, and the documented external inputs.
func allowedMetrics(cfg *catalogue.Config) map[string]string {
	ok := map[string]string{}
	for _, m := range collectors.Metrics() {
		ok[m.Name] = "exporter"
		if m.Type == "histogram" {
			for _, s := range []string{"_bucket", "_count", "_sum"} {
				ok[m.Name+s] = "exporter"
			}
		}
	}
	for _, g := range alerts.RecordingRules(catalogue.MustBuild(cfg)).Groups {
		for _, r := range g.Rules {
			ok[r.Record] = "recording rule"
		}
	}
	for _, in := range catalogue.Inputs(cfg) {
		ok[in.Name] = "external input: " + in.From
	}
	return ok
}

var labelValues = regexp.MustCompile(`^label_values\((.+), *(\w+)\)$`)

// Every query parses with Prometheus's parser, selects only metrics that
// exist, refers only to the dashboard's variables, and divides only by
// denominators guarded against 0.
func TestQueries(t *testing.T) {
	for _, gen := range generateAll(t) {
		allowed := allowedMetrics(gen.cfg)
		for name, d := range dashboardsOf(t, gen) {
			check := func(where, expr string) {
				for _, ref := range varRef.FindAllStringSubmatch(expr, -1) {
					switch ref[1] {
					case "cluster", "job", "target", "__rate_interval":
					default:
						t.Errorf("%s %s %s: unknown variable $%s in %s", gen.cfg.Service, name, where, ref[1], expr)
					}
				}
				e, err := parser.NewParser(parser.Options{}).ParseExpr(substitute(expr, "5m"))
				if err != nil {
					t.Errorf("%s %s %s: %v\n%s", gen.cfg.Service, name, where, err, expr)
					return
				}
				metrics, _ := catalogue.SelectedMetrics(e.String())
				for _, m := range metrics {
					if _, ok := allowed[m]; !ok {
						t.Errorf("%s %s %s: %s is neither exported by headroom, recorded by the bundle nor a documented input", gen.cfg.Service, name, where, m)
					}
				}
				if err := guarded(e); err != nil {
					t.Errorf("%s %s %s: %v\n%s", gen.cfg.Service, name, where, err, expr)
				}
			}
			for _, p := range allPanels(d) {
				for _, q := range exprsOf(t, p) {
					check(fmt.Sprintf("panel %q", str(p.Title)), q.expr)
				}
			}
			for _, v := range d.Templating.List {
				if v.Type != dashboard.VariableTypeQuery {
					continue
				}
				m := labelValues.FindStringSubmatch(str(v.Query.String))
				if m == nil {
					t.Errorf("%s %s: variable %s query %q is not label_values(selector, label)", gen.cfg.Service, name, v.Name, str(v.Query.String))
					continue
				}
				check("variable "+v.Name, m[1])
			}
		}
	}
}

// guarded reports a division whose denominator may be 0 (NaN or ±Inf on a
// panel): every denominator must be a number or filtered with "> 0".
func guarded(e parser.Expr) error {
	var bad error
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		b, ok := n.(*parser.BinaryExpr)
		if !ok || b.Op != parser.DIV {
			return nil
		}
		rhs := b.RHS
		for {
			p, ok := rhs.(*parser.ParenExpr)
			if !ok {
				break
			}
			rhs = p.Expr
		}
		switch r := rhs.(type) {
		case *parser.NumberLiteral:
			if r.Val != 0 {
				return nil
			}
		case *parser.BinaryExpr:
			if n, ok := r.RHS.(*parser.NumberLiteral); ok && r.Op == parser.GTR && !r.ReturnBool && n.Val == 0 {
				return nil
			}
		}
		bad = fmt.Errorf("unguarded division by %s", rhs)
		return nil
	})
	return bad
}

// marker is how a panel's description names the trigger it shows.
func marker(t catalogue.Trigger) string {
	if string(t.ID) != t.Alert {
		return "**" + t.Alert + "** (" + string(t.ID) + ")"
	}
	return "**" + t.Alert + "**:"
}

func steps(p dashboard.Panel) []dashboard.Threshold {
	if p.FieldConfig == nil || p.FieldConfig.Defaults.Thresholds == nil {
		return nil
	}
	return p.FieldConfig.Defaults.Thresholds.Steps
}

func hasStep(p dashboard.Panel, v float64) bool {
	for _, s := range steps(p) {
		if s.Value != nil && math.Abs(*s.Value-v) <= 1e-9*math.Max(1, math.Abs(v)) {
			return true
		}
	}
	return false
}

// Every trigger of the catalogue is on the overview: a time series with its
// threshold drawn and a stat coloured by it, described with its action. A
// forecast is on the Headroom dashboard instead, as a stat only: PromQL
// has no future samples to draw.
func TestOverviewShowsEveryTrigger(t *testing.T) {
	for _, gen := range generateAll(t) {
		ds := dashboardsOf(t, gen)
		for _, tr := range catalogue.Catalogue(gen.cfg) {
			panels := allPanels(ds[Overview])
			if tr.IsForecast() {
				panels = allPanels(ds[Headroom])
			}
			if catalogue.IsAutoscalerTrigger(tr.ID) {
				// Drawn together in the autoscaler row (autoscalerPanels),
				// which links to each.
				if !overviewLinks(panels, tr.Alert) {
					t.Errorf("%s %s: no panel of the overview links to it", gen.cfg.Service, tr.ID)
				}
				continue
			}
			var ts, st []dashboard.Panel
			for _, p := range panels {
				if !strings.Contains(str(p.Description), marker(tr)) {
					continue
				}
				switch p.Type {
				case "timeseries":
					ts = append(ts, p)
				case "stat":
					st = append(st, p)
				}
			}
			where := gen.cfg.Service + " " + string(tr.ID)
			if len(st) == 0 || (len(ts) == 0 && !tr.IsForecast()) {
				t.Errorf("%s: %d time series and %d stats on the overview, want at least one of each", where, len(ts), len(st))
				continue
			}
			for _, p := range append(ts, st...) {
				if !strings.Contains(str(p.Description), "Action: "+words(tr.Action)) {
					t.Errorf("%s: panel %q does not name the action %s", where, str(p.Title), tr.Action)
				}
			}
			for _, p := range ts {
				o, _ := json.Marshal(p.FieldConfig.Defaults.Custom)
				if !strings.Contains(string(o), `"thresholdsStyle":{"mode":"line+area"}`) {
					t.Errorf("%s: time series %q does not draw its thresholds: %s", where, str(p.Title), o)
				}
			}
			if tr.Target() == "" && tr.Threshold == 0 {
				continue // absent(): no threshold to draw
			}
			for _, p := range ts {
				if !hasStep(p, tr.Threshold) {
					t.Errorf("%s: time series %q has no threshold step at %g: %v", where, str(p.Title), tr.Threshold, steps(p))
				}
				if tr.Target() != "" && p.FieldConfig.Defaults.Unit != nil && *p.FieldConfig.Defaults.Unit != signalUnit(tr.Signal) {
					t.Errorf("%s: time series %q unit %s, want %s", where, str(p.Title), *p.FieldConfig.Defaults.Unit, signalUnit(tr.Signal))
				}
			}
			for _, p := range st {
				inExpr := false
				for _, q := range exprsOf(t, p) {
					inExpr = inExpr || strings.Contains(q.expr, " "+catalogue.Num(tr.Threshold))
				}
				if !hasStep(p, tr.Threshold) && !inExpr {
					t.Errorf("%s: stat %q shows neither a step at %g nor the threshold in its query", where, str(p.Title), tr.Threshold)
				}
			}
		}
	}
}

// The overview has a row per resource, the firing scale-up and scale-down
// alerts, the validation checklist as PASS/FAIL and the sizing table.
func TestOverviewLayout(t *testing.T) {
	for _, gen := range generateAll(t) {
		ov := dashboardsOf(t, gen)[Overview]
		var rows []string
		var exprs, texts, maps []string
		for _, p := range allPanels(ov) {
			if p.Type == "row" {
				rows = append(rows, str(p.Title))
			}
			for _, q := range exprsOf(t, p) {
				exprs = append(exprs, q.expr)
			}
			if p.Options != nil {
				b, _ := json.Marshal(p.Options)
				texts = append(texts, string(b))
			}
			if p.FieldConfig != nil {
				b, _ := json.Marshal(p.FieldConfig.Defaults.Mappings)
				maps = append(maps, string(b))
			}
		}
		all := strings.Join(rows, "\n")
		for _, want := range []string{"API", "DB pool", "PostgreSQL", "Replication", "PgBouncer", "Redis", "Post-scaling validation", "Sizing"} {
			if !strings.Contains(all, want) {
				t.Errorf("%s: no %s row in %q", gen.cfg.Service, want, rows)
			}
		}
		for _, dir := range []string{"up", "down"} {
			found := false
			for _, e := range exprs {
				found = found || strings.Contains(e, "ALERTS{") && strings.Contains(e, `direction="`+dir+`"`) && strings.Contains(e, `service="`+gen.cfg.Service+`"`)
			}
			if !found {
				t.Errorf("%s: no query of firing direction=%s alerts", gen.cfg.Service, dir)
			}
		}
		if !strings.Contains(strings.Join(texts, "\n"), "1000+") {
			t.Errorf("%s: no sizing table", gen.cfg.Service)
		}
		if !strings.Contains(strings.Join(maps, "\n"), `"PASS"`) {
			t.Errorf("%s: no PASS/FAIL checklist", gen.cfg.Service)
		}
	}
}

// Each dashboard links to all the others, keeping time and variables, and
// the overview's trigger panels link to their runbook and detail dashboard.
func TestLinks(t *testing.T) {
	for _, gen := range generateAll(t) {
		ds := dashboardsOf(t, gen)
		for name, d := range ds {
			urls := map[string]bool{}
			for _, l := range d.Links {
				if !l.IncludeVars || !l.KeepTime || l.Placement != nil {
					t.Errorf("%s %s: link %q: includeVars %v keepTime %v placement %v", gen.cfg.Service, name, l.Title, l.IncludeVars, l.KeepTime, l.Placement)
				}
				urls[str(l.Url)] = true
			}
			for _, other := range Names {
				if other != name && !urls["/d/"+UID(gen.cfg, other)] {
					t.Errorf("%s %s: no link to %s", gen.cfg.Service, name, other)
				}
			}
		}
		for _, p := range allPanels(ds[Overview]) {
			if p.Type != "timeseries" || !strings.HasPrefix(str(p.Description), "**") {
				continue
			}
			var runbook, detail bool
			for _, l := range p.Links {
				runbook = runbook || strings.HasPrefix(str(l.Url), "https://")
				detail = detail || strings.HasPrefix(str(l.Url), "/d/")
			}
			if !runbook || !detail {
				t.Errorf("%s: trigger panel %q links: %v", gen.cfg.Service, str(p.Title), p.Links)
			}
		}
	}
}

// Every data panel has a unit; ratios are percentages.
func TestUnits(t *testing.T) {
	for _, gen := range generateAll(t) {
		for name, d := range dashboardsOf(t, gen) {
			for _, p := range allPanels(d) {
				if p.Type != "timeseries" && p.Type != "stat" {
					continue
				}
				u := p.FieldConfig.Defaults.Unit
				if u == nil || *u == "" {
					t.Errorf("%s %s: panel %q has no unit", gen.cfg.Service, name, str(p.Title))
					continue
				}
				title := strings.ToLower(str(p.Title))
				if strings.Contains(title, "utilisation") && !strings.Contains(title, "absent") && *u != "percentunit" {
					t.Errorf("%s %s: panel %q unit %s, want percentunit", gen.cfg.Service, name, str(p.Title), *u)
				}
			}
		}
	}
}

// Detail panels that draw a trigger's threshold name the trigger and its
// action.
func TestDetailDescriptionsNameTriggers(t *testing.T) {
	cfg, _ := catalogue.Preset(catalogue.SetHealthAgent)
	files, err := Generate(catalogue.MustBuild(cfg))
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for _, name := range Names[1:] {
		_, _, body := unwrap(t, files[FileName(name)])
		d, _ := strict(body)
		for _, p := range allPanels(d) {
			for _, tr := range catalogue.Catalogue(cfg) {
				if strings.Contains(str(p.Description), marker(tr)) {
					named[string(tr.ID)] = true
					if !strings.Contains(str(p.Description), "Action: "+words(tr.Action)) {
						t.Errorf("%s: panel %q names %s without its action", name, str(p.Title), tr.ID)
					}
				}
			}
		}
	}
	for _, id := range []string{"PostgresConnectionsNearMax", "ReplicationLagHigh", "ReplicationSlotInactive", "PgBouncerClientsWaiting",
		"PgBouncerMaxWait", "RedisMemoryNearMax", "CacheHitRateLow", "RedisEvictionsHigh", "APIDown", "CPUHigh", "DBPoolHigh"} {
		if !named[id] {
			t.Errorf("no detail panel draws %s", id)
		}
	}
}

// Threshold steps follow Grafana's rule (a value takes the colour of the
// highest step at or below it).
func TestLadder(t *testing.T) {
	cfg, _ := catalogue.Preset(catalogue.SetHealthAgent)
	g := newGen(catalogue.MustBuild(cfg))
	get := func(id catalogue.TriggerID) catalogue.Trigger {
		tr, ok := g.trigger(id)
		if !ok {
			t.Fatalf("no trigger %s", id)
		}
		return tr
	}
	show := func(s []dashboard.Threshold) string {
		var parts []string
		for _, x := range s {
			v := "base"
			if x.Value != nil {
				v = catalogue.Num(*x.Value)
			}
			parts = append(parts, v+":"+x.Color)
		}
		return strings.Join(parts, " ")
	}
	for _, tc := range []struct {
		name string
		got  []dashboard.Threshold
		want string
	}{
		{"above with hysteresis", ladder(catalogue.UnitRatio, get("CPUHigh")), "base:green 0.75:light-blue 0.8:red"},
		{"above", ladder(catalogue.UnitRatio, get("APIErrorRateHigh")), "base:green 0.05:red"},
		{"count above 0 fires from 1", ladder(catalogue.UnitCount, get("PgBouncerClientsWaiting")), "base:green 0:green 1:red"},
		{"below with hysteresis", ladder(catalogue.UnitRatio, get("CPULow")), "base:blue 0.3:light-blue 0.35:green"},
		{"equal on a 0/1 signal", ladder(catalogue.UnitBool, get("PostgresDown")), "base:green 0:red 1:green"},
		{"warning and critical", ladder(catalogue.UnitSeconds, get("ReplicationLagHigh"), get("ReplicationLagCritical")), "base:green 10:orange 60:red"},
		{"up and down on one signal", ladder(catalogue.UnitRatio, get("CPUHigh"), get("CPULow")), "base:blue 0.3:light-blue 0.35:green 0.75:light-blue 0.8:red"},
	} {
		if got := show(tc.got); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
	amas, _ := catalogue.Preset(catalogue.SetAMAS)
	ga := newGen(catalogue.MustBuild(amas))
	rr, ok := ga.trigger("RequestRateHigh")
	if !ok {
		t.Fatal("no RequestRateHigh in amas")
	}
	if got := show(ladder(catalogue.UnitPerSecond, rr)); got != "base:green 5:light-yellow 15:red" {
		t.Errorf("activation: %s", got)
	}
}

// Every SLO of the config has an error-budget line on the overview: a stat
// of the budget left over the SLO window (percentunit; red below 0, orange
// below 25%), a stat of the period's burn rate and a time series of the
// burn rate over each ErrorBudgetBurn pair's long window with the pair's
// burn rate drawn; each names the SLO, its objective and the alert. A config
// without SLOs has no error-budget row.
func TestOverviewErrorBudget(t *testing.T) {
	gens := generateAll(t)
	for _, extra := range []string{
		"preset: health-agent\nslos: {latency: {enabled: false}}\n",
		"preset: amas\nservice: no-slos\nslos: {availability: {enabled: false}, latency: {enabled: false}}\n",
	} {
		cfg, err := catalogue.Load([]byte(extra))
		if err != nil {
			t.Fatal(err)
		}
		files, err := Generate(catalogue.MustBuild(cfg))
		if err != nil {
			t.Fatal(err)
		}
		gens = append(gens, generated{cfg, files})
	}
	var sawNone, sawOne bool
	for _, gen := range gens {
		cfg := gen.cfg
		want := map[string]float64{} // slo → objective, from the config
		if cfg.SLOs.Availability.Enabled {
			want["availability"] = cfg.SLOs.Availability.Objective
		}
		if cfg.SLOs.Latency.Enabled {
			want["latency"] = cfg.SLOs.Latency.Objective
		}
		sawNone = sawNone || len(want) == 0
		sawOne = sawOne || len(want) == 1
		// The bundle records and alerts on exactly these SLOs.
		recorded := map[string]bool{}
		for _, g := range alerts.RecordingRules(catalogue.MustBuild(cfg)).Groups {
			for _, r := range g.Rules {
				if r.Record == "slo:objective:ratio" {
					recorded[r.Labels["slo"]] = true
				}
			}
		}
		if len(recorded) != len(want) {
			t.Errorf("%s: the bundle records SLOs %v, the config enables %v", cfg.Service, keys(recorded), keys(want))
		}
		type pair struct {
			long string
			thr  float64
		}
		burns := map[string][]pair{}
		for _, g := range alerts.AlertingRules(catalogue.MustBuild(cfg)).Groups {
			for _, r := range g.Rules {
				if r.Alert != "ErrorBudgetBurn" {
					continue
				}
				e, err := catalogue.ParseExpr(r.Expr)
				if err != nil {
					t.Fatal(err)
				}
				_, _, thr, ok := comparison(e)
				if !ok {
					t.Fatalf("%s: no threshold in %s", cfg.Service, r.Expr)
				}
				burns[r.Labels["slo"]] = append(burns[r.Labels["slo"]], pair{r.Labels["long_window"], thr})
			}
		}

		panels := allPanels(dashboardsOf(t, gen)[Overview])
		row := false
		for _, p := range panels {
			row = row || p.Type == "row" && strings.HasPrefix(str(p.Title), "Error budget")
		}
		if row != (len(want) > 0) {
			t.Errorf("%s: error budget row %v with SLOs %v", cfg.Service, row, keys(want))
		}
		for name, objective := range want {
			where := cfg.Service + " slo " + name
			budget := 1 - objective
			var remaining, period, series []dashboard.Panel
			for _, p := range panels {
				qs := exprsOf(t, p)
				if len(qs) == 0 {
					continue
				}
				mine := true
				for _, q := range qs {
					mine = mine && strings.Contains(q.expr, `slo="`+name+`"`) && strings.Contains(q.expr, `service="`+cfg.Service+`"`)
				}
				switch e := qs[0].expr; {
				case !mine:
				case p.Type == "stat" && strings.Contains(e, "slo:period_error_budget_remaining:ratio{"):
					remaining = append(remaining, p)
				case p.Type == "stat" && strings.Contains(e, "slo:period_burn_rate:ratio{"):
					period = append(period, p)
				case p.Type == "timeseries" && strings.Contains(e, "slo:sli_error:ratio_rate") && strings.Contains(e, "slo:error_budget:ratio{"):
					series = append(series, p)
				}
			}
			if len(remaining) != 1 || len(period) != 1 || len(series) != 1 {
				t.Errorf("%s: %d budget-remaining stats, %d burn-rate stats, %d burn-rate time series; want one of each",
					where, len(remaining), len(period), len(series))
				continue
			}
			for _, p := range []dashboard.Panel{remaining[0], period[0], series[0]} {
				d := str(p.Description)
				for _, w := range []string{name, pct(objective), "ErrorBudgetBurn"} {
					if !strings.Contains(d, w) {
						t.Errorf("%s: panel %q description does not name %s: %s", where, str(p.Title), w, d)
					}
				}
			}
			r := remaining[0]
			if u := r.FieldConfig.Defaults.Unit; u == nil || *u != "percentunit" {
				t.Errorf("%s: budget remaining unit %v, want percentunit", where, u)
			}
			var got []string
			for _, s := range steps(r) {
				v := "base"
				if s.Value != nil {
					v = catalogue.Num(*s.Value)
				}
				got = append(got, v+":"+s.Color)
			}
			if g := strings.Join(got, " "); g != "base:red 0:orange 0.25:green" {
				t.Errorf("%s: budget remaining steps %s, want red below 0, orange below 25%%, green", where, g)
			}
			ts := series[0]
			o, _ := json.Marshal(ts.FieldConfig.Defaults.Custom)
			if !strings.Contains(string(o), `"thresholdsStyle":{"mode":"line+area"}`) {
				t.Errorf("%s: burn-rate time series does not draw its thresholds: %s", where, o)
			}
			exprs := ""
			for _, q := range exprsOf(t, ts) {
				exprs += q.expr + "\n"
			}
			if len(burns[name]) == 0 {
				t.Errorf("%s: no ErrorBudgetBurn rule", where)
			}
			for _, b := range burns[name] {
				if !hasStep(ts, math.Round(b.thr/budget*1e4)/1e4) {
					t.Errorf("%s: burn-rate time series has no line at the %s pair's rate %g: %v", where, b.long, b.thr/budget, steps(ts))
				}
				if !strings.Contains(exprs, "slo:sli_error:ratio_rate"+b.long+"{") {
					t.Errorf("%s: burn-rate time series does not show the %s window", where, b.long)
				}
			}
		}
	}
	if !sawNone || !sawOne {
		t.Errorf("the test configs should include one without SLOs and one with a single SLO")
	}
}

// A scoped trigger's panels keep the default threshold's colours and say
// so, listing each scope's own threshold.
func TestScopedThresholdsAreNamed(t *testing.T) {
	cfg, err := catalogue.LoadOnto(catalogue.SetHealthAgent, []byte(`
triggers:
  DBPoolHigh:
    where: [{match: 'target="pg-batch"', threshold: 0.95, for: 10m}]
`))
	if err != nil {
		t.Fatal(err)
	}
	g := newGen(catalogue.MustBuild(cfg))
	tr, ok := g.trigger("DBPoolHigh")
	if !ok {
		t.Fatal("no DBPoolHigh")
	}
	want := "Own thresholds (config `where`; the colours show the default): target=\"pg-batch\": > 95% for 10m."
	if d := describe(tr); !strings.Contains(d, want) {
		t.Errorf("description lacks %q:\n%s", want, d)
	}
	var steps []string
	for _, s := range ladder(catalogue.UnitRatio, tr) {
		if s.Value != nil {
			steps = append(steps, catalogue.Num(*s.Value))
		}
	}
	if strings.Join(steps, " ") != "0.75 0.8" {
		t.Errorf("steps %v, want the default's 0.75 (clear) and 0.8", steps)
	}
}

// overviewLinks reports whether a panel links to an alert's runbook entry.
func overviewLinks(panels []dashboard.Panel, alert string) bool {
	for _, p := range panels {
		for _, l := range p.Links {
			if strings.Contains(l.Title, alert) {
				return true
			}
		}
	}
	return false
}
