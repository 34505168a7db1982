package promtest

import (
	"fmt"

	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/internal/kind"
)

// fixture writes the input series of promtool tests that make a signal
// read vals[k] at step k, and returns the labels of the signal's series.
type fixture func(f *fx, vals []float64) map[string]string

// signalFixtures holds the fixture of every signal, by signal id: what input
// series make the signal read vals[k] at step k. They sit together here,
// out of the signal definitions, so that the model knows nothing of
// promtool; a new signal adds its fixture beside the others. A fixture reads
// the config through f.cfg.
var signalFixtures = map[catalogue.SignalID]fixture{
	catalogue.SignalAPICPUInstance:         cpuFixture,
	catalogue.SignalAPICPU:                 serviceFixture(cpuFixture),
	catalogue.SignalAPIMemoryInstance:      memoryFixture,
	catalogue.SignalAPIMemory:              serviceFixture(memoryFixture),
	catalogue.SignalAPINetworkInstance:     networkFixture,
	catalogue.SignalAPINetwork:             serviceFixture(networkFixture),
	catalogue.SignalAPIRequestsInstance:    requestsFixture,
	catalogue.SignalAPIRequests:            serviceWide(requestsFixture),
	catalogue.SignalAPIRequestsPerInstance: serviceWide(requestsFixture),
	catalogue.SignalAPIErrorRatio: func(f *fx, vals []float64) map[string]string {
		l := f.apiInstance()
		ok := complement(vals)
		f.counter(f.cfg.API.RequestsMetric, with(l, f.errLabels()...), vals, 10)
		f.counter(f.cfg.API.RequestsMetric, with(l, f.okLabels()...), ok, 10)
		return map[string]string{}
	},
	catalogue.SignalAPILatencyP95: func(f *fx, vals []float64) map[string]string {
		f.histogram(f.cfg.API.DurationHistogram+"_bucket", f.apiInstance(), vals)
		return map[string]string{}
	},
	catalogue.SignalAPIQueueDepth: func(f *fx, vals []float64) map[string]string {
		f.gauge(f.cfg.API.QueueDepthMetric, f.apiInstance(), vals, 1)
		return map[string]string{}
	},
	catalogue.SignalPostgresPool:        postgresPoolFixture,
	catalogue.SignalPostgresPoolOverall: serviceWide(postgresPoolFixture),
	catalogue.SignalPgbouncerPool: func(f *fx, vals []float64) map[string]string {
		l := f.headroomTarget(kind.PgBouncer, "pgbouncer")
		f.gauge("headroom_pgbouncer_pool_server_connections", with(l, "database", "app", "user", "app", "state", "active"), vals, 20)
		f.gauge("headroom_pgbouncer_database_pool_size", with(l, "database", "app"), constant(len(vals), 20), 1)
		return map[string]string{"target": l["target"], "database": "app", "user": "app"}
	},
	catalogue.SignalDBPool: postgresPoolFixture,
	catalogue.SignalPostgresConnections: func(f *fx, vals []float64) map[string]string {
		l := f.headroomTarget(kind.Postgres, "pg-primary")
		f.gauge("headroom_postgres_backends", with(l, "database", "app", "state", "active"), vals, 97)
		f.gauge("headroom_postgres_usable_connections", l, constant(len(vals), 97), 1)
		return map[string]string{"target": l["target"]}
	},
	catalogue.SignalRedisHitRatio: func(f *fx, vals []float64) map[string]string {
		l := f.headroomTarget(kind.Redis, "redis")
		miss := complement(vals)
		f.counter("headroom_redis_keyspace_hits_total", l, vals, 100)
		f.counter("headroom_redis_keyspace_misses_total", l, miss, 100)
		return map[string]string{"target": l["target"]}
	},
	catalogue.SignalRedisEvictions: func(f *fx, vals []float64) map[string]string {
		l := f.headroomTarget(kind.Redis, "redis")
		f.counter("headroom_redis_evicted_keys_total", l, vals, 1)
		return map[string]string{"target": l["target"]}
	},
	catalogue.SignalRedisMemory: func(f *fx, vals []float64) map[string]string {
		l := f.headroomTarget(kind.Redis, "redis")
		f.gauge("headroom_redis_memory_used_bytes", l, vals, 256<<20)
		f.gauge("headroom_redis_memory_limit_bytes", with(l, "source", "maxmemory"), constant(len(vals), 256<<20), 1)
		return map[string]string{"target": l["target"], "source": "maxmemory"}
	},
	// The saturation signal's first row is the API's CPU.
	catalogue.SignalSaturation: func(f *fx, vals []float64) map[string]string {
		return with(serviceFixture(cpuFixture)(f, vals), "resource", "cpu")
	},
	catalogue.SignalStandbyLag:  oneGauge("headroom_postgres_standby_lag_seconds", kind.Postgres, "pg-replica"),
	catalogue.SignalWALReceiver: oneGauge("headroom_postgres_wal_receiver_streaming", kind.Postgres, "pg-replica"),
	catalogue.SignalSlotRetained: func(f *fx, vals []float64) map[string]string {
		l := with(f.headroomTarget(kind.Postgres, "pg-primary"), "slot", "replica_1", "slot_type", "physical")
		f.gauge("headroom_postgres_replication_slot_retained_wal_bytes", l, vals, 1)
		f.gauge("headroom_postgres_replication_slot_active", l, constant(len(vals), 0), 1)
		return l
	},
	catalogue.SignalPgbouncerWaiting: oneGauge("headroom_pgbouncer_pool_client_connections", kind.PgBouncer, "pgbouncer", "database", "app", "user", "app", "state", "waiting"),
	catalogue.SignalPgbouncerMaxWait: oneGauge("headroom_pgbouncer_pool_max_wait_seconds", kind.PgBouncer, "pgbouncer", "database", "app", "user", "app"),
	catalogue.SignalPostgresUp:       oneGauge("headroom_target_up", kind.Postgres, "pg-primary", "kind", "postgres"),
	catalogue.SignalPgbouncerUp:      oneGauge("headroom_target_up", kind.PgBouncer, "pgbouncer", "kind", "pgbouncer"),
	catalogue.SignalRedisUp:          oneGauge("headroom_target_up", kind.Redis, "redis", "kind", "redis"),
	catalogue.SignalAPIProbe:         oneGauge("headroom_api_probe_success", kind.API, "api"),
	// The latency SLO's bucket check: the p95 signal's histogram, and the
	// target bucket counting the requests at or below the target.
	catalogue.SignalSLOLatencyBucket: func(f *fx, vals []float64) map[string]string {
		b, _ := f.cfg.SLOBucket()
		l := f.apiInstance()
		f.histogram(b.Metric, l, vals)
		fast := make([]float64, len(vals))
		for i, v := range vals {
			if v <= f.cfg.SLOs.Latency.Target {
				fast[i] = 1
			}
		}
		f.counter(b.Metric, with(l, "le", catalogue.Num(f.cfg.SLOs.Latency.Target)), fast, histogramRate)
		return map[string]string{}
	},
}

