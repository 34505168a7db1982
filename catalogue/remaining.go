package catalogue

import (
	"fmt"
	"slices"
	"time"

	"github.com/headroom-dev/headroom/internal/kind"
)

// ResourceID names a finite resource whose headroom the bundle records.
type ResourceID string

// The resources of the catalogue with a known limit. The API's CPU,
// memory, network and request rate come per instance and per service; the
// others are per target, pool, database or role.
const (
	ResourceAPICPUInstance              ResourceID = "api_cpu_instance"
	ResourceAPICPU                      ResourceID = "api_cpu"
	ResourceAPIMemoryInstance           ResourceID = "api_memory_instance"
	ResourceAPIMemory                   ResourceID = "api_memory"
	ResourceAPINetworkInstance          ResourceID = "api_network_instance"
	ResourceAPINetwork                  ResourceID = "api_network"
	ResourceAPIRequestsInstance         ResourceID = "api_requests_instance"
	ResourceAPIRequests                 ResourceID = "api_requests"
	ResourcePostgresPool                ResourceID = "postgres_pool"
	ResourcePostgresConnections         ResourceID = "postgres_connections"
	ResourcePostgresDatabaseConnections ResourceID = "postgres_database_connections"
	ResourcePostgresRoleConnections     ResourceID = "postgres_role_connections"
	ResourcePgBouncerClients            ResourceID = "pgbouncer_clients"
	ResourcePgBouncerPool               ResourceID = "pgbouncer_pool"
	ResourceRedisMemory                 ResourceID = "redis_memory"
	ResourceRedisClients                ResourceID = "redis_clients"
)

// ResourceIDs are every resource a config may record the headroom of, in
// the order the rules are written.
var ResourceIDs = []ResourceID{ResourceAPICPUInstance, ResourceAPICPU, ResourceAPIMemoryInstance, ResourceAPIMemory,
	ResourceAPINetworkInstance, ResourceAPINetwork, ResourceAPIRequestsInstance, ResourceAPIRequests, ResourcePostgresPool,
	ResourcePostgresConnections, ResourcePostgresDatabaseConnections, ResourcePostgresRoleConnections, ResourcePgBouncerClients,
	ResourcePgBouncerPool, ResourceRedisMemory, ResourceRedisClients}

// Record is the recording rule of what is left of the resource, in its own
// unit: headroom:<resource>:remaining.
func (id ResourceID) Record() string { return "headroom:" + string(id) + ":remaining" }

// RatioRecord is the recording rule of what is left as a share of the
// limit: headroom:<resource>:remaining_ratio.
func (id ResourceID) RatioRecord() string { return "headroom:" + string(id) + ":remaining_ratio" }

// Remaining is the headroom of one finite resource: its limit less its
// usage, recorded in the resource's unit and as a ratio of the limit. A
// resource is only recorded where its limit is known: a limit that is
// absent, unlimited (-1, or 0 where 0 means unlimited) or not configured
// gives no series, never +Inf and never a guessed limit.
type Remaining struct {
	ID ResourceID
	// Title names the resource ("API CPU per instance").
	Title string
	// Unit of Expr's values; ratios are RatioExpr's.
	Unit Unit
	// Counts says what Expr counts ("CPU cores", "connections").
	Counts string
	// Group is the resource's row on a dashboard.
	Group Group
	// Labels identify one series besides service and the cluster label.
	Labels []string
	// Usage says what counts against the limit.
	Usage string
	// Limit says where the limit comes from: a config field or a metric.
	Limit string
	// Expr records ID.Record(): the limit less the usage; negative when the
	// usage is over the limit.
	Expr string
	// RatioExpr records ID.RatioRecord(): ID.Record() over the limit.
	RatioExpr string
	// Of is the per-instance resource a service-wide one aggregates, with
	// Agg over its remaining and RatioAgg over its ratios; empty for the
	// others.
	Of            ResourceID
	Agg, RatioAgg string
	// Window is the rate() range of the usage, 0 for a gauge.
	Window time.Duration
}

// Remaining returns the resources of the bundle whose limit is known, in
// the order their rules are evaluated (a service-wide resource after the
// per-instance one it reads).
func (b *Bundle) Remaining() []Remaining {
	cfg := b.Config
	p := cfg.PromQL()
	var out []Remaining
	add := func(r Remaining) { out = append(out, r) }
	apiRemaining(cfg, p, add)
	if c, ok := b.CapacityPerPod(); ok {
		requestsRemaining(cfg, p, c, add)
	}
	dbRemaining(cfg, p, add)
	redisRemaining(p, add)
	return out
}

