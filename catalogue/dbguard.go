package catalogue

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/headroom-dev/headroom/internal/kind"
)

// The run-time side of the database-connection guard: the alert
// ScaleOutExceedsDBConnections compares the HPA's current max replicas
// (kube-state-metrics; the configured max_replicas where it is absent) x the
// pool size per pod with the usable connections the exporter measures.
// Validate checks the same with the configured numbers when generating.

// kube-state-metrics' HPA series: the max replicas the alert compares with,
// and the current replicas the dashboard's connection headroom starts from.
const (
	MetricHPAMaxReplicas     = "kube_horizontalpodautoscaler_spec_max_replicas"
	metricHPACurrentReplicas = "kube_horizontalpodautoscaler_status_current_replicas"
)

// ConnectionGuard is the alert's configuration.
type ConnectionGuard struct {
	cfg         *Config
	MinReplicas int
	MaxReplicas int
	Pool        int
	Through     string
	UsableName  string // the metric compared with
	What        string // what accepts the connections, in words
}

// ConnectionGuardOf returns the guard of a config: only when it has an autoscaler
// and the pool size per pod is known (autoscaling.db.pool_size_per_pod, or
// cores to derive it from).
func ConnectionGuardOf(cfg *Config) (ConnectionGuard, bool) {
	pool := cfg.PoolSizePerPod()
	if pool <= 0 || cfg.Autoscaling.Autoscaler == AutoscalerNone || cfg.Autoscaling.Autoscaler == "" {
		return ConnectionGuard{}, false
	}
	g := ConnectionGuard{cfg: cfg, MinReplicas: int(cfg.Autoscaling.MinReplicas), MaxReplicas: int(cfg.Autoscaling.MaxReplicas),
		Pool: pool, Through: cfg.DBConnectsThrough()}
	if g.Through == ConnectsThroughPgBouncer {
		g.UsableName, g.What = "headroom_pgbouncer_config_max_client_connections", "PgBouncer"
	} else {
		g.UsableName, g.What = "headroom_postgres_usable_connections", "the PostgreSQL primary"
	}
	return g, true
}

// hpa selects one of kube-state-metrics' series of the HPAs that may scale
// the target.
func (g ConnectionGuard) hpa(metric string) string {
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
	return Sel(metric, m...)
}

// usable is what the database accepts: the primary's usable connections
// (standbys left out), or the max_client_conn of the PgBouncers (summed:
// instances side by side share the clients).
func (g ConnectionGuard) usable(p PromQL) string {
	if g.Through == ConnectsThroughPgBouncer {
		return p.Agg("sum", p.Headroom(g.UsableName, "pgbouncer"))
	}
	return p.Agg("min", fmt.Sprintf("\n    %s\n    and %s %s == 0\n  ", p.Headroom(g.UsableName, "postgres"), p.On("target"),
		p.Headroom("headroom_postgres_in_recovery", kind.Postgres)))
}

// replicas is a replica count from kube-state-metrics, else the fallbacks
// in order. The last fallback is a configured number: vector(n) without a
// cluster label; with one, n per cluster made from the usable side (vector()
// has no cluster label to join on).
func (g ConnectionGuard) replicas(p PromQL, ksm string, fallbacks ...string) string {
	n := g.MaxReplicas
	if ksm == metricHPACurrentReplicas {
		n = g.MinReplicas
	}
	or, last := "or", fmt.Sprintf("vector(%d)", n)
	if g.cfg.ClusterLabel != "" {
		last = fmt.Sprintf("%s * 0 + %d", g.usable(p), n)
		or = "or " + p.On()
	}
	parts := []string{p.Agg("max", g.hpa(ksm))}
	parts = append(parts, fallbacks...)
	parts = append(parts, last)
	return "(\n  " + strings.Join(parts, "\n  "+or+"\n  ") + "\n)"
}

// expr: the connections the pools would open at max replicas beyond the
// usable ones, when there are any.
func (g ConnectionGuard) expr(p PromQL) string {
	return fmt.Sprintf("%s * %d\n- %s %s\n> 0", g.replicas(p, MetricHPAMaxReplicas), g.Pool, p.On(), g.usable(p))
}

// headroom: how many more pods the usable connections take beyond the
// current ones, each with its pool; the same usable side and pool size as
// the alert. Current replicas come from kube-state-metrics, else the API
// instances the bundle sees (its CPU series), else min_replicas.
func (g ConnectionGuard) headroom(p PromQL) string {
	observed := p.Agg("count", p.Service("instance:api_cpu_utilisation:ratio"))
	return fmt.Sprintf("floor(\n  (\n    %s\n    - %s %s * %d\n  ) / %d\n)",
		indent(g.usable(p), "    "), p.On(), indent(g.replicas(p, metricHPACurrentReplicas, observed), "    "), g.Pool, g.Pool)
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
	g, ok := ConnectionGuardOf(cfg)
	if !ok {
		return DBHeadroom{}, false
	}
	return DBHeadroom{Expr: g.headroom(PromQL{cfg}), UsableExpr: g.usable(PromQL{cfg}), PoolSizePerPod: g.Pool, MinReplicas: g.MinReplicas,
		MaxReplicas: g.MaxReplicas, Usable: g.UsableName, What: g.What}, true
}

// indent indents every line of s after the first.
func indent(s, by string) string { return strings.ReplaceAll(s, "\n", "\n"+by) }
