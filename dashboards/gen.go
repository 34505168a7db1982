package dashboards

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/text"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/headroom-dev/headroom/catalogue"
)

// DatasourceVar is the name of the datasource variable every panel and
// query refers to as ${datasource}.
const DatasourceVar = "datasource"

// RateInterval is the range of rate() in panel queries: Grafana's
// $__rate_interval, which is at least four scrape intervals.
const RateInterval = "$__rate_interval"

func datasource() common.DataSourceRef {
	return common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${" + DatasourceVar + "}")}
}

// gen builds every dashboard of a config from its bundle: the config, its
// triggers and its signals are the bundle's.
type gen struct {
	bundle *catalogue.Bundle
}

func newGen(bundle *catalogue.Bundle) *gen { return &gen{bundle: bundle} }

func (g *gen) cfg() *catalogue.Config { return g.bundle.Config }

// thresholdTriggers are the bundle's triggers that panels draw against a
// threshold: the forecasts are left out, the Headroom view draws them from
// their own records.
func (g *gen) thresholdTriggers() []catalogue.Trigger {
	var out []catalogue.Trigger
	for _, t := range g.bundle.Triggers {
		if !t.IsForecast() {
			out = append(out, t)
		}
	}
	return out
}

// cluster is the cluster label the variables select by: the config's, or
// "cluster".
func (g *gen) cluster() string {
	if l := g.cfg().ClusterLabel; l != "" {
		return l
	}
	return "cluster"
}

// trigger returns a catalogue entry by id, if the config has it; an id
// the catalogue does not define panics (catalogue.Bundle.Trigger).
func (g *gen) trigger(id catalogue.TriggerID) (catalogue.Trigger, bool) { return g.bundle.Trigger(id) }

// triggers returns the config's entries among ids, in the order given.
func (g *gen) triggers(ids ...catalogue.TriggerID) []catalogue.Trigger {
	var out []catalogue.Trigger
	for _, id := range ids {
		if t, ok := g.trigger(id); ok {
			out = append(out, t)
		}
	}
	return out
}

// signal returns a signal by id, if the config has it; an id the
// catalogue does not define panics (catalogue.Bundle.Signal).
func (g *gen) signal(id catalogue.SignalID) (catalogue.Signal, bool) { return g.bundle.Signal(id) }

// onSignal returns the config's triggers that compare a signal with a
// threshold, validation targets left out.
func (g *gen) onSignal(id catalogue.SignalID) []catalogue.Trigger {
	var out []catalogue.Trigger
	for _, t := range g.thresholdTriggers() {
		if t.Signal.ID == id && t.Target() != "" && t.Set != catalogue.SetValidation {
			out = append(out, t)
		}
	}
	return out
}

// by and on write the dashboards' grouping clauses with the cluster label
// first, as the rules do (catalogue.PromQL).
func (g *gen) by(labels ...string) string { return "by " + g.cfg().PromQL().Grouping(labels...) }
func (g *gen) on(labels ...string) string { return g.cfg().PromQL().On(labels...) }

// board is a dashboard being built.
type board struct {
	g    *gen
	name string
	// kind is the target kind of a detail dashboard ("" for the overview).
	kind string
	b    *dashboard.DashboardBuilder
	// collapsed is the collapsed row being filled; nil while panels go to
	// the top level.
	collapsed *dashboard.RowBuilder
}

var titles = map[string]string{
	Overview:  "Scaling decisions",
	Headroom:  "Headroom",
	Postgres:  "PostgreSQL and replication",
	PgBouncer: "PgBouncer",
	Redis:     "Redis",
	API:       "API health",
}

func (g *gen) newBoard(name, kind, description string) *board {
	title := "headroom / " + titles[name] + " (" + g.cfg().Service + ")"
	b := dashboard.NewDashboardBuilder(title).
		Uid(UID(g.cfg(), name)).
		Description(description).
		Tags([]string{"headroom", slug(g.cfg().Service)}).
		Readonly().
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		Refresh("1m").
		Time("now-3h", "now").
		Timezone("browser")
	bd := &board{g: g, name: name, kind: kind, b: b}
	bd.variables()
	for _, other := range Names {
		if other == name {
			continue
		}
		b.Link(dashboard.NewDashboardLinkBuilder(titles[other]).
			Type(dashboard.DashboardLinkTypeLink).
			Url(dashboardURL(g.cfg(), other)).
			Icon("dashboard").
			Tooltip("headroom / " + titles[other]).
			IncludeVars(true).
			KeepTime(true))
	}
	return bd
}

