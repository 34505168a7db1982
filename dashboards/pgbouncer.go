package dashboards

import (
	"fmt"

	"github.com/headroom-dev/headroom/catalogue"
)

func (g *gen) pgbouncer() *board {
	bd := g.newBoard(PgBouncer, "pgbouncer", "PgBouncer pools as headroom reads them from the admin console: clients waiting and for how long, "+
		"server connections against pool sizes, limits and traffic.")
	m := bd.m
	pl := []string{"target", "database", "user"}
	waiting := g.triggers(catalogue.TriggerPgBouncerClientsWaiting)
	maxWait := g.triggers(catalogue.TriggerPgBouncerMaxWait)
	clientUtil := g.ratio(g.sum(m("headroom_pgbouncer_client_connections"), "target"), []string{"target"},
		g.max(m("headroom_pgbouncer_config_max_client_connections"), "target"))
	queries := g.sum(rate(m("headroom_pgbouncer_stats_queries_total")), "target")

	bd.row("Status", false)
	bd.upStat(catalogue.TriggerPgBouncerDown)
	bd.stat(spec{
		Title:   "Client connection utilisation",
		Desc:    "Client connections over max_client_conn; past it PgBouncer refuses new clients.",
		Unit:    "percentunit",
		Queries: []query{{Expr: clientUtil, Legend: "{{target}}"}},
		Steps:   stepsAt(colorOK, 0.8, colorWarning, 0.95, colorCritical),
		W:       4, H: 4,
	})
	bd.stat(spec{
		Title:   "Clients waiting",
		Desc:    describeAll("Clients waiting for a server connection, over all pools.", waiting),
		Queries: []query{{Expr: g.sum(m("headroom_pgbouncer_pool_client_connections", `state="waiting"`), "target"), Legend: "{{target}}"}},
		Steps:   ladder(catalogue.UnitCount, waiting...),
		W:       4, H: 4, Decimals: ptr(0.0),
	})
	bd.stat(spec{
		Title:   "Longest wait",
		Desc:    describeAll("How long the oldest waiting client has waited, over all pools.", maxWait),
		Unit:    "s",
		Queries: []query{{Expr: g.max(m("headroom_pgbouncer_pool_max_wait_seconds"), "target"), Legend: "{{target}}"}},
		Steps:   ladder(catalogue.UnitSeconds, maxWait...),
		W:       4, H: 4,
	})
	bd.stat(spec{
		Title:   "Queries per second",
		Desc:    "SQL queries pooled per second.",
		Unit:    "ops",
		Queries: []query{{Expr: queries, Legend: "{{target}}"}},
		Steps:   neutral("blue"),
		W:       4, H: 4,
	})
	bd.stat(spec{
		Title:   "Databases paused or disabled",
		Desc:    "Databases that are PAUSEd or DISABLEd: their clients wait or are refused.",
		Queries: []query{{Expr: fmt.Sprintf("%s + %s", g.sum(m("headroom_pgbouncer_database_paused"), "target"), g.sum(m("headroom_pgbouncer_database_disabled"), "target")), Legend: "{{target}}"}},
		Steps:   stepsAt(colorOK, 1, colorCritical),
		W:       4, H: 4, Decimals: ptr(0.0),
	})

	bd.row("Clients", false)
	bd.ts(spec{
		Title:   "Client connection utilisation",
		Desc:    "Client connections (the admin console's included) over max_client_conn.",
		Unit:    "percentunit",
		Queries: []query{{Expr: clientUtil, Legend: "{{target}}"}},
		Steps:   stepsAt(colorOK, 0.8, colorWarning, 0.95, colorCritical), Lines: true,
	})
	bd.ts(spec{
		Title:   "Clients by state",
		Desc:    "Client connections of each pool: active (linked to a server or idle), waiting (for a server), cancel requests.",
		Queries: []query{{Expr: g.sum(m("headroom_pgbouncer_pool_client_connections"), "target", "database", "user", "state"), Legend: "{{target}} {{database}}/{{user}} {{state}}"}},
		Stack:   true,
	})
	bd.ts(spec{
		Title:   "Clients waiting per pool",
		Desc:    describeAll("Clients of each pool waiting for a server connection.", waiting),
		Queries: []query{{Expr: g.max(m("headroom_pgbouncer_pool_client_connections", `state="waiting"`), pl...), Legend: "{{target}} {{database}}/{{user}}"}},
		Steps:   ladder(catalogue.UnitCount, waiting...), Lines: true, Decimals: ptr(0.0),
	})
	bd.ts(spec{
		Title:   "Longest wait per pool",
		Desc:    describeAll("How long the oldest waiting client of each pool has waited.", maxWait),
		Unit:    "s",
		Queries: []query{{Expr: g.max(m("headroom_pgbouncer_pool_max_wait_seconds"), pl...), Legend: "{{target}} {{database}}/{{user}}"}},
		Steps:   ladder(catalogue.UnitSeconds, maxWait...), Lines: true,
	})

	bd.row("Servers", false)
	poolTriggers := g.onSignal(catalogue.SignalDBPool)
	bd.ts(spec{
		Title: "Pool utilisation",
		Desc:  describeAll("Server connections of each pool linked to a client (active) over the database's pool_size.", poolTriggers),
		Unit:  "percentunit",
		Queries: []query{{Expr: fmt.Sprintf("%s\n  / %s group_left () (%s > 0)",
			g.sum(m("headroom_pgbouncer_pool_server_connections", `state="active"`), pl...), g.on("target", "database"),
			g.max(m("headroom_pgbouncer_database_pool_size"), "target", "database")), Legend: "{{target}} {{database}}/{{user}}"}},
		Steps: ladder(catalogue.UnitRatio, poolTriggers...), Lines: true,
	})
	bd.ts(spec{
		Title:   "Server connections by state",
		Desc:    "Server connections of each pool: active (linked to a client), idle, used, tested, login.",
		Queries: []query{{Expr: g.sum(m("headroom_pgbouncer_pool_server_connections"), "target", "database", "user", "state"), Legend: "{{target}} {{database}}/{{user}} {{state}}"}},
		Stack:   true,
	})
	dl := []string{"target", "database"}
	bd.ts(spec{
		Title: "Database server connection limit utilisation",
		Desc:  "Server connections to a database over its max_db_connections; databases without a limit (0) are not shown.",
		Unit:  "percentunit",
		Queries: []query{{Expr: g.ratio(g.max(m("headroom_pgbouncer_database_server_connections"), dl...), dl,
			g.max(m("headroom_pgbouncer_database_max_server_connections"), dl...)), Legend: "{{target}} {{database}}"}},
		Steps: stepsAt(colorOK, 0.8, colorWarning, 0.95, colorCritical), Lines: true,
	})
	bd.ts(spec{
		Title: "Pool sizes",
		Desc:  "Each database's pool_size and reserve pool, and the default_pool_size and reserve_pool_size settings.",
		Queries: []query{
			{Expr: g.max(m("headroom_pgbouncer_database_pool_size"), dl...), Legend: "{{target}} {{database}} pool_size"},
			{Expr: g.max(m("headroom_pgbouncer_database_reserve_pool_size"), dl...), Legend: "{{target}} {{database}} reserve_pool"},
			{Expr: g.max(m("headroom_pgbouncer_config_default_pool_size"), "target"), Legend: "{{target}} default_pool_size"},
			{Expr: g.max(m("headroom_pgbouncer_config_reserve_pool_size"), "target"), Legend: "{{target}} reserve_pool_size"},
		},
	})

	bd.row("Traffic", false)
	xacts := g.sum(rate(m("headroom_pgbouncer_stats_transactions_total")), "target", "database")
	qs := g.sum(rate(m("headroom_pgbouncer_stats_queries_total")), "target", "database")
	bd.ts(spec{
		Title: "Queries and transactions per second",
		Desc:  "SQL queries and transactions pooled per second.",
		Unit:  "ops",
		Queries: []query{
			{Expr: qs, Legend: "{{target}} {{database}} queries"},
			{Expr: xacts, Legend: "{{target}} {{database}} transactions"},
		},
		W: 8,
	})
	bd.ts(spec{
		Title: "Average query and transaction time",
		Desc:  "Time spent running queries over queries, and in transactions (idle in transaction included) over transactions; absent without traffic.",
		Unit:  "s",
		Queries: []query{
			{Expr: fmt.Sprintf("%s\n  / (%s > 0)", g.sum(rate(m("headroom_pgbouncer_stats_query_duration_seconds_total")), "target", "database"), qs),
				Legend: "{{target}} {{database}} query"},
			{Expr: fmt.Sprintf("%s\n  / (%s > 0)", g.sum(rate(m("headroom_pgbouncer_stats_transaction_duration_seconds_total")), "target", "database"), xacts),
				Legend: "{{target}} {{database}} transaction"},
		},
		W: 8,
	})
	bd.ts(spec{
		Title:   "Clients waiting on average",
		Desc:    "Client wait time per second: the average number of clients waiting for a server connection.",
		Queries: []query{{Expr: g.sum(rate(m("headroom_pgbouncer_stats_client_wait_seconds_total")), "target", "database"), Legend: "{{target}} {{database}}"}},
		W:       8,
	})
	bd.ts(spec{
		Title: "Network traffic",
		Desc:  "Bytes received from and sent to clients per second.",
		Unit:  "Bps",
		Queries: []query{
			{Expr: g.sum(rate(m("headroom_pgbouncer_stats_received_bytes_total")), "target", "database"), Legend: "{{target}} {{database}} received"},
			{Expr: g.sum(rate(m("headroom_pgbouncer_stats_sent_bytes_total")), "target", "database"), Legend: "{{target}} {{database}} sent"},
		},
		W: 24,
	})

	bd.exporterRow()
	return bd
}
