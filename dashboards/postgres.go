package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"

	"github.com/headroom-dev/headroom/catalogue"
)

// rate is rate(selector[$__rate_interval]).
func rate(sel string) string { return "rate(" + sel + "[" + RateInterval + "])" }

// ratio divides, leaving out series whose denominator is 0 or absent, so
// that a panel never shows NaN or +Inf.
func (g *gen) ratio(numerator string, on []string, denominator string) string {
	return fmt.Sprintf("%s\n  / %s (%s > 0)", numerator, g.on(on...), denominator)
}

func (g *gen) sum(sel string, labels ...string) string {
	return fmt.Sprintf("sum %s (%s)", g.by(labels...), sel)
}

func (g *gen) max(sel string, labels ...string) string {
	return fmt.Sprintf("max %s (%s)", g.by(labels...), sel)
}

// mapValues maps numbers to texts and colours (a state as a word).
func mapValues(pairs ...string) []dashboard.ValueMapping {
	opts := map[string]dashboard.ValueMappingResult{}
	for i := 0; i+2 < len(pairs); i += 3 {
		opts[pairs[i]] = dashboard.ValueMappingResult{Text: cog.ToPtr(pairs[i+1]), Color: cog.ToPtr(pairs[i+2]), Index: cog.ToPtr(int32(i / 3))}
	}
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: opts}}}
}

// upStat is the target-up stat of a detail dashboard.
func (bd *board) upStat(downID catalogue.TriggerID) {
	g := bd.g
	bd.stat(spec{
		Title:    "Targets up",
		Desc:     describeAll("headroom_target_up per "+bd.kind+" target: UP when the exporter got usable data in its last scrape.", g.triggers(downID)),
		Queries:  []query{{Expr: g.max(bd.m("headroom_target_up", fmt.Sprintf("kind=%q", bd.kind)), "target"), Legend: "{{target}}"}},
		Steps:    stepsAt(colorCritical, 1, colorOK),
		Mappings: mapValues("0", "DOWN", colorCritical, "1", "UP", colorOK),
		W:        4, H: 4,
	})
}

