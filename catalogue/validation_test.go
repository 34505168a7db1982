package catalogue_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/headroom-dev/headroom/catalogue"
)

// A scale-down rule and a scale-up rule that can fire on one value of one
// series are refused, margins included, for the default rules and for
// every pair of `where` scopes that can select the same series; rules that
// provably select different series, or leave a band between them, pass.
func TestContradictoryScalePairsAreRefused(t *testing.T) {
	for _, tc := range []struct {
		name, preset, text, want string
	}{
		{"thresholds crossed", "health-agent", "triggers:\n  CPULow: {threshold: 0.7}\n  CPUHigh: {threshold: 0.5}\n",
			"triggers.CPULow.threshold: scale-down CPULow and scale-up CPUHigh can both fire on API CPU utilisation between 0.45 and 0.75: " +
				"triggers.CPULow.threshold + triggers.CPULow.margin (0.7 + 0.05) must be below triggers.CPUHigh.threshold - triggers.CPUHigh.margin (0.5 - 0.05)"},
		{"overlap only through the margins", "health-agent", "triggers:\n  MemoryLow: {threshold: 0.5}\n  MemoryHigh: {threshold: 0.58}\n",
			"triggers.MemoryLow.threshold: scale-down MemoryLow and scale-up MemoryHigh can both fire on API memory utilisation between 0.53 and 0.55: " +
				"triggers.MemoryLow.threshold + triggers.MemoryLow.margin (0.5 + 0.05) must be below triggers.MemoryHigh.threshold - triggers.MemoryHigh.margin (0.58 - 0.05)"},
		{"margins meet", "health-agent", "triggers:\n  DBPoolLow: {threshold: 0.3, margin: 0.2}\n  DBPoolHigh: {threshold: 0.7, margin: 0.2}\n",
			"triggers.DBPoolLow.threshold: scale-down DBPoolLow and scale-up DBPoolHigh can both fire on DB pool utilisation at 0.5, with no band between them: " +
				"triggers.DBPoolLow.threshold + triggers.DBPoolLow.margin (0.3 + 0.2) must be below triggers.DBPoolHigh.threshold - triggers.DBPoolHigh.margin (0.7 - 0.2)"},
		{"scope against the other's default rule", "health-agent", "triggers:\n  DBPoolHigh:\n    where: [{match: 'target=\"pg-idle\"', threshold: 0.3}]\n",
			"triggers.DBPoolLow.threshold: scale-down DBPoolLow and scale-up DBPoolHigh where {target=\"pg-idle\"} can both fire on DB pool utilisation between 0.25 and 0.35: " +
				"triggers.DBPoolLow.threshold + triggers.DBPoolLow.margin (0.3 + 0.05) must be below triggers.DBPoolHigh.where[0].threshold - triggers.DBPoolHigh.where[0].margin (0.3 - 0.05)"},
		{"scopes whose regular expressions may meet", "health-agent",
			"triggers:\n  DBPoolHigh:\n    where: [{match: 'target=~\"pg-.*\"', threshold: 0.5}]\n  DBPoolLow:\n    where: [{match: 'pool=\"etl\"', threshold: 0.5}]\n",
			"triggers.DBPoolLow.where[0].threshold: scale-down DBPoolLow where {pool=\"etl\"} and scale-up DBPoolHigh where {target=~\"pg-.*\"} can both fire on DB pool utilisation between 0.45 and 0.55"},
		{"the other preset's scale-up", "health-agent", "include: [health-agent, amas, health, validation]\ntriggers:\n  CPULow: {threshold: 0.66}\n",
			"triggers.CPULow.threshold: scale-down CPULow and scale-up ResourcePressureCPU can both fire on API CPU utilisation between 0.65 and 0.71"},
		{"a scope against the other's default rule", "health-agent",
			"triggers:\n  DBPoolHigh:\n    where: [{match: 'target=\"pg-hot\"', threshold: 0.5}]\n  DBPoolLow:\n    threshold: 0.1\n    where: [{match: 'target!=\"pg-hot\"', threshold: 0.8}]\n",
			"triggers.DBPoolLow.where[0].threshold: scale-down DBPoolLow where {target!=\"pg-hot\"} and scale-up DBPoolHigh can both fire on DB pool utilisation between 0.75 and 0.85"},
		{"a target against its negation passes", "health-agent",
			"triggers:\n  DBPoolHigh:\n    where: [{match: 'target=\"pg-hot\"', threshold: 0.5}]\n  DBPoolLow:\n    threshold: 0.1\n    where: [{match: 'target!=\"pg-hot\"', threshold: 0.6}]\n", ""},
		{"scopes on other targets pass", "health-agent",
			"triggers:\n  DBPoolHigh:\n    where: [{match: 'target=\"pg-a\"', threshold: 0.5}]\n  DBPoolLow:\n    threshold: 0.1\n    where: [{match: 'target=~\"pg-b|pg-c\"', threshold: 0.6}]\n", ""},
		{"one target lowered on both sides passes", "health-agent",
			"triggers:\n  DBPoolHigh:\n    where: [{match: 'target=\"pg-idle\"', threshold: 0.3}]\n  DBPoolLow:\n    where: [{match: 'target=\"pg-idle\"', threshold: 0.1}]\n", ""},
		{"a band without margins passes", "health-agent", "triggers:\n  CPULow: {threshold: 0.5, margin: 0}\n  CPUHigh: {threshold: 0.51, margin: 0}\n", ""},
		{"a disabled partner passes", "health-agent", "triggers:\n  CPULow: {threshold: 0.7, enabled: false}\n  CPUHigh: {threshold: 0.5}\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Validate is what Generate calls first; the pass cases are
			// not generated, since the test builder cannot yet feed a
			// negated scope that selects its own fixture's series.
			_, err := catalogue.LoadOnto(tc.preset, []byte(tc.text))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
		})
	}
}

