package alerts

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/prometheus/common/model"
)

// The run-time side of the database-connection guard: the alert
// ScaleOutExceedsDBConnections compares the HPA's current max replicas
// (kube-state-metrics; the configured max_replicas where it is absent) x the
// pool size per pod with the usable connections the exporter measures.
// Validate checks the same with the configured numbers when generating.

// kube-state-metrics' HPA series: the max replicas the alert compares with,
// and the current replicas the dashboard's connection headroom starts from.
const (
	metricHPAMaxReplicas     = "kube_horizontalpodautoscaler_spec_max_replicas"
	metricHPACurrentReplicas = "kube_horizontalpodautoscaler_status_current_replicas"
)

// dbGuard is the alert's configuration.
type dbGuard struct {
	cfg         *Config
	minReplicas int
	maxReplicas int
	pool        int
	through     string
	usableName  string // the metric compared with
	what        string // what accepts the connections, in words
}

// dbGuardOf returns the guard of a config: only when it has an autoscaler
// and the pool size per pod is known (autoscaling.db.pool_size_per_pod, or
// cores to derive it from).
func dbGuardOf(cfg *Config) (dbGuard, bool) {
	pool := cfg.PoolSizePerPod()
	if pool <= 0 || cfg.Autoscaling.Autoscaler == AutoscalerNone || cfg.Autoscaling.Autoscaler == "" {
		return dbGuard{}, false
	}
	g := dbGuard{cfg: cfg, minReplicas: int(cfg.Autoscaling.MinReplicas), maxReplicas: int(cfg.Autoscaling.MaxReplicas),
		pool: pool, through: cfg.DBConnectsThrough()}
	if g.through == ConnectsThroughPgBouncer {
		g.usableName, g.what = "headroom_pgbouncer_config_max_client_connections", "PgBouncer"
	} else {
		g.usableName, g.what = "headroom_postgres_usable_connections", "the PostgreSQL primary"
	}
	return g, true
}

// hpa selects one of kube-state-metrics' series of the HPAs that may scale
// the target.
func (g dbGuard) hpa(metric string) string {
	names := g.cfg.HPANames()
	var m []string
	if ns := g.cfg.Autoscaling.Namespace; ns != "" {
		m = append(m, fmt.Sprintf("namespace=%q", ns))
	}
	if len(names) == 1 {
		m = append(m, fmt.Sprintf("horizontalpodautoscaler=%q", names[0]))
	} else {
		q := make([]string, len(names))
		for i, n := range names {
			q[i] = regexp.QuoteMeta(n)
		}
		m = append(m, fmt.Sprintf("horizontalpodautoscaler=~%q", strings.Join(q, "|")))
	}
	return sel(metric, m...)
}

// usable is what the database accepts: the primary's usable connections
// (standbys left out), or the max_client_conn of the PgBouncers (summed:
// instances side by side share the clients).
func (g dbGuard) usable(p pq) string {
	if g.through == ConnectsThroughPgBouncer {
		return p.agg("sum", p.headroom(g.usableName, "pgbouncer"))
	}
	return p.agg("min", fmt.Sprintf("\n    %s\n    and %s %s == 0\n  ", p.headroom(g.usableName, "postgres"), p.on("target"),
		p.headroom("headroom_postgres_in_recovery", "postgres")))
}

// replicas is a replica count from kube-state-metrics, else the fallbacks
// in order. The last fallback is a configured number: vector(n) without a
// cluster label; with one, n per cluster made from the usable side (vector()
// has no cluster label to join on).
func (g dbGuard) replicas(p pq, ksm string, fallbacks ...string) string {
	n := g.maxReplicas
	if ksm == metricHPACurrentReplicas {
		n = g.minReplicas
	}
	or, last := "or", fmt.Sprintf("vector(%d)", n)
	if g.cfg.ClusterLabel != "" {
		last = fmt.Sprintf("%s * 0 + %d", g.usable(p), n)
		or = "or " + p.on()
	}
	parts := []string{p.agg("max", g.hpa(ksm))}
	parts = append(parts, fallbacks...)
	parts = append(parts, last)
	return "(\n  " + strings.Join(parts, "\n  "+or+"\n  ") + "\n)"
}