func (g *gen) postgres() *board {
	bd := g.newBoard(Postgres, "postgres", "PostgreSQL primaries and standbys as headroom sees them: connections against the real denominators, "+
		"application pools, transactions, cache, replication from both ends and replication slots.")
	m := bd.m
	tl := []string{"target"}
	pgConn := g.triggers(catalogue.TriggerPostgresConnectionsNearMax)
	connUtil := g.ratio(g.sum(m("headroom_postgres_backends"), "target"), tl, g.max(m("headroom_postgres_usable_connections"), "target"))
	lag := g.triggers(catalogue.TriggerReplicationLagHigh, catalogue.TriggerReplicationLagCritical)

	bd.row("Status", false)
	bd.upStat(catalogue.TriggerPostgresDown)
	bd.stat(spec{
		Title:    "Role",
		Desc:     "Primary or standby (headroom_postgres_in_recovery), detected at every scrape.",
		Queries:  []query{{Expr: g.max(m("headroom_postgres_in_recovery"), "target"), Legend: "{{target}}"}},
		Mappings: mapValues("0", "primary", "blue", "1", "standby", "purple"),
		Steps:    neutral("blue"),
		W:        4, H: 4,
	})
	bd.stat(spec{
		Title:   "Connection utilisation",
		Desc:    describeAll("Client backends over usable connections (max_connections less superuser_reserved_connections and reserved_connections).", pgConn),
		Unit:    "percentunit",
		Queries: []query{{Expr: connUtil, Legend: "{{target}}"}},
		Steps:   ladder(catalogue.UnitRatio, pgConn...),
		W:       4, H: 4,
	})
	bd.stat(spec{
		Title:   "Longest open transaction",
		Desc:    "Age of the oldest open transaction on each server; long transactions hold connections, locks and vacuum back.",
		Unit:    "s",
		Queries: []query{{Expr: g.max(m("headroom_postgres_oldest_transaction_age_seconds"), "target"), Legend: "{{target}}"}},
		Steps:   stepsAt(colorOK, 60, colorWarning, 300, colorCritical),
		W:       4, H: 4,
	})
	bd.stat(spec{
		Title:   "Standby lag",
		Desc:    describeAll("How far each standby's data is behind its primary (0 on a primary).", lag),
		Unit:    "s",
		Queries: []query{{Expr: g.max(m("headroom_postgres_standby_lag_seconds"), "target"), Legend: "{{target}}"}},
		Steps:   ladder(catalogue.UnitSeconds, lag...),
		W:       4, H: 4,
	})
	bd.stat(spec{
		Title:   "Server version",
		Desc:    "server_version_num of each server (e.g. 150019 is 15.19).",
		Queries: []query{{Expr: g.max(m("headroom_postgres_server_version_num"), "target"), Legend: "{{target}}"}},
		Steps:   neutral("text"), Decimals: ptr(0.0),
		W: 4, H: 4,
	})

	bd.row("Connections", false)
	bd.ts(spec{
		Title:   "Connection utilisation",
		Desc:    describeAll("Client backends over usable connections, per server.", pgConn),
		Unit:    "percentunit",
		Queries: []query{{Expr: connUtil, Legend: "{{target}}"}},
		Steps:   ladder(catalogue.UnitRatio, pgConn...), Lines: true,
	})
	bd.ts(spec{
		Title:   "Backends by state",
		Desc:    "Client backends by state (active, idle, idle in transaction, waiting on a lock, ...).",
		Queries: []query{{Expr: g.sum(m("headroom_postgres_backends"), "target", "state"), Legend: "{{target}} {{state}}"}},
		Stack:   true,
	})
	poolTriggers := g.onSignal(catalogue.SignalDBPool)
	poolBackends := g.sum(m("headroom_postgres_pool_backends"), "target", "pool")
	poolSize := g.max(m("headroom_postgres_pool_size"), "target", "pool")
	bd.ts(spec{
		Title: "Application pool utilisation",
		Desc: describeAll("Backends of each configured application pool (matched by application_name, else user) over its configured size "+
			"(pools in headroom's config); 0 when the pool holds none.", poolTriggers),
		Unit:    "percentunit",
		Queries: []query{{Expr: g.ratio(fmt.Sprintf("(%s or %s * 0)", poolBackends, poolSize), []string{"target", "pool"}, poolSize), Legend: "{{target}} {{pool}}"}},
		Steps:   ladder(catalogue.UnitRatio, poolTriggers...), Lines: true,
	})
	bd.ts(spec{
		Title: "Connection settings",
		Desc:  "max_connections, the connections ordinary clients can use, and the reserved slots.",
		Queries: []query{
			{Expr: g.max(m("headroom_postgres_max_connections"), "target"), Legend: "{{target}} max_connections"},
			{Expr: g.max(m("headroom_postgres_usable_connections"), "target"), Legend: "{{target}} usable"},
			{Expr: g.max(m("headroom_postgres_superuser_reserved_connections"), "target"), Legend: "{{target}} superuser_reserved"},
			{Expr: g.max(m("headroom_postgres_reserved_connections"), "target"), Legend: "{{target}} reserved"},
		},
	})
	bd.ts(spec{
		Title:   "Backends by database",
		Desc:    "Client backends per database.",
		Queries: []query{{Expr: g.sum(m("headroom_postgres_backends"), "target", "database"), Legend: "{{target}} {{database}}"}},
		W:       8,
	})
	bd.ts(spec{
		Title: "Database connection limit utilisation",
		Desc:  "Backends of a database over its CONNECTION LIMIT (datconnlimit); databases without a limit are not shown.",
		Unit:  "percentunit",
		Queries: []query{{Expr: g.ratio(g.sum(m("headroom_postgres_backends"), "target", "database"), []string{"target", "database"},
			g.max(m("headroom_postgres_database_connection_limit"), "target", "database")), Legend: "{{target}} {{database}}"}},
		Steps: stepsAt(colorOK, 0.8, colorWarning, 0.95, colorCritical), Lines: true, W: 8,
	})
	bd.ts(spec{
		Title: "Role connection limit utilisation",
		Desc:  "Backends of a role over its CONNECTION LIMIT (rolconnlimit); roles without a limit are not shown.",
		Unit:  "percentunit",
		Queries: []query{{Expr: g.ratio(g.max(m("headroom_postgres_role_backends"), "target", "role"), []string{"target", "role"},
			g.max(m("headroom_postgres_role_connection_limit"), "target", "role")), Legend: "{{target}} {{role}}"}},
		Steps: stepsAt(colorOK, 0.8, colorWarning, 0.95, colorCritical), Lines: true, W: 8,
	})

	bd.row("Transactions and cache", false)
	commits := g.sum(rate(m("headroom_postgres_database_commits_total")), "target")
	rollbacks := g.sum(rate(m("headroom_postgres_database_rollbacks_total")), "target")
	bd.ts(spec{
		Title: "Transactions per second",
		Desc:  "Commits and rollbacks per second.",
		Unit:  "ops",
		Queries: []query{
			{Expr: commits, Legend: "{{target}} commits"},
			{Expr: rollbacks, Legend: "{{target}} rollbacks"},
		},
		W: 8,
	})
	bd.ts(spec{
		Title:   "Rollback ratio",
		Desc:    "Rollbacks over all transactions; absent while there are none.",
		Unit:    "percentunit",
		Queries: []query{{Expr: fmt.Sprintf("%s\n  / (%s + %s > 0)", rollbacks, commits, rollbacks), Legend: "{{target}}"}},
		Steps:   stepsAt(colorOK, 0.05, colorWarning), Lines: true, W: 8,
	})
	bd.ts(spec{
		Title:   "Deadlocks per second",
		Desc:    "Deadlocks detected, per second.",
		Unit:    "ops",
		Queries: []query{{Expr: g.sum(rate(m("headroom_postgres_database_deadlocks_total")), "target", "database"), Legend: "{{target}} {{database}}"}},
		W:       8,
	})
	hits := g.sum(rate(m("headroom_postgres_database_blocks_hit_total")), "target", "database")
	reads := g.sum(rate(m("headroom_postgres_database_blocks_read_total")), "target", "database")
	bd.ts(spec{
		Title:   "Buffer cache hit ratio",
		Desc:    "Blocks found in shared buffers over blocks needed; absent while nothing is read. Below ~99% on an OLTP database, shared_buffers may be too small.",
		Unit:    "percentunit",
		Queries: []query{{Expr: fmt.Sprintf("%s\n  / (%s + %s > 0)", hits, hits, reads), Legend: "{{target}} {{database}}"}},
		Steps:   stepsAt(colorWarning, 0.99, colorOK), Lines: true, W: 8,
	})
	bd.ts(spec{
		Title:   "Longest open transaction",
		Desc:    "Age of the longest-running open transaction per database, 0 when none is open.",
		Unit:    "s",
		Queries: []query{{Expr: g.max(m("headroom_postgres_oldest_transaction_age_seconds"), "target", "database"), Legend: "{{target}} {{database}}"}},
		Steps:   stepsAt(colorOK, 60, colorWarning, 300, colorCritical), Lines: true, W: 8,
	})
	bd.ts(spec{
		Title:   "Database size",
		Desc:    "Size of each database on disk (needs database_sizes: true in headroom's config).",
		Unit:    "bytes",
		Queries: []query{{Expr: g.max(m("headroom_postgres_database_size_bytes"), "target", "database"), Legend: "{{target}} {{database}}"}},
		W:       8,
	})

	bd.row("Replication: the primary's view", false)
	rl := []string{"target", "replica"}
	bd.ts(spec{
		Title: "Replica lag (seconds)",
		Desc:  "pg_stat_replication write, flush and replay lag of each standby, from the primary (0 when caught up and idle).",
		Unit:  "s",
		Queries: []query{
			{Expr: g.max(m("headroom_postgres_replication_replay_lag_seconds"), rl...), Legend: "{{target}} → {{replica}} replay"},
			{Expr: g.max(m("headroom_postgres_replication_write_lag_seconds"), rl...), Legend: "{{target}} → {{replica}} write"},
			{Expr: g.max(m("headroom_postgres_replication_flush_lag_seconds"), rl...), Legend: "{{target}} → {{replica}} flush"},
		},
		W: 8,
	})
	bd.ts(spec{
		Title: "Replica lag (bytes)",
		Desc:  "WAL written on the primary that each standby has not been sent, or has not replayed.",
		Unit:  "bytes",
		Queries: []query{
			{Expr: g.max(m("headroom_postgres_replication_sent_lag_bytes"), rl...), Legend: "{{target}} → {{replica}} not sent"},
			{Expr: g.max(m("headroom_postgres_replication_replay_lag_bytes"), rl...), Legend: "{{target}} → {{replica}} not replayed"},
		},
		W: 8,
	})
	bd.ts(spec{
		Title:   "WAL generation rate",
		Desc:    "Bytes of WAL the primary writes per second (derivative of pg_current_wal_lsn): the stream every standby must keep up with.",
		Unit:    "Bps",
		Queries: []query{{Expr: g.max(fmt.Sprintf("deriv(%s[%s])", m("headroom_postgres_wal_position_bytes"), RateInterval), "target"), Legend: "{{target}}"}},
		W:       8,
	})
	bd.ts(spec{
		Title:    "Standbys streaming",
		Desc:     "1 when a standby's WAL sender is in state streaming.",
		Queries:  []query{{Expr: g.max(m("headroom_postgres_replication_streaming"), rl...), Legend: "{{target}} → {{replica}}"}},
		Steps:    stepsAt(colorCritical, 1, colorOK),
		Mappings: mapValues("0", "not streaming", colorCritical, "1", "streaming", colorOK),
		Min:      ptr(0.0), Max: ptr(1.0), W: 8,
	})
	slot := g.triggers(catalogue.TriggerReplicationSlotInactive)
	sl := []string{"target", "slot", "slot_type"}
	bd.ts(spec{
		Title:   "WAL retained by replication slots",
		Desc:    describeAll("WAL each replication slot holds back from removal; an inactive slot retaining WAL fills the primary's disk.", slot),
		Unit:    "bytes",
		Queries: []query{{Expr: g.max(m("headroom_postgres_replication_slot_retained_wal_bytes"), sl...), Legend: "{{target}} {{slot}}"}},
		Steps:   ladder(catalogue.UnitBytes, slot...), Lines: true, W: 8,
	})
	bd.ts(spec{
		Title: "Replication slots: active and WAL lost",
		Desc:  "1 when a consumer is connected to the slot (active), and 1 when the slot's WAL is lost (its consumer can no longer catch up).",
		Queries: []query{
			{Expr: g.max(m("headroom_postgres_replication_slot_active"), sl...), Legend: "{{target}} {{slot}} active"},
			{Expr: g.max(m("headroom_postgres_replication_slot_wal_lost"), sl...), Legend: "{{target}} {{slot}} WAL lost"},
		},
		Min: ptr(0.0), Max: ptr(1.0), W: 8,
	})

	bd.row("Replication: the standby's view", false)
	bd.ts(spec{
		Title:   "Standby lag",
		Desc:    describeAll("How far each standby's data is behind its primary: 0 while it has replayed all it received and streams; right on an idle primary, while replay is paused and when the stream is blocked.", lag),
		Unit:    "s",
		Queries: []query{{Expr: g.max(m("headroom_postgres_standby_lag_seconds"), "target"), Legend: "{{target}}"}},
		Steps:   ladder(catalogue.UnitSeconds, lag...), Lines: true,
	})
	bd.ts(spec{
		Title:   "Standby replay backlog",
		Desc:    "WAL a standby has received but not yet replayed.",
		Unit:    "bytes",
		Queries: []query{{Expr: g.max(m("headroom_postgres_standby_replay_lag_bytes"), "target"), Legend: "{{target}}"}},
	})
	notStreaming := g.triggers(catalogue.TriggerReplicaNotStreaming)
	bd.ts(spec{
		Title: "WAL receiver streaming and replay paused",
		Desc:  describeAll("1 while the standby's WAL receiver streams from its upstream; replay paused is 1 when WAL replay is paused.", notStreaming),
		Queries: []query{
			{Expr: g.max(m("headroom_postgres_wal_receiver_streaming"), "target"), Legend: "{{target}} streaming"},
			{Expr: g.max(m("headroom_postgres_standby_replay_paused"), "target"), Legend: "{{target}} replay paused"},
		},
		Min: ptr(0.0), Max: ptr(1.0), W: 8,
	})
	bd.ts(spec{
		Title:   "Time since the last message from upstream",
		Desc:    "Seconds since the WAL receiver last heard from its upstream WAL sender (which sends at least every wal_sender_timeout / 2 when idle).",
		Unit:    "s",
		Queries: []query{{Expr: fmt.Sprintf("time() - %s", g.max(m("headroom_postgres_wal_receiver_last_message_receipt_timestamp_seconds"), "target")), Legend: "{{target}}"}},
		Steps:   stepsAt(colorOK, 30, colorWarning, 60, colorCritical), Lines: true, W: 8,
	})
	bd.ts(spec{
		Title:   "WAL receiver status",
		Desc:    "The WAL receiver's status (streaming, catchup, stopping, ...; none when no receiver runs).",
		Queries: []query{{Expr: g.max(m("headroom_postgres_wal_receiver_status"), "target", "status") + " == 1", Legend: "{{target}} {{status}}"}},
		Min:     ptr(0.0), Max: ptr(1.0), W: 8,
	})

	bd.exporterRow()
	return bd
}

