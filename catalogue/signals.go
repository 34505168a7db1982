package catalogue

import (
	"fmt"
	"strings"
	"time"

	"github.com/headroom-dev/headroom/internal/kind"
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

// Slug is the group in file and rule-group names: the alerting group
// headroom.<service>.<slug>.alerts and its promtool file <slug>-test.yaml.
func (g Group) Slug() string {
	return strings.ReplaceAll(strings.ToLower(string(g)), " ", "-")
}

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

// Shape says how a signal's value follows its inputs' per-step values over
// its window: what Prometheus computes at each step, which validation and
// the promtool tests both reason about.
type Shape int

const (
	ShapeGauge    Shape = iota // the value itself
	ShapeRate                  // rate(): the mean over the window, zeros before the counter started
	ShapeRatio                 // a ratio of rates: the mean over the samples in the window
	ShapeIdle                  // 1 - rate(idle): node_exporter CPU
	ShapeQuantile              // histogram_quantile: known only while the window holds one value
)

// Signal is one utilisation or health measure. Most are recording rules
// (Record, computed once from Expr); a few raw gauges of the exporter are
// used as they are (Record is empty and Expr is the selector).
type Signal struct {
	// ID is a short stable name (api_cpu, db_pool, redis_hit_ratio ...).
	ID SignalID
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
	// Shape is how the value follows its inputs over Window.
	Shape Shape
	// MustExist marks signals that are always present when their inputs
	// are scraped; SignalAbsent alerts when they are not.
	MustExist bool
	// Scraped, for a signal that is absent by design at times (a p95 with
	// no traffic), is an expression present whenever its inputs are
	// scraped: SignalAbsent watches it instead of the signal.
	Scraped string

	// Computed are labels the signal's expression sets itself rather than
	// keeping its inputs': a test cannot relabel its input series into
	// another value of them.
	Computed []string
}

// Signals returns every signal of the config, recording rules in the order
// they must be evaluated (a rule comes after the rules it reads).
func Signals(cfg *Config) []Signal {
	p := PromQL{cfg}
	var out []Signal
	add := func(s Signal) {
		if s.Record != "" {
			s.Query = p.Service(s.Record)
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

// SignalByID finds a signal; the catalogue only names signals that exist.
func SignalByID(signals []Signal, id SignalID) (Signal, bool) {
	for _, s := range signals {
		if s.ID == id {
			return s, true
		}
	}
	return Signal{}, false
}

func apiSignals(cfg *Config, p PromQL, add func(Signal)) {
	api := cfg.Selectors.API
	rw := time.Duration(cfg.API.RateWindow)
	resW := time.Duration(cfg.Resources.RateWindow)
	inst := cfg.API.InstanceLabels

	// CPU and memory per instance, from the selected source.
	var cpuExpr, memExpr, netExpr string
	resLabels := ResourceInstanceLabels(cfg)
	cpuShape := ShapeRate
	switch cfg.Resources.Source {
	case SourceProcess:
		cpuExpr = fmt.Sprintf("%s / %s",
			p.Agg("sum", fmt.Sprintf("rate(%s[%s])", Sel("process_cpu_seconds_total", api), Dur(resW)), inst...), Num(cfg.Resources.CPUCores))
		memExpr = fmt.Sprintf("%s / %s",
			p.Agg("sum", Sel("process_resident_memory_bytes", api), inst...), Num(cfg.Resources.MemoryBytes))
	case SourceCadvisor:
		cad, ksm := cfg.Selectors.Cadvisor, cfg.Selectors.KubeStateMetrics
		limit := func(resource string) string {
			return p.Agg("sum", Sel("kube_pod_container_resource_limits", ksm, fmt.Sprintf("resource=%q", resource)), resLabels...)
		}
		cpuExpr = fmt.Sprintf("%s\n  / %s (%s > 0)",
			p.Agg("sum", fmt.Sprintf("rate(%s[%s])", Sel("container_cpu_usage_seconds_total", cad), Dur(resW)), resLabels...),
			p.On(resLabels...), limit("cpu"))
		memExpr = fmt.Sprintf("%s\n  / %s (%s > 0)",
			p.Agg("sum", Sel("container_memory_working_set_bytes", cad), resLabels...),
			p.On(resLabels...), limit("memory"))
		if cfg.Resources.NetworkBytesPerSecond > 0 {
			// cAdvisor reports network per pod (on the pause container), so
			// the container matchers are not applied here.
			podSel := p.PodSelector()
			rx := p.Agg("sum", fmt.Sprintf("rate(%s[%s])", Sel("container_network_receive_bytes_total", podSel), Dur(resW)), resLabels...)
			tx := p.Agg("sum", fmt.Sprintf("rate(%s[%s])", Sel("container_network_transmit_bytes_total", podSel), Dur(resW)), resLabels...)
			netExpr = fmt.Sprintf("(%s > %s %s or %s) / %s", rx, p.On(resLabels...), tx, tx, Num(cfg.Resources.NetworkBytesPerSecond))
		}
	case SourceNode:
		cpuShape = ShapeIdle
		node := cfg.Selectors.Node
		cpuExpr = "1 - " + p.Agg("avg", fmt.Sprintf("rate(%s[%s])", Sel("node_cpu_seconds_total", node, `mode="idle"`), Dur(resW)), resLabels...)
		memExpr = fmt.Sprintf("1 - %s\n  / %s (%s > 0)", p.Agg("sum", Sel("node_memory_MemAvailable_bytes", node), resLabels...),
			p.On(resLabels...), p.Agg("sum", Sel("node_memory_MemTotal_bytes", node), resLabels...))
		if cfg.Resources.NetworkBytesPerSecond > 0 {
			dev := `device!~"lo|veth.*|docker.*|br-.*|cali.*|flannel.*|cni.*"`
			rx := p.Agg("sum", fmt.Sprintf("rate(%s[%s])", Sel("node_network_receive_bytes_total", node, dev), Dur(resW)), resLabels...)
			tx := p.Agg("sum", fmt.Sprintf("rate(%s[%s])", Sel("node_network_transmit_bytes_total", node, dev), Dur(resW)), resLabels...)
			netExpr = fmt.Sprintf("(%s > %s %s or %s) / %s", rx, p.On(resLabels...), tx, tx, Num(cfg.Resources.NetworkBytesPerSecond))
		}
	}
	whereInst := "{{ $labels.service }}"
	// cAdvisor and kube-state-metrics are per pod, so every series has a
	// namespace: the service-wide signals keep it, one series per
	// namespace, so that a `where` scope can give a namespace its own
	// threshold (and a namespace's alert holds only its own). The process
	// and node sources have no namespace to keep.
	svcL := ResourceServiceLabels(cfg)
	whereSvc := whereInst
	if len(svcL) > 0 {
		whereSvc = whereInst + " in namespace {{ $labels.namespace }}"
	}
	add(Signal{ID: SignalAPICPUInstance, Record: "instance:api_cpu_utilisation:ratio", Expr: cpuExpr, Unit: UnitRatio, Group: GroupAPI,
		Title: "API CPU utilisation", Where: "an instance of " + whereInst, Labels: resLabels, Window: resW, Shape: cpuShape,
		Help: "CPU used by one API instance over the CPU it may use (" + cfg.Resources.Source + " source)."})
	add(Signal{ID: SignalAPICPU, Record: "service:api_cpu_utilisation:ratio",
		Expr: p.Agg("avg", p.Service("instance:api_cpu_utilisation:ratio"), append([]string{"service"}, svcL...)...),
		Unit: UnitRatio, Group: GroupAPI, Title: "API CPU utilisation", Where: whereSvc, Labels: svcL, Window: resW, Shape: cpuShape, MustExist: true,
		Help: "Average CPU utilisation over the API's instances: what horizontal scaling changes."})
	add(Signal{ID: SignalAPIMemoryInstance, Record: "instance:api_memory_utilisation:ratio", Expr: memExpr, Unit: UnitRatio, Group: GroupAPI,
		Title: "API memory utilisation", Where: "an instance of " + whereInst, Labels: resLabels,
		Help: "Memory used by one API instance over the memory it may use (" + cfg.Resources.Source + " source)."})
	add(Signal{ID: SignalAPIMemory, Record: "service:api_memory_utilisation:ratio",
		Expr: p.Agg("max", p.Service("instance:api_memory_utilisation:ratio"), append([]string{"service"}, svcL...)...),
		Unit: UnitRatio, Group: GroupAPI, Title: "API memory utilisation", Where: "the busiest instance of " + whereSvc, Labels: svcL, MustExist: true,
		Help: "Memory utilisation of the API's fullest instance: the one that is OOM-killed first, and what vertical scaling changes."})
	if netExpr != "" {
		add(Signal{ID: SignalAPINetworkInstance, Record: "instance:api_network_utilisation:ratio", Expr: netExpr, Unit: UnitRatio, Group: GroupAPI,
			Title: "API network utilisation", Where: "an instance of " + whereInst, Labels: resLabels, Window: resW, Shape: ShapeRate,
			Help: "The busier direction of an instance's network traffic over its capacity (resources.network_bytes_per_second)."})
		add(Signal{ID: SignalAPINetwork, Record: "service:api_network_utilisation:ratio",
			Expr: p.Agg("max", p.Service("instance:api_network_utilisation:ratio"), append([]string{"service"}, svcL...)...),
			Unit: UnitRatio, Group: GroupAPI, Title: "API network utilisation", Where: "the busiest instance of " + whereSvc, Labels: svcL, Window: resW, Shape: ShapeRate,
			Help: "Network utilisation of the API's busiest instance."})
	}

	// Requests, errors, latency.
	req := cfg.API.RequestsMetric
	reqRate := fmt.Sprintf("rate(%s[%s])", Sel(req, api), Dur(rw))
	w := Dur(rw)
	add(Signal{ID: SignalAPIRequestsInstance, Record: "instance:api_requests:rate" + w, Expr: p.Agg("sum", reqRate, inst...), Unit: UnitPerSecond,
		Group: GroupAPI, Title: "API requests per second", Where: "an instance of " + whereInst, Labels: inst, Window: rw, Shape: ShapeRate,
		Help: "Requests per second one API instance serves."})
	add(Signal{ID: SignalAPIRequests, Record: "service:api_requests:rate" + w, Expr: p.Agg("sum", reqRate), Unit: UnitPerSecond, Group: GroupAPI,
		Title: "API requests per second", Where: whereInst, Window: rw, Shape: ShapeRate, MustExist: true,
		Help: "Requests per second the whole API serves."})
	add(Signal{ID: SignalAPIRequestsPerInstance, Record: "service:api_requests_per_instance:rate" + w,
		Expr: p.Agg("avg", p.Service("instance:api_requests:rate"+w), "service"), Unit: UnitPerSecond, Group: GroupAPI,
		Title: "API requests per second per instance", Where: whereInst, Window: rw, Shape: ShapeRate,
		Help: "Average requests per second per API instance: what KEDA's per-pod RPS target compares against."})
	errRate := fmt.Sprintf("rate(%s[%s])", Sel(req, api, cfg.API.ErrorMatcher), Dur(rw))
	add(Signal{ID: SignalAPIErrorRatio, Record: "service:api_errors:ratio_rate" + w,
		Expr: fmt.Sprintf("(%s or %s * 0)\n  / (%s > 0)", p.Agg("sum", errRate), p.Agg("sum", reqRate), p.Agg("sum", reqRate)),
		Unit: UnitRatio, Group: GroupAPI, Title: "API error ratio", Where: whereInst, Window: rw, Shape: ShapeRatio,
		Help: "Failed requests (api.error_matcher) over all requests; 0 when nothing failed, absent when there was no traffic, never NaN."})
	hist := cfg.API.DurationHistogram + "_bucket"
	add(Signal{ID: SignalAPILatencyP95, Record: "service:api_request_duration_seconds:p95_rate" + w,
		// ">= 0" drops the NaN histogram_quantile returns for a histogram
		// with no finite bucket; SignalAbsent then watches for finite
		// buckets, so such a histogram is reported, not silently ignored.
		Expr: fmt.Sprintf("histogram_quantile(0.95, %s) >= 0\n  and %s (%s > 0)",
			p.Agg("sum", fmt.Sprintf("rate(%s[%s])", Sel(hist, api), w), "le"), p.On(),
			p.Agg("sum", fmt.Sprintf("rate(%s[%s])", Sel(hist, api, `le="+Inf"`), w))),
		Unit: UnitSeconds, Group: GroupAPI, Title: "API p95 latency", Where: whereInst, Window: rw, Shape: ShapeQuantile,
		MustExist: true, Scraped: p.Agg("sum", Sel(hist, api, `le!="+Inf"`)),
		Help: "95th percentile of request duration over the rate window; absent when there was no traffic or the histogram has no finite bucket."})
	if q := cfg.API.QueueDepthMetric; q != "" {
		add(Signal{ID: SignalAPIQueueDepth, Record: "service:api_queue_depth:sum", Expr: p.Agg("sum", Sel(q, api)), Unit: UnitCount, Group: GroupAPI,
			Title: "Queue depth", Where: whereInst, MustExist: true,
			Help: "Work items queued across the API's instances."})
	}
}

func dbSignals(cfg *Config, p PromQL, add func(Signal)) {
	states := ""
	if cfg.Postgres.PoolStates != "" {
		states = fmt.Sprintf("state=~%q", cfg.Postgres.PoolStates)
	}
	poolL := []string{"target", "pool"}
	backends := p.Agg("sum", p.Headroom("headroom_postgres_pool_backends", kind.Postgres, states), poolL...)
	size := p.Agg("max", p.Headroom("headroom_postgres_pool_size", kind.Postgres), poolL...)
	add(Signal{ID: SignalPostgresPool, Record: "pool:headroom_postgres_pool_utilisation:ratio",
		Expr: fmt.Sprintf("(%s or %s * 0)\n  / %s (%s > 0)", backends, size, p.On(poolL...), size), Unit: UnitRatio, Group: GroupDBPool,
		Title: "DB pool utilisation", Where: "pool {{ $labels.pool }} on {{ $labels.target }}", Labels: poolL,
		Help: "Backends of an application's connection pool (headroom_postgres_pool_backends) over its configured size; 0 when it holds none."})
	add(Signal{ID: SignalPostgresPoolOverall, Record: "service:headroom_postgres_pool_utilisation:ratio",
		Expr: fmt.Sprintf("%s\n  / %s (%s > 0)", p.Agg("sum", p.Headroom("headroom_postgres_pool_backends", kind.Postgres, states)), p.On(),
			p.Agg("sum", size)),
		Unit: UnitRatio, Group: GroupDBPool, Title: "DB pool utilisation (all pools)", Where: "{{ $labels.service }}",
		Help: "Backends of every configured pool over the sum of their sizes."})
	bL := []string{"target", "database", "user"}
	add(Signal{ID: SignalPgbouncerPool, Record: "pool:headroom_pgbouncer_pool_utilisation:ratio",
		Expr: fmt.Sprintf("%s\n  / %s group_left %s",
			p.Agg("sum", p.Headroom("headroom_pgbouncer_pool_server_connections", kind.PgBouncer, `state="active"`), bL...),
			p.On("target", "database"),
			p.Agg("max", p.Headroom("headroom_pgbouncer_database_pool_size", kind.PgBouncer)+" > 0", "target", "database")),
		Unit: UnitRatio, Group: GroupDBPool, Title: "PgBouncer pool utilisation", Where: "pool {{ $labels.database }}/{{ $labels.user }} on {{ $labels.target }}",
		Labels: bL,
		Help:   "Server connections of a PgBouncer pool linked to a client over the database's pool_size."})
	add(Signal{ID: SignalDBPool, Record: "pool:headroom_db_pool_utilisation:ratio",
		Expr: p.Service("pool:headroom_postgres_pool_utilisation:ratio") + "\n  or " + p.Service("pool:headroom_pgbouncer_pool_utilisation:ratio"),
		Unit: UnitRatio, Group: GroupDBPool, Title: "DB pool utilisation",
		Where:  "pool {{ $labels.pool }}{{ $labels.database }}{{ with $labels.user }}/{{ . }}{{ end }} on {{ $labels.target }}",
		Labels: []string{"target", "pool", "database", "user"}, MustExist: true,
		Help: "Every DB pool's utilisation: application pools seen from PostgreSQL (label pool) and PgBouncer pools (labels database, user)."})
	connL := []string{"target"}
	add(Signal{ID: SignalPostgresConnections, Record: "target:headroom_postgres_connections_utilisation:ratio",
		Expr: fmt.Sprintf("%s\n  / %s (%s > 0)", p.Agg("sum", p.Headroom("headroom_postgres_backends", kind.Postgres), connL...), p.On(connL...),
			p.Agg("max", p.Headroom("headroom_postgres_usable_connections", kind.Postgres), connL...)),
		Unit: UnitRatio, Group: GroupPostgres, Title: "PostgreSQL connection utilisation", Where: "{{ $labels.target }}", Labels: connL,
		Help: "Client backends over the connections ordinary clients can hold (max_connections less the reserved ones)."})
}

func redisSignals(cfg *Config, p PromQL, add func(Signal)) {
	w := Dur(time.Duration(cfg.Redis.RateWindow))
	tl := []string{"target"}
	hits := p.Agg("sum", fmt.Sprintf("rate(%s[%s])", p.Headroom("headroom_redis_keyspace_hits_total", kind.Redis), w), tl...)
	misses := p.Agg("sum", fmt.Sprintf("rate(%s[%s])", p.Headroom("headroom_redis_keyspace_misses_total", kind.Redis), w), tl...)
	add(Signal{ID: SignalRedisHitRatio, Record: "target:headroom_redis_keyspace_hits:ratio_rate" + w,
		Expr: fmt.Sprintf("%s\n  / %s ((%s + %s %s) > 0)", hits, p.On(tl...), hits, p.On(tl...), misses), Unit: UnitRatio, Group: GroupRedis,
		Title: "Redis keyspace hit rate", Where: "{{ $labels.target }}", Labels: tl, Window: time.Duration(cfg.Redis.RateWindow), Shape: ShapeRatio,
		Help: "Keyspace hits over lookups; absent while there are no lookups, so 0/0 never reaches an alert."})
	add(Signal{ID: SignalRedisEvictions, Record: "target:headroom_redis_evicted_keys:rate" + w,
		Expr: p.Agg("sum", fmt.Sprintf("rate(%s[%s])", p.Headroom("headroom_redis_evicted_keys_total", kind.Redis), w), tl...), Unit: UnitPerSecond,
		Group: GroupRedis, Title: "Redis evictions", Where: "{{ $labels.target }}", Labels: tl, Window: time.Duration(cfg.Redis.RateWindow), Shape: ShapeRate,
		Help: "Keys evicted per second because of the memory limit."})
	add(Signal{ID: SignalRedisMemory, Record: "target:headroom_redis_memory_utilisation:ratio",
		Expr: fmt.Sprintf("%s\n  / %s group_right %s", p.Agg("max", p.Headroom("headroom_redis_memory_used_bytes", kind.Redis), tl...), p.On(tl...),
			p.Agg("max", p.Headroom("headroom_redis_memory_limit_bytes", kind.Redis)+" > 0", "target", "source")),
		Unit: UnitRatio, Group: GroupRedis, Title: "Redis memory utilisation", Where: "{{ $labels.target }} (limit from {{ $labels.source }})",
		Labels: []string{"target", "source"}, MustExist: true,
		Help: "used_memory over the memory limit the exporter names (maxmemory, the configured limit or system memory; label source)."})
}

// saturation is the HA "scale trigger": the highest utilisation of each
// resource, with the resource as a label.
func saturation(cfg *Config, p PromQL, add func(Signal), have []Signal) {
	type part struct {
		resource string
		signal   SignalID
		agg      string
	}
	parts := []part{{"cpu", SignalAPICPU, ""}, {"memory", SignalAPIMemory, ""}, {"network", SignalAPINetwork, ""},
		{"db_pool", SignalDBPool, "max"}, {"redis_memory", SignalRedisMemory, "max"}}
	var terms []string
	var first Signal
	for _, pt := range parts {
		s, ok := SignalByID(have, pt.signal)
		if !ok {
			continue
		}
		if first.ID == "" {
			first = s
		}
		q := p.Service(s.Record)
		if pt.agg != "" {
			q = p.Agg(pt.agg, q, "service")
		}
		terms = append(terms, fmt.Sprintf(`label_replace(%s, "resource", %q, "", "")`, q, pt.resource))
	}
	// The CPU and memory rows keep their namespace (cAdvisor source): a
	// namespace's alert must not hold another's through the hysteresis
	// join. The DB pool and Redis rows have none; it matches as empty.
	where := "{{ $labels.resource }} of {{ $labels.service }}"
	if len(ResourceServiceLabels(cfg)) > 0 {
		where += "{{ with $labels.namespace }} in namespace {{ . }}{{ end }}"
	}
	add(Signal{ID: SignalSaturation, Record: "service_resource:saturation:ratio", Expr: strings.Join(terms, "\n  or "), Unit: UnitRatio,
		Group: GroupCapacity, Title: "Resource utilisation", Where: where, Labels: append([]string{"resource"}, ResourceServiceLabels(cfg)...),
		Window: first.Window, Shape: first.Shape, Computed: []string{"resource"},
		Help: "The utilisation of each resource the HA guide names (CPU, memory, DB pool, Redis memory, network), the busiest instance, pool or server of each."})
}

// ResourceInstanceLabels are the labels of one API instance's CPU, memory
// and network series besides the cluster label: the API's instance labels
// for the process source, the pod for cAdvisor, the node for node_exporter.
func ResourceInstanceLabels(cfg *Config) []string {
	switch cfg.Resources.Source {
	case SourceCadvisor:
		return []string{"namespace", "pod"}
	case SourceNode:
		return []string{"instance"}
	}
	return cfg.API.InstanceLabels
}

// ResourceServiceLabels are the labels the service-wide CPU, memory and
// network signals keep besides service and the cluster label: namespace
// from the per-pod cAdvisor source, none from the others.
func ResourceServiceLabels(cfg *Config) []string {
	if cfg.Resources.Source == SourceCadvisor {
		return []string{"namespace"}
	}
	return nil
}

// rawSignals are the exporter's gauges that alerts use as they are.
func rawSignals(cfg *Config, p PromQL, add func(Signal)) {
	add(Signal{ID: SignalStandbyLag, Expr: p.Headroom("headroom_postgres_standby_lag_seconds", kind.Postgres), Unit: UnitSeconds, Group: GroupReplication,
		Title: "Replication lag", Where: "standby {{ $labels.target }}", Labels: []string{"target"},
		Help: "How far a standby's data is behind its primary; right on an idle primary, while replay is paused and when the stream is blocked."})
	add(Signal{ID: SignalWALReceiver, Expr: p.Headroom("headroom_postgres_wal_receiver_streaming", kind.Postgres), Unit: UnitBool, Group: GroupReplication,
		Title: "WAL receiver streaming", Where: "standby {{ $labels.target }}", Labels: []string{"target"},
		Help: "1 while a standby's WAL receiver streams from its upstream."})
	slotL := []string{"target", "slot", "slot_type"}
	add(Signal{ID: SignalSlotRetained, Expr: p.Headroom("headroom_postgres_replication_slot_retained_wal_bytes", kind.Postgres), Unit: UnitBytes,
		Group: GroupReplication, Title: "WAL retained by a replication slot", Where: "slot {{ $labels.slot }} on {{ $labels.target }}", Labels: slotL,
		Help: "WAL a replication slot holds back from removal."})
	pl := []string{"target", "database", "user"}
	add(Signal{ID: SignalPgbouncerWaiting, Expr: p.Headroom("headroom_pgbouncer_pool_client_connections", kind.PgBouncer, `state="waiting"`), Unit: UnitCount,
		Group: GroupPgBouncer, Title: "PgBouncer clients waiting", Where: "pool {{ $labels.database }}/{{ $labels.user }} on {{ $labels.target }}", Labels: pl,
		Help: "Clients of a pool waiting for a server connection."})
	add(Signal{ID: SignalPgbouncerMaxWait, Expr: p.Headroom("headroom_pgbouncer_pool_max_wait_seconds", kind.PgBouncer), Unit: UnitSeconds,
		Group: GroupPgBouncer, Title: "PgBouncer max wait", Where: "pool {{ $labels.database }}/{{ $labels.user }} on {{ $labels.target }}", Labels: pl,
		Help: "How long the oldest waiting client of a pool has waited."})
	for _, k := range []kind.Kind{kind.Postgres, kind.PgBouncer, kind.Redis} {
		add(Signal{ID: SignalID(string(k) + "_up"), Expr: p.Headroom("headroom_target_up", k, fmt.Sprintf("kind=%q", k)), Unit: UnitBool, Group: groupOfKind(k),
			Title: "headroom's " + string(k) + " target", Where: "{{ $labels.target }}", Labels: []string{"target", "kind"},
			Help: "1 when the exporter got usable data from the target in its last scrape."})
	}
	add(Signal{ID: SignalAPIProbe, Expr: p.Headroom("headroom_api_probe_success", kind.API), Unit: UnitBool, Group: GroupAPI,
		Title: "API health probe", Where: "{{ $labels.target }}", Labels: []string{"target"},
		Help: "1 when the API's health endpoint answered healthy; 0, not absent, when it could not be reached."})
}

func groupOfKind(k kind.Kind) Group {
	switch k {
	case kind.Postgres:
		return GroupPostgres
	case kind.PgBouncer:
		return GroupPgBouncer
	case kind.Redis:
		return GroupRedis
	}
	return GroupAPI
}

// PodSelector is the cadvisor selector without its container matchers, for
// the per-pod network series.
func (p PromQL) PodSelector() string {
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