// dashboardURL is the path of a dashboard; Grafana adds its sub-path.
func dashboardURL(cfg *catalogue.Config, name string) string { return "/d/" + UID(cfg, name) }

// panelLinkURL opens another dashboard with this one's time range and
// variables.
func panelLinkURL(cfg *catalogue.Config, name string) string {
	return dashboardURL(cfg, name) + "?${__url_time_range}&${" + DatasourceVar + ":queryparam}&${cluster:queryparam}&${job:queryparam}&${target:queryparam}"
}

// variables adds datasource, cluster, job and target, all selected by
// default. Cluster and target's All is .*, which also matches a series
// without the label: a single-cluster Prometheus has no cluster label, and
// the recorded series that keep no target are still drawn. Job's All is
// .+, as Grafana's dashboard linter asks: every scraped series has a job,
// so .+ drops nothing and a query can never match series without one.
func (bd *board) variables() {
	g := bd.g
	up := "headroom_target_up"
	bd.b.WithVariable(dashboard.NewDatasourceVariableBuilder(DatasourceVar).
		Label("Data source").
		Type("prometheus").
		Description("The Prometheus that scrapes headroom (job " + g.cfg().ExporterJob + ") and evaluates its recording rules."))
	query := func(name, label, q, description, regex, all string) {
		v := dashboard.NewQueryVariableBuilder(name).
			Label(label).
			Description(description).
			Datasource(datasource()).
			Query(dashboard.StringOrMap{String: cog.ToPtr(q)}).
			Definition(q).
			Refresh(dashboard.VariableRefreshOnTimeRangeChanged).
			Sort(dashboard.VariableSortAlphabeticalAsc).
			Multi(true).
			IncludeAll(true).
			AllValue(all).
			Current(dashboard.VariableOption{
				Selected: cog.ToPtr(true),
				Text:     dashboard.StringOrArrayOfString{ArrayOfString: []string{"All"}},
				Value:    dashboard.StringOrArrayOfString{ArrayOfString: []string{"$__all"}},
			})
		if regex != "" {
			v.Regex("/^(?:" + regex + ")$/")
		}
		bd.b.WithVariable(v)
	}
	query("cluster", "Cluster", fmt.Sprintf("label_values(%s, %s)", up, g.cluster()),
		"The "+g.cluster()+" label, for a Prometheus (or Thanos, Mimir) that holds several clusters; All when there is none.", "", ".*")
	query("job", "Job", fmt.Sprintf(`label_values(%s{%s=~"$cluster"}, job)`, up, g.cluster()),
		"The job that scrapes headroom.", "", ".+")
	sel := fmt.Sprintf(`%s=~"$cluster", job=~"$job"`, g.cluster())
	regex := ""
	if bd.kind != "" {
		sel += fmt.Sprintf(", kind=%q", bd.kind)
		switch bd.kind {
		case "postgres":
			regex = g.cfg().Targets.Postgres
		case "pgbouncer":
			regex = g.cfg().Targets.PgBouncer
		case "redis":
			regex = g.cfg().Targets.Redis
		case "api":
			regex = g.cfg().Targets.API
		}
	}
	what := "headroom target"
	if bd.kind != "" {
		what = bd.kind + " target"
	}
	query("target", "Target", fmt.Sprintf("label_values(%s{%s}, target)", up, sel), "The "+what+" (the target label).", regex, ".*")
}

// m selects one of the exporter's metrics under the dashboard's variables.
func (bd *board) m(metric string, extra ...string) string {
	parts := []string{fmt.Sprintf(`%s=~"$cluster"`, bd.g.cluster()), `job=~"$job"`, `target=~"$target"`}
	return metric + "{" + strings.Join(append(parts, extra...), ", ") + "}"
}

// row starts a row; panels added afterwards belong to it. A collapsed row
// holds its panels until the next row or build.
func (bd *board) row(title string, collapsed bool) {
	bd.flush()
	if collapsed {
		bd.collapsed = dashboard.NewRowBuilder(title).Collapsed(true)
		return
	}
	bd.b.WithRow(dashboard.NewRowBuilder(title))
}

