package alerts

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/catalogue"

	"github.com/prometheus/alertmanager/alert"
	amconfig "github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/eventrecorder"
	"github.com/prometheus/alertmanager/inhibit"
	amlabels "github.com/prometheus/alertmanager/pkg/labels"
	"github.com/prometheus/alertmanager/provider"
	"github.com/prometheus/common/model"
)

func loadAlertmanager(t *testing.T, cfg *catalogue.Config) *amconfig.Config {
	t.Helper()
	b, err := renderAlertmanager(cfg, catalogue.Catalogue(cfg))
	if err != nil {
		t.Fatal(err)
	}
	am, err := amconfig.Load(string(b))
	if err != nil {
		t.Fatalf("alertmanager config does not load: %v\n%s", err, b)
	}
	return am
}

// sampleAlert is the label set an alert of a trigger carries.
func sampleAlert(tr catalogue.Trigger, extra ...string) model.LabelSet {
	ls := model.LabelSet{"alertname": model.LabelValue(tr.Alert)}
	for k, v := range ruleLabels(tr) {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	for i := 0; i+1 < len(extra); i += 2 {
		ls[model.LabelName(extra[i])] = model.LabelValue(extra[i+1])
	}
	return ls
}

func receivers(route *dispatch.Route, ls model.LabelSet) []string {
	var out []string
	for _, r := range route.Match(ls) {
		out = append(out, r.RouteOpts.Receiver)
	}
	return out
}

// TestRouting sends every alert of every preset through the generated
// route tree: critical and high urgency scale-up and health alerts page,
// medium and scale-down go to tickets, info to capacity review.
func TestRouting(t *testing.T) {
	for _, p := range catalogue.Presets() {
		cfg, _ := catalogue.Preset(p)
		am := loadAlertmanager(t, cfg)
		route := dispatch.NewRoute(am.Route, nil)
		r := cfg.Receivers
		for _, tr := range catalogue.Catalogue(cfg) {
			want := r.Ticket
			switch {
			case tr.Direction == catalogue.Down:
				want = r.Ticket
			case tr.Urgency == catalogue.UrgencyCritical || tr.Urgency == catalogue.UrgencyHigh:
				want = r.Pager
				if tr.Severity == catalogue.SeverityWarning { // the warning level of a laddered alert
					want = r.Ticket
				}
			case tr.Urgency == catalogue.UrgencyMedium:
				want = r.Ticket
			case tr.Severity == catalogue.SeverityInfo:
				want = r.CapacityReview
			}
			got := receivers(route, sampleAlert(tr, "target", "x"))
			if len(got) != 1 || got[0] != want {
				t.Errorf("%s %s (%s, urgency %s, severity %s): routed to %v, want %s", p, tr.ID, tr.Direction, tr.Urgency, tr.Severity, got, want)
			}
		}
		// Explicit cases, independent of the catalogue's derivation.
		for _, tc := range []struct {
			labels model.LabelSet
			want   string
		}{
			{model.LabelSet{"alertname": "CPUHigh", "severity": "critical", "urgency": "high", "direction": "up", "service": "s"}, r.Pager},
			{model.LabelSet{"alertname": "MemoryHigh", "severity": "critical", "urgency": "critical", "direction": "up", "service": "s"}, r.Pager},
			{model.LabelSet{"alertname": "PostgresDown", "severity": "critical", "urgency": "critical", "direction": "none", "service": "s"}, r.Pager},
			{model.LabelSet{"alertname": "CacheHitRateLow", "severity": "warning", "urgency": "medium", "direction": "up", "service": "s"}, r.Ticket},
			{model.LabelSet{"alertname": "CPULow", "severity": "warning", "urgency": "low", "direction": "down", "service": "s"}, r.Ticket},
			// A scale-down alert someone raised to critical still does not page.
			{model.LabelSet{"alertname": "CPULow", "severity": "critical", "urgency": "low", "direction": "down", "service": "s"}, r.Ticket},
			{model.LabelSet{"alertname": "CapacityTargetMissed", "severity": "info", "urgency": "low", "direction": "none", "service": "s"}, r.CapacityReview},
			// Without a severity: the default route, a ticket, never silence.
			{model.LabelSet{"alertname": "Unknown", "service": "s"}, r.Ticket},
		} {
			got := receivers(route, tc.labels)
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("%s: %v routed to %v, want %s", p, tc.labels, got, tc.want)
			}
		}
		if g := am.Route.GroupBy; len(g) != 2 || g[0] != "service" || g[1] != "alertname" {
			t.Errorf("%s: group_by %v", p, g)
		}
	}
}