// RemainingOf returns one resource of the bundle; ok is false when the
// config records no headroom of it (no limit is known). An id the
// catalogue never defines panics, as Trigger does.
func (b *Bundle) RemainingOf(id ResourceID) (Remaining, bool) {
	if !slices.Contains(ResourceIDs, id) {
		panic(fmt.Sprintf("catalogue: no resource %q; known resources: %s", id, joinIDs(ResourceIDs)))
	}
	for _, r := range b.Remaining() {
		if r.ID == id {
			return r, true
		}
	}
	return Remaining{}, false
}

// CapacityPerPod is the request rate one API instance can serve:
// api.capacity_per_pod, else the threshold of RequestRateHigh (the rate
// per pod at which the guide scales out), else unknown.
func (b *Bundle) CapacityPerPod() (float64, bool) {
	if c := b.Config.API.CapacityPerPod; c > 0 {
		return c, true
	}
	if t, ok := b.Trigger(TriggerRequestRateHigh); ok {
		return t.Threshold, true
	}
	return 0, false
}

// minus is limit - usage matched on the labels; limit is a filtered
// expression, so it is parenthesised.
func (p PromQL) minus(limit, usage string, on ...string) string {
	return fmt.Sprintf("(%s)\n  - %s %s", limit, p.On(on...), usage)
}

// share is 1 - usage over the limit, matched on the labels: the remaining
// ratio, with the usage rather than the remaining record as numerator so
// that a limit at 0 leaves the division absent, never +Inf.
func (p PromQL) share(usage, limit string, on ...string) string {
	return fmt.Sprintf("1 - %s\n  / %s (%s)", usage, p.On(on...), limit)
}