func (bd *board) flush() {
	if bd.collapsed != nil {
		bd.b.WithRow(bd.collapsed)
		bd.collapsed = nil
	}
}

func (bd *board) add(p cog.Builder[dashboard.Panel]) {
	if bd.collapsed != nil {
		bd.collapsed.WithPanel(p)
		return
	}
	bd.b.WithPanel(p)
}

// build finishes the dashboard: panel ids in order, link placement left to
// Grafana's default (above the panels).
func (bd *board) build() (dashboard.Dashboard, error) {
	bd.flush()
	d, err := bd.b.Build()
	if err != nil {
		return d, err
	}
	id := uint32(0)
	next := func() *uint32 { id++; v := id; return &v }
	for i := range d.Panels {
		if p := d.Panels[i].Panel; p != nil {
			p.Id = next()
		}
		if r := d.Panels[i].RowPanel; r != nil {
			r.Id = *next()
			for j := range r.Panels {
				r.Panels[j].Id = next()
			}
		}
	}
	for i := range d.Links {
		d.Links[i].Placement = nil
	}
	clear := func(p *dashboard.Panel) {
		for i := range p.Links {
			p.Links[i].Placement = nil
		}
	}
	for i := range d.Panels {
		if p := d.Panels[i].Panel; p != nil {
			clear(p)
		}
		if r := d.Panels[i].RowPanel; r != nil {
			for j := range r.Panels {
				clear(&r.Panels[j])
			}
		}
	}
	return d, nil
}

// query is one PromQL target of a panel.
type query struct {
	Expr   string
	Legend string
}

// spec describes a panel.
type spec struct {
	Title, Desc string
	Unit        string
	Queries     []query
	W, H        uint32
	// Steps are the thresholds; nil means none (one neutral colour).
	Steps []dashboard.Threshold
	// Lines draws the thresholds on a time series (line and area).
	Lines    bool
	Stack    bool
	Min, Max *float64
	Mappings []dashboard.ValueMapping
	Links    []link
	// Calc is the stat's reduction (lastNotNull by default).
	Calc string
	// TextMode of a stat (auto by default).
	TextMode common.BigValueTextMode
	// Instant makes the queries instant (stat, table).
	Instant  bool
	Decimals *float64
}

type link struct{ Title, URL string }

func (s spec) targets() []cog.Builder[variants.Dataquery] {
	var out []cog.Builder[variants.Dataquery]
	for i, q := range s.Queries {
		b := prometheus.NewDataqueryBuilder().
			Datasource(datasource()).
			Expr(q.Expr).
			RefId(string(rune('A' + i)))
		if q.Legend != "" {
			b.LegendFormat(q.Legend)
		}
		if s.Instant {
			b.Instant()
		} else {
			b.Range()
		}
		out = append(out, b)
	}
	return out
}

func (s spec) links() []cog.Builder[dashboard.DashboardLink] {
	var out []cog.Builder[dashboard.DashboardLink]
	for _, l := range s.Links {
		out = append(out, dashboard.NewDashboardLinkBuilder(l.Title).Type(dashboard.DashboardLinkTypeLink).Url(l.URL))
	}
	return out
}

func (s spec) thresholds() *dashboard.ThresholdsConfigBuilder {
	steps := s.Steps
	if steps == nil {
		steps = []dashboard.Threshold{{Color: "green"}}
	}
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(steps)
}

func orDefault(v, d uint32) uint32 {
	if v == 0 {
		return d
	}
	return v
}

// fieldOptioned is what the SDK's time series and stat builders share for
// the spec's optional field options.
type fieldOptioned[B any] interface {
	Min(float64) B
	Max(float64) B
	Decimals(float64) B
	Links([]cog.Builder[dashboard.DashboardLink]) B
	Mappings([]dashboard.ValueMapping) B
}

// fieldOptions sets the options the spec gives and leaves the others to
// Grafana's defaults.
func fieldOptions[B fieldOptioned[B]](p B, s spec) {
	if s.Min != nil {
		p.Min(*s.Min)
	}
	if s.Max != nil {
		p.Max(*s.Max)
	}
	if s.Decimals != nil {
		p.Decimals(*s.Decimals)
	}
	if len(s.Links) > 0 {
		p.Links(s.links())
	}
	if len(s.Mappings) > 0 {
		p.Mappings(s.Mappings)
	}
}

