package catalogue

import (
	"embed"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"gopkg.in/yaml.v3"

	"github.com/headroom-dev/headroom/internal/strictyaml"
)

// Config is what a generated bundle is made from: which triggers are in it,
// their thresholds and durations, where the API's signals come from, and the
// label matchers that pick one service's series out of a shared Prometheus.
//
// A config file is read on top of a preset (presets/*.yaml, embedded), which
// is read on top of the built-in defaults, so a file only says what differs.
type Config struct {
	// Preset names the preset this file overrides: health-agent (default) or amas.
	Preset string `yaml:"preset"`
	// Service is the value of the service label on every alert and recorded
	// series of the bundle. One config describes one service; generate one
	// bundle per service for per-service thresholds.
	Service string `yaml:"service"`
	// ClusterLabel, when set (e.g. "cluster"), is kept by every aggregation
	// and join so that one Prometheus (or Thanos/Mimir) can hold many clusters.
	ClusterLabel string `yaml:"cluster_label"`
	// ExporterJob is the job label of headroom's own scrape; ExporterAbsent
	// watches up{job=<it>}.
	ExporterJob string `yaml:"exporter_job"`
	// ScrapeInterval is Prometheus's scrape interval for these sources; every
	// rate window must span at least two scrapes of it.
	ScrapeInterval model.Duration `yaml:"scrape_interval"`
	// RunbookURL is where the generated RUNBOOK.md is published; runbook_url
	// annotations point at its anchors (RunbookURL + "#" + lower-case alert name).
	RunbookURL string `yaml:"runbook_url"`
	// Include lists the trigger sets in the bundle: health-agent, amas,
	// health (health and data-path alerts), validation (post-scaling targets).
	Include []string `yaml:"include"`

	Selectors Selectors `yaml:"selectors"`
	Targets   Targets   `yaml:"targets"`
	API       API       `yaml:"api"`
	Resources Resources `yaml:"resources"`
	Postgres  Postgres  `yaml:"postgres"`
	Redis     Redis     `yaml:"redis"`
	Receivers Receivers `yaml:"receivers"`
	// Autoscaling configures the autoscaler manifests (autoscaling.go).
	Autoscaling Autoscaling `yaml:"autoscaling"`
	// SLOs are the API's objectives that burn-rate alerts are made for (slo.go).
	SLOs SLOs `yaml:"slos"`
	// Report configures `headroom report` (report.go).
	Report Report `yaml:"report"`

	// Triggers overrides catalogue entries by id (see Catalogue):
	// thresholds, durations, hysteresis margin, or enabled: false.
	Triggers map[TriggerID]Override `yaml:"triggers"`
}

// Selectors are PromQL label matchers, written as inside braces
// (`job="api", namespace="prod"`), added to every selector of that source.
type Selectors struct {
	// Headroom selects the exporter's series (headroom_*).
	Headroom string `yaml:"headroom"`
	// API selects the API's own series: the request counter, the duration
	// histogram, the queue gauge and, with resources.source process, process_*.
	API string `yaml:"api"`
	// Cadvisor selects container_* series of the API's containers.
	Cadvisor string `yaml:"cadvisor"`
	// KubeStateMetrics selects kube_pod_container_resource_limits of the API's containers.
	KubeStateMetrics string `yaml:"kube_state_metrics"`
	// Node selects node_* series of the API's hosts.
	Node string `yaml:"node"`
}

// Targets are regular expressions over headroom's target label, per kind, so
// that a service's bundle only looks at the servers it uses. Empty matches all.
type Targets struct {
	Postgres  string `yaml:"postgres"`
	PgBouncer string `yaml:"pgbouncer"`
	Redis     string `yaml:"redis"`
	API       string `yaml:"api"`
}

// API says where the API's request signals come from.
type API struct {
	// RequestsMetric is a counter of requests (http_requests_total).
	RequestsMetric string `yaml:"requests_metric"`
	// ErrorMatcher selects the failed requests of RequestsMetric (code=~"5..").
	ErrorMatcher string `yaml:"error_matcher"`
	// DurationHistogram is the base name of a request duration histogram
	// (http_request_duration_seconds); _bucket is appended.
	DurationHistogram string `yaml:"duration_histogram"`
	// QueueDepthMetric is a gauge of queued work (amas_queue_depth_current); empty for none.
	QueueDepthMetric string `yaml:"queue_depth_metric"`
	// InstanceLabels identify one API instance on the request counter
	// ([instance], or [namespace, pod] on Kubernetes).
	InstanceLabels []string `yaml:"instance_labels"`
	// RateWindow is the range of rate() over the API's counters.
	RateWindow model.Duration `yaml:"rate_window"`
	// CapacityPerPod is the request rate one instance can serve, what the
	// request-rate headroom is measured against; 0 takes RequestRateHigh's
	// threshold, and without that trigger there is no request-rate headroom.
	CapacityPerPod float64 `yaml:"capacity_per_pod"`
}

