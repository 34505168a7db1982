package promtest

import (
	"fmt"

	"github.com/prometheus/common/model"

	"github.com/headroom-dev/headroom/catalogue"
)

// ConnectionGuard tests ScaleOutExceedsDBConnections: the configured max when
// kube-state-metrics is absent (above the usable connections fires after
// `for` and resolves; equal does not fire), kube-state-metrics' max when
// present (lower than the configured one: no alert; higher: fires).
func (g testGen) dbGuard() ([]testGroup, error) {
	t := g.t
	d, ok := catalogue.ConnectionGuardOf(g.cfg)
	if !ok {
		return nil, fmt.Errorf("no database-connection guard in this config")
	}
	F := steps(t.For, testStep)
	N, P := d.MaxReplicas, d.Pool
	need := float64(N * P)
	lbls := map[string]string{}
	if g.cfg.ClusterLabel != "" {
		lbls[g.cfg.ClusterLabel] = clusterValue
	}
	fire := func(v float64) ([]expAlert, error) {
		a, err := alertFor(t, lbls, v)
		return []expAlert{a}, err
	}
	// series writes the inputs: HPA max replicas (nil: no kube-state-metrics)
	// and the usable connections per step.
	series := func(hpa, usable []float64) []inputSeries {
		f := &fx{cfg: g.cfg, step: testStep}
		if hpa != nil {
			l := f.base("")
			l["job"] = "kube-state-metrics"
			l["horizontalpodautoscaler"] = g.cfg.HPANames()[0]
			if ns := g.cfg.Autoscaling.Namespace; ns != "" {
				l["namespace"] = ns
			}
			f.gauge(catalogue.MetricHPAMaxReplicas, l, hpa, 1)
		}
		if d.Through == catalogue.ConnectsThroughPgBouncer {
			f.gauge(d.UsableName, f.headroomTarget("pgbouncer", "pgbouncer"), usable, 1)
			return f.series
		}
		primary := f.headroomTarget("postgres", "pg-primary")
		f.gauge(d.UsableName, primary, usable, 1)
		f.gauge("headroom_postgres_in_recovery", primary, constant(len(usable), 0), 1)
		// A standby with few connections: never compared with.
		standby := f.headroomTarget("postgres", "pg-standby")
		if standby["target"] == primary["target"] {
			standby["target"] = f.sample(g.cfg.TargetRegex("postgres"), primary["target"]+"-standby")
		}
		if standby["target"] != primary["target"] {
			f.gauge(d.UsableName, standby, constant(len(usable), 1), 1)
			f.gauge("headroom_postgres_in_recovery", standby, constant(len(usable), 1), 1)
		}
		return f.series
	}
	none := []expAlert{}
	n1 := F + 3
	var groups []testGroup

	// No kube-state-metrics: the configured max. One connection short for
	// longer than `for` fires; then exactly enough resolves.
	exp, err := fire(1)
	if err != nil {
		return nil, err
	}
	groups = append(groups, testGroup{
		Name: fmt.Sprintf("%s: without kube-state-metrics, the configured %d replicas x %d = %v connections against %v usable fires after %s; %v usable resolves",
			t.ID, N, P, need, need-1, catalogue.Dur(t.For), need),
		Interval:    model.Duration(testStep),
		InputSeries: series(nil, phases(need-1, n1, need, n1)),
		AlertRuleTests: []alertTest{
			{EvalTime: at(F - 1), Alertname: t.Alert, ExpAlerts: none},
			{EvalTime: at(F), Alertname: t.Alert, ExpAlerts: exp},
			{EvalTime: at(n1), Alertname: t.Alert, ExpAlerts: none},
			{EvalTime: at(2*n1 - 1), Alertname: t.Alert, ExpAlerts: none},
		},
	})

	// Exactly enough, then more than enough: never fires.
	groups = append(groups, testGroup{
		Name:        fmt.Sprintf("%s: %v connections at max replicas against %v usable (equal), then %v, do not fire", t.ID, need, need, need+float64(P)),
		Interval:    model.Duration(testStep),
		InputSeries: series(nil, phases(need, n1, need+float64(P), n1)),
		AlertRuleTests: []alertTest{
			{EvalTime: at(F + 1), Alertname: t.Alert, ExpAlerts: none},
			{EvalTime: at(2*n1 - 1), Alertname: t.Alert, ExpAlerts: none},
		},
	})

	// kube-state-metrics present: its max is used, not the configured one.
	low, high := float64(max(1, N/2)), float64(N+5)
	exp, err = fire(high*float64(P) - (need + float64(P)))
	if err != nil {
		return nil, err
	}
	groups = append(groups, testGroup{
		Name: fmt.Sprintf("%s: kube-state-metrics' max replicas are used: %v x %d fit %v usable (the configured %d would not), %v x %d exceed %v (the configured %d would fit) and fire",
			t.ID, low, P, need-1, N, high, P, need+float64(P), N),
		Interval:    model.Duration(testStep),
		InputSeries: series(phases(low, n1, high, n1), phases(need-1, n1, need+float64(P), n1)),
		AlertRuleTests: []alertTest{
			{EvalTime: at(F + 1), Alertname: t.Alert, ExpAlerts: none},
			{EvalTime: at(n1 + F - 1), Alertname: t.Alert, ExpAlerts: none},
			{EvalTime: at(n1 + F), Alertname: t.Alert, ExpAlerts: exp},
		},
	})
	return groups, nil
}
