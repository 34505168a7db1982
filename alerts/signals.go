package alerts

import (
	"fmt"
	"strings"
	"time"
)

// Unit says how a signal's values read; dashboards pick their unit from it
// and alert descriptions their humanize function.
type Unit string

// Units of signals.
const (
	UnitRatio     Unit = "ratio"      // 0..1, shown as a percentage
	UnitSeconds   Unit = "seconds"    // durations
	UnitBytes     Unit = "bytes"      // sizes
	UnitPerSecond Unit = "per_second" // rates of events
	UnitCount     Unit = "count"      // a number of things
	UnitBool      Unit = "bool"       // 1 or 0
)

// Group is the resource a signal or trigger is about; dashboards put one
// row per group.
type Group string

// Resource groups.
const (
	GroupAPI         Group = "API"
	GroupDBPool      Group = "DB pool"
	GroupPostgres    Group = "PostgreSQL"
	GroupReplication Group = "Replication"
	GroupPgBouncer   Group = "PgBouncer"
	GroupRedis       Group = "Redis"
	GroupCapacity    Group = "Capacity" // several resources at once
	GroupHeadroom    Group = "Headroom" // the monitoring itself
)

// Signal is one utilisation or health measure. Most are recording rules
// (Record, computed once from Expr); a few raw gauges of the exporter are
// used as they are (Record is empty and Expr is the selector).
type Signal struct {
	// ID is a short stable name (api_cpu, db_pool, redis_hit_ratio ...).
	ID string
	// Record is the recording rule's name, level:metric:operations; empty
	// for a raw series.
	Record string
	// Expr is the PromQL the rule records, or the raw selector.
	Expr string
	// Query selects the signal's series for this bundle's service: what
	// alerts and dashboard panels use.
	Query string
	Unit  Unit
	Group Group
	// Title names the signal in summaries and panels ("API CPU utilisation").
	Title string
	// Where is a template fragment naming one series in a description
	// ("pool {{ $labels.pool }} on {{ $labels.target }}").
	Where string
	// Labels identify one series besides service and the cluster label.
	Labels []string
	// Help says what the signal is and how it is computed.
	Help string
	// Window is the rate() range inside the signal, 0 for a gauge.
	Window time.Duration
	// MustExist marks signals that are always present when their inputs
	// are scraped; SignalAbsent alerts when they are not.
	MustExist bool
	// Scraped, for a signal that is absent by design at times (a p95 with
	// no traffic), is an expression present whenever its inputs are
	// scraped: SignalAbsent watches it instead of the signal.
	Scraped string

	fixture fixture
	sim     simKind
	// computed are labels the signal's expression sets itself rather than
	// keeping its inputs': a test cannot relabel its input series into
	// another value of them.
	computed []string
}

// fixture writes the input series of promtool tests that make the signal
// read vals[k] at step k, and returns the labels of the signal's series.
type fixture func(f *fx, vals []float64) map[string]string

// Signals returns every signal of the config, recording rules in the order
// they must be evaluated (a rule comes after the rules it reads).
func Signals(cfg *Config) []Signal {
	p := pq{cfg}
	var out []Signal
	add := func(s Signal) {
		if s.Record != "" {
			s.Query = p.service(s.Record)
		} else {
			s.Query = s.Expr
		}
		out = append(out, s)
	}
	apiSignals(cfg, p, add)
	dbSignals(cfg, p, add)
	redisSignals(cfg, p, add)
	saturation(cfg, p, add, out)
	rawSignals(cfg, p, add)
	return out
}

// signalByID finds a signal; the catalogue only names signals that exist.
func signalByID(signals []Signal, id string) (Signal, bool) {
	for _, s := range signals {
		if s.ID == id {
			return s, true
		}
	}
	return Signal{}, false
}