// A threshold outside its signal's unit is refused by validation, naming
// the field, the unit and the allowed range, before any test is built.
func TestOutOfRangeThresholdsAreRefused(t *testing.T) {
	for _, tc := range []struct{ preset, text, want string }{
		{"health-agent", "triggers:\n  CPUHigh: {threshold: 80}\n",
			`triggers.CPUHigh.threshold: 80 is out of range for CPUHigh's unit ratio (a share from 0 to 1, where 0.8 is 80%): a ">" threshold must be from 0 to 0.999; 80% is written 0.8`},
		{"health-agent", "triggers:\n  CacheHitRateLow: {threshold: 1.2}\n",
			`triggers.CacheHitRateLow.threshold: 1.2 is out of range for CacheHitRateLow's unit ratio (a share from 0 to 1, where 0.8 is 80%): a "<" threshold must be from 0.001 to 1; 1.2% is written 0.012`},
		{"health-agent", "triggers:\n  CPULow: {threshold: 0}\n",
			`triggers.CPULow.threshold: 0 is out of range for CPULow's unit ratio (a share from 0 to 1, where 0.8 is 80%): a "<" threshold must be from 0.001 to 1`},
		{"health-agent", "triggers:\n  ResourceSaturated: {threshold: 0}\n",
			`triggers.ResourceSaturated.threshold: 0 is out of range for ResourceSaturated's unit ratio (a share from 0 to 1, where 0.8 is 80%): a ">=" threshold must be from 0.001 to 1`},
		{"health-agent", "triggers:\n  RedisEvictionsHigh: {threshold: -1}\n",
			`triggers.RedisEvictionsHigh.threshold: -1 is out of range for RedisEvictionsHigh's unit per_second (events per second, 0 or more): a ">" threshold must be at least 0`},
		{"health-agent", "triggers:\n  APILatencyP95High: {threshold: 0}\n",
			`triggers.APILatencyP95High.threshold: 0 is out of range for APILatencyP95High's unit seconds (a duration in seconds, above 0): a ">" threshold must be at least 0.001`},
		{"health-agent", "triggers:\n  CapacityTargetMissedLatency: {threshold: .inf}\n",
			`triggers.CapacityTargetMissedLatency.threshold: +Inf is out of range for CapacityTargetMissedLatency's unit seconds`},
		{"health-agent", "triggers:\n  ReplicationSlotInactive: {threshold: -1}\n",
			`triggers.ReplicationSlotInactive.threshold: -1 is out of range for ReplicationSlotInactive's unit bytes (a size in bytes, 0 or more): a ">" threshold must be at least 0`},
		{"health-agent", "triggers:\n  PgBouncerClientsWaiting: {threshold: -1}\n",
			`triggers.PgBouncerClientsWaiting.threshold: -1 is out of range for PgBouncerClientsWaiting's unit count (a number of things, 0 or more): a ">" threshold must be at least 0`},
		{"health-agent", "triggers:\n  ReplicaNotStreaming: {threshold: 0.5}\n",
			`triggers.ReplicaNotStreaming.threshold: 0.5 is out of range for ReplicaNotStreaming's unit bool (1 or 0): a "==" threshold must be 0 or 1`},
		{"health-agent", "triggers:\n  DBPoolHigh:\n    where: [{match: 'target=\"a\"', threshold: 95}]\n",
			`triggers.DBPoolHigh.where[0].threshold: 95 is out of range for DBPoolHigh's unit ratio (a share from 0 to 1, where 0.8 is 80%): a ">" threshold must be from 0 to 0.999; 95% is written 0.95`},
		{"health-agent", "triggers:\n  APIDown: {threshold: 5}\n",
			`triggers.APIDown.threshold: APIDown compares no threshold (it fires on 3 failed health probes within 30s, or every probe failing for 1m)`},
		{"amas", "triggers:\n  LatencyP95High: {threshold: -0.5}\n",
			`triggers.LatencyP95High.threshold: -0.5 is out of range for LatencyP95High's unit seconds (a duration in seconds, above 0): a ">" threshold must be at least 0.001`},
		{"health-agent", "slos:\n  latency: {target: 0, buckets: [0, 1]}\n",
			"slos.latency.target: 0 is out of range for unit seconds (a duration in seconds, above 0): it must be at least 0.001"},
		{"health-agent", "slos:\n  latency: {target: 1, buckets: [-1, 1]}\n",
			"slos.latency.buckets[0]: -1 is out of range for unit seconds (a duration in seconds, above 0): it must be at least 0.001"},
		// Ratios that are not thresholds name their unit too.
		{"health-agent", "autoscaling: {cpu_utilization: 70}\n",
			"autoscaling.cpu_utilization: 70 is out of range for unit ratio (a share from 0 to 1, where 0.8 is 80%): it must be above 0 and at most 1; 70% is written 0.7"},
		{"health-agent", "slos: {availability: {objective: 99}}\n",
			"slos.availability.objective: 99 is out of range for unit ratio (a share from 0 to 1, where 0.8 is 80%): it must be between 0 and 1 (exclusive), e.g. 0.99; 99% is written 0.99"},
		{"health-agent", "slos:\n  latency: {target: 2.5}\n",
			"slos.latency.target: 2.5 is not a bucket boundary of http_request_duration_seconds: in unit seconds it must be one of slos.latency.buckets [0.1 0.25 0.5 1 2 3 5 10]"},
	} {
		_, err := catalogue.LoadOnto(tc.preset, []byte(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\nerror %v\nwant it to contain\n%s", tc.text, err, tc.want)
		}
	}
}

// A duration the YAML cannot be read as names its field and line.
func TestDurationErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"scrape_interval: 30 seconds\n", `scrape_interval: line 1: unknown unit " seconds" in duration "30 seconds"`},
		{"triggers:\n  CPUHigh: {for: 5 minutes}\n", `triggers.CPUHigh.for: line 2: unknown unit " minutes"`},
		{"triggers:\n  CPULow:\n    keep_firing_for: 1.5h\n", `triggers.CPULow.keep_firing_for: line 3: unknown unit "." in duration "1.5h"`},
		{"triggers:\n  DBPoolHigh:\n    where: [{match: 'target=\"a\"', for: -5m}]\n", `triggers.DBPoolHigh.where[0].for: line 3: not a valid duration string: "-5m"`},
		{"slos: {window: 30days}\n", `slos.window: line 1: unknown unit "days"`},
		{"autoscaling:\n  scale_down: {stabilization_window: five}\n", `autoscaling.scale_down.stabilization_window: line 2: not a valid duration string: "five"`},
		// A `for` that a filling rate window crosses for it.
		{"triggers:\n  CPULow: {for: 2m}\n", "triggers.CPULow.for: 2m is shorter than the rate window of CPULow's signal API CPU utilisation (resources.rate_window 5m): " +
			"a new instance's rate reads low until a whole window is scraped, so CPULow (< 0.3) would fire on every new instance; make for at least 5m or the window shorter"},
		{"resources: {rate_window: 40m}\n", "triggers.CPULow.for: 30m is shorter than the rate window of CPULow's signal API CPU utilisation (resources.rate_window 40m)"},
		{"cluster_label: cluster\nresources: {source: node}\ntriggers:\n  CPUHigh:\n    where: [{match: 'cluster=\"a\"', for: 1m}]\n",
			"triggers.CPUHigh.where[0].for: 1m is shorter than the rate window of CPUHigh's signal API CPU utilisation (resources.rate_window 5m): a new instance's rate reads high"},
	} {
		_, err := catalogue.LoadOnto("health-agent", []byte(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\nerror %v\nwant it to contain\n%s", tc.text, err, tc.want)
		}
	}
	// A `for` as long as the window, or a signal a filling window does
	// not push across the threshold, is fine.
	for _, text := range []string{"triggers:\n  CPULow: {for: 5m}\n", "triggers:\n  CacheHitRateLow: {for: 0s}\n", "triggers:\n  CPUHigh: {for: 0s}\n"} {
		if _, err := catalogue.LoadOnto("health-agent", []byte(text)); err != nil {
			t.Errorf("%q refused: %v", text, err)
		}
	}
}

