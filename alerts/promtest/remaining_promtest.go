package promtest

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/prometheus/common/model"

	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/internal/kind"
)

// FileRemainingTests holds the promtool tests of the headroom rules
// (headroom:<resource>:remaining and :remaining_ratio).
const FileRemainingTests = "remaining-test.yaml"

// remainingFixture feeds one resource's inputs so that its usage is vals[k]
// of its limit at step k, and returns the labels of its series.
type remainingFixture struct {
	// limit is the limit the fixture declares, in the resource's unit.
	limit func(b *catalogue.Bundle) float64
	// limitSeries is the metric that carries the limit, "" when the limit
	// is the config's: without it, or at 0, the resource has no series.
	limitSeries func(cfg *catalogue.Config) string
	feed        fixture
	// inUnit: feed's values are in the resource's unit, not shares of
	// the limit.
	inUnit bool
	// zeroIsALimit: limitSeries at 0 still leaves a limit (a PgBouncer
	// pool_size of 0 keeps its reserve_pool).
	zeroIsALimit bool
}

func fixed(v float64) func(*catalogue.Bundle) float64 {
	return func(*catalogue.Bundle) float64 { return v }
}
func series(name string) func(*catalogue.Config) string {
	return func(*catalogue.Config) string { return name }
}

// remainingFixtures holds the fixture of every per-instance or per-target
// resource, by id; a service-wide resource is fed through the instances
// it aggregates.
var remainingFixtures = map[catalogue.ResourceID]remainingFixture{
	catalogue.ResourceAPICPUInstance: {
		limit: func(b *catalogue.Bundle) float64 {
			return map[string]float64{catalogue.SourceProcess: b.Config.Resources.CPUCores, catalogue.SourceCadvisor: cadvisorCores,
				catalogue.SourceNode: 2}[b.Config.Resources.Source] // cpuFixture's two CPUs
		},
		limitSeries: func(cfg *catalogue.Config) string {
			if cfg.Resources.Source == catalogue.SourceCadvisor {
				return "kube_pod_container_resource_limits"
			}
			return ""
		},
		feed: cpuFixture,
	},
	catalogue.ResourceAPIMemoryInstance: {
		limit: func(b *catalogue.Bundle) float64 {
			return map[string]float64{catalogue.SourceProcess: b.Config.Resources.MemoryBytes, catalogue.SourceCadvisor: cadvisorMemory,
				catalogue.SourceNode: nodeMemory}[b.Config.Resources.Source]
		},
		limitSeries: func(cfg *catalogue.Config) string {
			return map[string]string{catalogue.SourceCadvisor: "kube_pod_container_resource_limits", catalogue.SourceNode: "node_memory_MemTotal_bytes"}[cfg.Resources.Source]
		},
		feed: memoryFixture,
	},
	catalogue.ResourceAPINetworkInstance: {
		limit:       func(b *catalogue.Bundle) float64 { return b.Config.Resources.NetworkBytesPerSecond },
		limitSeries: series(""),
		feed:        networkFixture,
	},
	catalogue.ResourceAPIRequestsInstance: {
		limit:       func(b *catalogue.Bundle) float64 { c, _ := b.CapacityPerPod(); return c },
		limitSeries: series(""),
		// requestsFixture's values are requests per second.
		inUnit: true,
		feed:   requestsFixture,
	},
	catalogue.ResourcePostgresPool: {limit: fixed(13), limitSeries: series("headroom_postgres_pool_size"), feed: postgresPoolFixture},
	catalogue.ResourcePostgresConnections: {limit: fixed(97), limitSeries: series("headroom_postgres_usable_connections"),
		feed: func(f *fx, vals []float64) map[string]string {
			l := f.headroomTarget(kind.Postgres, "pg-primary")
			f.gauge("headroom_postgres_backends", with(l, "database", "app", "state", "active"), vals, 90)
			f.gauge("headroom_postgres_backends", with(l, "database", "reports", "state", "idle"), vals, 7)
			f.gauge("headroom_postgres_usable_connections", l, constant(len(vals), 97), 1)
			return map[string]string{"target": l["target"]}
		}},
	catalogue.ResourcePostgresDatabaseConnections: {limit: fixed(30), limitSeries: series("headroom_postgres_database_connection_limit"),
		feed: func(f *fx, vals []float64) map[string]string {
			l := with(f.headroomTarget(kind.Postgres, "pg-primary"), "database", "app")
			f.gauge("headroom_postgres_backends", with(l, "state", "active"), vals, 20)
			f.gauge("headroom_postgres_backends", with(l, "state", "idle"), vals, 10)
			f.gauge("headroom_postgres_database_connection_limit", l, constant(len(vals), 30), 1)
			return l
		}},
	catalogue.ResourcePostgresRoleConnections: {limit: fixed(20), limitSeries: series("headroom_postgres_role_connection_limit"),
		feed: func(f *fx, vals []float64) map[string]string {
			l := with(f.headroomTarget(kind.Postgres, "pg-primary"), "role", "app")
			f.gauge("headroom_postgres_role_backends", l, vals, 20)
			f.gauge("headroom_postgres_role_connection_limit", l, constant(len(vals), 20), 1)
			return l
		}},
	catalogue.ResourcePgBouncerClients: {limit: fixed(200), limitSeries: series("headroom_pgbouncer_config_max_client_connections"),
		feed: func(f *fx, vals []float64) map[string]string {
			l := f.headroomTarget(kind.PgBouncer, "pgbouncer")
			f.gauge("headroom_pgbouncer_client_connections", l, vals, 200)
			f.gauge("headroom_pgbouncer_config_max_client_connections", l, constant(len(vals), 200), 1)
			return l
		}},
	// pool_size 20 and reserve_pool 5: 25 server connections per pool.
	catalogue.ResourcePgBouncerPool: {limit: fixed(25), limitSeries: series("headroom_pgbouncer_database_pool_size"), zeroIsALimit: true,
		feed: func(f *fx, vals []float64) map[string]string {
			l := f.headroomTarget(kind.PgBouncer, "pgbouncer")
			pool := with(l, "database", "app", "user", "app")
			f.gauge("headroom_pgbouncer_pool_server_connections", with(pool, "state", "active"), vals, 25)
			f.gauge("headroom_pgbouncer_pool_server_connections", with(pool, "state", "idle"), constant(len(vals), 3), 1)
			f.gauge("headroom_pgbouncer_database_pool_size", with(l, "database", "app"), constant(len(vals), 20), 1)
			f.gauge("headroom_pgbouncer_database_reserve_pool_size", with(l, "database", "app"), constant(len(vals), 5), 1)
			return pool
		}},
	catalogue.ResourceRedisMemory: {limit: fixed(256 << 20), limitSeries: series("headroom_redis_memory_limit_bytes"),
		feed: func(f *fx, vals []float64) map[string]string {
			l := f.headroomTarget(kind.Redis, "redis")
			f.gauge("headroom_redis_memory_used_bytes", l, vals, 256<<20)
			f.gauge("headroom_redis_memory_limit_bytes", with(l, "source", "maxmemory"), constant(len(vals), 256<<20), 1)
			return with(l, "source", "maxmemory")
		}},
	// Two of the connections are replicas: they count against maxclients.
	catalogue.ResourceRedisClients: {limit: fixed(10000), limitSeries: series("headroom_redis_max_clients"),
		feed: func(f *fx, vals []float64) map[string]string {
			l := f.headroomTarget(kind.Redis, "redis")
			clients := make([]float64, len(vals))
			for i, v := range vals {
				clients[i] = v*10000 - 2
			}
			f.gauge("headroom_redis_connected_clients", l, clients, 1)
			f.gauge("headroom_redis_connected_replicas", l, constant(len(vals), 2), 1)
			f.gauge("headroom_redis_max_clients", l, constant(len(vals), 10000), 1)
			return l
		}},
}

