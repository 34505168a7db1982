package catalogue_test

import (
	"strings"
	"testing"

	"github.com/headroom-dev/headroom/catalogue"
)

// A `where` scope names only labels its trigger's signal keeps, and sets
// something; each error names the scope's field.
func TestScopeErrorsNameTheField(t *testing.T) {
	for _, tc := range []struct{ text, want string }{
		{"triggers:\n  CPUHigh:\n    where: [{match: 'namespace=\"batch\"', threshold: 0.9}]\n",
			`triggers.CPUHigh.where[0].match: label "namespace" is not kept by CPUHigh's signal service:api_cpu_utilisation:ratio{service="health-agent-api"} (it keeps no label but service); this signal is service-wide, so a namespace gets its own config`},
		// With cAdvisor, CPU keeps namespace; the error ratio, from the
		// API's own counter summed over its pods, still does not.
		{"resources: {source: cadvisor}\ntriggers:\n  CPUHigh:\n    where: [{match: 'namespace=\"batch\"', threshold: 0.9}]\n" +
			"  APIErrorRateHigh:\n    where: [{match: 'namespace=\"batch\"', threshold: 0.1}]\n",
			`triggers.APIErrorRateHigh.where[0].match: label "namespace" is not kept by APIErrorRateHigh's signal`},
		{"triggers:\n  DBPoolHigh:\n    where: [{match: 'target=\"a\"', threshold: 0.9}, {match: 'service=\"other\"', threshold: 0.9}]\n",
			"triggers.DBPoolHigh.where[1].match: label \"service\" is not kept by DBPoolHigh's signal pool:headroom_db_pool_utilisation:ratio{service=\"health-agent-api\"} (it keeps target, pool, database, user); a service gets its own config"},
		{"cluster_label: cluster\ntriggers:\n  CPUHigh:\n    where: [{match: 'cluster=\"a\", instance=\"x\"', threshold: 0.9}]\n",
			`triggers.CPUHigh.where[0].match: label "instance" is not kept by CPUHigh's signal service:api_cpu_utilisation:ratio{service="health-agent-api"} (it keeps cluster)`},
		{"triggers:\n  DBPoolHigh:\n    where: [{match: 'target=', threshold: 0.9}]\n", "triggers.DBPoolHigh.where[0].match: \"target=\" is not a list of label matchers"},
		{"triggers:\n  DBPoolHigh:\n    where: [{threshold: 0.9}]\n", "triggers.DBPoolHigh.where[0].match: must be set"},
		{"triggers:\n  DBPoolHigh:\n    where: [{match: 'target=\"a\"'}]\n", "triggers.DBPoolHigh.where[0]: sets none of threshold, for, keep_firing_for, margin"},
		{"triggers:\n  DBPoolHigh:\n    where: [{match: 'target=\"a\"', threshold: 0.9}, {match: 'target=\"b\"', threshold: 0.04}]\n",
			"triggers.DBPoolHigh.where[1].margin: 0.05 reaches the threshold 0.04"},
		{"triggers:\n  ExporterAbsent:\n    where: [{match: 'instance=\"a\"', for: 5m}]\n", "triggers.ExporterAbsent.where: ExporterAbsent is not a signal-versus-threshold comparison"},
		{"triggers:\n  ReplicationSlotInactive:\n    where: [{match: 'target=\"a\"', threshold: 1}]\n", "triggers.ReplicationSlotInactive.where"},
	} {
		_, err := catalogue.LoadOnto("health-agent", []byte(tc.text))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q:\nerror %v,\nwant it to contain %q", tc.text, err, tc.want)
		}
		if err != nil && strings.Contains(tc.text, "cadvisor") && strings.Contains(err.Error(), "CPUHigh") {
			t.Errorf("with cAdvisor a namespace scope of CPUHigh is refused: %v", err)
		}
	}
}