// ts is a time series panel.
func (bd *board) ts(s spec) {
	p := timeseries.NewPanelBuilder().
		Title(s.Title).
		Description(s.Desc).
		Datasource(datasource()).
		Targets(s.targets()).
		Span(orDefault(s.W, 12)).
		Height(orDefault(s.H, 8)).
		Unit(unitOr(s.Unit)).
		Thresholds(s.thresholds()).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeTable).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true).
			Calcs([]string{"lastNotNull", "max"})).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderDescending)).
		LineWidth(1).
		FillOpacity(10).
		ShowPoints(common.VisibilityModeNever).
		SpanNulls(common.BoolOrFloat64{Bool: cog.ToPtr(false)})
	if s.Lines {
		p.ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeLineAndArea))
	}
	if s.Stack {
		p.Stacking(common.NewStackingConfigBuilder().Mode(common.StackingModeNormal)).FillOpacity(30)
	}
	fieldOptions(p, s)
	bd.add(p)
}

// stat is a stat panel coloured by its thresholds.
func (bd *board) stat(s spec) {
	calc := s.Calc
	if calc == "" {
		calc = "lastNotNull"
	}
	textMode := s.TextMode
	if textMode == "" {
		textMode = common.BigValueTextModeAuto
	}
	s.Instant = false
	p := stat.NewPanelBuilder().
		Title(s.Title).
		Description(s.Desc).
		Datasource(datasource()).
		Targets(s.targets()).
		Span(orDefault(s.W, 4)).
		Height(orDefault(s.H, 4)).
		Unit(unitOr(s.Unit)).
		Thresholds(s.thresholds()).
		ColorMode(common.BigValueColorModeBackground).
		GraphMode(common.BigValueGraphModeArea).
		TextMode(textMode).
		JustifyMode(common.BigValueJustifyModeAuto).
		Orientation(common.VizOrientationAuto).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{calc}).Values(false))
	fieldOptions(p, s)
	bd.add(p)
}

// table is a table of instant values, one row per series; hide lists
// columns to leave out.
func (bd *board) table(s spec, hide ...string) {
	s.Instant = true
	targets := s.targets()
	excl := map[string]any{"Time": true}
	for _, h := range hide {
		excl[h] = true
	}
	p := table.NewPanelBuilder().
		Title(s.Title).
		Description(s.Desc).
		Datasource(datasource()).
		Targets(targets).
		Span(orDefault(s.W, 12)).
		Height(orDefault(s.H, 8)).
		Unit(unitOr(s.Unit)).
		Thresholds(s.thresholds()).
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{"sum"}).CountRows(false)).
		WithTransformation(dashboard.DataTransformerConfig{Id: "merge", Options: map[string]any{}}).
		WithTransformation(dashboard.DataTransformerConfig{Id: "organize", Options: map[string]any{"excludeByName": excl}})
	if len(s.Mappings) > 0 {
		p.Mappings(s.Mappings)
	}
	bd.add(p)
}

// text is a markdown panel.
func (bd *board) text(title, content string, w, h uint32) {
	bd.add(text.NewPanelBuilder().
		Title(title).
		Mode(text.TextModeMarkdown).
		Content(content).
		Span(w).
		Height(h))
}

func unitOr(u string) string {
	if u == "" {
		return "short"
	}
	return u
}

// signalUnit is the Grafana unit of a signal: requests per second read as
// req/s, other rates as ops/s.
func signalUnit(s catalogue.Signal) string {
	if s.Unit == catalogue.UnitPerSecond && strings.HasPrefix(string(s.ID), "api_requests") {
		return "reqps"
	}
	return grafanaUnit(s.Unit)
}

// grafanaUnit is the Grafana unit of a signal's values.
func grafanaUnit(u catalogue.Unit) string {
	switch u {
	case catalogue.UnitRatio:
		return "percentunit"
	case catalogue.UnitSeconds:
		return "s"
	case catalogue.UnitBytes:
		return "bytes"
	case catalogue.UnitPerSecond:
		return "ops"
	case catalogue.UnitBool:
		return "bool"
	}
	return "short"
}