func apiRemaining(cfg *Config, p PromQL, add func(Remaining)) {
	api, node := cfg.Selectors.API, cfg.Selectors.Node
	inst := ResourceInstanceLabels(cfg)
	resW := time.Duration(cfg.Resources.RateWindow)
	rate := func(metric, sel string, extra ...string) string {
		return p.Agg("sum", fmt.Sprintf("rate(%s[%s])", Sel(metric, append([]string{sel}, extra...)...), Dur(resW)), inst...)
	}
	ksmLimit := func(resource string) string {
		return p.Agg("sum", Sel("kube_pod_container_resource_limits", cfg.Selectors.KubeStateMetrics, fmt.Sprintf("resource=%q", resource)), inst...) + " > 0"
	}
	cpu := Remaining{ID: ResourceAPICPUInstance, Title: "API CPU per instance", Unit: UnitCount, Counts: "CPU cores", Group: GroupAPI,
		Labels: inst, Window: resW}
	mem := Remaining{ID: ResourceAPIMemoryInstance, Title: "API memory per instance", Unit: UnitBytes, Counts: "bytes", Group: GroupAPI, Labels: inst}
	constant := func(r *Remaining, limit float64, usage string) {
		r.Expr = Num(limit) + " - " + usage
		r.RatioExpr = p.Service(r.ID.Record()) + " / " + Num(limit)
	}
	switch cfg.Resources.Source {
	case SourceProcess:
		cpu.Usage, cpu.Limit = "rate(process_cpu_seconds_total)", "resources.cpu_cores"
		constant(&cpu, cfg.Resources.CPUCores, rate("process_cpu_seconds_total", api))
		mem.Usage, mem.Limit = "process_resident_memory_bytes", "resources.memory_bytes"
		constant(&mem, cfg.Resources.MemoryBytes, p.Agg("sum", Sel("process_resident_memory_bytes", api), inst...))
	case SourceCadvisor:
		cad := cfg.Selectors.Cadvisor
		cpu.Usage, cpu.Limit = "rate(container_cpu_usage_seconds_total) (cAdvisor)", `kube_pod_container_resource_limits{resource="cpu"} (kube-state-metrics), summed over the pod's containers`
		cpu.Expr = p.minus(ksmLimit("cpu"), rate("container_cpu_usage_seconds_total", cad), inst...)
		cpu.RatioExpr = p.share(rate("container_cpu_usage_seconds_total", cad), ksmLimit("cpu"), inst...)
		mem.Usage, mem.Limit = "container_memory_working_set_bytes (cAdvisor)", `kube_pod_container_resource_limits{resource="memory"} (kube-state-metrics), summed over the pod's containers`
		working := p.Agg("sum", Sel("container_memory_working_set_bytes", cad), inst...)
		mem.Expr = p.minus(ksmLimit("memory"), working, inst...)
		mem.RatioExpr = p.share(working, ksmLimit("memory"), inst...)
	case SourceNode:
		// What is left is what is idle: the idle CPU seconds per second are
		// the cores no one uses, MemAvailable the memory.
		cpu.Usage, cpu.Limit = "the non-idle share of rate(node_cpu_seconds_total)", `the node's CPUs: count(node_cpu_seconds_total{mode="idle"}) (node_exporter)`
		cpu.Expr = rate("node_cpu_seconds_total", node, `mode="idle"`)
		// The idle share of each CPU, averaged: idle cores over cores.
		cpu.RatioExpr = p.Agg("avg", fmt.Sprintf("rate(%s[%s])", Sel("node_cpu_seconds_total", node, `mode="idle"`), Dur(resW)), inst...)
		total := p.Agg("sum", Sel("node_memory_MemTotal_bytes", node), inst...) + " > 0"
		mem.Usage, mem.Limit = "node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes", "node_memory_MemTotal_bytes (node_exporter)"
		avail := p.Agg("sum", Sel("node_memory_MemAvailable_bytes", node), inst...)
		mem.Expr = fmt.Sprintf("%s\n  and %s (%s)", avail, p.On(inst...), total)
		mem.RatioExpr = fmt.Sprintf("%s\n  / %s (%s)", avail, p.On(inst...), total)
	}
	add(cpu)
	add(service(p, cpu, ResourceAPICPU, "API CPU per service", "sum", "avg"))
	add(mem)
	// The fullest instance is the one OOM-killed first (as MemoryHigh's signal).
	add(service(p, mem, ResourceAPIMemory, "API memory per service, its fullest instance", "min", "min"))

	if c := cfg.Resources.NetworkBytesPerSecond; c > 0 {
		var rx, tx string
		switch cfg.Resources.Source {
		case SourceCadvisor:
			// cAdvisor reports network per pod, not per container.
			rx, tx = rate("container_network_receive_bytes_total", p.PodSelector()), rate("container_network_transmit_bytes_total", p.PodSelector())
		case SourceNode:
			dev := `device!~"lo|veth.*|docker.*|br-.*|cali.*|flannel.*|cni.*"`
			rx, tx = rate("node_network_receive_bytes_total", node, dev), rate("node_network_transmit_bytes_total", node, dev)
		}
		net := Remaining{ID: ResourceAPINetworkInstance, Title: "API network per instance", Unit: UnitPerSecond, Counts: "bytes per second",
			Group: GroupAPI, Labels: inst, Window: resW, Usage: "the busier direction of the instance's traffic",
			Limit: "resources.network_bytes_per_second"}
		constant(&net, c, fmt.Sprintf("(%s > %s %s or %s)", rx, p.On(inst...), tx, tx))
		add(net)
		add(service(p, net, ResourceAPINetwork, "API network per service, its busiest instance", "min", "min"))
	}
}

// service is the service-wide headroom of a per-instance resource: agg
// over the instances' remaining and ratioAgg over their ratios, keeping
// the namespace where the source has one.
func service(p PromQL, inst Remaining, id ResourceID, title, agg, ratioAgg string) Remaining {
	by := append([]string{"service"}, ResourceServiceLabels(p.cfg)...)
	r := inst
	r.ID, r.Title, r.Labels, r.Of, r.Agg, r.RatioAgg = id, title, ResourceServiceLabels(p.cfg), inst.ID, agg, ratioAgg
	r.Expr = p.Agg(agg, p.Service(inst.ID.Record()), by...)
	r.RatioExpr = p.Agg(ratioAgg, p.Service(inst.ID.RatioRecord()), by...)
	return r
}

