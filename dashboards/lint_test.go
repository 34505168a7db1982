package dashboards

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/headroom-dev/headroom/alerts"
	"github.com/headroom-dev/headroom/catalogue"
)

// Grafana's dashboard linter (github.com/grafana/dashboard-linter) cannot be
// built here, so this file holds the rules of it that apply to headroom,
// plus the layout rules Grafana itself needs. Its instance rules do not
// apply: headroom is a multi-target exporter and target, not instance, names
// the watched server (docs/dashboards.md).

// validUnits are the Grafana unit ids the dashboards may use: each is an id
// of Grafana's unit list (packages/grafana-data/src/valueFormats/categories.ts),
// which is what the linter's panel-units rule checks. A new unit is added
// here after checking it there.
var validUnits = map[string]bool{
	"none": true, "short": true, "percent": true, "percentunit": true,
	"s": true, "ms": true, "µs": true, "ns": true, "m": true, "h": true, "d": true, "dtdurations": true,
	"bytes": true, "decbytes": true, "Bps": true, "bps": true,
	"ops": true, "reqps": true, "rps": true, "wps": true, "iops": true,
	"bool": true, "bool_yes_no": true, "bool_on_off": true,
	"currencyUSD": true,
}

// customUnitPrefixes are Grafana's custom units ("Custom units" in the
// standard options' documentation): any text after the prefix is drawn
// beside the value. The burn rates use suffix:× since Grafana's list has no
// unit for a multiple; the dashboard linter does not know custom units and
// reports these four panels, a finding left on purpose (docs/dashboards.md).
var customUnitPrefixes = []string{"suffix:", "prefix:"}

// rateSentinel stands for $__rate_interval while a query is parsed, so
// that a range written as $__rate_interval can be told from a fixed one.
const rateSentinel = 4242 * time.Second

// lintRules names each rule's findings.
const (
	ruleDatasource   = "datasource"
	ruleRateInterval = "rate-interval"
	ruleJob          = "job"
	ruleUnit         = "unit"
	ruleEditable     = "editable"
	ruleJobAll       = "job-all-value"
	rulePanelID      = "panel-id"
	ruleGrid         = "grid"
)

// linter holds what the rules need to know about a config's bundle.
type linter struct {
	cfg *catalogue.Config
	// recorded are the series the bundle records; none of them keeps the
	// job label (each is scoped by service, its job fixed in the rule).
	recorded map[string]bool
	// inputs are series of other jobs that headroom reads (the API's own
	// metrics, kube-state-metrics): their job is not headroom's.
	inputs map[string]bool
}

func newLinter(cfg *catalogue.Config) *linter {
	l := &linter{cfg: cfg, recorded: map[string]bool{}, inputs: map[string]bool{}}
	for _, g := range alerts.RecordingRules(catalogue.MustBuild(cfg)).Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				l.recorded[r.Record] = true
			}
		}
	}
	for _, in := range catalogue.Inputs(cfg) {
		l.inputs[in.Name] = true
	}
	return l
}