// Colours of threshold bands.
const (
	colorOK         = "green"
	colorCritical   = "red"
	colorWarning    = "orange"
	colorInfo       = "yellow"
	colorScaleDown  = "blue"
	colorHysteresis = "light-blue"
	colorActivation = "light-yellow"
)

// band is a range of values, [lo, hi), where a trigger fires (or a KEDA
// trigger is active, or a scale-down trigger holds), with its colour.
type band struct {
	lo, hi float64
	color  string
	rank   int
}

func firingColor(t catalogue.Trigger) (string, int) {
	if t.Direction == catalogue.Down {
		return colorScaleDown, 2
	}
	switch t.Severity {
	case catalogue.SeverityCritical:
		return colorCritical, 5
	case catalogue.SeverityWarning:
		return colorWarning, 4
	}
	return colorInfo, 3
}

func discrete(u catalogue.Unit) bool { return u == catalogue.UnitCount || u == catalogue.UnitBool }

// bands are where a trigger fires, and where a firing one holds
// (hysteresis, in the lighter colour). Grafana colours a value by the highest
// step at or below it, so "> 0" over a count starts at 1.
func bands(t catalogue.Trigger, cmp catalogue.Comparison, thr float64, unit catalogue.Unit) []band {
	c, r := firingColor(t)
	inf := math.Inf(1)
	var out []band
	switch cmp {
	case catalogue.Above:
		lo := thr
		if discrete(unit) {
			lo = math.Floor(thr) + 1
		}
		out = append(out, band{lo, inf, c, r})
		if t.Hysteresis() {
			out = append(out, band{t.ClearLevel(), lo, colorHysteresis, 1})
		}
		if t.Activation > 0 && t.Activation < lo {
			out = append(out, band{t.Activation, lo, colorActivation, 1})
		}
	case catalogue.AtLeast:
		out = append(out, band{thr, inf, c, r})
		if t.Hysteresis() {
			out = append(out, band{t.ClearLevel(), thr, colorHysteresis, 1})
		}
	case catalogue.Below:
		out = append(out, band{-inf, thr, c, r})
		if t.Hysteresis() {
			out = append(out, band{thr, t.ClearLevel(), colorHysteresis, 1})
		}
	case catalogue.Equal:
		hi := thr + 1
		if !discrete(unit) {
			hi = math.Nextafter(thr, inf)
		}
		out = append(out, band{thr, hi, c, r})
	}
	return out
}

// ladder turns triggers on one signal into Grafana threshold steps: the
// colour of each range is that of the most severe trigger firing there,
// and every threshold value has a step (so its line is drawn).
func ladder(unit catalogue.Unit, ts ...catalogue.Trigger) []dashboard.Threshold {
	var rules []cmpRule
	for _, t := range ts {
		rules = append(rules, cmpRule{t, t.Comparison, t.Threshold})
	}
	return ladderOf(unit, rules...)
}

// cmpRule is a trigger's comparison, which for a trigger with a custom
// expression is read from the expression.
type cmpRule struct {
	t   catalogue.Trigger
	cmp catalogue.Comparison
	thr float64
}

func ladderOf(unit catalogue.Unit, rules ...cmpRule) []dashboard.Threshold {
	var all []band
	marks := map[float64]bool{}
	points := map[float64]bool{}
	for _, r := range rules {
		marks[r.thr] = true
		points[r.thr] = true
		for _, b := range bands(r.t, r.cmp, r.thr, unit) {
			all = append(all, b)
			for _, v := range []float64{b.lo, b.hi} {
				if !math.IsInf(v, 0) {
					points[v] = true
				}
			}
		}
	}
	var ps []float64
	for p := range points {
		ps = append(ps, p)
	}
	sort.Float64s(ps)
	colorOf := func(lo, hi float64) string {
		best, rank := colorOK, 0
		for _, b := range all {
			if b.lo <= lo && b.hi >= hi && b.rank > rank {
				best, rank = b.color, b.rank
			}
		}
		return best
	}
	first := colorOK
	if len(ps) > 0 {
		first = colorOf(math.Inf(-1), ps[0])
	}
	steps := []dashboard.Threshold{{Color: first}}
	for i, p := range ps {
		hi := math.Inf(1)
		if i+1 < len(ps) {
			hi = ps[i+1]
		}
		c := colorOf(p, hi)
		if c == steps[len(steps)-1].Color && !marks[p] {
			continue
		}
		v := p
		steps = append(steps, dashboard.Threshold{Value: &v, Color: c})
	}
	return steps
}

