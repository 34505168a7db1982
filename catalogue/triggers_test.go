package catalogue_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/catalogue"
)

// spec is TRIGGERS.md: every row must be an alert of the preset that owns it.
var spec = map[string][]string{
	"health-agent": {
		"CPUHigh", "MemoryHigh", "DBPoolHigh", "CacheHitRateLow", "APIErrorRateHigh", "APILatencyP95High", "ResourceSaturated",
		"RedisEvictionsHigh", "CPULow", "MemoryLow", "DBPoolLow",
	},
	"amas": {"RequestRateHigh", "QueueDepthHigh", "LatencyP95High", "ResourcePressure"},
	// Health and data-path rows: in every preset.
	"": {
		"APIDown", "PostgresDown", "PgBouncerDown", "RedisDown", "ExporterAbsent", "ReplicationLagHigh", "ReplicaNotStreaming",
		"ReplicationSlotInactive", "PgBouncerClientsWaiting", "PostgresConnectionsNearMax", "RedisMemoryNearMax",
	},
}

func alertNames(cat []catalogue.Trigger) map[string]bool {
	out := map[string]bool{}
	for _, t := range cat {
		out[t.Alert] = true
	}
	return out
}

func TestEverySpecRowIsInItsPreset(t *testing.T) {
	for _, p := range catalogue.Presets() {
		cfg, err := catalogue.Preset(p)
		if err != nil {
			t.Fatal(err)
		}
		have := alertNames(catalogue.Catalogue(cfg))
		for _, id := range append(append([]string{}, spec[p]...), spec[""]...) {
			if !have[id] {
				t.Errorf("preset %s has no alert %s", p, id)
			}
		}
	}
}

// TestSpecTableIsTRIGGERS keeps the table above honest: when the shared
// specification sits beside the repository (as in CI), its ids are the table's.
func TestSpecTableIsTRIGGERS(t *testing.T) {
	b, err := os.ReadFile("../../shared/TRIGGERS.md")
	if err != nil {
		t.Logf("TRIGGERS.md not beside the repository (%v); the table in this file is the spec", err)
		return
	}
	all := map[string]bool{}
	for _, ids := range spec {
		for _, id := range ids {
			all[id] = true
		}
	}
	row := regexp.MustCompile(`(?m)^\| ([A-Z][A-Za-z0-9]+)(?: \(AMAS\))? \|`)
	rows := row.FindAllStringSubmatch(string(b), -1)
	if len(rows) < 20 {
		t.Fatalf("found %d trigger rows in TRIGGERS.md; has its format changed?", len(rows))
	}
	for _, m := range rows {
		for _, id := range strings.Split(m[1], " / ") {
			if !all[id] {
				t.Errorf("TRIGGERS.md row %s is not in the spec table", id)
			}
		}
	}
	slash := regexp.MustCompile(`(?m)^\| (\w+ / \w+ / \w+) \|`)
	for _, m := range slash.FindAllStringSubmatch(string(b), -1) {
		for _, id := range strings.Split(m[1], " / ") {
			if !all[id] {
				t.Errorf("TRIGGERS.md row %s is not in the spec table", id)
			}
		}
	}
}