// fakeAlerts hands the inhibitor a fixed set of firing alerts.
type fakeAlerts struct{ alerts []*alert.Alert }

func (f *fakeAlerts) SlurpAndSubscribe(string) ([]*alert.Alert, provider.AlertIterator) {
	return f.alerts, provider.NewAlertIterator(make(chan *provider.Alert), make(chan struct{}), nil)
}
func (f *fakeAlerts) Subscribe(string) provider.AlertIterator {
	return provider.NewAlertIterator(make(chan *provider.Alert), make(chan struct{}), nil)
}
func (f *fakeAlerts) GetPending() provider.AlertIterator          { return nil }
func (f *fakeAlerts) Get(model.Fingerprint) (*alert.Alert, error) { return nil, nil }
func (f *fakeAlerts) Put(context.Context, ...*alert.Alert) error  { return nil }

// muted runs Alertmanager's own inhibitor over the firing alerts and says
// whether target is muted.
func muted(t *testing.T, am *amconfig.Config, firing []model.LabelSet, target model.LabelSet) bool {
	t.Helper()
	now := time.Now()
	var as []*alert.Alert
	for _, ls := range append(firing, target) {
		as = append(as, &alert.Alert{Alert: model.Alert{Labels: ls, StartsAt: now.Add(-time.Minute), EndsAt: now.Add(time.Hour)}})
	}
	ih := inhibit.NewInhibitor(&fakeAlerts{alerts: as}, am.InhibitRules, slog.New(slog.DiscardHandler), eventrecorder.NopRecorder())
	go ih.Run()
	ih.WaitForLoading()
	defer ih.Stop()
	return ih.Mutes(context.Background(), target)
}