// lint returns the findings on a dashboard, each "rule: what".
func (l *linter) lint(d dashboard.Dashboard) []string {
	var out []string
	add := func(rule, format string, args ...any) {
		out = append(out, rule+": "+fmt.Sprintf(format, args...))
	}
	if d.Editable == nil || *d.Editable {
		add(ruleEditable, "the dashboard is editable; a generated dashboard is changed by regenerating")
	}
	var dsVar bool
	for _, v := range d.Templating.List {
		if v.Type == dashboard.VariableTypeDatasource && v.Name == DatasourceVar {
			dsVar = true
		}
		if v.Name == "job" && str(v.AllValue) != ".+" {
			add(ruleJobAll, "the job variable's all-value is %q, want .+", str(v.AllValue))
		}
	}
	if !dsVar {
		add(ruleDatasource, "no %s variable of type datasource", DatasourceVar)
	}

	type placed struct {
		title string
		pos   dashboard.GridPos
	}
	ids := map[uint32]string{}
	id := func(title string, v *uint32) {
		if v == nil {
			add(rulePanelID, "panel %q has no id", title)
			return
		}
		if other, ok := ids[*v]; ok {
			add(rulePanelID, "panels %q and %q share id %d", other, title, *v)
		}
		ids[*v] = title
	}
	overlaps := func(ps []placed) {
		for i, a := range ps {
			if a.pos.X+a.pos.W > 24 {
				add(ruleGrid, "panel %q reaches past the grid's 24 columns", a.title)
			}
			for _, b := range ps[i+1:] {
				if a.pos.X < b.pos.X+b.pos.W && b.pos.X < a.pos.X+a.pos.W &&
					a.pos.Y < b.pos.Y+b.pos.H && b.pos.Y < a.pos.Y+a.pos.H {
					add(ruleGrid, "panels %q and %q overlap", a.title, b.title)
				}
			}
		}
	}
	var top []placed
	for _, pr := range d.Panels {
		if r := pr.RowPanel; r != nil {
			id(str(r.Title), &r.Id)
			if r.GridPos != nil {
				top = append(top, placed{str(r.Title), *r.GridPos})
			}
			// A collapsed row's panels are laid out when it opens, below
			// it; they must not overlap each other.
			var inRow []placed
			for _, p := range r.Panels {
				id(str(p.Title), p.Id)
				if p.GridPos != nil {
					inRow = append(inRow, placed{str(p.Title), *p.GridPos})
				}
				out = append(out, l.panel(p)...)
			}
			overlaps(inRow)
			continue
		}
		p := *pr.Panel
		id(str(p.Title), p.Id)
		if p.GridPos == nil {
			add(ruleGrid, "panel %q has no position", str(p.Title))
		} else {
			top = append(top, placed{str(p.Title), *p.GridPos})
		}
		out = append(out, l.panel(p)...)
	}
	overlaps(top)
	return out
}

// panel returns the findings on one panel and its queries.
func (l *linter) panel(p dashboard.Panel) []string {
	var out []string
	title := str(p.Title)
	add := func(rule, format string, args ...any) {
		out = append(out, rule+": panel "+fmt.Sprintf("%q: ", title)+fmt.Sprintf(format, args...))
	}
	if len(p.Targets) == 0 {
		return nil
	}
	if p.Datasource == nil || str(p.Datasource.Uid) != "${"+DatasourceVar+"}" {
		add(ruleDatasource, "panel data source %v, want ${%s}", p.Datasource, DatasourceVar)
	}
	unit := ""
	if p.FieldConfig != nil {
		unit = str(p.FieldConfig.Defaults.Unit)
	}
	if !validUnit(unit) {
		add(ruleUnit, "unit %q is not a Grafana unit id", unit)
	}
	qs, err := panelQueries(p)
	if err != nil {
		add(ruleDatasource, "%v", err)
		return out
	}
	for _, q := range qs {
		if q.Datasource != "${"+DatasourceVar+"}" {
			add(ruleDatasource, "query data source %q, want ${%s}", q.Datasource, DatasourceVar)
		}
		e, err := parser.NewParser(parser.Options{}).ParseExpr(substitute(q.Expr, promDuration(rateSentinel)))
		if err != nil {
			add(ruleJob, "%v", err)
			continue
		}
		for _, f := range l.query(e) {
			add(f.rule, "%s in %s", f.what, q.Expr)
		}
	}
	return out
}

type finding struct{ rule, what string }

// query returns the findings on one query: its rates and its selectors.
func (l *linter) query(e parser.Expr) []finding {
	var out []finding
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.Call:
			switch n.Func.Name {
			case "rate", "irate", "increase":
				for _, a := range n.Args {
					ms, ok := a.(*parser.MatrixSelector)
					if !ok {
						continue
					}
					vs := ms.VectorSelector.(*parser.VectorSelector)
					if !l.recorded[vs.Name] && ms.Range != rateSentinel {
						out = append(out, finding{ruleRateInterval, fmt.Sprintf("%s over %s[%s], want $__rate_interval", n.Func.Name, vs.Name, ms.Range)})
					}
				}
			}
		case *parser.VectorSelector:
			if f := l.selector(n); f != "" {
				out = append(out, finding{ruleJob, f})
			}
		}
		return nil
	})
	return out
}