// requestsRemaining is the request rate the API's instances can still take
// at capacity requests per second each.
func requestsRemaining(cfg *Config, p PromQL, capacity float64, add func(Remaining)) {
	inst := cfg.API.InstanceLabels
	rw := time.Duration(cfg.API.RateWindow)
	usage := p.Agg("sum", fmt.Sprintf("rate(%s[%s])", Sel(cfg.API.RequestsMetric, cfg.Selectors.API), Dur(rw)), inst...)
	limit := "api.capacity_per_pod (default: RequestRateHigh's threshold)"
	if cfg.API.CapacityPerPod > 0 {
		limit = "api.capacity_per_pod"
	}
	r := Remaining{ID: ResourceAPIRequestsInstance, Title: "API request rate per instance", Unit: UnitPerSecond, Counts: "requests per second",
		Group: GroupAPI, Labels: inst, Window: rw, Usage: "rate(" + cfg.API.RequestsMetric + ")", Limit: limit,
		Expr: Num(capacity) + " - " + usage, RatioExpr: p.Service(ResourceAPIRequestsInstance.Record()) + " / " + Num(capacity)}
	add(r)
	// Service-wide, without a namespace: the request signals sum the
	// service's pods wherever they run.
	by := []string{"service"}
	svc := r
	svc.ID, svc.Title, svc.Labels, svc.Of, svc.Agg, svc.RatioAgg = ResourceAPIRequests, "API request rate per service", nil, r.ID, "sum", "avg"
	svc.Expr = p.Agg("sum", p.Service(r.ID.Record()), by...)
	svc.RatioExpr = p.Agg("avg", p.Service(r.ID.RatioRecord()), by...)
	add(svc)
}

func dbRemaining(cfg *Config, p PromQL, add func(Remaining)) {
	states := ""
	if cfg.Postgres.PoolStates != "" {
		states = fmt.Sprintf("state=~%q", cfg.Postgres.PoolStates)
	}
	maxOf := func(metric string, k kind.Kind, by ...string) string {
		return p.Agg("max", p.Headroom(metric, k), by...)
	}
	sumOf := func(metric string, k kind.Kind, by []string, extra ...string) string {
		return p.Agg("sum", p.Headroom(metric, k, extra...), by...)
	}
	oneToOne := func(r Remaining, limit, usage string) Remaining {
		r.Expr = p.minus(limit, usage, r.Labels...)
		r.RatioExpr = p.share(usage, limit, r.Labels...)
		return r
	}

	poolL := []string{"target", "pool"}
	size := maxOf("headroom_postgres_pool_size", kind.Postgres, poolL...)
	add(oneToOne(Remaining{ID: ResourcePostgresPool, Title: "DB pool of an application", Unit: UnitCount, Counts: "connections", Group: GroupDBPool,
		Labels: poolL, Usage: "headroom_postgres_pool_backends in postgres.pool_states",
		Limit: "headroom_postgres_pool_size (the exporter's pools: application_name to pool size)"},
		size+" > 0", fmt.Sprintf("(%s or %s * 0)", sumOf("headroom_postgres_pool_backends", kind.Postgres, poolL, states), size)))

	tl := []string{"target"}
	add(oneToOne(Remaining{ID: ResourcePostgresConnections, Title: "PostgreSQL connections", Unit: UnitCount, Counts: "connections",
		Group: GroupPostgres, Labels: tl, Usage: "headroom_postgres_backends",
		Limit: "headroom_postgres_usable_connections: max_connections - superuser_reserved_connections - reserved_connections"},
		maxOf("headroom_postgres_usable_connections", kind.Postgres, tl...)+" > 0", sumOf("headroom_postgres_backends", kind.Postgres, tl)))
	dbL := []string{"target", "database"}
	add(oneToOne(Remaining{ID: ResourcePostgresDatabaseConnections, Title: "PostgreSQL connections of a database", Unit: UnitCount,
		Counts: "connections", Group: GroupPostgres, Labels: dbL, Usage: "headroom_postgres_backends of the database",
		Limit: "headroom_postgres_database_connection_limit: datconnlimit, absent when -1 (unlimited)"},
		maxOf("headroom_postgres_database_connection_limit", kind.Postgres, dbL...)+" > 0", sumOf("headroom_postgres_backends", kind.Postgres, dbL)))
	roleL := []string{"target", "role"}
	add(oneToOne(Remaining{ID: ResourcePostgresRoleConnections, Title: "PostgreSQL connections of a role", Unit: UnitCount,
		Counts: "connections", Group: GroupPostgres, Labels: roleL, Usage: "headroom_postgres_role_backends",
		Limit: "headroom_postgres_role_connection_limit: rolconnlimit, absent when -1 (unlimited)"},
		maxOf("headroom_postgres_role_connection_limit", kind.Postgres, roleL...)+" > 0", sumOf("headroom_postgres_role_backends", kind.Postgres, roleL)))

	add(oneToOne(Remaining{ID: ResourcePgBouncerClients, Title: "PgBouncer client connections", Unit: UnitCount, Counts: "connections",
		Group: GroupPgBouncer, Labels: tl, Usage: "headroom_pgbouncer_client_connections",
		Limit: "headroom_pgbouncer_config_max_client_connections: max_client_conn"},
		maxOf("headroom_pgbouncer_config_max_client_connections", kind.PgBouncer, tl...)+" > 0",
		sumOf("headroom_pgbouncer_client_connections", kind.PgBouncer, tl)))

	// One pool_size and reserve per database, shared by the pools (one per
	// user) of that database. The sum is aggregated once more so that it
	// can stand after group_left, where a parenthesis would read as labels.
	dbOf := []string{"target", "database"}
	limit := p.Agg("max", fmt.Sprintf("%s + %s %s > 0", maxOf("headroom_pgbouncer_database_pool_size", kind.PgBouncer, dbOf...), p.On(dbOf...),
		maxOf("headroom_pgbouncer_database_reserve_pool_size", kind.PgBouncer, dbOf...)), dbOf...)
	pool := Remaining{ID: ResourcePgBouncerPool, Title: "PgBouncer pool servers", Unit: UnitCount, Counts: "server connections",
		Group: GroupPgBouncer, Labels: []string{"target", "database", "user"},
		Usage: `headroom_pgbouncer_pool_server_connections{state="active"} (linked to a client, as DBPoolHigh counts)`,
		Limit: "headroom_pgbouncer_database_pool_size + headroom_pgbouncer_database_reserve_pool_size: pool_size (or default_pool_size) + reserve_pool"}
	active := sumOf("headroom_pgbouncer_pool_server_connections", kind.PgBouncer, pool.Labels, `state="active"`)
	pool.Expr = fmt.Sprintf("%s\n  - %s group_right %s", limit, p.On(dbOf...), active)
	pool.RatioExpr = fmt.Sprintf("1 - %s\n  / %s group_left %s", active, p.On(dbOf...), limit)
	add(pool)
}