// Resource sources for the API's CPU and memory utilisation.
const (
	SourceProcess  = "process"  // the API's own process_cpu_seconds_total and process_resident_memory_bytes
	SourceCadvisor = "cadvisor" // container_* from cAdvisor over kube-state-metrics' limits
	SourceNode     = "node"     // node_exporter: the hosts the API runs on
)

// Resources says where the API's CPU, memory and network utilisation come from.
type Resources struct {
	// Source is process, cadvisor or node.
	Source string `yaml:"source"`
	// CPUCores is the CPU an instance may use (source process).
	CPUCores float64 `yaml:"cpu_cores"`
	// MemoryBytes is the memory an instance may use (source process).
	MemoryBytes float64 `yaml:"memory_bytes"`
	// NetworkBytesPerSecond is an instance's network capacity in one
	// direction (sources cadvisor and node); 0 leaves network out.
	NetworkBytesPerSecond float64 `yaml:"network_bytes_per_second"`
	// RateWindow is the range of rate() over CPU and network counters.
	RateWindow model.Duration `yaml:"rate_window"`
}

// Postgres tunes the PostgreSQL signals.
type Postgres struct {
	// PoolStates is a regular expression over headroom_postgres_pool_backends'
	// state label: the backends that count as in use. Empty counts every state.
	PoolStates string `yaml:"pool_states"`
}

// Redis tunes the Redis signals.
type Redis struct {
	// RateWindow is the range of rate() for the hit ratio and eviction rate.
	RateWindow model.Duration `yaml:"rate_window"`
}

// Receivers name the Alertmanager receivers. They are placeholders: fill in
// their notifier configs (PagerDuty, Opsgenie, Jira, e-mail ...) after generating.
type Receivers struct {
	Pager          string `yaml:"pager"`
	Ticket         string `yaml:"ticket"`
	CapacityReview string `yaml:"capacity_review"`
}

// Override changes one catalogue entry. Unset fields keep the catalogue's value.
type Override struct {
	Enabled       *bool           `yaml:"enabled"`
	Threshold     *float64        `yaml:"threshold"`
	For           *model.Duration `yaml:"for"`
	KeepFiringFor *model.Duration `yaml:"keep_firing_for"`
	// Margin is the hysteresis of a threshold comparison: once firing, a
	// "<" alert clears only above threshold + margin, a ">" or ">=" alert
	// only below threshold - margin.
	Margin   *float64 `yaml:"margin"`
	Severity string   `yaml:"severity"`
	// Where gives the series its matchers select their own threshold, for,
	// keep_firing_for and margin, so that one noisy target or cluster does
	// not force a change for all. Scopes are tried in order; the first that
	// matches a series wins, and the series no scope matches keep the
	// trigger's values. A file's list replaces its preset's.
	Where []ScopeOverride `yaml:"where"`
	// Forecast configures the trigger's time-to-saturation forecasts
	// (forecast.go): enabled, ticket_horizon, page_horizon, window, for.
	Forecast *ForecastOverride `yaml:"forecast"`
}

// ScopeOverride is one `where` entry of a trigger override. Unset fields
// keep the trigger's (overridden) value.
type ScopeOverride struct {
	// Match is PromQL label matchers, as inside braces (target="pg-batch",
	// cluster=~"eu-.*"), over labels the trigger's signal keeps: its
	// aggregation labels and the cluster label.
	Match         string          `yaml:"match"`
	Threshold     *float64        `yaml:"threshold"`
	For           *model.Duration `yaml:"for"`
	KeepFiringFor *model.Duration `yaml:"keep_firing_for"`
	Margin        *float64        `yaml:"margin"`
}

// Trigger sets a config can include.
const (
	SetHealthAgent = "health-agent"
	SetAMAS        = "amas"
	SetHealth      = "health"
	SetValidation  = "validation"
)