// selector checks a selector's job: headroom's series are selected by
// $job. Exempt, and documented in docs/dashboards.md: the bundle's recorded
// series, which keep no job (each is scoped by service instead, its job fixed
// in the rule), ALERTS (scoped by service), and other jobs' series that
// headroom reads (the API's own metrics by the API's job, kube-state-metrics),
// whose job is not the one $job lists.
func (l *linter) selector(vs *parser.VectorSelector) string {
	var byVar bool
	var fixed []string
	service := ""
	for _, m := range vs.LabelMatchers {
		switch {
		case m.Name == "job" && m.Type == labels.MatchRegexp && m.Value == "$job":
			byVar = true
		case m.Name == "job":
			fixed = append(fixed, m.String())
		case m.Name == "service" && m.Type == labels.MatchEqual:
			service = m.Value
		}
	}
	switch {
	case l.recorded[vs.Name], vs.Name == "ALERTS":
		if byVar || len(fixed) > 0 {
			return fmt.Sprintf("%s keeps no job label, so a job matcher matches nothing", vs.Name)
		}
		if service != l.cfg.Service {
			return fmt.Sprintf("%s is not scoped to service %q", vs.Name, l.cfg.Service)
		}
		return ""
	case vs.Name == "up":
		// up is every job's: it keeps the exporter's job beside $job, since
		// All in $job (.+) would draw every job's up.
		if !byVar {
			return "up without job=~\"$job\""
		}
		for _, f := range fixed {
			if f != fmt.Sprintf("job=%q", l.cfg.ExporterJob) {
				return "up with " + f
			}
		}
		return ""
	case l.inputs[vs.Name] && !strings.HasPrefix(vs.Name, "headroom_"):
		for _, f := range fixed {
			if f == fmt.Sprintf("job=%q", l.cfg.ExporterJob) {
				return fmt.Sprintf("%s with the exporter's job hard-coded, want $job", vs.Name)
			}
		}
		return ""
	}
	if !byVar {
		return fmt.Sprintf("%s without job=~\"$job\"", vs.Name)
	}
	if len(fixed) > 0 {
		return fmt.Sprintf("%s with %s hard-coded beside $job", vs.Name, strings.Join(fixed, ", "))
	}
	return ""
}

func validUnit(u string) bool {
	if validUnits[u] {
		return true
	}
	for _, p := range customUnitPrefixes {
		if strings.HasPrefix(u, p) && len(u) > len(p) {
			return true
		}
	}
	return false
}

// promDuration writes a duration as PromQL reads it.
func promDuration(d time.Duration) string { return fmt.Sprintf("%ds", int(d.Seconds())) }

// Every generated dashboard of every preset passes the lint.
func TestLint(t *testing.T) {
	for _, gen := range generateAll(t) {
		l := newLinter(gen.cfg)
		for name, d := range dashboardsOf(t, gen) {
			for _, f := range l.lint(d) {
				t.Errorf("%s %s: %s", gen.cfg.Service, name, f)
			}
		}
	}
}