// The shares of the limit the tests use: a busy and a quiet instance (or
// a busy target), exact in binary so that every expected value is.
var remainingShares = []float64{0.75, 0.25}

// remainingTests are the promtool tests of the headroom rules: for each
// per-instance or per-target resource, its inputs at known shares of the
// limit give the remaining in its unit and as a ratio, the service-wide
// resources aggregate the instances; and with the limit's series absent or
// 0 (unlimited, unknown) neither rule has a series.
func remainingTests(b *catalogue.Bundle) ([]testGroup, error) {
	cfg := b.Config
	rs := b.Remaining()
	var groups []testGroup
	for _, r := range rs {
		if r.Of != "" {
			continue
		}
		fix, ok := remainingFixtures[r.ID]
		if !ok {
			return nil, fmt.Errorf("resource %s has no test fixture", r.ID)
		}
		var services []catalogue.Remaining
		for _, s := range rs {
			if s.Of == r.ID {
				services = append(services, s)
			}
		}
		n := steps(r.Window, testStep) + 2
		limit := fix.limit(b)
		f := &fx{cfg: cfg, step: testStep}
		instances := remainingInstances(f, r, fix, n, limit)
		if f.err != nil {
			return nil, fmt.Errorf("resource %s: %w", r.ID, f.err)
		}
		eval := at(n - 1)
		var exprs []exprTest
		for _, s := range append([]catalogue.Remaining{r}, services...) {
			rem, ratio := map[string][]float64{}, map[string][]float64{}
			var keys []string
			for _, in := range instances {
				k := expLabels(cfg, in.labels, s.Labels)
				if _, ok := rem[k]; !ok {
					keys = append(keys, k)
				}
				rem[k] = append(rem[k], limit*(1-in.share))
				ratio[k] = append(ratio[k], 1-in.share)
			}
			var remSamples, ratioSamples []expSample
			for _, k := range keys {
				remSamples = append(remSamples, expSample{Labels: k, Value: rounded(aggregate(s.Agg, rem[k]))})
				ratioSamples = append(ratioSamples, expSample{Labels: k, Value: rounded(aggregate(s.RatioAgg, ratio[k]))})
			}
			exprs = append(exprs,
				exprTest{Expr: roundExpr(cfg, s.ID.Record()), EvalTime: eval, ExpSamples: remSamples},
				exprTest{Expr: roundExpr(cfg, s.ID.RatioRecord()), EvalTime: eval, ExpSamples: ratioSamples})
		}
		shares := ""
		for i, in := range instances {
			if i > 0 {
				shares += " and "
			}
			shares += catalogue.UnitRatio.Format(in.share)
		}
		groups = append(groups, testGroup{
			Name: fmt.Sprintf("headroom of %s used at %s of a limit of %s %s: the limit less the usage%s", r.Title, shares,
				catalogue.Num(limit), r.Counts, servicesText(services)),
			Interval: model.Duration(testStep), InputSeries: f.series, PromQLTests: exprs,
		})

		metric := fix.limitSeries(cfg)
		if metric == "" {
			continue
		}
		for _, zero := range []bool{false, true} {
			if zero && fix.zeroIsALimit {
				continue
			}
			var none []exprTest
			for _, s := range append([]catalogue.Remaining{r}, services...) {
				for _, rec := range []string{s.ID.Record(), s.ID.RatioRecord()} {
					none = append(none, exprTest{Expr: cfg.PromQL().Service(rec), EvalTime: eval})
				}
			}
			in, what := withoutSeries(f.series, metric), "absent"
			if zero {
				in, what = zeroSeries(f.series, metric), "at 0"
			}
			groups = append(groups, testGroup{
				Name:     fmt.Sprintf("headroom of %s: with %s %s (no known limit) there is no series", r.Title, metric, what),
				Interval: model.Duration(testStep), InputSeries: in, PromQLTests: none,
			})
		}
	}
	return groups, nil
}

