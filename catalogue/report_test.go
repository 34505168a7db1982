package catalogue_test

import (
	"strings"
	"testing"

	"github.com/headroom-dev/headroom/catalogue"
)

// A wrong report field is refused, naming the field.
func TestReportConfigErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ yaml, field string }{
		{"report: {users_metric: 'sum(('}", "report.users_metric"},
		{"report: {query_latency_metric: 'rate(x'}", "report.query_latency_metric"},
		{"report: {requests_per_user: -1}", "report.requests_per_user"},
		{"report: {prices: [{users: 500, items: [{service: API, count: 1, monthly: 1}]}, {users: 100, items: [{service: API, count: 1, monthly: 1}]}]}", "report.prices[1].users"},
		{"report: {prices: [{users: 100, items: []}]}", "report.prices[0].items"},
		{"report: {prices: [{users: 100, items: [{service: API, count: 0, monthly: 1}]}]}", "report.prices[0].items[0].count"},
		{"report: {prices: [{users: 100, items: [{count: 1, monthly: 1}]}]}", "report.prices[0].items[0].service"},
		{"report: {prices: [{users: 100, items: [{service: API, count: 1, monthly: -5}]}]}", "report.prices[0].items[0].monthly"},
	} {
		_, err := catalogue.LoadOnto(catalogue.SetHealthAgent, []byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: error %v, want one naming %s", tc.yaml, err, tc.field)
		}
	}
}

// The default price table is every line of the HA guide's AWS example,
// whose totals the guide states: $62, $325 and $1,730 a month.
func TestDefaultPricesAreTheGuides(t *testing.T) {
	cfg, err := catalogue.Preset(catalogue.SetHealthAgent)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int]float64{100: 62, 500: 325, 2000: 1730}
	if len(cfg.Report.Prices) != len(want) {
		t.Fatalf("%d tiers, want %d", len(cfg.Report.Prices), len(want))
	}
	for _, tier := range cfg.Report.Prices {
		if tier.Monthly() != want[tier.Users] {
			t.Errorf("tier %d users: $%v a month, want $%v", tier.Users, tier.Monthly(), want[tier.Users])
		}
	}
}