// fixtureOf returns the fixture of a signal; ok is false for a signal
// without one (a trigger whose tests write their own series).
func fixtureOf(s catalogue.Signal) (fixture, bool) {
	fix, ok := signalFixtures[s.ID]
	return fix, ok
}

// feed writes the input series of a signal that make it read vals[k] at
// step k, and returns the labels of the signal's series; a signal without a
// fixture fails f.
func (f *fx) feed(s catalogue.Signal, vals []float64) map[string]string {
	fix, ok := fixtureOf(s)
	if !ok {
		f.fail(fmt.Errorf("signal %s has no test fixture", s.ID))
		return map[string]string{}
	}
	return fix(f, vals)
}

// cpuFixture feeds one API instance's CPU from the configured source.
func cpuFixture(f *fx, vals []float64) map[string]string {
	cfg := f.cfg
	switch cfg.Resources.Source {
	case catalogue.SourceProcess:
		l := f.apiInstance()
		f.counter("process_cpu_seconds_total", l, vals, cfg.Resources.CPUCores)
		return f.pick(l, catalogue.ResourceInstanceLabels(cfg))
	case catalogue.SourceCadvisor:
		l := f.container()
		f.counter("container_cpu_usage_seconds_total", l, vals, cadvisorCores)
		f.gauge("kube_pod_container_resource_limits", f.limit("cpu", "core"), constant(len(vals), cadvisorCores), 1)
		return f.pick(l, catalogue.ResourceInstanceLabels(cfg))
	case catalogue.SourceNode:
		l := f.node()
		idle := complement(vals)
		f.counter("node_cpu_seconds_total", with(l, "mode", "idle", "cpu", "0"), idle, 1)
		f.counter("node_cpu_seconds_total", with(l, "mode", "idle", "cpu", "1"), idle, 1)
		return f.pick(l, catalogue.ResourceInstanceLabels(cfg))
	}
	f.fail(fmt.Errorf("no CPU fixture for resources.source %q", cfg.Resources.Source))
	return map[string]string{}
}