var knownSets = []string{SetHealthAgent, SetAMAS, SetHealth, SetValidation}

//go:embed presets/*.yaml
var presetFS embed.FS

// Presets lists the embedded presets' names.
func Presets() []string {
	entries, err := presetFS.ReadDir("presets")
	if err != nil {
		panic(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, strings.TrimSuffix(e.Name(), ".yaml"))
	}
	sort.Strings(names)
	return names
}

// PresetSource returns the YAML text of an embedded preset.
func PresetSource(name string) ([]byte, error) {
	b, err := presetFS.ReadFile("presets/" + name + ".yaml")
	if err != nil {
		return nil, fmt.Errorf("unknown preset %q (known: %s)", name, strings.Join(Presets(), ", "))
	}
	return b, nil
}

// Preset returns an embedded preset's config, validated.
func Preset(name string) (*Config, error) {
	cfg, err := presetConfig(name)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("preset %s: %w", name, err)
	}
	return cfg, nil
}

// presetConfig reads an embedded preset without validating it: a config
// file loaded onto it is validated as a whole, once.
func presetConfig(name string) (*Config, error) {
	src, err := PresetSource(name)
	if err != nil {
		return nil, err
	}
	cfg := defaults()
	if err := overlay(cfg, src, "preset "+name); err != nil {
		return nil, err
	}
	cfg.Preset = name
	return cfg, nil
}

// Load reads a config file: its preset key (health-agent when absent) names
// the base it overrides.
func Load(data []byte) (*Config, error) {
	var head struct {
		Preset string `yaml:"preset"`
	}
	if err := yaml.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if head.Preset == "" {
		head.Preset = SetHealthAgent
	}
	return LoadOnto(head.Preset, data)
}