func apiSignals(cfg *Config, p pq, add func(Signal)) {
	api := cfg.Selectors.API
	rw := time.Duration(cfg.API.RateWindow)
	resW := time.Duration(cfg.Resources.RateWindow)
	inst := cfg.API.InstanceLabels

	// CPU and memory per instance, from the selected source.
	var cpuExpr, memExpr, netExpr string
	var resLabels []string
	var cpuFx, memFx, netFx func(f *fx, vals []float64) map[string]string
	cpuSim := simRate
	switch cfg.Resources.Source {
	case SourceProcess:
		resLabels = inst
		cpuExpr = fmt.Sprintf("%s / %s",
			p.agg("sum", fmt.Sprintf("rate(%s[%s])", sel("process_cpu_seconds_total", api), dur(resW)), inst...), num(cfg.Resources.CPUCores))
		memExpr = fmt.Sprintf("%s / %s",
			p.agg("sum", sel("process_resident_memory_bytes", api), inst...), num(cfg.Resources.MemoryBytes))
		cpuFx = func(f *fx, vals []float64) map[string]string {
			l := f.apiInstance()
			f.counter("process_cpu_seconds_total", l, vals, cfg.Resources.CPUCores)
			return f.pick(l, inst)
		}
		memFx = func(f *fx, vals []float64) map[string]string {
			l := f.apiInstance()
			f.gauge("process_resident_memory_bytes", l, vals, cfg.Resources.MemoryBytes)
			return f.pick(l, inst)
		}
	case SourceCadvisor:
		resLabels = []string{"namespace", "pod"}
		cad, ksm := cfg.Selectors.Cadvisor, cfg.Selectors.KubeStateMetrics
		limit := func(resource string) string {
			return p.agg("sum", sel("kube_pod_container_resource_limits", ksm, fmt.Sprintf("resource=%q", resource)), resLabels...)
		}
		cpuExpr = fmt.Sprintf("%s\n  / %s (%s > 0)",
			p.agg("sum", fmt.Sprintf("rate(%s[%s])", sel("container_cpu_usage_seconds_total", cad), dur(resW)), resLabels...),
			p.on(resLabels...), limit("cpu"))
		memExpr = fmt.Sprintf("%s\n  / %s (%s > 0)",
			p.agg("sum", sel("container_memory_working_set_bytes", cad), resLabels...),
			p.on(resLabels...), limit("memory"))
		const cores, mem = 2, 2 << 30
		cpuFx = func(f *fx, vals []float64) map[string]string {
			l := f.container()
			f.counter("container_cpu_usage_seconds_total", l, vals, cores)
			f.gauge("kube_pod_container_resource_limits", f.limit("cpu", "core"), constant(len(vals), cores), 1)
			return f.pick(l, resLabels)
		}
		memFx = func(f *fx, vals []float64) map[string]string {
			l := f.container()
			f.gauge("container_memory_working_set_bytes", l, vals, mem)
			f.gauge("kube_pod_container_resource_limits", f.limit("memory", "byte"), constant(len(vals), mem), 1)
			return f.pick(l, resLabels)
		}
		if cfg.Resources.NetworkBytesPerSecond > 0 {
			// cAdvisor reports network per pod (on the pause container), so
			// the container matchers are not applied here.
			podSel := p.podSelector()
			rx := p.agg("sum", fmt.Sprintf("rate(%s[%s])", sel("container_network_receive_bytes_total", podSel), dur(resW)), resLabels...)
			tx := p.agg("sum", fmt.Sprintf("rate(%s[%s])", sel("container_network_transmit_bytes_total", podSel), dur(resW)), resLabels...)
			netExpr = fmt.Sprintf("(%s > %s %s or %s) / %s", rx, p.on(resLabels...), tx, tx, num(cfg.Resources.NetworkBytesPerSecond))
			netFx = func(f *fx, vals []float64) map[string]string {
				l := f.pod()
				f.counter("container_network_receive_bytes_total", l, vals, cfg.Resources.NetworkBytesPerSecond)
				f.counter("container_network_transmit_bytes_total", l, vals, cfg.Resources.NetworkBytesPerSecond/2)
				return f.pick(l, resLabels)
			}
		}
	case SourceNode:
		resLabels = []string{"instance"}
		cpuSim = simIdle
		node := cfg.Selectors.Node
		cpuExpr = "1 - " + p.agg("avg", fmt.Sprintf("rate(%s[%s])", sel("node_cpu_seconds_total", node, `mode="idle"`), dur(resW)), resLabels...)
		memExpr = fmt.Sprintf("1 - %s\n  / %s (%s > 0)", p.agg("sum", sel("node_memory_MemAvailable_bytes", node), resLabels...),
			p.on(resLabels...), p.agg("sum", sel("node_memory_MemTotal_bytes", node), resLabels...))
		const total = 8 << 30
		cpuFx = func(f *fx, vals []float64) map[string]string {
			l := f.node()
			idle := make([]float64, len(vals))
			for i, v := range vals {
				idle[i] = 1 - v
			}
			f.counter("node_cpu_seconds_total", with(l, "mode", "idle", "cpu", "0"), idle, 1)
			f.counter("node_cpu_seconds_total", with(l, "mode", "idle", "cpu", "1"), idle, 1)
			return f.pick(l, resLabels)
		}
		memFx = func(f *fx, vals []float64) map[string]string {
			l := f.node()
			avail := make([]float64, len(vals))
			for i, v := range vals {
				avail[i] = 1 - v
			}
			f.gauge("node_memory_MemAvailable_bytes", l, avail, total)
			f.gauge("node_memory_MemTotal_bytes", l, constant(len(vals), total), 1)
			return f.pick(l, resLabels)
		}
		if cfg.Resources.NetworkBytesPerSecond > 0 {
			dev := `device!~"lo|veth.*|docker.*|br-.*|cali.*|flannel.*|cni.*"`
			rx := p.agg("sum", fmt.Sprintf("rate(%s[%s])", sel("node_network_receive_bytes_total", node, dev), dur(resW)), resLabels...)
			tx := p.agg("sum", fmt.Sprintf("rate(%s[%s])", sel("node_network_transmit_bytes_total", node, dev), dur(resW)), resLabels...)
			netExpr = fmt.Sprintf("(%s > %s %s or %s) / %s", rx, p.on(resLabels...), tx, tx, num(cfg.Resources.NetworkBytesPerSecond))
			netFx = func(f *fx, vals []float64) map[string]string {
				l := with(f.node(), "device", "eth0")
				f.counter("node_network_receive_bytes_total", l, vals, cfg.Resources.NetworkBytesPerSecond/2)
				f.counter("node_network_transmit_bytes_total", l, vals, cfg.Resources.NetworkBytesPerSecond)
				return f.pick(l, resLabels)
			}
		}
	}
	whereInst := "{{ $labels.service }}"
	// cAdvisor and kube-state-metrics are per pod, so every series has a
	// namespace: the service-wide signals keep it, one series per
	// namespace, so that a `where` scope can give a namespace its own
	// threshold (and a namespace's alert holds only its own). The process
	// and node sources have no namespace to keep.
	svcL := resourceServiceLabels(cfg)
	whereSvc := whereInst
	if len(svcL) > 0 {
		whereSvc = whereInst + " in namespace {{ $labels.namespace }}"
	}
	svcFx := func(inst fixture) fixture {
		return func(f *fx, vals []float64) map[string]string { return f.pick(inst(f, vals), svcL) }
	}
	add(Signal{ID: "api_cpu_instance", Record: "instance:api_cpu_utilisation:ratio", Expr: cpuExpr, Unit: UnitRatio, Group: GroupAPI,
		Title: "API CPU utilisation", Where: "an instance of " + whereInst, Labels: resLabels, Window: resW, sim: cpuSim, fixture: cpuFx,
		Help: "CPU used by one API instance over the CPU it may use (" + cfg.Resources.Source + " source)."})
	add(Signal{ID: "api_cpu", Record: "service:api_cpu_utilisation:ratio",
		Expr: p.agg("avg", p.service("instance:api_cpu_utilisation:ratio"), append([]string{"service"}, svcL...)...),
		Unit: UnitRatio, Group: GroupAPI, Title: "API CPU utilisation", Where: whereSvc, Labels: svcL, Window: resW, sim: cpuSim, MustExist: true,
		fixture: svcFx(cpuFx),
		Help:    "Average CPU utilisation over the API's instances: what horizontal scaling changes."})
	add(Signal{ID: "api_memory_instance", Record: "instance:api_memory_utilisation:ratio", Expr: memExpr, Unit: UnitRatio, Group: GroupAPI,
		Title: "API memory utilisation", Where: "an instance of " + whereInst, Labels: resLabels, fixture: memFx,
		Help: "Memory used by one API instance over the memory it may use (" + cfg.Resources.Source + " source)."})
	add(Signal{ID: "api_memory", Record: "service:api_memory_utilisation:ratio",
		Expr: p.agg("max", p.service("instance:api_memory_utilisation:ratio"), append([]string{"service"}, svcL...)...),
		Unit: UnitRatio, Group: GroupAPI, Title: "API memory utilisation", Where: "the busiest instance of " + whereSvc, Labels: svcL, MustExist: true,
		fixture: svcFx(memFx),
		Help:    "Memory utilisation of the API's fullest instance: the one that is OOM-killed first, and what vertical scaling changes."})
	if netExpr != "" {
		add(Signal{ID: "api_network_instance", Record: "instance:api_network_utilisation:ratio", Expr: netExpr, Unit: UnitRatio, Group: GroupAPI,
			Title: "API network utilisation", Where: "an instance of " + whereInst, Labels: resLabels, Window: resW, sim: simRate, fixture: netFx,
			Help: "The busier direction of an instance's network traffic over its capacity (resources.network_bytes_per_second)."})
		add(Signal{ID: "api_network", Record: "service:api_network_utilisation:ratio",
			Expr: p.agg("max", p.service("instance:api_network_utilisation:ratio"), append([]string{"service"}, svcL...)...),
			Unit: UnitRatio, Group: GroupAPI, Title: "API network utilisation", Where: "the busiest instance of " + whereSvc, Labels: svcL, Window: resW, sim: simRate,
			fixture: svcFx(netFx),
			Help:    "Network utilisation of the API's busiest instance."})
	}

	// Requests, errors, latency.
	req := cfg.API.RequestsMetric
	reqRate := fmt.Sprintf("rate(%s[%s])", sel(req, api), dur(rw))
	w := dur(rw)
	reqFx := func(f *fx, vals []float64) map[string]string {
		l := f.apiInstance()
		f.counter(req, with(l, f.okLabels()...), vals, 1)
		return f.pick(l, inst)
	}
	add(Signal{ID: "api_requests_instance", Record: "instance:api_requests:rate" + w, Expr: p.agg("sum", reqRate, inst...), Unit: UnitPerSecond,
		Group: GroupAPI, Title: "API requests per second", Where: "an instance of " + whereInst, Labels: inst, Window: rw, sim: simRate, fixture: reqFx,
		Help: "Requests per second one API instance serves."})
	add(Signal{ID: "api_requests", Record: "service:api_requests:rate" + w, Expr: p.agg("sum", reqRate), Unit: UnitPerSecond, Group: GroupAPI,
		Title: "API requests per second", Where: whereInst, Window: rw, sim: simRate, MustExist: true,
		fixture: func(f *fx, vals []float64) map[string]string { reqFx(f, vals); return map[string]string{} },
		Help:    "Requests per second the whole API serves."})
	add(Signal{ID: "api_requests_per_instance", Record: "service:api_requests_per_instance:rate" + w,
		Expr: p.agg("avg", p.service("instance:api_requests:rate"+w), "service"), Unit: UnitPerSecond, Group: GroupAPI,
		Title: "API requests per second per instance", Where: whereInst, Window: rw, sim: simRate,
		fixture: func(f *fx, vals []float64) map[string]string { reqFx(f, vals); return map[string]string{} },
		Help:    "Average requests per second per API instance: what KEDA's per-pod RPS target compares against."})
	errRate := fmt.Sprintf("rate(%s[%s])", sel(req, api, cfg.API.ErrorMatcher), dur(rw))
	add(Signal{ID: "api_error_ratio", Record: "service:api_errors:ratio_rate" + w,
		Expr: fmt.Sprintf("(%s or %s * 0)\n  / (%s > 0)", p.agg("sum", errRate), p.agg("sum", reqRate), p.agg("sum", reqRate)),
		Unit: UnitRatio, Group: GroupAPI, Title: "API error ratio", Where: whereInst, Window: rw, sim: simRatio,
		fixture: func(f *fx, vals []float64) map[string]string {
			l := f.apiInstance()
			ok := make([]float64, len(vals))
			for i, v := range vals {
				ok[i] = 1 - v
			}
			f.counter(req, with(l, f.errLabels()...), vals, 10)
			f.counter(req, with(l, f.okLabels()...), ok, 10)
			return map[string]string{}
		},
		Help: "Failed requests (api.error_matcher) over all requests; 0 when nothing failed, absent when there was no traffic, never NaN."})
	hist := cfg.API.DurationHistogram + "_bucket"
	add(Signal{ID: "api_latency_p95", Record: "service:api_request_duration_seconds:p95_rate" + w,
		// ">= 0" drops the NaN histogram_quantile returns for a histogram
		// with no finite bucket; SignalAbsent then watches for finite
		// buckets, so such a histogram is reported, not silently ignored.
		Expr: fmt.Sprintf("histogram_quantile(0.95, %s) >= 0\n  and %s (%s > 0)",
			p.agg("sum", fmt.Sprintf("rate(%s[%s])", sel(hist, api), w), "le"), p.on(),
			p.agg("sum", fmt.Sprintf("rate(%s[%s])", sel(hist, api, `le="+Inf"`), w))),
		Unit: UnitSeconds, Group: GroupAPI, Title: "API p95 latency", Where: whereInst, Window: rw, sim: simQuantile,
		MustExist: true, Scraped: p.agg("sum", sel(hist, api, `le!="+Inf"`)),
		fixture: func(f *fx, vals []float64) map[string]string {
			f.histogram(hist, f.apiInstance(), vals)
			return map[string]string{}
		},
		Help: "95th percentile of request duration over the rate window; absent when there was no traffic or the histogram has no finite bucket."})
	if q := cfg.API.QueueDepthMetric; q != "" {
		add(Signal{ID: "api_queue_depth", Record: "service:api_queue_depth:sum", Expr: p.agg("sum", sel(q, api)), Unit: UnitCount, Group: GroupAPI,
			Title: "Queue depth", Where: whereInst, MustExist: true,
			fixture: func(f *fx, vals []float64) map[string]string {
				f.gauge(q, f.apiInstance(), vals, 1)
				return map[string]string{}
			},
			Help: "Work items queued across the API's instances."})
	}
}