func redisRemaining(p PromQL, add func(Remaining)) {
	tl := []string{"target"}
	maxOf := func(metric string, by ...string) string { return p.Agg("max", p.Headroom(metric, kind.Redis), by...) }
	// Filtered inside the aggregation, so that it can stand after
	// group_right, where a parenthesis would read as labels.
	limit := p.Agg("max", p.Headroom("headroom_redis_memory_limit_bytes", kind.Redis)+" > 0", "target", "source")
	mem := Remaining{ID: ResourceRedisMemory, Title: "Redis memory", Unit: UnitBytes, Counts: "bytes", Group: GroupRedis,
		Labels: []string{"target", "source"}, Usage: "headroom_redis_memory_used_bytes (used_memory)",
		Limit: "headroom_redis_memory_limit_bytes, as RedisMemoryNearMax: maxmemory, else the target's memory_limit_bytes, " +
			"else the system's memory (label source); absent when none is known"}
	used := maxOf("headroom_redis_memory_used_bytes", tl...)
	mem.Expr = fmt.Sprintf("%s\n  - %s group_left %s", limit, p.On(tl...), used)
	mem.RatioExpr = fmt.Sprintf("1 - %s\n  / %s group_right %s", used, p.On(tl...), limit)
	add(mem)
	// Replicas count against maxclients too; connected_clients leaves them out.
	clients := Remaining{ID: ResourceRedisClients, Title: "Redis clients", Unit: UnitCount, Counts: "connections", Group: GroupRedis,
		Labels: tl, Usage: "headroom_redis_connected_clients + headroom_redis_connected_replicas",
		Limit: "headroom_redis_max_clients: maxclients"}
	maxClients := maxOf("headroom_redis_max_clients", tl...) + " > 0"
	connected := fmt.Sprintf("(%s + %s %s)", maxOf("headroom_redis_connected_clients", tl...), p.On(tl...),
		maxOf("headroom_redis_connected_replicas", tl...))
	clients.Expr = p.minus(maxClients, connected, tl...)
	clients.RatioExpr = p.share(connected, maxClients, tl...)
	add(clients)
}
