package catalogue

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/headroom-dev/headroom/internal/kind"
)

// Direction says which way a trigger scales.
type Direction string

// Directions; the direction label of every alert.
const (
	Up   Direction = "up"   // add capacity
	Down Direction = "down" // reduce cost
	None Direction = "none" // health and data-path alerts
)

// Comparison is how a signal is compared with its threshold.
type Comparison string

// Comparisons.
const (
	Above   Comparison = ">"
	AtLeast Comparison = ">="
	Below   Comparison = "<"
	Equal   Comparison = "=="
	Custom  Comparison = "" // the expression is not signal-versus-threshold
)

// Severities: critical pages, warning tickets, info goes to capacity review.
const (
	SeverityCritical = "critical"
	SeverityWarning  = "warning"
	SeverityInfo     = "info"
)

// Urgencies, the seed's words.
const (
	UrgencyCritical = "critical"
	UrgencyHigh     = "high"
	UrgencyMedium   = "medium"
	UrgencyLow      = "low"
)

// Trigger is one alert of the catalogue: what it watches, when it fires and
// what to do. Rules, promtool tests, runbook entries, routes and (later)
// dashboard panels and autoscaler manifests are all derived from it.
type Trigger struct {
	// ID is unique; variants of one alert (severity levels, resources)
	// have their own ids and share Alert.
	ID TriggerID
	// Alert is the alertname.
	Alert string
	// Set is the trigger set the config must include: health-agent, amas,
	// health or validation.
	Set string
	// Source is where the row comes from: HA (Health Agent scaling guide),
	// AMAS (AMAS scaling guide) or headroom.
	Source    string
	Group     Group
	Direction Direction
	// Signal is what is compared; Signal.Query selects it.
	Signal     Signal
	Comparison Comparison
	Threshold  float64
	// Activation is KEDA's activation threshold (AMAS rows); 0 for none.
	Activation float64
	// Margin is the hysteresis of a threshold comparison: once firing, a
	// "<" trigger clears only above Threshold + Margin and a ">" or ">="
	// trigger only below Threshold - Margin (ClearLevel). 0 for none.
	Margin        float64
	For           time.Duration
	KeepFiringFor time.Duration
	// Service is the service label of the alert.
	Service string
	// Action is the seed's action in snake_case (the action label).
	Action   string
	Urgency  string
	Severity string
	// Saving is the seed's expected saving of a scale-down trigger.
	Saving string
	// Labels are extra alert labels that tell variants apart.
	Labels map[string]string
	// Kind is the headroom target kind whose down alert inhibits this
	// trigger ("postgres", "pgbouncer", "redis", "api"); empty for none.
	Kind kind.Kind
	// When says in words when a trigger whose expression is not a plain
	// comparison fires (APIDown, ExporterAbsent, SignalAbsent, ...).
	When string
	// Summary and Description are the alert's annotation templates.
	Summary     string
	Description string
	// RunbookURL is the runbook_url annotation.
	RunbookURL string
	Runbook    Runbook
	// VerifiedBy lists the ids of the validation triggers (post-scaling
	// targets, alert CapacityTargetMissed) that show the action worked;
	// only those in the catalogue are kept.
	VerifiedBy []TriggerID
	// Expr is the alerting rule's expression. With Scopes, it is the
	// default rule's, over the series no scope matches.
	Expr string
	// Scopes are the trigger's `where` overrides, in order: copies of the
	// trigger with their own threshold, for, keep_firing_for and margin,
	// each an alerting rule of the same alertname over the series its
	// matchers select (and no earlier scope does), as the trigger's scope
	// record labels them (ScopeRecords). Dashboards and the
	// autoscaler use the trigger's own (default) threshold.
	Scopes []Trigger
	// Match is a scope's matchers as written in the config; empty for a
	// trigger's own (default) rule.
	Match    string
	Matchers []*labels.Matcher

	expr func(t Trigger) string
	// forecast is a forecast trigger's settings (ForecastOf its id).
	forecast Forecast
}

// apply returns the trigger with the override's values.
func (o Override) apply(t Trigger) Trigger {
	t = withLevels(t, o.Threshold, o.For, o.KeepFiringFor, o.Margin)
	if o.Severity != "" {
		t.Severity = o.Severity
	}
	return t
}

// apply returns the scope's copy of a trigger.
func (sc ScopeOverride) apply(t Trigger) Trigger {
	t.Scopes = nil
	return withLevels(t, sc.Threshold, sc.For, sc.KeepFiringFor, sc.Margin)
}