func dbSignals(cfg *Config, p pq, add func(Signal)) {
	states := ""
	if cfg.Postgres.PoolStates != "" {
		states = fmt.Sprintf("state=~%q", cfg.Postgres.PoolStates)
	}
	poolL := []string{"target", "pool"}
	backends := p.agg("sum", p.headroom("headroom_postgres_pool_backends", "postgres", states), poolL...)
	size := p.agg("max", p.headroom("headroom_postgres_pool_size", "postgres"), poolL...)
	pgPoolFx := func(f *fx, vals []float64) map[string]string {
		l := f.headroomTarget("postgres", "pg-primary")
		f.gauge("headroom_postgres_pool_backends", with(l, "pool", "api", "state", f.poolState()), vals, 13)
		f.gauge("headroom_postgres_pool_size", with(l, "pool", "api"), constant(len(vals), 13), 1)
		return map[string]string{"target": l["target"], "pool": "api"}
	}
	add(Signal{ID: "postgres_pool", Record: "pool:headroom_postgres_pool_utilisation:ratio",
		Expr: fmt.Sprintf("(%s or %s * 0)\n  / %s (%s > 0)", backends, size, p.on(poolL...), size), Unit: UnitRatio, Group: GroupDBPool,
		Title: "DB pool utilisation", Where: "pool {{ $labels.pool }} on {{ $labels.target }}", Labels: poolL, fixture: pgPoolFx,
		Help: "Backends of an application's connection pool (headroom_postgres_pool_backends) over its configured size; 0 when it holds none."})
	add(Signal{ID: "postgres_pool_overall", Record: "service:headroom_postgres_pool_utilisation:ratio",
		Expr: fmt.Sprintf("%s\n  / %s (%s > 0)", p.agg("sum", p.headroom("headroom_postgres_pool_backends", "postgres", states)), p.on(),
			p.agg("sum", size)),
		Unit: UnitRatio, Group: GroupDBPool, Title: "DB pool utilisation (all pools)", Where: "{{ $labels.service }}",
		fixture: func(f *fx, vals []float64) map[string]string { pgPoolFx(f, vals); return map[string]string{} },
		Help:    "Backends of every configured pool over the sum of their sizes."})
	bL := []string{"target", "database", "user"}
	pgbFx := func(f *fx, vals []float64) map[string]string {
		l := f.headroomTarget("pgbouncer", "pgbouncer")
		f.gauge("headroom_pgbouncer_pool_server_connections", with(l, "database", "app", "user", "app", "state", "active"), vals, 20)
		f.gauge("headroom_pgbouncer_database_pool_size", with(l, "database", "app"), constant(len(vals), 20), 1)
		return map[string]string{"target": l["target"], "database": "app", "user": "app"}
	}
	add(Signal{ID: "pgbouncer_pool", Record: "pool:headroom_pgbouncer_pool_utilisation:ratio",
		Expr: fmt.Sprintf("%s\n  / %s group_left %s",
			p.agg("sum", p.headroom("headroom_pgbouncer_pool_server_connections", "pgbouncer", `state="active"`), bL...),
			p.on("target", "database"),
			p.agg("max", p.headroom("headroom_pgbouncer_database_pool_size", "pgbouncer")+" > 0", "target", "database")),
		Unit: UnitRatio, Group: GroupDBPool, Title: "PgBouncer pool utilisation", Where: "pool {{ $labels.database }}/{{ $labels.user }} on {{ $labels.target }}",
		Labels: bL, fixture: pgbFx,
		Help: "Server connections of a PgBouncer pool linked to a client over the database's pool_size."})
	add(Signal{ID: "db_pool", Record: "pool:headroom_db_pool_utilisation:ratio",
		Expr: p.service("pool:headroom_postgres_pool_utilisation:ratio") + "\n  or " + p.service("pool:headroom_pgbouncer_pool_utilisation:ratio"),
		Unit: UnitRatio, Group: GroupDBPool, Title: "DB pool utilisation",
		Where:  "pool {{ $labels.pool }}{{ $labels.database }}{{ with $labels.user }}/{{ . }}{{ end }} on {{ $labels.target }}",
		Labels: []string{"target", "pool", "database", "user"}, MustExist: true, fixture: pgPoolFx,
		Help: "Every DB pool's utilisation: application pools seen from PostgreSQL (label pool) and PgBouncer pools (labels database, user)."})
	connL := []string{"target"}
	add(Signal{ID: "postgres_connections", Record: "target:headroom_postgres_connections_utilisation:ratio",
		Expr: fmt.Sprintf("%s\n  / %s (%s > 0)", p.agg("sum", p.headroom("headroom_postgres_backends", "postgres"), connL...), p.on(connL...),
			p.agg("max", p.headroom("headroom_postgres_usable_connections", "postgres"), connL...)),
		Unit: UnitRatio, Group: GroupPostgres, Title: "PostgreSQL connection utilisation", Where: "{{ $labels.target }}", Labels: connL,
		fixture: func(f *fx, vals []float64) map[string]string {
			l := f.headroomTarget("postgres", "pg-primary")
			f.gauge("headroom_postgres_backends", with(l, "database", "app", "state", "active"), vals, 97)
			f.gauge("headroom_postgres_usable_connections", l, constant(len(vals), 97), 1)
			return map[string]string{"target": l["target"]}
		},
		Help: "Client backends over the connections ordinary clients can hold (max_connections less the reserved ones)."})
}