// TestTriggerNumbersAreTheSeeds checks the defaults against TRIGGERS.md.
func TestTriggerNumbersAreTheSeeds(t *testing.T) {
	type want struct {
		cmp       catalogue.Comparison
		threshold float64
		forDur    time.Duration
		urgency   string
		action    string
	}
	m := time.Minute
	wants := map[string]want{
		"CPUHigh":                    {catalogue.Above, 0.8, 10 * m, "high", "scale_horizontally"},
		"MemoryHigh":                 {catalogue.Above, 0.85, 5 * m, "critical", "scale_vertically"},
		"DBPoolHigh":                 {catalogue.Above, 0.8, 5 * m, "high", "increase_pool_or_scale_db"},
		"CacheHitRateLow":            {catalogue.Below, 0.3, 20 * m, "medium", "increase_redis_memory"},
		"APIErrorRateHigh":           {catalogue.Above, 0.05, 5 * m, "critical", "investigate_then_scale"},
		"APILatencyP95High":          {catalogue.Above, 5, 10 * m, "high", "scale_horizontally"},
		"ResourceSaturated":          {catalogue.AtLeast, 0.8, 10 * m, "high", "scale_saturated_resource"},
		"RedisEvictionsHigh":         {catalogue.Above, 1, 10 * m, "medium", "increase_redis_memory"},
		"RequestRateHigh":            {catalogue.Above, 15, m, "high", "scale_out"},
		"QueueDepthHigh":             {catalogue.Above, 25, m, "high", "scale_out"},
		"LatencyP95High":             {catalogue.Above, 1, m, "high", "scale_out"},
		"ResourcePressureCPU":        {catalogue.Above, 0.7, m, "high", "scale_out"},
		"ResourcePressureMemory":     {catalogue.Above, 0.8, m, "high", "scale_out"},
		"CPULow":                     {catalogue.Below, 0.3, 30 * m, "low", "scale_down_instances"},
		"MemoryLow":                  {catalogue.Below, 0.5, 60 * m, "low", "reduce_instance_size"},
		"DBPoolLow":                  {catalogue.Below, 0.3, 60 * m, "low", "reduce_pool_size"},
		"ReplicationLagHigh":         {catalogue.Above, 10, 2 * m, "high", "investigate_replication"},
		"ReplicationLagCritical":     {catalogue.Above, 60, 2 * m, "high", "investigate_replication"},
		"PgBouncerMaxWait":           {catalogue.Above, 1, m, "high", "increase_pgbouncer_pool"},
		"PostgresConnectionsNearMax": {catalogue.Above, 0.8, 5 * m, "high", "pool_connections_or_raise_max_connections"},
		"RedisMemoryNearMax":         {catalogue.Above, 0.8, 5 * m, "high", "increase_redis_memory"},
	}
	activation := map[string]float64{"RequestRateHigh": 5, "QueueDepthHigh": 10, "LatencyP95High": 0.5, "ResourcePressureCPU": 0.1}
	seen := map[string]bool{}
	for _, p := range catalogue.Presets() {
		cfg, _ := catalogue.Preset(p)
		for _, tr := range catalogue.Catalogue(cfg) {
			w, ok := wants[string(tr.ID)]
			if !ok {
				continue
			}
			seen[string(tr.ID)] = true
			if tr.Comparison != w.cmp || tr.Threshold != w.threshold || tr.For != w.forDur || tr.Urgency != w.urgency || tr.Action != w.action {
				t.Errorf("%s: %s %v for %v urgency %s action %s; want %s %v for %v urgency %s action %s", tr.ID, tr.Comparison, tr.Threshold,
					tr.For, tr.Urgency, tr.Action, w.cmp, w.threshold, w.forDur, w.urgency, w.action)
			}
			if a, ok := activation[string(tr.ID)]; ok && tr.Activation != a {
				t.Errorf("%s: activation %v, want %v", tr.ID, tr.Activation, a)
			}
		}
	}
	for id := range wants {
		if !seen[id] {
			t.Errorf("%s is in no preset", id)
		}
	}
}

// TestScaleDownNeverPagesAndHolds: scale-down alerts are warning tickets
// with hysteresis and keep_firing_for.
func TestScaleDownNeverPagesAndHolds(t *testing.T) {
	cfg, _ := catalogue.Preset("health-agent")
	n := 0
	for _, tr := range catalogue.Catalogue(cfg) {
		if tr.Direction != catalogue.Down {
			continue
		}
		n++
		if tr.Severity != catalogue.SeverityWarning {
			t.Errorf("%s: severity %s", tr.ID, tr.Severity)
		}
		if tr.Margin <= 0 || tr.KeepFiringFor <= 0 {
			t.Errorf("%s: margin %v keep_firing_for %v", tr.ID, tr.Margin, tr.KeepFiringFor)
		}
		if !strings.Contains(tr.Expr, `ALERTS{alertname="`+tr.Alert+`", alertstate="firing"`) {
			t.Errorf("%s: no hysteresis in %s", tr.ID, tr.Expr)
		}
	}
	if n != 3 {
		t.Errorf("%d scale-down triggers, want 3", n)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"servce: x\n", "servce: line 1: unknown key (known here: api, autoscaling,"},
		{"selectors:\n  api: 'job=~'\n", "selectors.api"},
		{"resources:\n  source: docker\n", "resources.source"},
		{"resources:\n  source: process\n  cpu_cores: 0\n", "resources.cpu_cores"},
		{"triggers:\n  CPUHihg: {threshold: 0.9}\n", "triggers.CPUHihg"},
		{"triggers:\n  CPUHigh: {severity: page}\n", "triggers.CPUHigh.severity"},
		{"include: [health-agent, kubernetes]\n", "include"},
		{"api:\n  rate_window: 15s\n", "api.rate_window"},
		{"targets:\n  redis: '(['\n", "targets.redis"},
		{"cluster_label: 'my-cluster'\n", "cluster_label"},
		{"preset: amas\n", "preset \"amas\" in the file"},
		{"triggers:\n  CPUHigh: {margin: -0.05}\n", "triggers.CPUHigh.margin: must be >= 0"},
		{"triggers:\n  CPUHigh: {margin: 0.8}\n", "triggers.CPUHigh.margin: 0.8 reaches the threshold 0.8"},
		{"triggers:\n  CPUHigh: {threshold: 0.04}\n", "triggers.CPUHigh.margin: 0.05 reaches the threshold 0.04"},
		{"triggers:\n  CPULow: {margin: 0.75}\n", "triggers.CPULow.margin: threshold 0.3 + margin 0.75 is above 100%"},
		{"triggers:\n  ExporterAbsent: {margin: 1}\n", "triggers.ExporterAbsent.margin: ExporterAbsent is not a signal-versus-threshold comparison"},
		{"triggers:\n  PostgresDown: {margin: 1}\n", "triggers.PostgresDown.margin: PostgresDown is not a signal-versus-threshold comparison"},
	} {
		_, err := catalogue.LoadOnto("health-agent", []byte(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want it to mention %q", tc.text, err, tc.want)
		}
	}
	if _, err := catalogue.Preset("nope"); err == nil {
		t.Error("unknown preset accepted")
	}
}