// LoadOnto reads a config file on top of the named preset.
func LoadOnto(preset string, data []byte) (*Config, error) {
	cfg, err := presetConfig(preset)
	if err != nil {
		return nil, err
	}
	if err := overlay(cfg, data, "config"); err != nil {
		return nil, err
	}
	if cfg.Preset != preset {
		return nil, fmt.Errorf("config: preset %q in the file, but %q was asked for", cfg.Preset, preset)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return cfg, nil
}

// overlay decodes YAML onto cfg: scalars present in the file replace the
// base, lists replace the base's list, and trigger overrides merge field by
// field with the base's.
func overlay(cfg *Config, data []byte, what string) error {
	base := cfg.Triggers
	cfg.Triggers = nil
	if err := strictyaml.Decode(data, cfg); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	merged := map[TriggerID]Override{}
	for id, o := range base {
		merged[id] = o
	}
	for id, o := range cfg.Triggers {
		m := merged[id]
		if o.Enabled != nil {
			m.Enabled = o.Enabled
		}
		if o.Threshold != nil {
			m.Threshold = o.Threshold
		}
		if o.For != nil {
			m.For = o.For
		}
		if o.KeepFiringFor != nil {
			m.KeepFiringFor = o.KeepFiringFor
		}
		if o.Margin != nil {
			m.Margin = o.Margin
		}
		if o.Severity != "" {
			m.Severity = o.Severity
		}
		if o.Where != nil {
			m.Where = o.Where
		}
		m.Forecast = o.Forecast.merge(m.Forecast)
		merged[id] = m
	}
	cfg.Triggers = merged
	return nil
}

// defaults are the values a preset starts from.
func defaults() *Config {
	return &Config{
		Preset:         SetHealthAgent,
		ExporterJob:    "headroom",
		ScrapeInterval: model.Duration(30 * time.Second),
		Include:        []string{SetHealth},
		Selectors: Selectors{
			Headroom: `job="headroom"`,
			Cadvisor: `container!="", container!="POD"`,
		},
		API: API{
			RequestsMetric:    "http_requests_total",
			ErrorMatcher:      `code=~"5.."`,
			DurationHistogram: "http_request_duration_seconds",
			InstanceLabels:    []string{"instance"},
			RateWindow:        model.Duration(5 * time.Minute),
		},
		Resources: Resources{
			Source:     SourceProcess,
			RateWindow: model.Duration(5 * time.Minute),
		},
		Redis: Redis{RateWindow: model.Duration(5 * time.Minute)},
		Receivers: Receivers{
			Pager:          "pager",
			Ticket:         "ticket",
			CapacityReview: "capacity-review",
		},
		Triggers:    map[TriggerID]Override{},
		Autoscaling: defaultAutoscaling(),
		SLOs:        SLOs{Window: model.Duration(30 * 24 * time.Hour)},
		Report:      Report{Prices: defaultPrices()},
	}
}

var (
	labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	metricRE    = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
)

// Validate checks the config and says which field is wrong.
func (c *Config) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	if c.Service == "" {
		bad("service", "must be set")
	} else if !model.LabelValue(c.Service).IsValid() || strings.ContainsAny(c.Service, "\"\\\n") {
		bad("service", "%q cannot be a label value in PromQL", c.Service)
	}
	if c.ClusterLabel != "" && !labelNameRE.MatchString(c.ClusterLabel) {
		bad("cluster_label", "%q is not a label name", c.ClusterLabel)
	}
	if c.ExporterJob == "" || strings.ContainsAny(c.ExporterJob, "\"\\\n") {
		bad("exporter_job", "must be a plain job name")
	}
	if c.RunbookURL == "" {
		bad("runbook_url", "must be set")
	}
	c.Report.validate(bad)
	for _, s := range c.Include {
		if !contains(knownSets, s) {
			bad("include", "unknown trigger set %q (known: %s)", s, strings.Join(knownSets, ", "))
		}
	}
	for field, s := range map[string]string{
		"selectors.headroom": c.Selectors.Headroom, "selectors.api": c.Selectors.API,
		"selectors.cadvisor": c.Selectors.Cadvisor, "selectors.kube_state_metrics": c.Selectors.KubeStateMetrics,
		"selectors.node": c.Selectors.Node, "api.error_matcher": c.API.ErrorMatcher,
	} {
		if err := checkMatchers(s); err != nil {
			bad(field, "%v", err)
		}
	}
	if c.API.ErrorMatcher == "" {
		bad("api.error_matcher", "must be set")
	}
	for field, re := range map[string]string{
		"targets.postgres": c.Targets.Postgres, "targets.pgbouncer": c.Targets.PgBouncer,
		"targets.redis": c.Targets.Redis, "targets.api": c.Targets.API, "postgres.pool_states": c.Postgres.PoolStates,
	} {
		if _, err := regexp.Compile("^(?:" + re + ")$"); err != nil {
			bad(field, "%v", err)
		}
	}
	for field, m := range map[string]string{
		"api.requests_metric": c.API.RequestsMetric, "api.duration_histogram": c.API.DurationHistogram,
	} {
		if !metricRE.MatchString(m) {
			bad(field, "%q is not a metric name", m)
		}
	}
	if c.API.QueueDepthMetric != "" && !metricRE.MatchString(c.API.QueueDepthMetric) {
		bad("api.queue_depth_metric", "%q is not a metric name", c.API.QueueDepthMetric)
	}
	if len(c.API.InstanceLabels) == 0 {
		bad("api.instance_labels", "must name at least one label")
	}
	for _, l := range c.API.InstanceLabels {
		if !labelNameRE.MatchString(l) {
			bad("api.instance_labels", "%q is not a label name", l)
		}
	}
	if v := c.API.CapacityPerPod; v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		bad("api.capacity_per_pod", "%s must be > 0 (requests per second one instance can serve), or 0 for RequestRateHigh's threshold", Num(v))
	}
	if c.ScrapeInterval <= 0 {
		bad("scrape_interval", "must be positive")
	}
	for field, d := range map[string]model.Duration{
		"api.rate_window": c.API.RateWindow, "resources.rate_window": c.Resources.RateWindow, "redis.rate_window": c.Redis.RateWindow,
	} {
		if d < 2*c.ScrapeInterval {
			bad(field, "must span at least two scrapes: %s or more at scrape_interval %s", 2*c.ScrapeInterval, c.ScrapeInterval)
		}
	}
	switch c.Resources.Source {
	case SourceProcess:
		if c.Resources.CPUCores <= 0 {
			bad("resources.cpu_cores", "must be > 0 with source process")
		}
		if c.Resources.MemoryBytes <= 0 {
			bad("resources.memory_bytes", "must be > 0 with source process")
		}
		if c.Resources.NetworkBytesPerSecond != 0 {
			bad("resources.network_bytes_per_second", "source process has no network counters; leave it 0")
		}
	case SourceCadvisor, SourceNode:
		if c.Resources.NetworkBytesPerSecond < 0 {
			bad("resources.network_bytes_per_second", "must be >= 0")
		}
	default:
		bad("resources.source", "%q is not one of process, cadvisor, node", c.Resources.Source)
	}
	for field, r := range map[string]string{
		"receivers.pager": c.Receivers.Pager, "receivers.ticket": c.Receivers.Ticket, "receivers.capacity_review": c.Receivers.CapacityReview,
	} {
		if r == "" {
			bad(field, "must be set")
		}
	}
	c.validateAutoscaling(bad)
	c.validateSLOs(bad)
	known := map[TriggerID]Trigger{}
	defs := definitions(c)
	for _, t := range defs {
		known[t.ID] = t
	}
	ids := slices.Sorted(maps.Keys(c.Triggers))
	for _, id := range ids {
		o := c.Triggers[id]
		field := "triggers." + string(id)
		def, ok := known[id]
		if !ok {
			if base, _, isForecast := ForecastOf(TriggerID(id)); isForecast {
				bad(field, "a forecast is set under its trigger's forecast field: triggers.%s.forecast", base)
				continue
			}
			bad(field, "no trigger has this id")
			continue
		}
		if o.For != nil && *o.For < 0 {
			bad(field+".for", "must be >= 0")
		}
		if o.KeepFiringFor != nil && *o.KeepFiringFor < 0 {
			bad(field+".keep_firing_for", "must be >= 0")
		}
		if o.Severity != "" && !contains([]string{SeverityCritical, SeverityWarning, SeverityInfo}, o.Severity) {
			bad(field+".severity", "%q is not critical, warning or info", o.Severity)
		}
		t := o.apply(def)
		if o.Threshold != nil {
			if t.Comparison == Custom {
				bad(field+".threshold", "%s compares no threshold (it fires on %s)", t.ID, t.When)
			} else {
				checkThreshold(t, *o.Threshold, field+".threshold", bad)
			}
		}
		if o.Margin != nil || o.Threshold != nil {
			checkMargin(t, field+".margin", bad)
		}
		c.validateScopes(t, o.Where, field, bad)
		validateForecast(t, o.Forecast, field, bad)
	}
	if len(errs) == 0 {
		// Pairs are compared once every trigger and scope is valid on its
		// own: an error there would only repeat one of those.
		resolved := c.resolvedTriggers(defs)
		validateScalePairs(resolved, bad)
		validateWindows(resolved, bad)
		c.validateQuantileMargins(resolved, bad)
	}
	return errors.Join(errs...)
}