// withLevels sets the values an override or a scope gives; nil keeps the
// trigger's.
func withLevels(t Trigger, threshold *float64, forDur, keepFiringFor *model.Duration, margin *float64) Trigger {
	if threshold != nil {
		t.Threshold = *threshold
	}
	if forDur != nil {
		t.For = time.Duration(*forDur)
	}
	if keepFiringFor != nil {
		t.KeepFiringFor = time.Duration(*keepFiringFor)
	}
	if margin != nil {
		t.Margin = *margin
	}
	return t
}

// Runbook is a trigger's entry in RUNBOOK.md.
type Runbook struct {
	// Meaning says what the alert means.
	Meaning string
	// Steps are what to do, from the seed.
	Steps []string
}

// Hysteresis reports whether the alert, once firing, holds until its
// signal is past the margin (its expression joins its own ALERTS series).
func (t Trigger) Hysteresis() bool {
	return t.Margin > 0 && t.expr == nil && (t.Comparison == Above || t.Comparison == AtLeast || t.Comparison == Below)
}

// HasOwnExpr reports whether the trigger writes its own expression rather
// than comparing its signal with its threshold (APIDown, SignalAbsent, ...).
func (t Trigger) HasOwnExpr() bool { return t.expr != nil }

// ClearLevel is where a firing alert with hysteresis resolves: below it
// for ">" and ">=", above it for "<".
func (t Trigger) ClearLevel() float64 {
	if t.Comparison == Below {
		return Round(t.Threshold + t.Margin)
	}
	return Round(t.Threshold - t.Margin)
}

// ClearText says in words when a firing alert with hysteresis resolves:
// "back below 75%"; "" without hysteresis.
func (t Trigger) ClearText() string {
	if !t.Hysteresis() {
		return ""
	}
	word := "below"
	if t.Comparison == Below {
		word = "above"
	}
	return "back " + word + " " + t.Signal.Unit.Format(t.ClearLevel())
}

// Target is the threshold as text, e.g. "> 80%".
func (t Trigger) Target() string {
	if t.Comparison == Custom {
		return ""
	}
	return string(t.Comparison) + " " + t.Signal.Unit.Format(t.Threshold)
}

// Catalogue returns the config's triggers, overrides applied, in a stable
// order (by group, then id).
func Catalogue(cfg *Config) []Trigger {
	var out []Trigger
	for _, t := range cfg.resolvedTriggers(definitions(cfg)) {
		out = append(out, t)
		out = append(out, cfg.forecasts(t)...)
	}
	checks := map[TriggerID]Trigger{}
	for _, t := range out {
		if t.Alert == AlertCapacityTargetMissed {
			checks[t.ID] = t
		}
	}
	rendered := out[:0]
	for i := range out {
		render(cfg, &out[i], checks)
		// An expression may find nothing to alert on only once overrides
		// are applied (the autoscaler alerts over scalers an override
		// disabled): such a trigger is not defined rather than defined
		// as an alert that can never fire.
		if out[i].Expr != "" {
			rendered = append(rendered, out[i])
		}
	}
	return rendered
}

// render fills in what is derived: expression, annotations, runbook URL.
func render(cfg *Config, t *Trigger, checks map[TriggerID]Trigger) {
	p := PromQL{cfg}
	if t.Alert == "" {
		t.Alert = string(t.ID)
	}
	t.Service = cfg.Service
	t.RunbookURL = cfg.RunbookURL + "#" + Anchor(t.Alert)
	var verify []TriggerID
	for _, id := range t.VerifiedBy {
		if _, ok := checks[id]; ok {
			verify = append(verify, id)
		}
	}
	t.VerifiedBy = verify
	if t.expr != nil {
		t.Expr = t.expr(*t)
	} else {
		t.Expr = comparisonExpr(p, *t, scopedQuery(p, *t, -1))
	}
	describe(cfg, t)
	for i := range t.Scopes {
		s := &t.Scopes[i]
		s.Alert, s.Service, s.RunbookURL, s.VerifiedBy = t.Alert, t.Service, t.RunbookURL, t.VerifiedBy
		s.Expr = comparisonExpr(p, *s, scopedQuery(p, *t, i))
		describe(cfg, s)
	}
}

// comparisonExpr compares a query of the trigger's signal with its
// threshold, with hysteresis when it has a margin.
func comparisonExpr(p PromQL, t Trigger, query string) string {
	if t.Hysteresis() {
		return hysteresisExpr(p, t, query)
	}
	return fmt.Sprintf("%s %s %s", query, t.Comparison, Num(t.Threshold))
}