// docs/thresholds.md's range table is the code's.
func TestThresholdsDocIsTheRangeTable(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "thresholds.md"))
	if err != nil {
		t.Fatal(err)
	}
	if len(catalogue.UnitRanges) != 6 {
		t.Errorf("%d units in the range table; docs/thresholds.md shows 6", len(catalogue.UnitRanges))
	}
	for _, u := range []catalogue.Unit{catalogue.UnitRatio, catalogue.UnitSeconds, catalogue.UnitBytes, catalogue.UnitPerSecond, catalogue.UnitCount, catalogue.UnitBool} {
		row := "| " + string(u) + " | " + u.Describe()
		for _, c := range []catalogue.Comparison{catalogue.Above, catalogue.Below, catalogue.Equal} {
			lo, hi := catalogue.ThresholdRange(u, c)
			row += " | " + catalogue.RangeText(u, lo, hi)
		}
		row += " |"
		if !strings.Contains(string(doc), row+"\n") {
			t.Errorf("docs/thresholds.md lacks the row\n%s", row)
		}
	}
}

// A trigger's forecast settings are checked field by field, each error
// naming its field; a forecast's own id is not a trigger override.
func TestForecastFieldsAreChecked(t *testing.T) {
	for _, tc := range []struct{ name, text, want string }{
		{"defaults pass", "triggers: {DBPoolHigh: {forecast: {enabled: true}}}", ""},
		{"longer horizons pass", "triggers: {DBPoolHigh: {forecast: {ticket_horizon: 7d, page_horizon: 12h, window: 2d, for: 1h}}}", ""},
		{"disabled passes", "triggers: {CPUHigh: {forecast: {enabled: false}}}", ""},
		{"page not shorter", "triggers: {DBPoolHigh: {forecast: {page_horizon: 3d}}}",
			"triggers.DBPoolHigh.forecast.page_horizon: 3d must be shorter than ticket_horizon 3d"},
		{"ticket under the page", "triggers: {MemoryHigh: {forecast: {ticket_horizon: 1h}}}",
			"triggers.MemoryHigh.forecast.page_horizon: 6h must be shorter than ticket_horizon 1h"},
		{"zero horizon", "triggers: {DBPoolHigh: {forecast: {ticket_horizon: 0s}}}", "triggers.DBPoolHigh.forecast.ticket_horizon: must be > 0"},
		{"zero window", "triggers: {DBPoolHigh: {forecast: {window: 0s}}}", "triggers.DBPoolHigh.forecast.window: must be > 0"},
		{"short window", "triggers: {DBPoolHigh: {forecast: {window: 30m}}}", "triggers.DBPoolHigh.forecast.window: 30m is under 1h"},
		{"window off the interval", "triggers: {DBPoolHigh: {forecast: {window: 1h2m}}}", "triggers.DBPoolHigh.forecast.window: 1h2m is not a multiple of the forecast group's interval 5m"},
		{"scale-down has none", "triggers: {DBPoolLow: {forecast: {enabled: true}}}", "triggers.DBPoolLow.forecast: DBPoolLow has no forecast"},
		{"latency has none", "triggers: {APILatencyP95High: {forecast: {window: 2d}}}", "triggers.APILatencyP95High.forecast: APILatencyP95High has no forecast"},
		{"a forecast's own id", "triggers: {'Forecast:ticket:DBPoolHigh': {enabled: false}}",
			"triggers.Forecast:ticket:DBPoolHigh: a forecast is set under its trigger's forecast field: triggers.DBPoolHigh.forecast"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := catalogue.LoadOnto("health-agent", []byte(tc.text))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// Every forecastable trigger of a preset has a ticket and a page, looked
// up by their typed ids, with the config's horizons; disabling removes both.
func TestForecastsAreDerived(t *testing.T) {
	cfg, err := catalogue.LoadOnto("health-agent", []byte("triggers: {DBPoolHigh: {forecast: {ticket_horizon: 7d, page_horizon: 12h}}, CPUHigh: {forecast: {enabled: false}}}"))
	if err != nil {
		t.Fatal(err)
	}
	b := catalogue.MustBuild(cfg)
	for _, tc := range []struct {
		base    catalogue.TriggerID
		level   catalogue.ForecastLevel
		present bool
		expr    string
	}{
		{catalogue.TriggerDBPoolHigh, catalogue.ForecastTicket, true, `last_over_time(headroom:db_pool:seconds_to_threshold{service="health-agent-api", trigger="DBPoolHigh"}[9m]) < 604800`},
		{catalogue.TriggerDBPoolHigh, catalogue.ForecastPage, true, `last_over_time(headroom:db_pool:seconds_to_threshold{service="health-agent-api", trigger="DBPoolHigh"}[9m]) < 43200`},
		{catalogue.TriggerMemoryHigh, catalogue.ForecastPage, true, `last_over_time(headroom:api_memory:seconds_to_threshold{service="health-agent-api", trigger="MemoryHigh"}[9m]) < 21600`},
		{catalogue.TriggerRedisMemoryNearMax, catalogue.ForecastTicket, true, `last_over_time(headroom:redis_memory:seconds_to_threshold{service="health-agent-api", trigger="RedisMemoryNearMax"}[9m]) < 259200`},
		{catalogue.TriggerCPUHigh, catalogue.ForecastTicket, false, ""},
		{catalogue.TriggerDBPoolLow, catalogue.ForecastTicket, false, ""},
	} {
		f, ok := b.Trigger(catalogue.ForecastID(tc.base, tc.level))
		if ok != tc.present {
			t.Errorf("%s %s: present %v, want %v", tc.base, tc.level, ok, tc.present)
			continue
		}
		if ok && f.Expr != tc.expr {
			t.Errorf("%s %s: expr %q, want %q", tc.base, tc.level, f.Expr, tc.expr)
		}
	}
}