// exporterRow shows how the exporter's scrapes of this kind of target go.
func (bd *board) exporterRow() {
	g, m := bd.g, bd.m
	kind := fmt.Sprintf("kind=%q", bd.kind)
	// Collector series have no kind label: keep those of this kind's targets.
	ofKind := g.on("target") + " " + g.max(m("headroom_target_up", kind), "target")
	bd.row("Exporter: scrapes of "+bd.kind+" targets", true)
	bd.ts(spec{
		Title:   "Scrape duration",
		Desc:    "Time the scrape of each target took, and each of its collectors.",
		Unit:    "s",
		Queries: []query{{Expr: g.max(m("headroom_target_scrape_duration_seconds", kind), "target"), Legend: "{{target}}"}},
		W:       8,
	})
	bd.ts(spec{
		Title:   "Collector success",
		Desc:    "1 when a collector of the target succeeded in the last scrape; a collector can fail while the others work.",
		Queries: []query{{Expr: g.max(m("headroom_scrape_collector_success"), "target", "collector") + " and " + ofKind, Legend: "{{target}} {{collector}}"}},
		Min:     ptr(0.0), Max: ptr(1.0), W: 8,
	})
	bd.ts(spec{
		Title: "Scrape errors per second",
		Desc:  "Failed scrapes by reason: timeout, refused, auth, tls, query, protocol, shutdown.",
		Unit:  "ops",
		Queries: []query{{Expr: g.sum(rate(m("headroom_target_scrape_errors_total", kind)), "target", "reason"),
			Legend: "{{target}} {{reason}}"}},
		W: 8,
	})
	zero := fmt.Sprintf("%s * 0", g.max(m("headroom_target_up", kind), "target"))
	dropped := query{Expr: fmt.Sprintf("%s or %s", g.sum(rate(m("headroom_target_series_dropped_total", kind)), "target"), zero), Legend: "{{target}} labels dropped"}
	if bd.kind == "postgres" || bd.kind == "pgbouncer" {
		// Only these kinds count the connections they open.
		bd.ts(spec{
			Title: "Connections opened and labels dropped per second",
			Desc: "Connections headroom opened (flat in steady state: connections are reused) and label values left out because they " +
				"exceeded the target's limits (0 when none).",
			Unit: "ops",
			Queries: []query{
				{Expr: g.sum(rate(m("headroom_target_connections_opened_total", kind)), "target"), Legend: "{{target}} connections opened"},
				dropped,
			},
			W: 12,
		})
	} else {
		bd.ts(spec{
			Title:   "Labels dropped per second",
			Desc:    "Label values left out because they exceeded the target's limits (0 when none).",
			Unit:    "ops",
			Queries: []query{dropped},
			W:       12,
		})
	}
	bd.ts(spec{
		Title:   "Collector duration",
		Desc:    "Time each collector took in the last scrape.",
		Unit:    "s",
		Queries: []query{{Expr: g.max(m("headroom_scrape_collector_duration_seconds"), "target", "collector") + " and " + ofKind, Legend: "{{target}} {{collector}}"}},
		W:       12,
	})
}