func redisSignals(cfg *Config, p pq, add func(Signal)) {
	w := dur(time.Duration(cfg.Redis.RateWindow))
	tl := []string{"target"}
	hits := p.agg("sum", fmt.Sprintf("rate(%s[%s])", p.headroom("headroom_redis_keyspace_hits_total", "redis"), w), tl...)
	misses := p.agg("sum", fmt.Sprintf("rate(%s[%s])", p.headroom("headroom_redis_keyspace_misses_total", "redis"), w), tl...)
	add(Signal{ID: "redis_hit_ratio", Record: "target:headroom_redis_keyspace_hits:ratio_rate" + w,
		Expr: fmt.Sprintf("%s\n  / %s ((%s + %s %s) > 0)", hits, p.on(tl...), hits, p.on(tl...), misses), Unit: UnitRatio, Group: GroupRedis,
		Title: "Redis keyspace hit rate", Where: "{{ $labels.target }}", Labels: tl, Window: time.Duration(cfg.Redis.RateWindow), sim: simRatio,
		fixture: func(f *fx, vals []float64) map[string]string {
			l := f.headroomTarget("redis", "redis")
			miss := make([]float64, len(vals))
			for i, v := range vals {
				miss[i] = 1 - v
			}
			f.counter("headroom_redis_keyspace_hits_total", l, vals, 100)
			f.counter("headroom_redis_keyspace_misses_total", l, miss, 100)
			return map[string]string{"target": l["target"]}
		},
		Help: "Keyspace hits over lookups; absent while there are no lookups, so 0/0 never reaches an alert."})
	add(Signal{ID: "redis_evictions", Record: "target:headroom_redis_evicted_keys:rate" + w,
		Expr: p.agg("sum", fmt.Sprintf("rate(%s[%s])", p.headroom("headroom_redis_evicted_keys_total", "redis"), w), tl...), Unit: UnitPerSecond,
		Group: GroupRedis, Title: "Redis evictions", Where: "{{ $labels.target }}", Labels: tl, Window: time.Duration(cfg.Redis.RateWindow), sim: simRate,
		fixture: func(f *fx, vals []float64) map[string]string {
			l := f.headroomTarget("redis", "redis")
			f.counter("headroom_redis_evicted_keys_total", l, vals, 1)
			return map[string]string{"target": l["target"]}
		},
		Help: "Keys evicted per second because of the memory limit."})
	add(Signal{ID: "redis_memory", Record: "target:headroom_redis_memory_utilisation:ratio",
		Expr: fmt.Sprintf("%s\n  / %s group_right %s", p.agg("max", p.headroom("headroom_redis_memory_used_bytes", "redis"), tl...), p.on(tl...),
			p.agg("max", p.headroom("headroom_redis_memory_limit_bytes", "redis")+" > 0", "target", "source")),
		Unit: UnitRatio, Group: GroupRedis, Title: "Redis memory utilisation", Where: "{{ $labels.target }} (limit from {{ $labels.source }})",
		Labels: []string{"target", "source"}, MustExist: true,
		fixture: func(f *fx, vals []float64) map[string]string {
			l := f.headroomTarget("redis", "redis")
			f.gauge("headroom_redis_memory_used_bytes", l, vals, 256<<20)
			f.gauge("headroom_redis_memory_limit_bytes", with(l, "source", "maxmemory"), constant(len(vals), 256<<20), 1)
			return map[string]string{"target": l["target"], "source": "maxmemory"}
		},
		Help: "used_memory over the memory limit the exporter names (maxmemory, the configured limit or system memory; label source)."})
}