// expr: the connections the pools would open at max replicas beyond the
// usable ones, when there are any.
func (g dbGuard) expr(p pq) string {
	return fmt.Sprintf("%s * %d\n- %s %s\n> 0", g.replicas(p, metricHPAMaxReplicas), g.pool, p.on(), g.usable(p))
}

// headroom: how many more pods the usable connections take beyond the
// current ones, each with its pool; the same usable side and pool size as
// the alert. Current replicas come from kube-state-metrics, else the API
// instances the bundle sees (its CPU series), else min_replicas.
func (g dbGuard) headroom(p pq) string {
	observed := p.agg("count", p.service("instance:api_cpu_utilisation:ratio"))
	return fmt.Sprintf("floor(\n  (\n    %s\n    - %s %s * %d\n  ) / %d\n)",
		indent(g.usable(p), "    "), p.on(), indent(g.replicas(p, metricHPACurrentReplicas, observed), "    "), g.pool, g.pool)
}

// DBHeadroom is the database-connection headroom of a config: how many
// more pods the database can take, from the numbers the alert
// ScaleOutExceedsDBConnections compares.
type DBHeadroom struct {
	// Expr is floor((usable connections - current replicas x pool size per
	// pod) / pool size per pod).
	Expr string
	// UsableExpr is the usable connections the exporter measures, as the
	// alert reads them.
	UsableExpr string
	// PoolSizePerPod, MinReplicas and MaxReplicas are the configured ones.
	PoolSizePerPod, MinReplicas, MaxReplicas int
	// Usable is the metric of the usable connections; What names what
	// accepts them, in words.
	Usable, What string
}

// DBConnectionHeadroom returns the connection headroom of a config, when it
// has the database-connection guard (an autoscaler and a known pool size).
func DBConnectionHeadroom(cfg *Config) (DBHeadroom, bool) {
	g, ok := dbGuardOf(cfg)
	if !ok {
		return DBHeadroom{}, false
	}
	return DBHeadroom{Expr: g.headroom(pq{cfg}), UsableExpr: g.usable(pq{cfg}), PoolSizePerPod: g.pool, MinReplicas: g.minReplicas,
		MaxReplicas: g.maxReplicas, Usable: g.usableName, What: g.what}, true
}

// indent indents every line of s after the first.
func indent(s, by string) string { return strings.ReplaceAll(s, "\n", "\n"+by) }

// dbGuard tests ScaleOutExceedsDBConnections: the configured max when
// kube-state-metrics is absent (above the usable connections fires after
// `for` and resolves; equal does not fire), kube-state-metrics' max when
// present (lower than the configured one: no alert; higher: fires).
func (g testGen) dbGuard() ([]testGroup, error) {
	t := g.t
	d, ok := dbGuardOf(g.cfg)
	if !ok {
		return nil, fmt.Errorf("no database-connection guard in this config")
	}
	F := steps(t.For, testStep)
	N, P := d.maxReplicas, d.pool
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
			f.gauge(metricHPAMaxReplicas, l, hpa, 1)
		}
		if d.through == ConnectsThroughPgBouncer {
			f.gauge(d.usableName, f.headroomTarget("pgbouncer", "pgbouncer"), usable, 1)
			return f.series
		}
		primary := f.headroomTarget("postgres", "pg-primary")
		f.gauge(d.usableName, primary, usable, 1)
		f.gauge("headroom_postgres_in_recovery", primary, constant(len(usable), 0), 1)
		// A standby with few connections: never compared with.
		standby := f.headroomTarget("postgres", "pg-standby")
		if standby["target"] == primary["target"] {
			standby["target"] = f.sample(g.cfg.targetRegex("postgres"), primary["target"]+"-standby")
		}
		if standby["target"] != primary["target"] {
			f.gauge(d.usableName, standby, constant(len(usable), 1), 1)
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
			t.ID, N, P, need, need-1, dur(t.For), need),
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