// checkMargin checks a trigger's hysteresis margin against its comparison
// and threshold: the clear level must lie on the signal's side of the
// threshold where it can still be reached.
func checkMargin(t Trigger, field string, bad func(field, format string, args ...any)) {
	switch {
	case t.Margin < 0:
		bad(field, "must be >= 0")
	case t.Margin == 0:
	case t.expr != nil || (t.Comparison != Above && t.Comparison != AtLeast && t.Comparison != Below):
		bad(field, "%s is not a signal-versus-threshold comparison (>, >= or <): a margin has nothing to hold", t.ID)
	case t.Comparison != Below && t.Margin >= t.Threshold:
		bad(field, "%v reaches the threshold %v or past zero: the alert would clear only at or below %v, which the signal never goes under",
			t.Margin, t.Threshold, Num(t.Threshold-t.Margin))
	case t.Comparison == Below && t.Signal.Unit == UnitRatio && t.Threshold+t.Margin > 1:
		bad(field, "threshold %v + margin %v is above 100%%: the ratio never gets there, so the alert would never clear", t.Threshold, t.Margin)
	}
}

// validateScopes checks a trigger's `where` list: each scope selects by
// labels the signal keeps, so that its matchers can be injected into the
// signal's selector and excluded from the default rule.
func (c *Config) validateScopes(t Trigger, scopes []ScopeOverride, field string, bad func(field, format string, args ...any)) {
	if len(scopes) == 0 {
		return
	}
	if t.expr != nil || t.Comparison == Custom {
		bad(field+".where", "%s is not a signal-versus-threshold comparison; only those can be scoped", t.ID)
		return
	}
	keeps := append([]string{}, t.Signal.Labels...)
	if c.ClusterLabel != "" {
		keeps = append(keeps, c.ClusterLabel)
	}
	parsed := make([][]*labels.Matcher, 0, len(scopes))
	for i, sc := range scopes {
		f := fmt.Sprintf("%s.where[%d]", field, i)
		if strings.TrimSpace(sc.Match) == "" {
			bad(f+".match", "must be set")
			continue
		}
		ms, err := promqlParser.ParseMetricSelector("{" + sc.Match + "}")
		if err != nil {
			bad(f+".match", "%q is not a list of label matchers: %v", sc.Match, err)
			continue
		}
		parsed = append(parsed, ms)
		for _, m := range ms {
			if contains(keeps, m.Name) {
				continue
			}
			hint := ""
			switch m.Name {
			case "service":
				hint = "; a service gets its own config (service, selectors, triggers)"
			case "namespace":
				// Only the cAdvisor resource signals are per namespace;
				// the others sum the service's pods, wherever they run.
				hint = "; this signal is service-wide, so a namespace gets its own config (service, selectors, triggers). " +
					"The CPU, memory and network signals keep namespace with resources.source cadvisor"
			}
			kept := "no label but service"
			if len(keeps) > 0 {
				kept = strings.Join(keeps, ", ")
			}
			bad(f+".match", "label %q is not kept by %s's signal %s (it keeps %s)%s", m.Name, t.ID, t.Signal.Query, kept, hint)
		}
		if sc.Threshold == nil && sc.For == nil && sc.KeepFiringFor == nil && sc.Margin == nil {
			bad(f, "sets none of threshold, for, keep_firing_for, margin")
		}
		if sc.For != nil && *sc.For < 0 {
			bad(f+".for", "must be >= 0")
		}
		if sc.KeepFiringFor != nil && *sc.KeepFiringFor < 0 {
			bad(f+".keep_firing_for", "must be >= 0")
		}
		if sc.Threshold != nil {
			checkThreshold(t, *sc.Threshold, f+".threshold", bad)
		}
		if sc.Margin != nil || sc.Threshold != nil {
			checkMargin(sc.apply(t), f+".margin", bad)
		}
	}
	if len(parsed) == len(scopes) {
		checkShadowed(parsed, field, bad)
	}
}