// saturation is the HA "scale trigger": the highest utilisation of each
// resource, with the resource as a label.
func saturation(cfg *Config, p pq, add func(Signal), have []Signal) {
	type part struct{ resource, signal, agg string }
	parts := []part{{"cpu", "api_cpu", ""}, {"memory", "api_memory", ""}, {"network", "api_network", ""},
		{"db_pool", "db_pool", "max"}, {"redis_memory", "redis_memory", "max"}}
	var terms []string
	var first Signal
	for _, pt := range parts {
		s, ok := signalByID(have, pt.signal)
		if !ok {
			continue
		}
		if first.ID == "" {
			first = s
		}
		q := p.service(s.Record)
		if pt.agg != "" {
			q = p.agg(pt.agg, q, "service")
		}
		terms = append(terms, fmt.Sprintf(`label_replace(%s, "resource", %q, "", "")`, q, pt.resource))
	}
	// The CPU and memory rows keep their namespace (cAdvisor source): a
	// namespace's alert must not hold another's through the hysteresis
	// join. The DB pool and Redis rows have none; it matches as empty.
	where := "{{ $labels.resource }} of {{ $labels.service }}"
	if len(resourceServiceLabels(cfg)) > 0 {
		where += "{{ with $labels.namespace }} in namespace {{ . }}{{ end }}"
	}
	add(Signal{ID: "saturation", Record: "service_resource:saturation:ratio", Expr: strings.Join(terms, "\n  or "), Unit: UnitRatio,
		Group: GroupCapacity, Title: "Resource utilisation", Where: where, Labels: append([]string{"resource"}, resourceServiceLabels(cfg)...),
		Window: first.Window, sim: first.sim, computed: []string{"resource"},
		fixture: func(f *fx, vals []float64) map[string]string {
			return with(first.fixture(f, vals), "resource", "cpu")
		},
		Help: "The utilisation of each resource the HA guide names (CPU, memory, DB pool, Redis memory, network), the busiest instance, pool or server of each."})
}

