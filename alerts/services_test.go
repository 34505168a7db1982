package alerts

import (
	"testing"

	"github.com/headroom-dev/headroom/catalogue"

	"github.com/prometheus/common/model"
)

// Two services, each with its own config (service, API selector and
// CPUHigh threshold), with both bundles' inhibitions in one Alertmanager: a
// scale-up or outage of one service mutes that service's alerts only, never
// the other's. (promtest's TestTwoServicesAlertAtTheirOwnThresholds runs
// their rules in one promtool run.)
func TestTwoServicesMuteOnlyTheirOwnAlerts(t *testing.T) {
	var cfgs []*catalogue.Config
	for _, text := range []string{
		"service: checkout\nselectors: {api: 'job=\"checkout\"'}\ntriggers: {CPUHigh: {threshold: 0.7}}\n",
		"service: search\nselectors: {api: 'job=\"search\"'}\ntriggers: {CPUHigh: {threshold: 0.9}}\n",
	} {
		cfg, err := catalogue.LoadOnto("health-agent", []byte(text))
		if err != nil {
			t.Fatalf("%s\n%s", err, text)
		}
		cfgs = append(cfgs, cfg)
	}
	// Both bundles' inhibitions in one Alertmanager: a scale-up or outage
	// of one service mutes that service's alerts only.
	am := loadAlertmanager(t, cfgs[0])
	am.InhibitRules = append(am.InhibitRules, loadAlertmanager(t, cfgs[1]).InhibitRules...)
	alert := func(cfg *catalogue.Config, id string, extra ...string) model.LabelSet {
		tr, ok := catalogue.MustBuild(cfg).Trigger(catalogue.TriggerID(id))
		if !ok {
			t.Fatalf("%s: no %s", cfg.Service, id)
		}
		return sampleAlert(tr, extra...)
	}
	checkout, search := cfgs[0], cfgs[1]
	for _, tc := range []struct {
		name   string
		firing model.LabelSet
		target model.LabelSet
		want   bool
	}{
		{"checkout's CPULow while checkout's CPUHigh", alert(checkout, "CPUHigh"), alert(checkout, "CPULow"), true},
		{"search's CPULow while checkout's CPUHigh", alert(checkout, "CPUHigh"), alert(search, "CPULow"), false},
		{"search's APIErrorRateHigh while search's APIDown", alert(search, "APIDown", "target", "api"), alert(search, "APIErrorRateHigh"), true},
		{"checkout's APIErrorRateHigh while search's APIDown", alert(search, "APIDown", "target", "api"), alert(checkout, "APIErrorRateHigh"), false},
	} {
		if got := muted(t, am, []model.LabelSet{tc.firing}, tc.target); got != tc.want {
			t.Errorf("%s: muted %v, want %v", tc.name, got, tc.want)
		}
	}
}
