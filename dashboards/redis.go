package dashboards

import (
	"fmt"

	"github.com/headroom-dev/headroom/catalogue"
)

func (g *gen) redis() *board {
	bd := g.newBoard(Redis, "redis", "Redis and Valkey servers as headroom reads them from INFO: memory against a named limit, "+
		"hit rate, evictions, clients, commands and replication.")
	m := bd.m
	tl := []string{"target"}
	memory := g.triggers(catalogue.TriggerRedisMemoryNearMax)
	hit := g.triggers(catalogue.TriggerCacheHitRateLow)
	evictions := g.triggers(catalogue.TriggerRedisEvictionsHigh)
	memUtil := fmt.Sprintf("%s\n  / %s group_right () (%s > 0)", g.max(m("headroom_redis_memory_used_bytes"), "target"), g.on("target"),
		g.max(m("headroom_redis_memory_limit_bytes"), "target", "source"))
	hits := g.sum(rate(m("headroom_redis_keyspace_hits_total")), "target")
	misses := g.sum(rate(m("headroom_redis_keyspace_misses_total")), "target")
	hitRate := fmt.Sprintf("%s\n  / %s (%s + %s > 0)", hits, g.on("target"), hits, misses)
	evictRate := g.sum(rate(m("headroom_redis_evicted_keys_total")), "target")

	bd.row("Status", false)
	bd.upStat(catalogue.TriggerRedisDown)
	bd.stat(spec{
		Title:    "Role",
		Desc:     "Master or replica.",
		Queries:  []query{{Expr: g.max(m("headroom_redis_is_master"), "target"), Legend: "{{target}}"}},
		Mappings: mapValues("0", "replica", "purple", "1", "master", "blue"),
		Steps:    neutral("blue"),
		W:        4, H: 4,
	})
	bd.stat(spec{
		Title:   "Memory utilisation",
		Desc:    describeAll("used_memory over the memory limit the exporter names (label source: maxmemory, the configured limit, or system memory).", memory),
		Unit:    "percentunit",
		Queries: []query{{Expr: memUtil, Legend: "{{target}}"}},
		Steps:   ladder(catalogue.UnitRatio, memory...),
		W:       4, H: 4,
	})
	bd.stat(spec{
		Title:   "Hit rate",
		Desc:    describeAll("Keyspace hits over lookups; absent while there are no lookups.", hit),
		Unit:    "percentunit",
		Queries: []query{{Expr: hitRate, Legend: "{{target}}"}},
		Steps:   ladder(catalogue.UnitRatio, hit...),
		W:       4, H: 4,
	})
	bd.stat(spec{
		Title:   "Evictions per second",
		Desc:    describeAll("Keys evicted per second because of the memory limit.", evictions),
		Unit:    "ops",
		Queries: []query{{Expr: evictRate, Legend: "{{target}}"}},
		Steps:   ladder(catalogue.UnitPerSecond, evictions...),
		W:       4, H: 4,
	})
	bd.stat(spec{
		Title:   "Connected clients",
		Desc:    "Client connections, replicas excluded.",
		Queries: []query{{Expr: g.max(m("headroom_redis_connected_clients"), "target"), Legend: "{{target}}"}},
		Steps:   neutral("blue"),
		W:       4, H: 4, Decimals: ptr(0.0),
	})

	bd.row("Memory", false)
	bd.ts(spec{
		Title:   "Memory utilisation",
		Desc:    describeAll("used_memory over the named memory limit (never +Inf: a server without a known limit is not shown).", memory),
		Unit:    "percentunit",
		Queries: []query{{Expr: memUtil, Legend: "{{target}} (limit: {{source}})"}},
		Steps:   ladder(catalogue.UnitRatio, memory...), Lines: true,
	})
	bd.ts(spec{
		Title: "Memory used and limit",
		Desc:  "used_memory and the limit it is measured against (maxmemory, the target's memory_limit_bytes, or total system memory).",
		Unit:  "bytes",
		Queries: []query{
			{Expr: g.max(m("headroom_redis_memory_used_bytes"), "target"), Legend: "{{target}} used"},
			{Expr: g.max(m("headroom_redis_memory_limit_bytes"), "target", "source"), Legend: "{{target}} limit ({{source}})"},
		},
	})
	bd.ts(spec{
		Title:   "Evictions per second",
		Desc:    describeAll("Keys evicted because of the memory limit.", evictions),
		Unit:    "ops",
		Queries: []query{{Expr: evictRate, Legend: "{{target}}"}},
		Steps:   ladder(catalogue.UnitPerSecond, evictions...), Lines: true, W: 8,
	})
	bd.ts(spec{
		Title:   "Expired keys per second",
		Desc:    "Keys removed because their TTL expired.",
		Unit:    "ops",
		Queries: []query{{Expr: g.sum(rate(m("headroom_redis_expired_keys_total")), "target"), Legend: "{{target}}"}},
		W:       8,
	})
	bd.ts(spec{
		Title:   "Fragmentation ratio",
		Desc:    "Resident memory over used memory; well above 1.5 means memory is lost to fragmentation, below 1 that Redis is swapping.",
		Queries: []query{{Expr: g.max(m("headroom_redis_memory_fragmentation_ratio"), "target"), Legend: "{{target}}"}},
		Steps:   stepsAt(colorWarning, 1, colorOK, 1.5, colorWarning), Lines: true, W: 8,
	})

	bd.row("Keyspace", false)
	bd.ts(spec{
		Title:   "Hit rate",
		Desc:    describeAll("Keyspace hits over lookups (rate over the dashboard's rate interval); absent while there are no lookups.", hit),
		Unit:    "percentunit",
		Queries: []query{{Expr: hitRate, Legend: "{{target}}"}},
		Steps:   ladder(catalogue.UnitRatio, hit...), Lines: true, Min: ptr(0.0), Max: ptr(1.0),
	})
	bd.ts(spec{
		Title: "Hits and misses per second",
		Desc:  "Successful and failed key lookups per second.",
		Unit:  "ops",
		Queries: []query{
			{Expr: hits, Legend: "{{target}} hits"},
			{Expr: misses, Legend: "{{target}} misses"},
		},
	})
	bd.ts(spec{
		Title: "Keys",
		Desc:  "Keys per database, and those with a TTL.",
		Queries: []query{
			{Expr: g.max(m("headroom_redis_db_keys"), "target", "db"), Legend: "{{target}} {{db}} keys"},
			{Expr: g.max(m("headroom_redis_db_keys_expiring"), "target", "db"), Legend: "{{target}} {{db}} with TTL"},
		},
	})
	bd.ts(spec{
		Title:   "Commands per second",
		Desc:    "Commands processed per second.",
		Unit:    "ops",
		Queries: []query{{Expr: g.sum(rate(m("headroom_redis_commands_processed_total")), "target"), Legend: "{{target}}"}},
	})

	bd.row("Clients", false)
	bd.ts(spec{
		Title: "Client utilisation",
		Desc:  "Connected clients over maxclients (absent where the server refuses CONFIG before Redis 6.2).",
		Unit:  "percentunit",
		Queries: []query{{Expr: g.ratio(g.max(m("headroom_redis_connected_clients"), "target"), tl, g.max(m("headroom_redis_max_clients"), "target")),
			Legend: "{{target}}"}},
		Steps: stepsAt(colorOK, 0.8, colorWarning, 0.95, colorCritical), Lines: true, W: 8,
	})
	bd.ts(spec{
		Title: "Connected and blocked clients",
		Desc:  "Client connections, and clients blocked in a blocking call (BLPOP, WAIT, ...).",
		Queries: []query{
			{Expr: g.max(m("headroom_redis_connected_clients"), "target"), Legend: "{{target}} connected"},
			{Expr: g.max(m("headroom_redis_blocked_clients"), "target"), Legend: "{{target}} blocked"},
		},
		W: 8,
	})
	bd.ts(spec{
		Title: "Connections per second",
		Desc:  "Connections accepted, and refused because maxclients was reached.",
		Unit:  "ops",
		Queries: []query{
			{Expr: g.sum(rate(m("headroom_redis_connections_received_total")), "target"), Legend: "{{target}} accepted"},
			{Expr: g.sum(rate(m("headroom_redis_rejected_connections_total")), "target"), Legend: "{{target}} rejected"},
		},
		W: 8,
	})

	bd.row("Replication", false)
	rl := []string{"target", "replica"}
	bd.ts(spec{
		Title:   "Connected replicas",
		Desc:    "Replicas connected to each server.",
		Queries: []query{{Expr: g.max(m("headroom_redis_connected_replicas"), "target"), Legend: "{{target}}"}},
		W:       8, Decimals: ptr(0.0),
	})
	bd.ts(spec{
		Title: "Replica lag (master's view)",
		Desc:  "Replication stream a replica has not acknowledged (bytes), as its master sees it.",
		Unit:  "bytes",
		Queries: []query{
			{Expr: g.max(m("headroom_redis_connected_replica_lag_bytes"), rl...), Legend: "{{target}} → {{replica}}"},
		},
		W: 8,
	})
	bd.ts(spec{
		Title:   "Replica acknowledgement age",
		Desc:    "Seconds since each replica last acknowledged the stream; replicas acknowledge every second.",
		Unit:    "s",
		Queries: []query{{Expr: g.max(m("headroom_redis_connected_replica_ack_age_seconds"), rl...), Legend: "{{target}} → {{replica}}"}},
		Steps:   stepsAt(colorOK, 5, colorWarning, 30, colorCritical), Lines: true, W: 8,
	})
	bd.ts(spec{
		Title:    "Link to master (replicas)",
		Desc:     "On a replica: 1 while the link to its master is up.",
		Queries:  []query{{Expr: g.max(m("headroom_redis_master_link_up"), "target"), Legend: "{{target}}"}},
		Steps:    stepsAt(colorCritical, 1, colorOK),
		Mappings: mapValues("0", "down", colorCritical, "1", "up", colorOK),
		Min:      ptr(0.0), Max: ptr(1.0), W: 8,
	})
	bd.ts(spec{
		Title:   "Replica offset lag (replica's view)",
		Desc:    "On a replica: master_repl_offset minus slave_repl_offset as the replica reports them (it cannot see writes the master has not sent).",
		Unit:    "bytes",
		Queries: []query{{Expr: g.max(m("headroom_redis_replication_offset_lag_bytes"), "target"), Legend: "{{target}}"}},
		W:       8,
	})
	bd.ts(spec{
		Title:   "Time since the master was last heard",
		Desc:    "On a replica: seconds since it last heard from its master (absent while the link is down).",
		Unit:    "s",
		Queries: []query{{Expr: g.max(m("headroom_redis_master_last_io_age_seconds"), "target"), Legend: "{{target}}"}},
		Steps:   stepsAt(colorOK, 10, colorWarning, 60, colorCritical), Lines: true, W: 8,
	})

	bd.exporterRow()
	return bd
}