// neutral is a single-colour threshold set.
func neutral(color string) []dashboard.Threshold { return []dashboard.Threshold{{Color: color}} }

// stepsAt builds steps from a base colour and value/colour pairs.
func stepsAt(base string, pairs ...any) []dashboard.Threshold {
	out := []dashboard.Threshold{{Color: base}}
	for i := 0; i+1 < len(pairs); i += 2 {
		v := toFloat(pairs[i])
		out = append(out, dashboard.Threshold{Value: &v, Color: pairs[i+1].(string)})
	}
	return out
}

func toFloat(v any) float64 {
	switch x := v.(type) {
	case int:
		return float64(x)
	case float64:
		return x
	}
	panic(fmt.Sprintf("toFloat(%T)", v))
}

// words turns snake_case into words.
func words(s string) string { return strings.ReplaceAll(s, "_", " ") }

// describe is the description of a panel that shows a trigger: what it
// watches, when it fires and what to do.
func describe(t catalogue.Trigger) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s**", t.Alert)
	if string(t.ID) != t.Alert {
		fmt.Fprintf(&b, " (%s)", t.ID)
	}
	fmt.Fprintf(&b, ": %s, severity %s, urgency %s.", t.Direction.Word(), t.Severity, t.Urgency)
	if target := t.Target(); target != "" {
		fmt.Fprintf(&b, " Fires when %s is %s", t.Signal.Title, target)
	} else {
		fmt.Fprintf(&b, " Fires when `%s` returns a series", strings.Join(strings.Fields(t.Expr), " "))
	}
	if t.For > 0 {
		fmt.Fprintf(&b, " for %s", catalogue.Dur(t.For))
	}
	b.WriteString(".")
	if t.Activation > 0 {
		fmt.Fprintf(&b, " KEDA activation threshold: %s.", formatAs(t, t.Activation))
	}
	if clear := t.ClearText(); clear != "" {
		fmt.Fprintf(&b, " Once firing, clears only when %s (hysteresis).", clear)
	}
	if len(t.Scopes) > 0 {
		// A panel has one set of threshold colours: the default's.
		var scopes []string
		for _, s := range t.Scopes {
			scopes = append(scopes, fmt.Sprintf("%s: %s for %s", s.Match, s.Target(), catalogue.Dur(s.For)))
		}
		fmt.Fprintf(&b, " Own thresholds (config `where`; the colours show the default): %s.", strings.Join(scopes, "; "))
	}
	fmt.Fprintf(&b, " **Action: %s.**", words(t.Action))
	if t.Saving != "" {
		fmt.Fprintf(&b, " Expected saving: %s.", t.Saving)
	}
	if t.Signal.Help != "" {
		fmt.Fprintf(&b, "\n\n%s", t.Signal.Help)
	}
	if t.Signal.Record != "" {
		fmt.Fprintf(&b, " Recorded as `%s`.", t.Signal.Record)
	}
	if t.RunbookURL != "" {
		fmt.Fprintf(&b, "\n\nRunbook: %s", t.RunbookURL)
	}
	return b.String()
}

// formatAs writes a value the way the trigger's threshold is written (80%,
// 5s, 1GiB).
func formatAs(t catalogue.Trigger, v float64) string {
	t.Threshold = v
	if t.Comparison == "" {
		return catalogue.Num(v)
	}
	return strings.TrimPrefix(t.Target(), string(t.Comparison)+" ")
}

// describeAll names every trigger a detail panel draws.
func describeAll(what string, ts []catalogue.Trigger) string {
	if len(ts) == 0 {
		return what
	}
	var parts []string
	for _, t := range ts {
		parts = append(parts, describe(t))
	}
	return what + "\n\nThresholds drawn:\n\n" + strings.Join(parts, "\n\n")
}

// ptr returns a pointer to v.
func ptr[T any](v T) *T { return &v }