// The utilisation scale-up triggers hold past a margin, like the scale-down
// ones; rates, latencies, error ratios and queue depths do not.
func TestUtilisationAlertsHoldPastTheirMargin(t *testing.T) {
	for _, tc := range []struct {
		preset, id, clear, on string
		hold                  bool
	}{
		{"health-agent", "CPUHigh", "> 0.75", "on (service)", true},
		{"health-agent", "MemoryHigh", "> 0.8", "on (service)", true},
		{"health-agent", "DBPoolHigh", "> 0.75", "on (service, target, pool, database, user)", true},
		{"health-agent", "ResourceSaturated", ">= 0.75", "on (service, resource)", true},
		{"health-agent", "PostgresConnectionsNearMax", "> 0.75", "on (service, target)", true},
		{"health-agent", "RedisMemoryNearMax", "> 0.75", "on (service, target, source)", true},
		{"health-agent", "CPULow", "< 0.35", "on (service)", true},
		// amas reads cAdvisor: a namespace holds only its own alert.
		{"amas", "ResourcePressureCPU", "> 0.65", "on (service, namespace)", true},
		{"amas", "ResourcePressureMemory", "> 0.75", "on (service, namespace)", true},
		{"health-agent", "APIErrorRateHigh", "", "", false},
		{"health-agent", "APILatencyP95High", "", "", false},
		{"health-agent", "RedisEvictionsHigh", "", "", false},
		{"amas", "RequestRateHigh", "", "", false},
		{"amas", "QueueDepthHigh", "", "", false},
		{"health-agent", "CapacityTargetMissedCPU", "", "", false},
	} {
		cfg, err := catalogue.Preset(tc.preset)
		if err != nil {
			t.Fatal(err)
		}
		tr, ok := findTrigger(catalogue.Catalogue(cfg), catalogue.TriggerID(tc.id))
		if !ok {
			t.Fatalf("%s: no %s", tc.preset, tc.id)
		}
		if tr.Hysteresis() != tc.hold {
			t.Errorf("%s: hysteresis %v, want %v (margin %v)", tc.id, tr.Hysteresis(), tc.hold, tr.Margin)
			continue
		}
		if !tc.hold {
			if strings.Contains(tr.Expr, "ALERTS") {
				t.Errorf("%s joins ALERTS: %s", tc.id, tr.Expr)
			}
			continue
		}
		firingAlerts := fmt.Sprintf(`ALERTS{alertname=%q, alertstate="firing", service=%q, severity=%q`, tr.Alert, cfg.Service, tr.Severity)
		for _, want := range []string{tc.clear + "\n  and " + tc.on + " " + firingAlerts, "It clears once back"} {
			if !strings.Contains(tr.Expr+tr.Description, want) {
				t.Errorf("%s lacks %q:\n%s\n%s", tc.id, want, tr.Expr, tr.Description)
			}
		}
		// ResourcePressure's cpu variant must not be held by its memory one.
		for k, v := range tr.Labels {
			if !strings.Contains(tr.Expr, fmt.Sprintf("%s=%q}", k, v)) && !strings.Contains(tr.Expr, fmt.Sprintf("%s=%q,", k, v)) {
				t.Errorf("%s: ALERTS selector lacks its variant label %s=%q: %s", tc.id, k, v, tr.Expr)
			}
		}
	}
	// The margin is configuration, and the cluster label joins too.
	cfg, err := catalogue.LoadOnto("health-agent", []byte("cluster_label: cluster\ntriggers:\n  CPUHigh: {margin: 0.1}\n  DBPoolHigh: {margin: 0}\n"))
	if err != nil {
		t.Fatal(err)
	}
	cat := catalogue.Catalogue(cfg)
	if tr, _ := findTrigger(cat, "CPUHigh"); !strings.Contains(tr.Expr, "> 0.7\n  and on (cluster, service) ALERTS{") {
		t.Errorf("CPUHigh with margin 0.1 and a cluster label: %s", tr.Expr)
	}
	if tr, _ := findTrigger(cat, "DBPoolHigh"); tr.Hysteresis() || strings.Contains(tr.Expr, "ALERTS") {
		t.Errorf("DBPoolHigh with margin 0 keeps hysteresis: %s", tr.Expr)
	}
}