// memoryFixture feeds one API instance's memory from the configured source.
func memoryFixture(f *fx, vals []float64) map[string]string {
	cfg := f.cfg
	switch cfg.Resources.Source {
	case catalogue.SourceProcess:
		l := f.apiInstance()
		f.gauge("process_resident_memory_bytes", l, vals, cfg.Resources.MemoryBytes)
		return f.pick(l, catalogue.ResourceInstanceLabels(cfg))
	case catalogue.SourceCadvisor:
		l := f.container()
		f.gauge("container_memory_working_set_bytes", l, vals, cadvisorMemory)
		f.gauge("kube_pod_container_resource_limits", f.limit("memory", "byte"), constant(len(vals), cadvisorMemory), 1)
		return f.pick(l, catalogue.ResourceInstanceLabels(cfg))
	case catalogue.SourceNode:
		l := f.node()
		avail := complement(vals)
		f.gauge("node_memory_MemAvailable_bytes", l, avail, nodeMemory)
		f.gauge("node_memory_MemTotal_bytes", l, constant(len(vals), nodeMemory), 1)
		return f.pick(l, catalogue.ResourceInstanceLabels(cfg))
	}
	f.fail(fmt.Errorf("no memory fixture for resources.source %q", cfg.Resources.Source))
	return map[string]string{}
}

// networkFixture feeds one API instance's network traffic: receive the
// busier direction for cAdvisor, transmit for node_exporter.
func networkFixture(f *fx, vals []float64) map[string]string {
	cfg := f.cfg
	capacity := cfg.Resources.NetworkBytesPerSecond
	switch cfg.Resources.Source {
	case catalogue.SourceCadvisor:
		l := f.pod()
		f.counter("container_network_receive_bytes_total", l, vals, capacity)
		f.counter("container_network_transmit_bytes_total", l, vals, capacity/2)
		return f.pick(l, catalogue.ResourceInstanceLabels(cfg))
	case catalogue.SourceNode:
		l := with(f.node(), "device", "eth0")
		f.counter("node_network_receive_bytes_total", l, vals, capacity/2)
		f.counter("node_network_transmit_bytes_total", l, vals, capacity)
		return f.pick(l, catalogue.ResourceInstanceLabels(cfg))
	}
	f.fail(fmt.Errorf("no network fixture for resources.source %q", cfg.Resources.Source))
	return map[string]string{}
}

// The capacities the cAdvisor and node fixtures declare: the sources read
// them from kube-state-metrics and node_exporter, not from the config.
const (
	cadvisorCores  = 2
	cadvisorMemory = 2 << 30
	nodeMemory     = 8 << 30
)

// serviceFixture feeds a service-wide resource signal through its
// per-instance one, keeping the labels the service-wide signal keeps.
func serviceFixture(instance fixture) fixture {
	return func(f *fx, vals []float64) map[string]string {
		return f.pick(instance(f, vals), catalogue.ResourceServiceLabels(f.cfg))
	}
}

// serviceWide feeds a signal with no labels of its own through another's
// fixture.
func serviceWide(inner fixture) fixture {
	return func(f *fx, vals []float64) map[string]string { inner(f, vals); return map[string]string{} }
}

func requestsFixture(f *fx, vals []float64) map[string]string {
	l := f.apiInstance()
	f.counter(f.cfg.API.RequestsMetric, with(l, f.okLabels()...), vals, 1)
	return f.pick(l, f.cfg.API.InstanceLabels)
}

func postgresPoolFixture(f *fx, vals []float64) map[string]string {
	l := f.headroomTarget(kind.Postgres, "pg-primary")
	f.gauge("headroom_postgres_pool_backends", with(l, "pool", "api", "state", f.poolState()), vals, 13)
	f.gauge("headroom_postgres_pool_size", with(l, "pool", "api"), constant(len(vals), 13), 1)
	return map[string]string{"target": l["target"], "pool": "api"}
}

// oneGauge is the fixture of a signal read straight off one headroom gauge
// of a target, with extra labels as key-value pairs.
func oneGauge(metric string, k kind.Kind, target string, labels ...string) fixture {
	return func(f *fx, vals []float64) map[string]string {
		l := with(f.headroomTarget(k, target), labels...)
		f.gauge(metric, l, vals, 1)
		return l
	}
}