// TestInhibitionRules tests every generated inhibition rule, both the
// alerts it mutes and the ones it must not.
func TestInhibitionRules(t *testing.T) {
	cfg, _ := catalogue.Preset("health-agent")
	am := loadAlertmanager(t, cfg)
	byID := map[string]catalogue.Trigger{}
	for _, tr := range catalogue.Catalogue(cfg) {
		byID[string(tr.ID)] = tr
	}
	a := func(id string, extra ...string) model.LabelSet { return sampleAlert(byID[id], extra...) }
	fc := func(base catalogue.TriggerID, level catalogue.ForecastLevel, extra ...string) model.LabelSet {
		tr, ok := byID[string(catalogue.ForecastID(base, level))]
		if !ok {
			t.Fatalf("no forecast %s of %s", level, base)
		}
		return sampleAlert(tr, extra...)
	}
	// ErrorBudgetBurn comes from the SLOs, not the catalogue.
	burn := model.LabelSet{"alertname": catalogue.AlertErrorBudgetBurn, "service": model.LabelValue(cfg.Service),
		"slo": "availability", "severity": "critical", "long_window": "1h", "short_window": "5m"}
	other := func(ls model.LabelSet, k, v string) model.LabelSet {
		c := ls.Clone()
		c[model.LabelName(k)] = model.LabelValue(v)
		return c
	}
	for _, tc := range []struct {
		name   string
		firing []model.LabelSet
		target model.LabelSet
		want   bool
	}{
		// Rule 1: scale-down while scale-up fires for the same service.
		{"CPULow alone", nil, a("CPULow"), false},
		{"CPULow while CPUHigh", []model.LabelSet{a("CPUHigh")}, a("CPULow"), true},
		{"DBPoolLow while MemoryHigh (any scale-up)", []model.LabelSet{a("MemoryHigh")}, a("DBPoolLow", "target", "pg", "pool", "api"), true},
		{"CPULow while another service's CPUHigh", []model.LabelSet{other(a("CPUHigh"), "service", "other")}, a("CPULow"), false},
		{"CPUHigh is not muted by CPULow", []model.LabelSet{a("CPULow")}, a("CPUHigh"), false},
		// Rule 2: critical level over warning level.
		{"lag warning while lag critical", []model.LabelSet{a("ReplicationLagCritical", "target", "replica")}, a("ReplicationLagHigh", "target", "replica"), true},
		{"lag warning while another replica is critical", []model.LabelSet{a("ReplicationLagCritical", "target", "replica-2")}, a("ReplicationLagHigh", "target", "replica"), false},
		{"lag critical is not muted by its warning", []model.LabelSet{a("ReplicationLagHigh", "target", "replica")}, a("ReplicationLagCritical", "target", "replica"), false},
		// Rule 3: data-path alerts while their target is down.
		{"DBPoolHigh while PostgresDown", []model.LabelSet{a("PostgresDown", "target", "pg", "kind", "postgres")}, a("DBPoolHigh", "target", "pg", "pool", "api"), true},
		{"DBPoolHigh while another PostgreSQL is down", []model.LabelSet{a("PostgresDown", "target", "pg-2", "kind", "postgres")}, a("DBPoolHigh", "target", "pg", "pool", "api"), false},
		{"ReplicationLagHigh while the replica is down", []model.LabelSet{a("PostgresDown", "target", "replica", "kind", "postgres")}, a("ReplicationLagHigh", "target", "replica"), true},
		{"PgBouncerClientsWaiting while PgBouncerDown", []model.LabelSet{a("PgBouncerDown", "target", "pgb", "kind", "pgbouncer")}, a("PgBouncerClientsWaiting", "target", "pgb", "database", "app"), true},
		{"RedisMemoryNearMax while RedisDown", []model.LabelSet{a("RedisDown", "target", "redis", "kind", "redis")}, a("RedisMemoryNearMax", "target", "redis"), true},
		{"CacheHitRateLow while RedisDown", []model.LabelSet{a("RedisDown", "target", "redis", "kind", "redis")}, a("CacheHitRateLow", "target", "redis"), true},
		{"CPUHigh is not a data-path alert of Redis", []model.LabelSet{a("RedisDown", "target", "redis", "kind", "redis")}, a("CPUHigh"), false},
		{"PostgresDown is not muted by RedisDown", []model.LabelSet{a("RedisDown", "target", "x", "kind", "redis")}, a("PostgresDown", "target", "x", "kind", "postgres"), false},
		// Rule 4: the API's symptoms while its probe fails.
		{"APIErrorRateHigh while APIDown", []model.LabelSet{a("APIDown", "target", "api")}, a("APIErrorRateHigh"), true},
		{"APILatencyP95High while APIDown", []model.LabelSet{a("APIDown", "target", "api")}, a("APILatencyP95High"), true},
		{"MemoryHigh is not muted by APIDown", []model.LabelSet{a("APIDown", "target", "api")}, a("MemoryHigh"), false},
		{"ErrorBudgetBurn while APIDown", []model.LabelSet{a("APIDown", "target", "api")}, burn, true},
		{"ErrorBudgetBurn while another service's APIDown", []model.LabelSet{other(a("APIDown", "target", "api"), "service", "other")}, burn, false},
		// Rule 5: missing headroom signals while the exporter or a target is down.
		{"SignalAbsent(db pool) while ExporterAbsent", []model.LabelSet{a("ExporterAbsent", "job", "headroom")}, a("SignalAbsent:db_pool"), true},
		{"SignalAbsent(redis memory) while RedisDown", []model.LabelSet{a("RedisDown", "target", "redis", "kind", "redis")}, a("SignalAbsent:redis_memory"), true},
		{"SignalAbsent(API CPU) is not muted by ExporterAbsent", []model.LabelSet{a("ExporterAbsent", "job", "headroom")}, a("SignalAbsent:api_cpu"), false},
		// The latency SLO's missing bucket is the API's histogram
		// configuration: no outage explains it, nothing mutes it.
		{"SignalAbsent(latency SLO bucket) is not muted by ExporterAbsent", []model.LabelSet{a("ExporterAbsent", "job", "headroom")}, a("SignalAbsent:slo_latency_bucket"), false},
		{"SignalAbsent(latency SLO bucket) is not muted by APIDown", []model.LabelSet{a("APIDown", "target", "api")}, a("SignalAbsent:slo_latency_bucket"), false},
		// Forecasts: the threshold alert mutes its forecast for the same
		// series; a forecast is a scale-up alert (rule 1); its page mutes
		// its ticket (rule 2); a target down mutes it (rule 3).
		{"DBPoolHighForecast while DBPoolHigh", []model.LabelSet{a("DBPoolHigh", "target", "pg", "pool", "api")}, fc(catalogue.TriggerDBPoolHigh, catalogue.ForecastTicket, "target", "pg", "pool", "api"), true},
		{"DBPoolHighForecast page while DBPoolHigh", []model.LabelSet{a("DBPoolHigh", "target", "pg", "pool", "api")}, fc(catalogue.TriggerDBPoolHigh, catalogue.ForecastPage, "target", "pg", "pool", "api"), true},
		{"DBPoolHighForecast while DBPoolHigh of another pool", []model.LabelSet{a("DBPoolHigh", "target", "pg", "pool", "etl")}, fc(catalogue.TriggerDBPoolHigh, catalogue.ForecastTicket, "target", "pg", "pool", "api"), false},
		{"DBPoolHighForecast while another service's DBPoolHigh", []model.LabelSet{other(a("DBPoolHigh", "target", "pg", "pool", "api"), "service", "other")}, fc(catalogue.TriggerDBPoolHigh, catalogue.ForecastTicket, "target", "pg", "pool", "api"), false},
		{"DBPoolHigh is not muted by its forecast", []model.LabelSet{fc(catalogue.TriggerDBPoolHigh, catalogue.ForecastPage, "target", "pg", "pool", "api")}, a("DBPoolHigh", "target", "pg", "pool", "api"), false},
		{"CPUHighForecast while CPUHigh", []model.LabelSet{a("CPUHigh")}, fc(catalogue.TriggerCPUHigh, catalogue.ForecastTicket), true},
		{"CPUHighForecast while MemoryHigh", []model.LabelSet{a("MemoryHigh")}, fc(catalogue.TriggerCPUHigh, catalogue.ForecastTicket), false},
		{"the forecast ticket while its page", []model.LabelSet{fc(catalogue.TriggerDBPoolHigh, catalogue.ForecastPage, "target", "pg", "pool", "api")}, fc(catalogue.TriggerDBPoolHigh, catalogue.ForecastTicket, "target", "pg", "pool", "api"), true},
		{"the forecast ticket of one pool while the page of another on the same target", []model.LabelSet{fc(catalogue.TriggerDBPoolHigh, catalogue.ForecastPage, "target", "pg", "pool", "etl")}, fc(catalogue.TriggerDBPoolHigh, catalogue.ForecastTicket, "target", "pg", "pool", "api"), false},
		{"DBPoolLow while DBPoolHighForecast", []model.LabelSet{fc(catalogue.TriggerDBPoolHigh, catalogue.ForecastTicket, "target", "pg", "pool", "api")}, a("DBPoolLow", "target", "pg", "pool", "api"), true},
		{"CPULow while CPUHighForecast", []model.LabelSet{fc(catalogue.TriggerCPUHigh, catalogue.ForecastTicket)}, a("CPULow"), true},
		{"MemoryLow while another service's MemoryHighForecast", []model.LabelSet{other(fc(catalogue.TriggerMemoryHigh, catalogue.ForecastTicket), "service", "other")}, a("MemoryLow"), false},
		{"RedisMemoryNearMaxForecast while RedisDown", []model.LabelSet{a("RedisDown", "target", "redis", "kind", "redis")}, fc(catalogue.TriggerRedisMemoryNearMax, catalogue.ForecastTicket, "target", "redis"), true},
	} {
		if got := muted(t, am, tc.firing, tc.target); got != tc.want {
			t.Errorf("%s: muted %v, want %v", tc.name, got, tc.want)
		}
	}
	forecastAlerts := map[string]bool{}
	for _, tr := range catalogue.Catalogue(cfg) {
		if tr.IsForecast() {
			forecastAlerts[tr.Alert] = true
		}
	}
	if n, want := len(am.InhibitRules), 5+2*len(forecastAlerts); n != want {
		t.Errorf("%d inhibition rules; the cases above test %d (5 and two per forecast alertname)", n, want)
	}
}