// scopedQuery is the signal's query for one rule of a scoped trigger:
// scope i's series, or for i < 0 (the default rule) the series no scope
// matches, read from the trigger's scope record (scopeRecordExpr), which
// gives each series the scope that wins it. Reading one labelled record
// keeps every rule the size of one selector, however many scopes precede
// it, and exactly one rule covers each series. A trigger without scopes
// reads its signal.
func scopedQuery(p PromQL, t Trigger, i int) string {
	if len(t.Scopes) == 0 {
		return t.Signal.Query
	}
	value := ""
	if i >= 0 {
		value = scopeValue(t, i)
	}
	return p.Service(ScopeRecordName(t), fmt.Sprintf("scope=%q", value))
}

// ScopeRecordName names the record of a scoped trigger's signal with each
// series' winning scope: scope:<trigger id in snake_case>.
func ScopeRecordName(t Trigger) string { return "scope:" + snakeCase(string(t.ID)) }

// scopeRecordExpr is the trigger's signal with a scope label naming the
// first `where` scope that matches each series (none for the series no
// scope matches): the scopes' selections joined by "or on (<the signal's
// labels>)", which keeps the left side's series, so that the first match
// wins in an expression that grows by one selector a scope.
func scopeRecordExpr(p PromQL, t Trigger) string {
	var terms []string
	for i, s := range t.Scopes {
		// label_replace expands $ in its replacement; $$ is a literal one.
		v := strings.ReplaceAll(scopeValue(t, i), "$", "$$")
		terms = append(terms, fmt.Sprintf(`label_replace(%s, "scope", %q, "", "")`, withMatchers(t.Signal.Query, s.Matchers...), v))
	}
	terms = append(terms, t.Signal.Query)
	return strings.Join(terms, "\nor "+p.On(append([]string{"service"}, t.Signal.Labels...)...)+" ")
}

// scopeValue is scope i's value of the scope label in the scope record:
// its matchers as written, which is also its rules' scope label. A scope
// written exactly as an earlier one never wins a series; its own value
// keeps its rule from reading the earlier scope's.
func scopeValue(t Trigger, i int) string {
	for _, s := range t.Scopes[:i] {
		if s.Match == t.Scopes[i].Match {
			return fmt.Sprintf("%s (where[%d])", t.Scopes[i].Match, i)
		}
	}
	return t.Scopes[i].Match
}

// snakeCase turns a trigger id into a metric name part: DBPoolHigh
// becomes db_pool_high, APILatencyP95High api_latency_p95_high.
func snakeCase(id string) string {
	var b strings.Builder
	r := []rune(id)
	for i, c := range r {
		upper := c >= 'A' && c <= 'Z'
		if upper && i > 0 {
			prevLower := (r[i-1] >= 'a' && r[i-1] <= 'z') || (r[i-1] >= '0' && r[i-1] <= '9')
			nextLower := i+1 < len(r) && r[i+1] >= 'a' && r[i+1] <= 'z'
			if prevLower || (r[i-1] >= 'A' && r[i-1] <= 'Z' && nextLower) {
				b.WriteByte('_')
			}
		}
		if upper {
			c += 'a' - 'A'
		}
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			c = '_'
		}
		b.WriteRune(c)
	}
	return b.String()
}

// describe fills in the summary and description a trigger does not write
// itself.
func describe(cfg *Config, t *Trigger) {
	thr := t.Signal.Unit.Format(t.Threshold)
	if t.Summary == "" {
		t.Summary = fmt.Sprintf("%s %s %s for %s", t.Signal.Title, t.Comparison.Word(), thr, Dur(t.For))
		if t.For == 0 {
			t.Summary = fmt.Sprintf("%s %s %s", t.Signal.Title, t.Comparison.Word(), thr)
		}
	}
	if t.Description == "" {
		scope := ""
		if t.Match != "" {
			scope = " set for " + t.Match
		}
		d := fmt.Sprintf("%s of %s is %s, %s the %s threshold%s", t.Signal.Title, t.Signal.Where, t.Signal.Unit.ValueTemplate(),
			t.Comparison.Word(), thr, scope)
		if t.For > 0 {
			d += " for " + Dur(t.For)
		}
		d += "."
		if clear := t.ClearText(); clear != "" {
			d += " It clears once " + clear + "."
		}
		d += ActionSentence(t.Action)
		t.Description = d
	}
	t.Description = strings.ReplaceAll(strings.ReplaceAll(t.Description, "{{ service }}", cfg.Service), "{{ threshold }}", thr)
	t.Summary = strings.ReplaceAll(t.Summary, "{{ service }}", cfg.Service)
}