type fedInstance struct {
	labels map[string]string
	share  float64
}

// remainingInstances feeds a resource at each of remainingShares: as two
// instances of the API (its last instance label set apart, when the
// selectors let it vary), one target otherwise.
func remainingInstances(f *fx, r catalogue.Remaining, fix remainingFixture, n int, limit float64) []fedInstance {
	feed := func(share float64) map[string]string {
		if fix.inUnit {
			return fix.feed(f, constant(n, share*limit))
		}
		return fix.feed(f, constant(n, share))
	}
	first := feed(remainingShares[0])
	out := []fedInstance{{first, remainingShares[0]}}
	if r.Group != catalogue.GroupAPI || len(r.Labels) == 0 {
		return out
	}
	name := r.Labels[len(r.Labels)-1]
	other := first[name] + "-1"
	if !f.mayVary(name, first[name], other) {
		return out
	}
	f.relabel = map[string]string{name: other}
	second := feed(remainingShares[1])
	f.relabel = nil
	second[name] = other
	return append(out, fedInstance{second, remainingShares[1]})
}

// mayVary reports whether every selector of the config that selects the
// fed value of a label selects v too: those that do not select the fed
// value are another source's.
func (f *fx) mayVary(name, fed, v string) bool {
	s := f.cfg.Selectors
	for _, sel := range []string{s.API, s.Cadvisor, s.KubeStateMetrics, s.Node, f.cfg.PromQL().PodSelector()} {
		if sel == "" {
			continue
		}
		ms, err := catalogue.ParseMetricSelector("{" + sel + "}")
		if err != nil {
			f.fail(err)
			return false
		}
		for _, m := range ms {
			if m.Name == name && m.Matches(fed) && !m.Matches(v) {
				return false
			}
		}
	}
	return true
}