// resourceServiceLabels are the labels the service-wide CPU, memory and
// network signals keep besides service and the cluster label: namespace
// from the per-pod cAdvisor source, none from the others.
func resourceServiceLabels(cfg *Config) []string {
	if cfg.Resources.Source == SourceCadvisor {
		return []string{"namespace"}
	}
	return nil
}

// rawSignals are the exporter's gauges that alerts use as they are.
func rawSignals(cfg *Config, p pq, add func(Signal)) {
	add(Signal{ID: "standby_lag", Expr: p.headroom("headroom_postgres_standby_lag_seconds", "postgres"), Unit: UnitSeconds, Group: GroupReplication,
		Title: "Replication lag", Where: "standby {{ $labels.target }}", Labels: []string{"target"},
		fixture: oneGauge("headroom_postgres_standby_lag_seconds", "postgres", "pg-replica"),
		Help:    "How far a standby's data is behind its primary; right on an idle primary, while replay is paused and when the stream is blocked."})
	add(Signal{ID: "wal_receiver", Expr: p.headroom("headroom_postgres_wal_receiver_streaming", "postgres"), Unit: UnitBool, Group: GroupReplication,
		Title: "WAL receiver streaming", Where: "standby {{ $labels.target }}", Labels: []string{"target"},
		fixture: oneGauge("headroom_postgres_wal_receiver_streaming", "postgres", "pg-replica"),
		Help:    "1 while a standby's WAL receiver streams from its upstream."})
	slotL := []string{"target", "slot", "slot_type"}
	add(Signal{ID: "slot_retained", Expr: p.headroom("headroom_postgres_replication_slot_retained_wal_bytes", "postgres"), Unit: UnitBytes,
		Group: GroupReplication, Title: "WAL retained by a replication slot", Where: "slot {{ $labels.slot }} on {{ $labels.target }}", Labels: slotL,
		fixture: func(f *fx, vals []float64) map[string]string {
			l := with(f.headroomTarget("postgres", "pg-primary"), "slot", "replica_1", "slot_type", "physical")
			f.gauge("headroom_postgres_replication_slot_retained_wal_bytes", l, vals, 1)
			f.gauge("headroom_postgres_replication_slot_active", l, constant(len(vals), 0), 1)
			return l
		},
		Help: "WAL a replication slot holds back from removal."})
	pl := []string{"target", "database", "user"}
	add(Signal{ID: "pgbouncer_waiting", Expr: p.headroom("headroom_pgbouncer_pool_client_connections", "pgbouncer", `state="waiting"`), Unit: UnitCount,
		Group: GroupPgBouncer, Title: "PgBouncer clients waiting", Where: "pool {{ $labels.database }}/{{ $labels.user }} on {{ $labels.target }}", Labels: pl,
		fixture: oneGauge("headroom_pgbouncer_pool_client_connections", "pgbouncer", "pgbouncer", "database", "app", "user", "app", "state", "waiting"),
		Help:    "Clients of a pool waiting for a server connection."})
	add(Signal{ID: "pgbouncer_max_wait", Expr: p.headroom("headroom_pgbouncer_pool_max_wait_seconds", "pgbouncer"), Unit: UnitSeconds,
		Group: GroupPgBouncer, Title: "PgBouncer max wait", Where: "pool {{ $labels.database }}/{{ $labels.user }} on {{ $labels.target }}", Labels: pl,
		fixture: oneGauge("headroom_pgbouncer_pool_max_wait_seconds", "pgbouncer", "pgbouncer", "database", "app", "user", "app"),
		Help:    "How long the oldest waiting client of a pool has waited."})
	for _, k := range []struct{ kind, name string }{{"postgres", "pg-primary"}, {"pgbouncer", "pgbouncer"}, {"redis", "redis"}} {
		add(Signal{ID: k.kind + "_up", Expr: p.headroom("headroom_target_up", k.kind, fmt.Sprintf("kind=%q", k.kind)), Unit: UnitBool, Group: groupOfKind(k.kind),
			Title: "headroom's " + k.kind + " target", Where: "{{ $labels.target }}", Labels: []string{"target", "kind"},
			fixture: oneGauge("headroom_target_up", k.kind, k.name, "kind", k.kind),
			Help:    "1 when the exporter got usable data from the target in its last scrape."})
	}
	add(Signal{ID: "api_probe", Expr: p.headroom("headroom_api_probe_success", "api"), Unit: UnitBool, Group: GroupAPI,
		Title: "API health probe", Where: "{{ $labels.target }}", Labels: []string{"target"},
		fixture: oneGauge("headroom_api_probe_success", "api", "api"),
		Help:    "1 when the API's health endpoint answered healthy; 0, not absent, when it could not be reached."})
}

// oneGauge is the fixture of a signal read straight off one headroom gauge
// of a target, with extra labels as key-value pairs.
func oneGauge(metric, kind, target string, labels ...string) func(f *fx, vals []float64) map[string]string {
	return func(f *fx, vals []float64) map[string]string {
		l := with(f.headroomTarget(kind, target), labels...)
		f.gauge(metric, l, vals, 1)
		return l
	}
}

func groupOfKind(kind string) Group {
	switch kind {
	case "postgres":
		return GroupPostgres
	case "pgbouncer":
		return GroupPgBouncer
	case "redis":
		return GroupRedis
	}
	return GroupAPI
}

// podSelector is the cadvisor selector without its container matchers, for
// the per-pod network series.
func (p pq) podSelector() string {
	ms, err := promqlParser.ParseMetricSelector("{" + p.cfg.Selectors.Cadvisor + "}")
	if err != nil {
		return ""
	}
	var keep []string
	for _, m := range ms {
		if m.Name == "container" {
			continue
		}
		keep = append(keep, m.String())
	}
	return strings.Join(keep, ", ")
}