// Each rule catches a dashboard broken the way it forbids.
func TestLintCatches(t *testing.T) {
	cfg, files := generateCommitted(t)
	_, _, body := unwrap(t, files[FileName(Postgres)])
	l := newLinter(cfg)
	// nth is the nth panel outside a row.
	nth := func(d map[string]any, n int) map[string]any {
		for _, p := range d["panels"].([]any) {
			if p := p.(map[string]any); p["type"] != "row" {
				if n == 0 {
					return p
				}
				n--
			}
		}
		t.Fatal("too few panels")
		return nil
	}
	setExpr := func(expr string) func(d map[string]any) {
		return func(d map[string]any) {
			nth(d, 0)["targets"].([]any)[0].(map[string]any)["expr"] = expr
		}
	}
	variable := func(d map[string]any, name string) map[string]any {
		for _, v := range d["templating"].(map[string]any)["list"].([]any) {
			if v := v.(map[string]any); v["name"] == name {
				return v
			}
		}
		t.Fatalf("no variable %s", name)
		return nil
	}
	for _, tc := range []struct {
		name   string
		rule   string
		mutate func(d map[string]any)
	}{
		{"panel with a fixed data source", ruleDatasource, func(d map[string]any) {
			nth(d, 0)["datasource"] = map[string]any{"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}
		}},
		{"query with a fixed data source", ruleDatasource, func(d map[string]any) {
			nth(d, 0)["targets"].([]any)[0].(map[string]any)["datasource"] = map[string]any{"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}
		}},
		{"no datasource variable", ruleDatasource, func(d map[string]any) {
			variable(d, DatasourceVar)["name"] = "ds"
		}},
		{"rate over a fixed range", ruleRateInterval, setExpr(`sum(rate(headroom_scrape_errors_total{job=~"$job"}[5m]))`)},
		{"increase over $__interval", ruleRateInterval, setExpr(`sum(increase(headroom_scrape_errors_total{job=~"$job"}[$__interval]))`)},
		{"no job matcher", ruleJob, setExpr(`sum(headroom_target_up{target=~"$target"})`)},
		{"a hard-coded job", ruleJob, setExpr(`sum(headroom_target_up{job="headroom"})`)},
		{"a hard-coded job beside $job", ruleJob, setExpr(`sum(headroom_target_up{job="headroom", job=~"$job"})`)},
		{"up of every job", ruleJob, setExpr(`min(up{cluster=~"$cluster"})`)},
		{"a job matcher on a recorded series", ruleJob, setExpr(`service:api_requests:rate5m{service="health-agent-api", job=~"$job"}`)},
		{"a recorded series of every service", ruleJob, setExpr(`service:api_requests:rate5m`)},
		{"an unknown unit", ruleUnit, func(d map[string]any) {
			nth(d, 0)["fieldConfig"].(map[string]any)["defaults"].(map[string]any)["unit"] = "percentage"
		}},
		{"an empty custom unit", ruleUnit, func(d map[string]any) {
			nth(d, 0)["fieldConfig"].(map[string]any)["defaults"].(map[string]any)["unit"] = "suffix:"
		}},
		{"editable", ruleEditable, func(d map[string]any) { d["editable"] = true }},
		{"job's all-value .*", ruleJobAll, func(d map[string]any) { variable(d, "job")["allValue"] = ".*" }},
		{"a shared panel id", rulePanelID, func(d map[string]any) { nth(d, 1)["id"] = nth(d, 0)["id"] }},
		{"overlapping panels", ruleGrid, func(d map[string]any) {
			pos := nth(d, 1)["gridPos"].(map[string]any)
			pos["x"] = nth(d, 0)["gridPos"].(map[string]any)["x"].(float64) + 1
			pos["y"] = nth(d, 0)["gridPos"].(map[string]any)["y"]
		}},
		{"a panel past the grid", ruleGrid, func(d map[string]any) { nth(d, 0)["gridPos"].(map[string]any)["x"] = 22 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var raw map[string]any
			if err := json.Unmarshal(body, &raw); err != nil {
				t.Fatal(err)
			}
			tc.mutate(raw)
			b, err := json.Marshal(raw)
			if err != nil {
				t.Fatal(err)
			}
			d, err := strict(b)
			if err != nil {
				t.Fatal(err)
			}
			findings := l.lint(d)
			caught := false
			for _, f := range findings {
				if strings.HasPrefix(f, tc.rule+": ") {
					caught = true
				}
			}
			if !caught {
				t.Errorf("no %s finding; findings: %q", tc.rule, findings)
			}
		})
	}
}