// hysteresisExpr starts the alert past the threshold and, once it fires,
// holds it while the signal stays on the alert's side of the clear level.
// The join to the alert's own ALERTS series is on the signal's labels (with
// service and the cluster label), and the selector names the service, the
// severity and the variant labels, so that one series, pool, target,
// service or variant (ResourcePressure cpu and memory) never holds
// another's alert.
func hysteresisExpr(p PromQL, t Trigger, query string) string {
	matchers := []string{fmt.Sprintf("alertname=%q", t.Alert), `alertstate="firing"`, fmt.Sprintf("service=%q", p.cfg.Service),
		fmt.Sprintf("severity=%q", t.Severity)}
	keys := make([]string, 0, len(t.Labels))
	for k := range t.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		matchers = append(matchers, fmt.Sprintf("%s=%q", k, t.Labels[k]))
	}
	return fmt.Sprintf("%s %s %s\nor\n(\n  %s %s %s\n  and %s %s\n)", query, t.Comparison, Num(t.Threshold),
		query, t.Comparison, Num(t.ClearLevel()), p.On(append([]string{"service"}, t.Signal.Labels...)...), Sel("ALERTS", matchers...))
}

// Anchor is the GitHub anchor of a "## Name" heading.
func Anchor(alert string) string { return strings.ToLower(alert) }

// ActionSentence ends a description with the action label in words.
func ActionSentence(action string) string {
	return " Action: " + strings.ReplaceAll(action, "_", " ") + "."
}

const (
	AlertCapacityTargetMissed         = "CapacityTargetMissed"
	AlertScaleOutExceedsDBConnections = "ScaleOutExceedsDBConnections"
)

// definitions is the catalogue before the config's overrides: every row of
// TRIGGERS.md with the seeds' numbers as defaults, by area: scaling
// (scaling.go), health and the data path (health.go), post-scaling
// validation (validation.go).
func definitions(cfg *Config) []Trigger {
	d := &defs{cfg: cfg, p: PromQL{cfg}, signals: Signals(cfg)}
	d.scaling()
	d.health()
	d.autoscaler()
	d.validation()
	out := d.out
	sort.SliceStable(out, func(i, j int) bool { return groupOrder(out[i].Group) < groupOrder(out[j].Group) })
	return out
}

// defs is what the definitions of every area share: the config, its
// signals and the triggers defined so far.
type defs struct {
	cfg     *Config
	p       PromQL
	signals []Signal
	out     []Trigger
}

// sig is a signal of the config; a config without it (no queue metric)
// gets an empty one, which its triggers are left out for. An id the
// catalogue does not know is a definition's typo: it panics.
func (d *defs) sig(id SignalID) Signal {
	if !id.known() {
		panic(fmt.Sprintf("catalogue: definitions name unknown signal %q", id))
	}
	s, ok := SignalByID(d.signals, id)
	if !ok {
		return Signal{ID: id}
	}
	return s
}

// has reports whether the config has a signal.
func (d *defs) has(id SignalID) bool { _, ok := SignalByID(d.signals, id); return ok }

// add defines a trigger, deriving what it leaves out: its alertname from
// its id, its group from its signal, its severity from direction and
// urgency.
func (d *defs) add(t Trigger) {
	if t.Alert == "" {
		t.Alert = string(t.ID)
	}
	if t.Group == "" {
		t.Group = t.Signal.Group
	}
	if t.Severity == "" {
		t.Severity = severityFor(t.Direction, t.Urgency)
	}
	d.out = append(d.out, t)
}

// The utilisation triggers are those comparing a resource's used share
// of its capacity (CPU, memory, DB pool, PostgreSQL connections, Redis
// memory, the saturation of any of them) against a "high" threshold:
// CPUHigh, MemoryHigh, DBPoolHigh, ResourceSaturated,
// ResourcePressureCPU/Memory, PostgresConnectionsNearMax and
// RedisMemoryNearMax. Such a share hovers around its threshold under
// steady load, so they hold until it is utilisationMargin below it.
// Rates, latencies, error ratios and queue depths are not capacity
// shares and keep no margin; neither do the post-scaling checks, whose
// hour-long `for` already smooths them.
const utilisationMargin = 0.05

// severityFor derives severity from direction and urgency: scale-down is
// a ticket; critical and high urgency page; medium tickets; low is info.
func severityFor(d Direction, urgency string) string {
	if d == Down {
		return SeverityWarning
	}
	switch urgency {
	case UrgencyCritical, UrgencyHigh:
		return SeverityCritical
	case UrgencyMedium:
		return SeverityWarning
	}
	return SeverityInfo
}

var Groups = []Group{GroupAPI, GroupCapacity, GroupDBPool, GroupPostgres, GroupReplication, GroupPgBouncer, GroupRedis, GroupHeadroom}

func groupOrder(g Group) int {
	for i, x := range Groups {
		if x == g {
			return i
		}
	}
	return len(Groups)
}
