package catalogue

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
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
	ID string
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
	Kind string
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
	VerifiedBy []string
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
	return "back " + word + " " + FormatValue(t.Signal.Unit, t.ClearLevel())
}

// Target is the threshold as text, e.g. "> 80%".
func (t Trigger) Target() string {
	if t.Comparison == Custom {
		return ""
	}
	return string(t.Comparison) + " " + FormatValue(t.Signal.Unit, t.Threshold)
}

// Catalogue returns the config's triggers, overrides applied, in a stable
// order (by group, then id).
func Catalogue(cfg *Config) []Trigger {
	out := cfg.resolvedTriggers(definitions(cfg))
	checks := map[string]Trigger{}
	for _, t := range out {
		if t.Alert == AlertCapacityTargetMissed {
			checks[t.ID] = t
		}
	}
	for i := range out {
		render(cfg, &out[i], checks)
	}
	return out
}

// render fills in what is derived: expression, annotations, runbook URL.
func render(cfg *Config, t *Trigger, checks map[string]Trigger) {
	p := PromQL{cfg}
	if t.Alert == "" {
		t.Alert = t.ID
	}
	t.Service = cfg.Service
	t.RunbookURL = cfg.RunbookURL + "#" + Anchor(t.Alert)
	var verify []string
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
func ScopeRecordName(t Trigger) string { return "scope:" + snakeCase(t.ID) }

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
	thr := FormatValue(t.Signal.Unit, t.Threshold)
	if t.Summary == "" {
		t.Summary = fmt.Sprintf("%s %s %s for %s", t.Signal.Title, compWord(t.Comparison), thr, Dur(t.For))
		if t.For == 0 {
			t.Summary = fmt.Sprintf("%s %s %s", t.Signal.Title, compWord(t.Comparison), thr)
		}
	}
	if t.Description == "" {
		scope := ""
		if t.Match != "" {
			scope = " set for " + t.Match
		}
		d := fmt.Sprintf("%s of %s is %s, %s the %s threshold%s", t.Signal.Title, t.Signal.Where, valueTemplate(t.Signal.Unit),
			compWord(t.Comparison), thr, scope)
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

func compWord(c Comparison) string {
	switch c {
	case Above:
		return "above"
	case AtLeast:
		return "at or above"
	case Below:
		return "below"
	case Equal:
		return "at"
	}
	return ""
}

// valueTemplate shows an alert's value with its unit: 87%, 1.5s, 2.1GiB, 3/s.
func valueTemplate(u Unit) string {
	switch u {
	case UnitRatio:
		return "{{ $value | humanizePercentage }}"
	case UnitSeconds:
		return "{{ $value | humanizeDuration }}"
	case UnitBytes:
		return "{{ $value | humanize1024 }}B"
	case UnitPerSecond:
		return "{{ $value | humanize }}/s"
	}
	return "{{ $value | humanize }}"
}

// ActionSentence ends a description with the action label in words.
func ActionSentence(action string) string {
	return " Action: " + strings.ReplaceAll(action, "_", " ") + "."
}

// FormatValue writes a threshold for people: 80%, 5s, 1GiB, 1/s.
func FormatValue(u Unit, v float64) string {
	switch u {
	case UnitRatio:
		return Num(math.Round(v*100*1000)/1000) + "%"
	case UnitSeconds:
		if v >= 60 && v == math.Trunc(v) {
			return Dur(time.Duration(v) * time.Second)
		}
		return Num(v) + "s"
	case UnitBytes:
		for _, s := range []struct {
			n    float64
			unit string
		}{{1 << 40, "TiB"}, {1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
			if v >= s.n && v/s.n == math.Trunc(v/s.n) {
				return Num(v/s.n) + s.unit
			}
		}
		return Num(v) + "B"
	case UnitPerSecond:
		return Num(v) + "/s"
	}
	return Num(v)
}

const (
	AlertCapacityTargetMissed         = "CapacityTargetMissed"
	AlertScaleOutExceedsDBConnections = "ScaleOutExceedsDBConnections"
)

// definitions is the catalogue before the config's overrides: every row of
// TRIGGERS.md with the seeds' numbers as defaults.
func definitions(cfg *Config) []Trigger {
	signals := Signals(cfg)
	// sig is a signal of the config; a config without it (no queue metric)
	// gets an empty one, which its triggers are left out for. An id the
	// catalogue does not know is a definition's typo: it panics.
	sig := func(id SignalID) Signal {
		if !id.known() {
			panic(fmt.Sprintf("catalogue: definitions name unknown signal %q", id))
		}
		s, ok := SignalByID(signals, string(id))
		if !ok {
			return Signal{ID: string(id)}
		}
		return s
	}
	has := func(id SignalID) bool { _, ok := SignalByID(signals, string(id)); return ok }
	p := PromQL{cfg}
	var out []Trigger
	add := func(t Trigger) {
		if t.Alert == "" {
			t.Alert = t.ID
		}
		if t.Group == "" {
			t.Group = t.Signal.Group
		}
		if t.Severity == "" {
			t.Severity = severityFor(t.Direction, t.Urgency)
		}
		out = append(out, t)
	}
	min := time.Minute
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

	// Scale-up, Health Agent guide.
	add(Trigger{ID: "CPUHigh", Set: SetHealthAgent, Source: "HA", Direction: Up, Signal: sig(SignalAPICPU), Comparison: Above, Threshold: 0.8, Margin: utilisationMargin,
		For: 10 * min, Action: "scale_horizontally", Urgency: UrgencyHigh, VerifiedBy: []string{"CapacityTargetMissedCPU", "CapacityTargetMissedLatency"},
		Runbook: Runbook{Meaning: "The API's instances are busy on average; requests queue and latency follows.",
			Steps: []string{"Add instances: `kubectl scale deployment <api> --replicas=N` or `docker-compose up -d --scale api=N`; the HPA does it at 70% average CPU.",
				"Size by concurrent users: 100-300 users 2-3 instances, 300-500 3-5, 500-1000 5-10, 1000+ 10+ with DB replicas.",
				"Check that max replicas x DB pool size still fits PostgreSQL's usable connections before scaling out."}}})
	add(Trigger{ID: "MemoryHigh", Set: SetHealthAgent, Source: "HA", Direction: Up, Signal: sig(SignalAPIMemory), Comparison: Above, Threshold: 0.85, Margin: utilisationMargin,
		For: 5 * min, Action: "scale_vertically", Urgency: UrgencyCritical, VerifiedBy: []string{"CapacityTargetMissedMemory"},
		Runbook: Runbook{Meaning: "An API instance is close to its memory limit; OOM kills and swap thrashing come next (HA capacity limit 1.5 GB).",
			Steps: []string{"Give instances more memory (raise the container's memory limit or move to a larger instance type).",
				"If memory grows steadily after restarts, look for a leak before adding memory."}}})
	add(Trigger{ID: "DBPoolHigh", Set: SetHealthAgent, Source: "HA", Direction: Up, Signal: sig(SignalDBPool), Comparison: Above, Threshold: 0.8, Margin: utilisationMargin,
		For: 5 * min, Action: "increase_pool_or_scale_db", Urgency: UrgencyHigh, Kind: "postgres", VerifiedBy: []string{"CapacityTargetMissedDBPool"},
		Runbook: Runbook{Meaning: "A connection pool is nearly exhausted; \"pool exhausted\" errors follow.",
			Steps: []string{"Increase the pool: max = 2 x cores + 5 (4 cores: 13, 8 cores: 21, 16 cores: 37).",
				"If PostgreSQL itself is the limit, scale it vertically or add read replicas for read traffic.",
				"Put PgBouncer in front (transaction pooling: 1000 clients on 25 server connections)."}}})
	add(Trigger{ID: "CacheHitRateLow", Set: SetHealthAgent, Source: "HA", Direction: Up, Signal: sig(SignalRedisHitRatio), Comparison: Below,
		Threshold: 0.3, For: 20 * min, Action: "increase_redis_memory", Urgency: UrgencyMedium, Kind: "redis", VerifiedBy: []string{"CapacityTargetMissedCacheHit"},
		Runbook: Runbook{Meaning: "Most cache lookups miss: the cache is too small for the working set, or keys expire too early.",
			Steps: []string{"Check evictions (`redis-cli INFO stats | grep evicted_keys`); if they grow, increase maxmemory: 256MB (100-300 users), 512MB, 1GB, 2GB+.",
				"If there are no evictions, review TTLs and what is cached."}}})
	add(Trigger{ID: "APIErrorRateHigh", Set: SetHealthAgent, Source: "HA", Direction: Up, Signal: sig(SignalAPIErrorRatio), Comparison: Above,
		Threshold: 0.05, For: 5 * min, Action: "investigate_then_scale", Urgency: UrgencyCritical, Kind: "api", VerifiedBy: []string{"CapacityTargetMissedErrors"},
		Runbook: Runbook{Meaning: "More than 5% of requests fail.",
			Steps: []string{"Investigate first: logs, the LLM provider's status, PostgreSQL and Redis alerts firing at the same time.",
				"Scale only when the errors come from overload (timeouts, pool exhaustion, 503s under high CPU)."}}})
	add(Trigger{ID: "APILatencyP95High", Set: SetHealthAgent, Source: "HA", Direction: Up, Signal: sig(SignalAPILatencyP95), Comparison: Above,
		Threshold: 5, For: 10 * min, Action: "scale_horizontally", Urgency: UrgencyHigh, Kind: "api", VerifiedBy: []string{"CapacityTargetMissedLatency"},
		Runbook: Runbook{Meaning: "The slowest 5% of requests take longer than 5s (post-optimisation p95 is 2-3s).",
			Steps: []string{"Add instances as for CPUHigh.", "If CPU is low, the time is spent waiting: check the DB pool, PgBouncer waits and the LLM API's latency."}}})
	add(Trigger{ID: "ResourceSaturated", Set: SetHealthAgent, Source: "HA", Direction: Up, Signal: sig(SignalSaturation), Comparison: AtLeast,
		Threshold: 0.8, Margin: utilisationMargin, For: 10 * min, Action: "scale_saturated_resource", Urgency: UrgencyHigh,
		Runbook: Runbook{Meaning: "One resource (label resource: cpu, memory, db_pool, redis_memory, network) is at 80% or more: the HA guide's scale trigger.",
			Steps: []string{"Scale the resource the alert names: cpu -> more instances, memory -> bigger instances, db_pool -> bigger pool or database, redis_memory -> more Redis memory, network -> more instances or a bigger link."}}})
	add(Trigger{ID: "RedisEvictionsHigh", Set: SetHealthAgent, Source: "HA", Direction: Up, Signal: sig(SignalRedisEvictions), Comparison: Above,
		Threshold: 1, For: 10 * min, Action: "increase_redis_memory", Urgency: UrgencyMedium, Kind: "redis", VerifiedBy: []string{"CapacityTargetMissedCacheHit"},
		Runbook: Runbook{Meaning: "Redis evicts keys quickly to stay under its memory limit.",
			Steps: []string{"Increase maxmemory (256MB -> 512MB -> 1GB -> 2GB+), or move to Redis Cluster past 1GB of cache data."}}})

	// Scale-down, Health Agent guide.
	add(Trigger{ID: "CPULow", Set: SetHealthAgent, Source: "HA", Direction: Down, Signal: sig(SignalAPICPU), Comparison: Below, Threshold: 0.3,
		Margin: 0.05, For: 30 * min, KeepFiringFor: 10 * min, Action: "scale_down_instances", Urgency: UrgencyLow, Saving: "50% cost",
		VerifiedBy: []string{"CapacityTargetMissedCPU", "CapacityTargetMissedLatency"},
		Runbook: Runbook{Meaning: "The API's instances have been mostly idle for half an hour.",
			Steps: []string{"Remove instances, one step at a time (docker-compose up -d --scale api=N, or lower the HPA's minReplicas).",
				"Keep at least 2 instances for availability."}}})
	add(Trigger{ID: "MemoryLow", Set: SetHealthAgent, Source: "HA", Direction: Down, Signal: sig(SignalAPIMemory), Comparison: Below, Threshold: 0.5,
		Margin: 0.05, For: 60 * min, KeepFiringFor: 10 * min, Action: "reduce_instance_size", Urgency: UrgencyLow, Saving: "30% cost",
		VerifiedBy: []string{"CapacityTargetMissedMemory"},
		Runbook: Runbook{Meaning: "Even the fullest API instance has used less than half its memory for an hour.",
			Steps: []string{"Move to a smaller instance size or lower the memory limit, leaving room for the 85% MemoryHigh threshold."}}})
	add(Trigger{ID: "DBPoolLow", Set: SetHealthAgent, Source: "HA", Direction: Down, Signal: sig(SignalDBPool), Comparison: Below, Threshold: 0.3,
		Margin: 0.05, For: 60 * min, KeepFiringFor: 10 * min, Action: "reduce_pool_size", Urgency: UrgencyLow, Saving: "20% DB cost", Kind: "postgres",
		VerifiedBy: []string{"CapacityTargetMissedDBPool"},
		Runbook: Runbook{Meaning: "A connection pool has used less than 30% of its connections for an hour.",
			Steps: []string{"Reduce the pool's maximum size (or PgBouncer's default_pool_size), and the database instance if all pools are low."}}})

	// Scale-up, AMAS guide (KEDA triggers).
	add(Trigger{ID: "RequestRateHigh", Set: SetAMAS, Source: "AMAS", Direction: Up, Signal: sig(SignalAPIRequestsPerInstance), Comparison: Above,
		Threshold: 15, Activation: 5, For: min, Action: "scale_out", Urgency: UrgencyHigh, Kind: "api", VerifiedBy: []string{"CapacityTargetMissedLatency"},
		Runbook: Runbook{Meaning: "Each pod serves more than 15 requests per second.", Steps: amasScaleOut}})
	if has(SignalAPIQueueDepth) {
		add(Trigger{ID: "QueueDepthHigh", Set: SetAMAS, Source: "AMAS", Direction: Up, Signal: sig(SignalAPIQueueDepth), Comparison: Above,
			Threshold: 25, Activation: 10, For: min, Action: "scale_out", Urgency: UrgencyHigh, VerifiedBy: []string{"CapacityTargetMissedLatency"},
			Runbook: Runbook{Meaning: "More than 25 agent tasks are queued (at 2s each, about 50s of work).", Steps: amasScaleOut}})
	}
	add(Trigger{ID: "LatencyP95High", Set: SetAMAS, Source: "AMAS", Direction: Up, Signal: sig(SignalAPILatencyP95), Comparison: Above,
		Threshold: 1, Activation: 0.5, For: min, Action: "scale_out", Urgency: UrgencyHigh, Kind: "api", VerifiedBy: []string{"CapacityTargetMissedLatency"},
		Runbook: Runbook{Meaning: "The p95 agent duration is above 1s (SLO: p95 <= 1.5s).", Steps: amasScaleOut}})
	add(Trigger{ID: "ResourcePressureCPU", Alert: "ResourcePressure", Set: SetAMAS, Source: "AMAS", Direction: Up, Signal: sig(SignalAPICPU),
		Comparison: Above, Threshold: 0.7, Margin: utilisationMargin, Activation: 0.1, For: min, Action: "scale_out", Urgency: UrgencyHigh, Labels: map[string]string{"resource": "cpu"},
		VerifiedBy: []string{"CapacityTargetMissedCPU"},
		Runbook:    Runbook{Meaning: "CPU above 70% or memory above 80% (label resource).", Steps: amasScaleOut}})
	add(Trigger{ID: "ResourcePressureMemory", Alert: "ResourcePressure", Set: SetAMAS, Source: "AMAS", Direction: Up, Signal: sig(SignalAPIMemory),
		Comparison: Above, Threshold: 0.8, Margin: utilisationMargin, Activation: 0.1, For: min, Action: "scale_out", Urgency: UrgencyHigh, Labels: map[string]string{"resource": "memory"},
		VerifiedBy: []string{"CapacityTargetMissedMemory"}, Runbook: Runbook{Meaning: "CPU above 70% or memory above 80% (label resource).", Steps: amasScaleOut}})

	// Health and data-path alerts.
	probe := sig(SignalAPIProbe)
	add(Trigger{ID: "APIDown", Set: SetHealth, Source: "headroom", Direction: None, Signal: probe, Comparison: Custom, Threshold: 3,
		Action: "restore_api", Urgency: UrgencyCritical,
		When: "3 failed health probes within 30s, or every probe failing for 1m",
		expr: func(t Trigger) string {
			return fmt.Sprintf("count_over_time(%s[30s]) - sum_over_time(%s[30s]) >= 3\nor\nmax_over_time(%s[1m]) == 0", probe.Query, probe.Query, probe.Query)
		},
		// The 1m branch of the expression returns 0, the 30s branch the
		// number of failures.
		Summary: "API health probe of {{ $labels.target }} failing",
		Description: "The health endpoint of {{ $labels.target }} ({{ service }}) {{ if eq $value 0.0 }}failed every probe for 1m{{ else }}failed {{ $value }} probes within 30s{{ end }}; " +
			"the threshold is 3 failed probes within 30s (nginx max_fails=3 fail_timeout=30s) or every probe failing for 1m." + ActionSentence("restore_api"),
		Runbook: Runbook{Meaning: "The API's health endpoint (/api/health) failed 3 probes within 30s: nginx would take the instance out of rotation. Needs a scrape interval of 10s or less to see 3 probes in 30s; at longer intervals it fires after a minute of failures.",
			Steps: []string{"Check headroom_api_probe_failures_total{target=...} by reason: refused/timeout (process down or hung), http_status/body_status (the API reports itself unhealthy: see headroom_api_component_up).",
				"Restart or replace the instance; check PostgreSQL and Redis alerts (the health check depends on them)."}}})
	for _, k := range []struct{ id, kind, what string }{{"PostgresDown", "postgres", "PostgreSQL"}, {"PgBouncerDown", "pgbouncer", "PgBouncer"}, {"RedisDown", "redis", "Redis"}} {
		add(Trigger{ID: k.id, Set: SetHealth, Source: "headroom", Direction: None, Signal: sig(SignalID(k.kind + "_up")), Comparison: Equal, Threshold: 0,
			For: min, Action: "restore_" + k.kind, Urgency: UrgencyCritical, When: fmt.Sprintf(`headroom_target_up{kind=%q} == 0`, k.kind),
			Summary: k.what + " target {{ $labels.target }} is down",
			Description: "headroom cannot get data from " + k.what + " target {{ $labels.target }} (headroom_target_up = {{ $value }}, 1 when up) for 1m; its other alerts are inhibited meanwhile." +
				ActionSentence("restore_"+k.kind),
			Runbook: Runbook{Meaning: "The exporter cannot reach " + k.what + " or gets no usable data from it.",
				Steps: []string{"See headroom_target_scrape_errors_total{target=...} for the reason (refused, timeout, auth, ...) and the exporter's log line for the target.",
					"Check the server itself; restart or fail over."}}})
	}
	add(Trigger{ID: "ExporterAbsent", Set: SetHealth, Source: "headroom", Group: GroupHeadroom, Direction: None, Signal: Signal{ID: "up", Unit: UnitBool, Group: GroupHeadroom, Title: "headroom exporter"},
		Comparison: Custom, For: 2 * min, Action: "restore_exporter", Urgency: UrgencyCritical,
		When: fmt.Sprintf(`up{job=%q} == 0, or no target of the job at all`, cfg.ExporterJob),
		expr: func(t Trigger) string {
			up := Sel("up", fmt.Sprintf("job=%q", cfg.ExporterJob))
			return fmt.Sprintf("%s == 0\nor\nabsent(%s)", up, up)
		},
		Summary: "headroom exporter (job " + cfg.ExporterJob + ") is down or absent",
		Description: "{{ if $labels.instance }}Prometheus cannot scrape {{ $labels.instance }} (up = {{ $value }}){{ else }}No target of job " + cfg.ExporterJob +
			" exists (no up series){{ end }} for 2m: the database and cache alerts of {{ service }} cannot fire." + ActionSentence("restore_exporter"),
		Runbook: Runbook{Meaning: "The exporter's own scrape failed or its target vanished from service discovery, so every alert on headroom_* series is silently blind.",
			Steps: []string{"Check the headroom pod or process and its /metrics; check the Prometheus scrape config and service discovery."}}})
	for _, s := range signals {
		if !s.MustExist {
			continue
		}
		s := s
		watched, what := s.Query, "series of "+s.Record
		if s.Scraped != "" {
			watched = s.Scraped
			if names, err := SelectedMetrics(s.Scraped); err == nil && len(names) > 0 {
				what = "input " + names[0] + " of " + s.Record
			}
			// Watching some buckets of a histogram (the p95's finite
			// ones): say which, since the metric itself may be there.
			if bs, err := RawBuckets(s.Scraped, nil); err == nil && len(bs) == 1 {
				what = "input " + bs[0].String() + " of " + s.Record
			}
		}
		add(Trigger{ID: "SignalAbsent:" + s.ID, Alert: "SignalAbsent", Set: SetHealth, Source: "headroom", Group: GroupHeadroom, Direction: None,
			Signal: s, Comparison: Custom, For: 10 * min, Action: "restore_signal", Urgency: UrgencyMedium,
			When:    "no " + what,
			Labels:  map[string]string{"signal": s.Record},
			expr:    func(Trigger) string { return fmt.Sprintf("absent(%s)", watched) },
			Summary: s.Title + " of {{ service }} is missing",
			Description: "No " + what + " for {{ service }} for 10m (absent = {{ $value }}): the alerts on it cannot fire. " +
				"Check that its inputs are scraped and match the bundle's selectors." + ActionSentence("restore_signal"),
			Runbook: Runbook{Meaning: signalAbsentMeaning, Steps: signalAbsentSteps(cfg)}})
	}
	if b, ok := cfg.SLOBucket(); ok {
		add(sloBucketAbsent(cfg, p, b, min))
	}
	lag := sig(SignalStandbyLag)
	add(Trigger{ID: "ReplicationLagHigh", Set: SetHealth, Source: "headroom", Direction: None, Signal: lag, Comparison: Above, Threshold: 10,
		For: 2 * min, Action: "investigate_replication", Urgency: UrgencyHigh, Severity: SeverityWarning, Kind: "postgres",
		Runbook: Runbook{Meaning: "A standby's data is behind its primary (expected 10-100ms). Reads from it return stale data; warning at 10s, critical at 60s.",
			Steps: []string{"Check headroom_postgres_wal_receiver_streaming and headroom_postgres_standby_replay_paused on the standby, and replication_*_lag on the primary.",
				"Long queries on the standby can hold replay back (max_standby_streaming_delay); heavy writes can outpace a small standby.",
				"Route time-sensitive reads to the primary until the lag is back down."}}})
	add(Trigger{ID: "ReplicationLagCritical", Alert: "ReplicationLagHigh", Set: SetHealth, Source: "headroom", Direction: None, Signal: lag, Comparison: Above,
		Threshold: 60, For: 2 * min, Action: "investigate_replication", Urgency: UrgencyHigh, Severity: SeverityCritical, Kind: "postgres"})
	add(Trigger{ID: "ReplicaNotStreaming", Set: SetHealth, Source: "headroom", Direction: None, Signal: sig(SignalWALReceiver), Comparison: Equal,
		Threshold: 0, For: 2 * min, Action: "restore_replication", Urgency: UrgencyCritical, Kind: "postgres",
		Summary: "Standby {{ $labels.target }} is not streaming WAL",
		Description: "The WAL receiver of standby {{ $labels.target }} is not streaming (headroom_postgres_wal_receiver_streaming = {{ $value }}, 1 while streaming) for 2m: " +
			"it falls further behind every second." + ActionSentence("restore_replication"),
		Runbook: Runbook{Meaning: "A standby's WAL receiver is not streaming from its upstream.",
			Steps: []string{"Check headroom_postgres_wal_receiver_status and the standby's log (authentication, primary_conninfo, a removed WAL segment).",
				"If the primary removed WAL the standby needs, re-seed it (pg_basebackup)."}}})
	slot := sig(SignalSlotRetained)
	add(Trigger{ID: "ReplicationSlotInactive", Set: SetHealth, Source: "headroom", Direction: None, Signal: slot, Comparison: Above, Threshold: 1 << 30,
		For: 5 * min, Action: "drop_or_reconnect_slot", Urgency: UrgencyHigh, Kind: "postgres",
		expr: func(t Trigger) string {
			return fmt.Sprintf("%s > %s\nand %s\n%s == 0", slot.Query, Num(t.Threshold),
				p.On(slot.Labels...), p.Headroom("headroom_postgres_replication_slot_active", "postgres"))
		},
		Summary: "Inactive replication slot {{ $labels.slot }} retains WAL",
		Description: "Replication slot {{ $labels.slot }} on {{ $labels.target }} has no consumer and retains " + valueTemplate(UnitBytes) +
			" of WAL (threshold {{ threshold }} for 5m); the primary's disk fills until it is consumed or dropped." + ActionSentence("drop_or_reconnect_slot"),
		Runbook: Runbook{Meaning: "An inactive replication slot keeps WAL from being removed; left alone it fills the primary's disk.",
			Steps: []string{"Reconnect the slot's consumer (standby or logical subscriber), or drop the slot if it is gone for good: SELECT pg_drop_replication_slot('<slot>').",
				"Consider max_slot_wal_keep_size to bound what a slot may retain."}}})
	add(Trigger{ID: "PgBouncerClientsWaiting", Set: SetHealth, Source: "headroom", Direction: None, Signal: sig(SignalPgbouncerWaiting), Comparison: Above,
		Threshold: 0, For: 2 * min, Action: "increase_pgbouncer_pool", Urgency: UrgencyHigh, Kind: "pgbouncer", Labels: map[string]string{"condition": "waiting"},
		Runbook: Runbook{Meaning: "Clients wait for a server connection in a PgBouncer pool (label condition: waiting clients for 2m, or the oldest waiting over 1s).",
			Steps: []string{"Raise the pool's pool_size / default_pool_size (and reserve_pool_size) if PostgreSQL has connections to spare (PostgresConnectionsNearMax).",
				"Otherwise find what holds server connections: long transactions (headroom_postgres_oldest_transaction_age_seconds), idle in transaction."}}})
	add(Trigger{ID: "PgBouncerMaxWait", Alert: "PgBouncerClientsWaiting", Set: SetHealth, Source: "headroom", Direction: None, Signal: sig(SignalPgbouncerMaxWait),
		Comparison: Above, Threshold: 1, For: min, Action: "increase_pgbouncer_pool", Urgency: UrgencyHigh, Kind: "pgbouncer", Labels: map[string]string{"condition": "max_wait"}})
	add(Trigger{ID: "PostgresConnectionsNearMax", Set: SetHealth, Source: "headroom", Direction: None, Signal: sig(SignalPostgresConnections), Comparison: Above,
		Threshold: 0.8, Margin: utilisationMargin, For: 5 * min, Action: "pool_connections_or_raise_max_connections", Urgency: UrgencyHigh, Kind: "postgres",
		Runbook: Runbook{Meaning: "Client backends use more than 80% of the connections ordinary clients may hold; new connections will fail with \"too many clients\".",
			Steps: []string{"Put PgBouncer in front of PostgreSQL, or lower pool sizes: max replicas x pool size must fit max_connections.",
				"Raise max_connections only with memory to spare (each backend costs work_mem and more)."}}})
	if g, ok := ConnectionGuardOf(cfg); ok {
		add(Trigger{ID: AlertScaleOutExceedsDBConnections, Set: SetHealth, Source: "headroom", Group: GroupCapacity, Direction: None,
			Signal: Signal{ID: "db_connection_guard", Unit: UnitCount, Group: GroupCapacity,
				Title: "Connections the pools would open at max replicas beyond the database's usable ones"},
			Comparison: Custom, For: 15 * min, Action: "lower_max_replicas_or_raise_db_connections", Urgency: UrgencyMedium,
			Severity: SeverityWarning,
			When:     fmt.Sprintf("HPA max replicas (kube-state-metrics, else %d) x %d connections per pod > %s", g.MaxReplicas, g.Pool, g.UsableName),
			expr:     func(Trigger) string { return g.expr(p) },
			Summary:  "Scaling {{ service }} out to its max replicas would exceed the database's connections",
			Description: fmt.Sprintf("At the HPA's max replicas (from kube-state-metrics, else the configured %d) x %d connections per pod, "+
				"the pools of {{ service }} would open {{ $value }} more connections than %s accepts (%s) for 15m."+ActionSentence("lower_max_replicas_or_raise_db_connections"), g.MaxReplicas, g.Pool, g.What, g.UsableName),
			Runbook: Runbook{Meaning: "Every pod opens its own connection pool, so a scale-out to the HPA's max replicas would open more connections than " +
				"the database (or PgBouncer) accepts: the scale-out meant to help would exhaust the connections and take the database down (KEDA issue #476). " +
				"Compared at run time: the HPA's max replicas as kube-state-metrics reports them (the configured max_replicas without kube-state-metrics) " +
				"x autoscaling.db's pool size per pod, against the usable connections the exporter measures.",
				Steps: []string{"Lower the HPA's max replicas (autoscaling.max_replicas, or maxReplicaCount of the ScaledObject) to what fits: usable connections / pool size per pod.",
					"Or shrink the pool per pod, put PgBouncer in front (transaction pooling), or raise max_connections (PostgreSQL) or max_client_conn (PgBouncer) if memory allows.",
					"Check that autoscaling.db.pool_size_per_pod (or cores) and connects_through in the config match what the pods really open."}}})
	}
	add(Trigger{ID: "RedisMemoryNearMax", Set: SetHealth, Source: "headroom", Direction: None, Signal: sig(SignalRedisMemory), Comparison: Above,
		Threshold: 0.8, Margin: utilisationMargin, For: 5 * min, Action: "increase_redis_memory", Urgency: UrgencyHigh, Kind: "redis",
		Runbook: Runbook{Meaning: "Redis uses more than 80% of its memory limit (HA sizes it at 256MB). With allkeys-lru this is where evictions start; with noeviction, writes fail at 100%.",
			Steps: []string{"Increase maxmemory (256MB -> 512MB -> 1GB -> 2GB+) and the container's memory with it.",
				"If the policy is noeviction and the data is a cache, switch to allkeys-lru."}}})

	// Post-scaling validation targets: info alerts for capacity review.
	type check struct {
		id     string
		signal SignalID
		cmp    Comparison
		thr    float64
	}
	for _, c := range []check{
		{"CapacityTargetMissedLatency", SignalAPILatencyP95, Above, 3},
		{"CapacityTargetMissedErrors", SignalAPIErrorRatio, Above, 0.01},
		{"CapacityTargetMissedDBPool", SignalDBPool, Above, 0.8},
		{"CapacityTargetMissedCacheHit", SignalRedisHitRatio, Below, 0.6},
		{"CapacityTargetMissedCPU", SignalAPICPU, Above, 0.7},
		{"CapacityTargetMissedMemory", SignalAPIMemory, Above, 0.8},
	} {
		s := sig(c.signal)
		kind := ""
		switch s.Group {
		case GroupDBPool:
			kind = "postgres"
		case GroupRedis:
			kind = "redis"
		}
		add(Trigger{ID: c.id, Alert: AlertCapacityTargetMissed, Set: SetValidation, Source: "HA", Direction: None, Signal: s, Comparison: c.cmp,
			Threshold: c.thr, For: 60 * min, Action: "review_capacity", Urgency: UrgencyLow, Severity: SeverityInfo, Kind: kind,
			Labels: map[string]string{"check": strings.TrimPrefix(c.id, "CapacityTargetMissed")},
			Runbook: Runbook{Meaning: "The service has been outside one of its post-scaling validation targets for an hour (label check says which). These are the targets a scaling step must reach; missing one for long is a capacity-review item, not a page.",
				Steps: []string{"Review at the next capacity review: the last scaling step did not reach its target, or load has grown since.",
					"Find the bottleneck (CPU, memory, DB, cache) before adding capacity; utilisation should be above 70% before scaling."}}})
	}
	sort.SliceStable(out, func(i, j int) bool { return groupOrder(out[i].Group) < groupOrder(out[j].Group) })
	return out
}

// signalAbsentMeaning and signalAbsentSteps are the runbook of every
// SignalAbsent rule; RUNBOOK.md has one section per alertname.
const signalAbsentMeaning = "A signal that scaling alerts rely on has no data, so those alerts cannot fire: a silent gap."

func signalAbsentSteps(cfg *Config) []string {
	steps := []string{"Run the recording rule's expression in Prometheus and find the missing input: the API's or exporter's scrape, a renamed metric, a selector that no longer matches, or a DB pool that is not in headroom's `pools` config."}
	if cfg.SLOs.Latency.Enabled {
		steps = append(steps, fmt.Sprintf("Signal slo:sli_error:ratio_rate5m with slo latency: some series of the API's %s_bucket have no le=\"%s\" bucket (slos.latency.target). "+
			"Add it to the histogram's buckets in the API, or set slos.latency.target (and slos.latency.buckets) to a boundary the histogram has.",
			cfg.API.DurationHistogram, Num(cfg.SLOs.Latency.Target)))
	}
	return steps
}

var amasScaleOut = []string{
	"KEDA scales the orchestrator out by itself (scale-up: 60s stabilisation, at most 100% or 5 pods a minute; max 50 replicas). Check `kubectl describe scaledobject amas-orchestrator-scaler -n amas-prod` and the KEDA operator's log if it does not.",
	"If replicas are at the maximum, raise maxReplicaCount only after checking that max replicas x DB pool size fits PostgreSQL.",
	"Scale-down is conservative on purpose (300s stabilisation, at most 10% or 2 pods a minute, 180s cooldown).",
}

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