// checkShadowed refuses a scope that can win no series: the first scope
// that matches a series wins it, so a scope every one of whose series an
// earlier scope (or several together) matches would be a rule, runbook
// line and threshold that never apply. A scope that leaves the default
// rule no series (target=~".*") is allowed: the trigger's own values are
// often the preset's, which the config did not write.
func checkShadowed(scopes [][]*labels.Matcher, field string, bad func(field, format string, args ...any)) {
	for i := range scopes {
		if _, ok := (ProbeSpace{}).RuleLabels(scopes[:i+1], i); ok {
			continue
		}
		f := fmt.Sprintf("%s.where[%d].match", field, i)
		if _, ok := (ProbeSpace{}).RuleLabels(scopes[i:i+1], 0); !ok {
			bad(f, "{%s} matches no series: its matchers contradict each other", matcherText(scopes[i]))
			continue
		}
		for j := 0; j < i; j++ {
			if _, ok := (ProbeSpace{}).RuleLabels([][]*labels.Matcher{scopes[j], scopes[i]}, 1); !ok {
				bad(f, "shadowed by where[%d]: every series {%s} matches, where[%d] {%s} matches first, so this scope never applies; "+
					"put it before where[%d] or remove it", j, matcherText(scopes[i]), j, matcherText(scopes[j]), j)
				break
			}
			if j == i-1 {
				bad(f, "shadowed by where[0] to where[%d] together: every series {%s} matches, one of them matches first, "+
					"so this scope never applies; put it earlier or remove it", i-1, matcherText(scopes[i]))
			}
		}
	}
}

// matcherText writes matchers as a selector's body.
func matcherText(ms []*labels.Matcher) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return strings.Join(parts, ", ")
}

// checkMatchers checks a comma-separated list of PromQL label matchers.
func checkMatchers(s string) error {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	if _, err := promqlParser.ParseMetricSelector("{" + s + "}"); err != nil {
		return fmt.Errorf("%q is not a list of label matchers: %w", s, err)
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// includes reports whether the config includes a trigger set.
func (c *Config) includes(set string) bool { return contains(c.Include, set) }
