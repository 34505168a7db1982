package alerts

import (
	"strings"
	"testing"

	"github.com/headroom-dev/headroom/catalogue"
)

// TestSLOLatencyTargetMustBeABucket: a latency target between buckets
// cannot be counted exactly; generation fails and names the field.
func TestSLOLatencyTargetMustBeABucket(t *testing.T) {
	_, err := catalogue.LoadOnto("health-agent", []byte("slos:\n  latency: {target: 2.5}\n"))
	if err == nil || !strings.Contains(err.Error(), "slos.latency.target") || !strings.Contains(err.Error(), "bucket") {
		t.Fatalf("target 2.5 outside buckets: err = %v", err)
	}
	if _, err := catalogue.LoadOnto("health-agent", []byte("slos:\n  latency: {target: 2.5, buckets: [1, 2.5, 5]}\n")); err != nil {
		t.Fatalf("target 2.5 in buckets: %v", err)
	}
}

// TestSLORulesAreSlothNamed: every SLI window Sloth records, with the slo
// and service labels, and the page and ticket pairs of both presets' SLOs.
func TestSLORulesAreSlothNamed(t *testing.T) {
	for _, p := range catalogue.Presets() {
		cfg, err := catalogue.Preset(p)
		if err != nil {
			t.Fatal(err)
		}
		recorded := map[string]int{}
		for _, g := range RecordingRules(catalogue.MustBuild(cfg)).Groups {
			for _, r := range g.Rules {
				if strings.HasPrefix(r.Record, "slo:") || strings.HasPrefix(r.Record, "sloth_") {
					recorded[r.Record]++
					if r.Labels["service"] != cfg.Service || (r.Labels["slo"] != "availability" && r.Labels["slo"] != "latency") {
						t.Errorf("%s %s: labels %v", p, r.Record, r.Labels)
					}
				}
			}
		}
		for _, w := range []string{"5m", "30m", "1h", "2h", "6h", "1d", "3d", "30d"} {
			if recorded["slo:sli_error:ratio_rate"+w] != 2 {
				t.Errorf("%s: slo:sli_error:ratio_rate%s recorded %d times, want 2 (availability, latency)", p, w, recorded["slo:sli_error:ratio_rate"+w])
			}
		}
		for _, r := range []string{"slo:objective:ratio", "slo:error_budget:ratio", "slo:time_period:days", "slo:current_burn_rate:ratio",
			"slo:period_burn_rate:ratio", "slo:period_error_budget_remaining:ratio", "sloth_slo_info"} {
			if recorded[r] != 2 {
				t.Errorf("%s: %s recorded %d times, want 2", p, r, recorded[r])
			}
		}
		pairs := map[string]string{}
		for _, g := range sloAlertGroups(cfg) {
			for _, r := range g.Rules {
				pairs[r.Labels["slo"]+" "+r.Labels["long_window"]+"/"+r.Labels["short_window"]] = r.Labels["severity"]
				if !strings.Contains(r.Annotations["description"], "$value") || !strings.HasSuffix(r.Annotations["runbook_url"], "#errorbudgetburn") {
					t.Errorf("%s: annotations %v", p, r.Annotations)
				}
			}
		}
		for _, s := range []string{"availability", "latency"} {
			for pair, sev := range map[string]string{"1h/5m": "critical", "6h/30m": "critical", "1d/2h": "warning", "3d/6h": "warning"} {
				if pairs[s+" "+pair] != sev {
					t.Errorf("%s: %s %s severity %q, want %s", p, s, pair, pairs[s+" "+pair], sev)
				}
			}
		}
	}
}