func findTrigger(cat []catalogue.Trigger, id catalogue.TriggerID) (catalogue.Trigger, bool) {
	for _, tr := range cat {
		if tr.ID == id {
			return tr, true
		}
	}
	return catalogue.Trigger{}, false
}

func TestConfigOverlay(t *testing.T) {
	cfg, err := catalogue.Load([]byte(`
preset: amas
service: checkout
triggers:
  RequestRateHigh: {threshold: 30}
  CapacityTargetMissedLatency: {for: 2h}
  QueueDepthHigh: {enabled: false}
`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Preset != "amas" || cfg.Service != "checkout" || cfg.Resources.Source != catalogue.SourceCadvisor {
		t.Errorf("preset fields lost: %+v", cfg)
	}
	byID := map[string]catalogue.Trigger{}
	for _, tr := range catalogue.Catalogue(cfg) {
		byID[string(tr.ID)] = tr
	}
	if byID["RequestRateHigh"].Threshold != 30 || !strings.Contains(byID["RequestRateHigh"].Expr, "> 30") {
		t.Errorf("RequestRateHigh override: %+v", byID["RequestRateHigh"].Expr)
	}
	// The preset's threshold for the check survives a file that only sets its for.
	if c := byID["CapacityTargetMissedLatency"]; c.Threshold != 1.5 || c.For != 2*time.Hour {
		t.Errorf("CapacityTargetMissedLatency: %v for %v, want 1.5 for 2h", c.Threshold, c.For)
	}
	if _, ok := byID["QueueDepthHigh"]; ok {
		t.Error("QueueDepthHigh is disabled but in the catalogue")
	}
	if _, ok := byID["CapacityTargetMissedCPU"]; ok {
		t.Error("the preset's disabled check came back")
	}
	if byID["RequestRateHigh"].Signal.Record != "service:api_requests_per_instance:rate2m" {
		t.Errorf("RequestRateHigh signal %s", byID["RequestRateHigh"].Signal.Record)
	}
}

// TestPresetsDocumentEveryField: the health-agent preset shows every field
// of the config, so that it is the config's documentation.
func TestPresetsDocumentEveryField(t *testing.T) {
	src, err := catalogue.PresetSource("health-agent")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"service:", "cluster_label:", "exporter_job:", "runbook_url:", "include:", "selectors:", "headroom:", "api:",
		"cadvisor:", "kube_state_metrics:", "node:", "targets:", "postgres:", "pgbouncer:", "redis:", "requests_metric:", "error_matcher:",
		"duration_histogram:", "queue_depth_metric:", "instance_labels:", "rate_window:", "capacity_per_pod:", "resources:", "source:", "cpu_cores:",
		"memory_bytes:", "network_bytes_per_second:", "pool_states:", "receivers:", "pager:", "ticket:", "capacity_review:", "triggers:",
		"forecast:", "ticket_horizon", "page_horizon", "window", "for"} {
		if !strings.Contains(string(src), key) {
			t.Errorf("health-agent.yaml does not show %s", key)
		}
	}
}