// expLabels is the label set, as promtool writes it, of a recorded series
// that keeps names of the fed labels.
func expLabels(cfg *catalogue.Config, fed map[string]string, names []string) string {
	l := map[string]string{"service": cfg.Service}
	for _, n := range names {
		l[n] = fed[n]
	}
	if cfg.ClusterLabel != "" {
		l[cfg.ClusterLabel] = clusterValue
	}
	return seriesString("", l)
}

func aggregate(op string, vs []float64) float64 {
	switch op {
	case "sum":
		s := 0.0
		for _, v := range vs {
			s += v
		}
		return s
	case "avg":
		return aggregate("sum", vs) / float64(len(vs))
	case "min":
		return slices.Min(vs)
	}
	return vs[0] // per instance: one value per label set
}

// rounded is v as round(v, 0.001) gives it.
func rounded(v float64) float64 { return math.Floor(v*1000+0.5) / 1000 }

func roundExpr(cfg *catalogue.Config, record string) string {
	return "round(" + cfg.PromQL().Service(record) + ", 0.001)"
}

// servicesText names the service-wide resources a test also checks.
func servicesText(services []catalogue.Remaining) string {
	out := ""
	for _, s := range services {
		out += fmt.Sprintf("; %s: the %s of what is left, the %s of the ratios", s.Title, s.Agg, s.RatioAgg)
	}
	return out
}

// withoutSeries drops a metric's series from input series.
func withoutSeries(in []inputSeries, metric string) []inputSeries {
	var out []inputSeries
	for _, s := range in {
		if metricOf(s.Series) != metric {
			out = append(out, s)
		}
	}
	return out
}

// zeroSeries sets a metric's series to 0 at every step it has a value.
func zeroSeries(in []inputSeries, metric string) []inputSeries {
	out := slices.Clone(in)
	for i, s := range out {
		if metricOf(s.Series) != metric {
			continue
		}
		vals := strings.Fields(s.Values)
		for k, v := range vals {
			if v != "_" {
				vals[k] = "0"
			}
		}
		out[i].Values = strings.Join(vals, " ")
	}
	return out
}
