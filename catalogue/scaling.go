package catalogue

import (
	"time"

	"github.com/headroom-dev/headroom/internal/kind"
)

// scaling defines the triggers that scale: the Health Agent guide's up and
// down rows and the AMAS guide's KEDA triggers.
func (d *defs) scaling() {
	sig, has, add := d.sig, d.has, d.add
	min := time.Minute
	// Scale-up, Health Agent guide.
	add(Trigger{ID: TriggerCPUHigh, Set: SetHealthAgent, Source: "HA", Direction: Up, Signal: sig(SignalAPICPU), Comparison: Above, Threshold: 0.8, Margin: utilisationMargin,
		For: 10 * min, Action: "scale_horizontally", Urgency: UrgencyHigh, VerifiedBy: []TriggerID{TriggerCapacityTargetMissedCPU, TriggerCapacityTargetMissedLatency},
		Runbook: Runbook{Meaning: "The API's instances are busy on average; requests queue and latency follows.",
			Steps: []string{"Add instances: `kubectl scale deployment <api> --replicas=N` or `docker-compose up -d --scale api=N`; the HPA does it at 70% average CPU.",
				"Size by concurrent users: 100-300 users 2-3 instances, 300-500 3-5, 500-1000 5-10, 1000+ 10+ with DB replicas.",
				"Check that max replicas x DB pool size still fits PostgreSQL's usable connections before scaling out."}}})
	add(Trigger{ID: TriggerMemoryHigh, Set: SetHealthAgent, Source: "HA", Direction: Up, Signal: sig(SignalAPIMemory), Comparison: Above, Threshold: 0.85, Margin: utilisationMargin,
		For: 5 * min, Action: "scale_vertically", Urgency: UrgencyCritical, VerifiedBy: []TriggerID{TriggerCapacityTargetMissedMemory},
		Runbook: Runbook{Meaning: "An API instance is close to its memory limit; OOM kills and swap thrashing come next (HA capacity limit 1.5 GB).",
			Steps: []string{"Give instances more memory (raise the container's memory limit or move to a larger instance type).",
				"If memory grows steadily after restarts, look for a leak before adding memory."}}})
	add(Trigger{ID: TriggerDBPoolHigh, Set: SetHealthAgent, Source: "HA", Direction: Up, Signal: sig(SignalDBPool), Comparison: Above, Threshold: 0.8, Margin: utilisationMargin,
		For: 5 * min, Action: "increase_pool_or_scale_db", Urgency: UrgencyHigh, Kind: kind.Postgres, VerifiedBy: []TriggerID{TriggerCapacityTargetMissedDBPool},
		Runbook: Runbook{Meaning: "A connection pool is nearly exhausted; \"pool exhausted\" errors follow.",
			Steps: []string{"Increase the pool: max = 2 x cores + 5 (4 cores: 13, 8 cores: 21, 16 cores: 37).",
				"If PostgreSQL itself is the limit, scale it vertically or add read replicas for read traffic.",
				"Put PgBouncer in front (transaction pooling: 1000 clients on 25 server connections)."}}})
	add(Trigger{ID: TriggerCacheHitRateLow, Set: SetHealthAgent, Source: "HA", Direction: Up, Signal: sig(SignalRedisHitRatio), Comparison: Below,
		Threshold: 0.3, For: 20 * min, Action: "increase_redis_memory", Urgency: UrgencyMedium, Kind: kind.Redis, VerifiedBy: []TriggerID{TriggerCapacityTargetMissedCacheHit},
		Runbook: Runbook{Meaning: "Most cache lookups miss: the cache is too small for the working set, or keys expire too early.",
			Steps: []string{"Check evictions (`redis-cli INFO stats | grep evicted_keys`); if they grow, increase maxmemory: 256MB (100-300 users), 512MB, 1GB, 2GB+.",
				"If there are no evictions, review TTLs and what is cached."}}})
	add(Trigger{ID: TriggerAPIErrorRateHigh, Set: SetHealthAgent, Source: "HA", Direction: Up, Signal: sig(SignalAPIErrorRatio), Comparison: Above,
		Threshold: 0.05, For: 5 * min, Action: "investigate_then_scale", Urgency: UrgencyCritical, Kind: kind.API, VerifiedBy: []TriggerID{TriggerCapacityTargetMissedErrors},
		Runbook: Runbook{Meaning: "More than 5% of requests fail.",
			Steps: []string{"Investigate first: logs, the LLM provider's status, PostgreSQL and Redis alerts firing at the same time.",
				"Scale only when the errors come from overload (timeouts, pool exhaustion, 503s under high CPU)."}}})
	add(Trigger{ID: TriggerAPILatencyP95High, Set: SetHealthAgent, Source: "HA", Direction: Up, Signal: sig(SignalAPILatencyP95), Comparison: Above,
		Threshold: 5, For: 10 * min, Action: "scale_horizontally", Urgency: UrgencyHigh, Kind: kind.API, VerifiedBy: []TriggerID{TriggerCapacityTargetMissedLatency},
		Runbook: Runbook{Meaning: "The slowest 5% of requests take longer than 5s (post-optimisation p95 is 2-3s).",
			Steps: []string{"Add instances as for CPUHigh.", "If CPU is low, the time is spent waiting: check the DB pool, PgBouncer waits and the LLM API's latency."}}})
	add(Trigger{ID: TriggerResourceSaturated, Set: SetHealthAgent, Source: "HA", Direction: Up, Signal: sig(SignalSaturation), Comparison: AtLeast,
		Threshold: 0.8, Margin: utilisationMargin, For: 10 * min, Action: "scale_saturated_resource", Urgency: UrgencyHigh,
		Runbook: Runbook{Meaning: "One resource (label resource: cpu, memory, db_pool, redis_memory, network) is at 80% or more: the HA guide's scale trigger.",
			Steps: []string{"Scale the resource the alert names: cpu -> more instances, memory -> bigger instances, db_pool -> bigger pool or database, redis_memory -> more Redis memory, network -> more instances or a bigger link."}}})
	add(Trigger{ID: TriggerRedisEvictionsHigh, Set: SetHealthAgent, Source: "HA", Direction: Up, Signal: sig(SignalRedisEvictions), Comparison: Above,
		Threshold: 1, For: 10 * min, Action: "increase_redis_memory", Urgency: UrgencyMedium, Kind: kind.Redis, VerifiedBy: []TriggerID{TriggerCapacityTargetMissedCacheHit},
		Runbook: Runbook{Meaning: "Redis evicts keys quickly to stay under its memory limit.",
			Steps: []string{"Increase maxmemory (256MB -> 512MB -> 1GB -> 2GB+), or move to Redis Cluster past 1GB of cache data."}}})

	// Scale-down, Health Agent guide.
	add(Trigger{ID: TriggerCPULow, Set: SetHealthAgent, Source: "HA", Direction: Down, Signal: sig(SignalAPICPU), Comparison: Below, Threshold: 0.3,
		Margin: 0.05, For: 30 * min, KeepFiringFor: 10 * min, Action: "scale_down_instances", Urgency: UrgencyLow, Saving: "50% cost",
		VerifiedBy: []TriggerID{TriggerCapacityTargetMissedCPU, TriggerCapacityTargetMissedLatency},
		Runbook: Runbook{Meaning: "The API's instances have been mostly idle for half an hour.",
			Steps: []string{"Remove instances, one step at a time (docker-compose up -d --scale api=N, or lower the HPA's minReplicas).",
				"Keep at least 2 instances for availability."}}})
	add(Trigger{ID: TriggerMemoryLow, Set: SetHealthAgent, Source: "HA", Direction: Down, Signal: sig(SignalAPIMemory), Comparison: Below, Threshold: 0.5,
		Margin: 0.05, For: 60 * min, KeepFiringFor: 10 * min, Action: "reduce_instance_size", Urgency: UrgencyLow, Saving: "30% cost",
		VerifiedBy: []TriggerID{TriggerCapacityTargetMissedMemory},
		Runbook: Runbook{Meaning: "Even the fullest API instance has used less than half its memory for an hour.",
			Steps: []string{"Move to a smaller instance size or lower the memory limit, leaving room for the 85% MemoryHigh threshold."}}})
	add(Trigger{ID: TriggerDBPoolLow, Set: SetHealthAgent, Source: "HA", Direction: Down, Signal: sig(SignalDBPool), Comparison: Below, Threshold: 0.3,
		Margin: 0.05, For: 60 * min, KeepFiringFor: 10 * min, Action: "reduce_pool_size", Urgency: UrgencyLow, Saving: "20% DB cost", Kind: kind.Postgres,
		VerifiedBy: []TriggerID{TriggerCapacityTargetMissedDBPool},
		Runbook: Runbook{Meaning: "A connection pool has used less than 30% of its connections for an hour.",
			Steps: []string{"Reduce the pool's maximum size (or PgBouncer's default_pool_size), and the database instance if all pools are low."}}})

	// Scale-up, AMAS guide (KEDA triggers).
	add(Trigger{ID: TriggerRequestRateHigh, Set: SetAMAS, Source: "AMAS", Direction: Up, Signal: sig(SignalAPIRequestsPerInstance), Comparison: Above,
		Threshold: 15, Activation: 5, For: min, Action: "scale_out", Urgency: UrgencyHigh, Kind: kind.API, VerifiedBy: []TriggerID{TriggerCapacityTargetMissedLatency},
		Runbook: Runbook{Meaning: "Each pod serves more than 15 requests per second.", Steps: amasScaleOut}})
	if has(SignalAPIQueueDepth) {
		add(Trigger{ID: TriggerQueueDepthHigh, Set: SetAMAS, Source: "AMAS", Direction: Up, Signal: sig(SignalAPIQueueDepth), Comparison: Above,
			Threshold: 25, Activation: 10, For: min, Action: "scale_out", Urgency: UrgencyHigh, VerifiedBy: []TriggerID{TriggerCapacityTargetMissedLatency},
			Runbook: Runbook{Meaning: "More than 25 agent tasks are queued (at 2s each, about 50s of work).", Steps: amasScaleOut}})
	}
	add(Trigger{ID: TriggerLatencyP95High, Set: SetAMAS, Source: "AMAS", Direction: Up, Signal: sig(SignalAPILatencyP95), Comparison: Above,
		Threshold: 1, Activation: 0.5, For: min, Action: "scale_out", Urgency: UrgencyHigh, Kind: kind.API, VerifiedBy: []TriggerID{TriggerCapacityTargetMissedLatency},
		Runbook: Runbook{Meaning: "The p95 agent duration is above 1s (SLO: p95 <= 1.5s).", Steps: amasScaleOut}})
	add(Trigger{ID: TriggerResourcePressureCPU, Alert: "ResourcePressure", Set: SetAMAS, Source: "AMAS", Direction: Up, Signal: sig(SignalAPICPU),
		Comparison: Above, Threshold: 0.7, Margin: utilisationMargin, Activation: 0.1, For: min, Action: "scale_out", Urgency: UrgencyHigh, Labels: map[string]string{"resource": "cpu"},
		VerifiedBy: []TriggerID{TriggerCapacityTargetMissedCPU},
		Runbook:    Runbook{Meaning: "CPU above 70% or memory above 80% (label resource).", Steps: amasScaleOut}})
	add(Trigger{ID: TriggerResourcePressureMemory, Alert: "ResourcePressure", Set: SetAMAS, Source: "AMAS", Direction: Up, Signal: sig(SignalAPIMemory),
		Comparison: Above, Threshold: 0.8, Margin: utilisationMargin, Activation: 0.1, For: min, Action: "scale_out", Urgency: UrgencyHigh, Labels: map[string]string{"resource": "memory"},
		VerifiedBy: []TriggerID{TriggerCapacityTargetMissedMemory}, Runbook: Runbook{Meaning: "CPU above 70% or memory above 80% (label resource).", Steps: amasScaleOut}})
}

var amasScaleOut = []string{
	"KEDA scales the orchestrator out by itself (scale-up: 60s stabilisation, at most 100% or 5 pods a minute; max 50 replicas). Check `kubectl describe scaledobject amas-orchestrator-scaler -n amas-prod` and the KEDA operator's log if it does not.",
	"If replicas are at the maximum, raise maxReplicaCount only after checking that max replicas x DB pool size fits PostgreSQL.",
	"Scale-down is conservative on purpose (300s stabilisation, at most 10% or 2 pods a minute, 180s cooldown).",
}