// TestClusterKeepsAlertsApart: with cluster_label, one central Prometheus
// evaluates every cluster's series, so the cluster label must split
// notifications (group_by) and bound every inhibition (equal), or a
// scale-up in cluster a would silence cluster b's scale-down.
func TestClusterKeepsAlertsApart(t *testing.T) {
	cfg, err := catalogue.LoadOnto("health-agent", []byte("cluster_label: cluster\n"))
	if err != nil {
		t.Fatal(err)
	}
	am := loadAlertmanager(t, cfg)
	route := dispatch.NewRoute(am.Route, nil)
	byID := map[string]catalogue.Trigger{}
	for _, tr := range catalogue.Catalogue(cfg) {
		byID[string(tr.ID)] = tr
	}
	in := func(id, cluster string, extra ...string) model.LabelSet {
		if _, ok := byID[id]; !ok {
			t.Fatalf("no trigger %s in the preset", id)
		}
		return sampleAlert(byID[id], append([]string{"cluster", cluster}, extra...)...)
	}
	up, down := in("CPUHigh", "a"), in("CPULow", "a")
	for _, r := range route.Match(up) {
		if _, ok := r.RouteOpts.GroupBy["cluster"]; !ok {
			t.Errorf("route to %s groups by %v: cluster a's and b's alerts would share a notification", r.RouteOpts.Receiver, r.RouteOpts.GroupBy)
		}
	}
	for _, tc := range []struct {
		name   string
		firing model.LabelSet
		target model.LabelSet
		want   bool
	}{
		{"a scale-down while a scale-up fires in its cluster", up, down, true},
		{"a scale-down while a scale-up fires in another cluster", up, in("CPULow", "b"), false},
		{"a forecast ticket while the threshold alert fires in another cluster", in("DBPoolHigh", "b", "target", "pg", "pool", "api"),
			sampleAlert(byID[string(catalogue.ForecastID(catalogue.TriggerDBPoolHigh, catalogue.ForecastTicket))], "cluster", "a", "target", "pg", "pool", "api"), false},
		{"a data-path alert while its target is down in another cluster", in("PostgresDown", "b", "target", "pg", "kind", "postgres"),
			in("DBPoolHigh", "a", "target", "pg", "pool", "api"), false},
		{"a missing signal (no cluster label) while a target is down", in("PostgresDown", "a", "target", "pg", "kind", "postgres"),
			sampleAlert(byID["SignalAbsent:db_pool"]), true},
		{"a data-path alert while its target is down in its cluster", in("PostgresDown", "a", "target", "pg", "kind", "postgres"),
			in("DBPoolHigh", "a", "target", "pg", "pool", "api"), true},
	} {
		if got := muted(t, am, []model.LabelSet{tc.firing}, tc.target); got != tc.want {
			t.Errorf("%s: muted %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, ir := range am.InhibitRules {
		// SignalAbsent carries no cluster (absent() of a service's record).
		if !slices.Contains(ir.Equal, "cluster") && !strings.Contains(fmt.Sprint(ir.TargetMatchers), "SignalAbsent") {
			t.Errorf("inhibition %v -> %v is not bounded by cluster (equal %v)", ir.SourceMatchers, ir.TargetMatchers, ir.Equal)
		}
	}
}

// matchNone's matchers parse as Alertmanager reads them, for one value as
// for several.
func TestMatchNone(t *testing.T) {
	for _, tc := range []struct {
		values []string
		want   string
	}{
		{[]string{"CPUHighForecast"}, `alertname!="CPUHighForecast"`},
		{[]string{"A", "B.c"}, `alertname!~"A|B\\.c"`},
	} {
		got := matchNone("alertname", tc.values)
		if got != tc.want {
			t.Errorf("matchNone(%v) = %s, want %s", tc.values, got, tc.want)
		}
		if _, err := amlabels.ParseMatcher(got); err != nil {
			t.Errorf("matchNone(%v) = %s does not parse: %v", tc.values, got, err)
		}
	}
}
