package collectors

import (
	"fmt"
	"math"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom-dev/headroom/internal/exposition"
)

// PgBouncer metrics come from four admin-console commands, each read by
// column name so that a PgBouncer release that adds, drops or renames a
// column loses at most that column's series, never the scrape.
//
// Utilisation, and the pairs of series that form it:
//
//	client connections: headroom_pgbouncer_client_connections / headroom_pgbouncer_config_max_client_connections
//	pool (DBPool*):     headroom_pgbouncer_pool_server_connections{state="active"}
//	                      / on (target, database) group_left headroom_pgbouncer_database_pool_size
//	database servers:   headroom_pgbouncer_database_server_connections
//	                      / (headroom_pgbouncer_database_max_server_connections > 0)
//	database clients:   headroom_pgbouncer_database_client_connections
//	                      / (headroom_pgbouncer_database_max_client_connections > 0)   (1.24+)
//
// A limit of 0 means "unlimited" in PgBouncer, so the limit series are
// exported as they are and a rule must filter them with `> 0` before it
// divides; the exporter itself never divides. Saturation (PgBouncerClientsWaiting)
// is headroom_pgbouncer_pool_client_connections{state="waiting"} > 0 or
// headroom_pgbouncer_pool_max_wait_seconds > 1.
//
// The admin console's own pseudo-database "pgbouncer" is left out of every
// per-pool and per-database series (it is not a pool of server connections
// and has no backend), but its clients, the exporter among them, do count in
// headroom_pgbouncer_client_connections, because they count against
// max_client_conn.
var (
	pgbPoolClientsDesc = pgbDesc("pool_client_connections", exposition.Gauge,
		"Client connections of the pool by state: active (linked to a server or idle), waiting (for a server), and cancel requests (cancel_req before 1.18; active_cancel_req, waiting_cancel_req from 1.18).",
		"database", "user", "state")
	pgbPoolServersDesc = pgbDesc("pool_server_connections", exposition.Gauge,
		"Server connections of the pool by state: active (linked to a client), idle, used (needs the check query), tested, login, and active_cancel/being_canceled (1.18+).",
		"database", "user", "state")
	pgbPoolMaxWaitDesc = pgbDesc("pool_max_wait_seconds", exposition.Gauge,
		"How long the oldest waiting client of the pool has waited (maxwait + maxwait_us).",
		"database", "user")
	pgbPoolInfoDesc = pgbDesc("pool_info", exposition.Gauge,
		"Always 1; the pool's resolved pool_mode as a label.",
		"database", "user", "pool_mode")
	pgbClientsDesc = pgbDesc("client_connections", exposition.Gauge,
		"Client connections in every pool, the admin console's included: what counts against max_client_conn (clients still logging in are not in any pool and are not counted).")

	pgbDBPoolSizeDesc = pgbDesc("database_pool_size", exposition.Gauge,
		"Maximum server connections of each pool (database, user) of this database: pool_size, or default_pool_size when the database does not set it.",
		"database")
	pgbDBReservePoolDesc = pgbDesc("database_reserve_pool_size", exposition.Gauge,
		"Additional server connections a pool of this database may open when clients wait (reserve_pool; reserve_pool_size from 1.24).",
		"database")
	pgbDBServerConnsDesc = pgbDesc("database_server_connections", exposition.Gauge,
		"Server connections PgBouncer holds to this database (current_connections).",
		"database")
	pgbDBMaxServerConnsDesc = pgbDesc("database_max_server_connections", exposition.Gauge,
		"Limit on server connections to this database across its pools (max_connections, i.e. max_db_connections); 0 means unlimited.",
		"database")
	pgbDBClientConnsDesc = pgbDesc("database_client_connections", exposition.Gauge,
		"Client connections to this database (current_client_connections, 1.24+).",
		"database")
	pgbDBMaxClientConnsDesc = pgbDesc("database_max_client_connections", exposition.Gauge,
		"Limit on client connections to this database (max_client_connections, 1.24+); 0 means unlimited.",
		"database")
	pgbDBPausedDesc = pgbDesc("database_paused", exposition.Gauge,
		"1 when the database is paused (PAUSE), 0 otherwise.",
		"database")
	pgbDBDisabledDesc = pgbDesc("database_disabled", exposition.Gauge,
		"1 when the database is disabled (DISABLE), 0 otherwise.",
		"database")

	pgbStatsXactsDesc = pgbDesc("stats_transactions_total", exposition.Counter,
		"SQL transactions pooled (total_xact_count).", "database")
	pgbStatsQueriesDesc = pgbDesc("stats_queries_total", exposition.Counter,
		"SQL queries pooled (total_query_count).", "database")
	pgbStatsReceivedDesc = pgbDesc("stats_received_bytes_total", exposition.Counter,
		"Network traffic received from clients (total_received).", "database")
	pgbStatsSentDesc = pgbDesc("stats_sent_bytes_total", exposition.Counter,
		"Network traffic sent to clients (total_sent).", "database")
	pgbStatsXactTimeDesc = pgbDesc("stats_transaction_duration_seconds_total", exposition.Counter,
		"Time spent in transactions, idle in transaction included (total_xact_time).", "database")
	pgbStatsQueryTimeDesc = pgbDesc("stats_query_duration_seconds_total", exposition.Counter,
		"Time spent actively running queries (total_query_time).", "database")
	pgbStatsWaitTimeDesc = pgbDesc("stats_client_wait_seconds_total", exposition.Counter,
		"Time clients spent waiting for a server connection (total_wait_time).", "database")
	pgbStatsAssignmentsDesc = pgbDesc("stats_server_assignments_total", exposition.Counter,
		"Times a server connection was assigned to a client (total_server_assignment_count, 1.23+).", "database")
	pgbStatsClientParsesDesc = pgbDesc("stats_client_parses_total", exposition.Counter,
		"Prepared statements created by clients (total_client_parse_count, 1.24+).", "database")
	pgbStatsServerParsesDesc = pgbDesc("stats_server_parses_total", exposition.Counter,
		"Prepared statements created by PgBouncer on servers (total_server_parse_count, 1.24+).", "database")
	pgbStatsBindsDesc = pgbDesc("stats_binds_total", exposition.Counter,
		"Prepared statements bound by clients (total_bind_count, 1.24+).", "database")

	pgbConfigMaxClientConnDesc = pgbDesc("config_max_client_connections", exposition.Gauge,
		"The max_client_conn setting: client connections PgBouncer accepts in total.")
	pgbConfigMaxDBConnsDesc = pgbDesc("config_max_db_connections", exposition.Gauge,
		"The max_db_connections setting: default limit on server connections per database; 0 means unlimited.")
	pgbConfigMaxUserConnsDesc = pgbDesc("config_max_user_connections", exposition.Gauge,
		"The max_user_connections setting: default limit on server connections per user; 0 means unlimited.")
	pgbConfigDefaultPoolSizeDesc = pgbDesc("config_default_pool_size", exposition.Gauge,
		"The default_pool_size setting: server connections per pool unless the database sets pool_size.")
	pgbConfigReservePoolSizeDesc = pgbDesc("config_reserve_pool_size", exposition.Gauge,
		"The reserve_pool_size setting: extra server connections a pool may open when clients wait.")
)

func pgbDesc(name string, typ exposition.Type, help string, labels ...string) *exposition.Desc {
	return newDesc("pgbouncer", name, typ, help, labels...)
}

// pgbAdminDatabase is the admin console's pseudo-database.
const pgbAdminDatabase = "pgbouncer"

// pgbColumn maps one SHOW column to one series.
type pgbColumn struct {
	// names are the column's names, newest first: the first one the server
	// sent is read (reserve_pool became reserve_pool_size in 1.24).
	names []string
	desc  *exposition.Desc
	// scale multiplies the value; 0 means 1. 1e-6 turns µs into seconds.
	scale float64
	// state is the value of the desc's last label, when it has a state label.
	state string
	// optional columns are absent in some supported versions (1.16 to
	// 1.24), so their absence is expected and logged only at debug level.
	optional bool
	// client marks the client-connection columns summed into
	// headroom_pgbouncer_client_connections.
	client bool
}

var pgbPoolColumns = []pgbColumn{
	{names: []string{"cl_active"}, desc: pgbPoolClientsDesc, state: "active", client: true},
	{names: []string{"cl_waiting"}, desc: pgbPoolClientsDesc, state: "waiting", client: true},
	{names: []string{"cl_cancel_req"}, desc: pgbPoolClientsDesc, state: "cancel_req", client: true, optional: true},
	{names: []string{"cl_active_cancel_req"}, desc: pgbPoolClientsDesc, state: "active_cancel_req", client: true, optional: true},
	{names: []string{"cl_waiting_cancel_req"}, desc: pgbPoolClientsDesc, state: "waiting_cancel_req", client: true, optional: true},
	{names: []string{"sv_active"}, desc: pgbPoolServersDesc, state: "active"},
	{names: []string{"sv_active_cancel"}, desc: pgbPoolServersDesc, state: "active_cancel", optional: true},
	{names: []string{"sv_being_canceled"}, desc: pgbPoolServersDesc, state: "being_canceled", optional: true},
	{names: []string{"sv_idle"}, desc: pgbPoolServersDesc, state: "idle"},
	{names: []string{"sv_used"}, desc: pgbPoolServersDesc, state: "used"},
	{names: []string{"sv_tested"}, desc: pgbPoolServersDesc, state: "tested"},
	{names: []string{"sv_login"}, desc: pgbPoolServersDesc, state: "login"},
}

var pgbDatabaseColumns = []pgbColumn{
	{names: []string{"pool_size"}, desc: pgbDBPoolSizeDesc},
	{names: []string{"reserve_pool_size", "reserve_pool"}, desc: pgbDBReservePoolDesc},
	{names: []string{"current_connections"}, desc: pgbDBServerConnsDesc},
	{names: []string{"max_connections"}, desc: pgbDBMaxServerConnsDesc},
	{names: []string{"current_client_connections"}, desc: pgbDBClientConnsDesc, optional: true},
	{names: []string{"max_client_connections"}, desc: pgbDBMaxClientConnsDesc, optional: true},
	{names: []string{"paused"}, desc: pgbDBPausedDesc},
	{names: []string{"disabled"}, desc: pgbDBDisabledDesc},
}

var pgbStatsColumns = []pgbColumn{
	{names: []string{"total_xact_count"}, desc: pgbStatsXactsDesc},
	{names: []string{"total_query_count"}, desc: pgbStatsQueriesDesc},
	{names: []string{"total_received"}, desc: pgbStatsReceivedDesc},
	{names: []string{"total_sent"}, desc: pgbStatsSentDesc},
	{names: []string{"total_xact_time"}, desc: pgbStatsXactTimeDesc, scale: 1e-6},
	{names: []string{"total_query_time"}, desc: pgbStatsQueryTimeDesc, scale: 1e-6},
	{names: []string{"total_wait_time"}, desc: pgbStatsWaitTimeDesc, scale: 1e-6},
	{names: []string{"total_server_assignment_count"}, desc: pgbStatsAssignmentsDesc, optional: true},
	{names: []string{"total_client_parse_count"}, desc: pgbStatsClientParsesDesc, optional: true},
	{names: []string{"total_server_parse_count"}, desc: pgbStatsServerParsesDesc, optional: true},
	{names: []string{"total_bind_count"}, desc: pgbStatsBindsDesc, optional: true},
}

// pgbConfigKeys maps SHOW CONFIG keys to gauges. Every supported version
// has all of them.
var pgbConfigKeys = []struct {
	key  string
	desc *exposition.Desc
}{
	{"max_client_conn", pgbConfigMaxClientConnDesc},
	{"max_db_connections", pgbConfigMaxDBConnsDesc},
	{"max_user_connections", pgbConfigMaxUserConnsDesc},
	{"default_pool_size", pgbConfigDefaultPoolSizeDesc},
	{"reserve_pool_size", pgbConfigReservePoolSizeDesc},
}

// pgbTable is one SHOW command's answer as the server sent it: the column
// names of its row description, in order, and rows of text values with NULL
// read as "". Live rows and the CSV fixtures of testdata/pgbouncer both
// arrive in this form, so that both go through the same parsing code.
type pgbTable struct {
	columns []string
	rows    [][]string
}

// index is the position of the first of names that the table has, or -1.
func (t pgbTable) index(names ...string) int {
	for _, n := range names {
		for i, c := range t.columns {
			if c == n {
				return i
			}
		}
	}
	return -1
}

// pgbMissing is told about a column (or SHOW CONFIG key) that the server did
// not send; its series is left out and the scrape goes on.
type pgbMissing func(command, column string, optional bool)

// pgbValue reads a numeric cell. NULL, text and non-finite values are not
// numbers here: their series is left out rather than exported as NaN.
func pgbValue(row []string, i int) (float64, bool) {
	if i < 0 || i >= len(row) || row[i] == "" {
		return 0, false
	}
	v, err := strconv.ParseFloat(row[i], 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

func pgbCell(row []string, i int) string {
	if i < 0 || i >= len(row) {
		return ""
	}
	return row[i]
}

// pgbResolve finds each column's position (-1 when absent) and reports the
// absent ones.
func pgbResolve(t pgbTable, command string, cols []pgbColumn, missing pgbMissing) []int {
	idx := make([]int, len(cols))
	for i, c := range cols {
		idx[i] = t.index(c.names...)
		if idx[i] < 0 && missing != nil {
			missing(command, c.names[0], c.optional)
		}
	}
	return idx
}

// pgbEmitRow emits one series per present column of a row; labels are the
// row's labels, followed by the column's state when it has one.
func pgbEmitRow(emit func(prometheus.Metric), row []string, cols []pgbColumn, idx []int, labels ...string) {
	for i, c := range cols {
		v, ok := pgbValue(row, idx[i])
		if !ok {
			continue
		}
		if c.scale != 0 {
			v *= c.scale
		}
		ls := labels
		if c.state != "" {
			ls = append(append(make([]string, 0, len(labels)+1), labels...), c.state)
		}
		emit(exposition.NewSample(c.desc, v, ls...))
	}
}

func pgbRequire(t pgbTable, command string, names ...string) ([]int, error) {
	idx := make([]int, len(names))
	for i, n := range names {
		if idx[i] = t.index(n); idx[i] < 0 {
			return nil, fmt.Errorf("SHOW %s: no column %q", command, n)
		}
	}
	return idx, nil
}

// pgbParsePools turns SHOW POOLS into series. allow admits a pool (the
// label cap); the client total counts every pool, admitted or not.
func pgbParsePools(t pgbTable, allow func(database, user string) bool, emit func(prometheus.Metric), missing pgbMissing) error {
	key, err := pgbRequire(t, "POOLS", "database", "user")
	if err != nil {
		return err
	}
	idx := pgbResolve(t, "POOLS", pgbPoolColumns, missing)
	maxWait, maxWaitUs, mode := t.index("maxwait"), t.index("maxwait_us"), t.index("pool_mode")
	if maxWait < 0 && missing != nil {
		missing("POOLS", "maxwait", false)
	}
	if maxWaitUs < 0 && missing != nil {
		missing("POOLS", "maxwait_us", false)
	}
	if mode < 0 && missing != nil {
		missing("POOLS", "pool_mode", false)
	}
	haveClients := false
	for i, c := range pgbPoolColumns {
		if c.client && idx[i] >= 0 {
			haveClients = true
		}
	}

	clients := 0.0
	for _, row := range t.rows {
		for i, c := range pgbPoolColumns {
			if v, ok := pgbValue(row, idx[i]); ok && c.client {
				clients += v
			}
		}
		db, user := pgbCell(row, key[0]), pgbCell(row, key[1])
		if db == pgbAdminDatabase || !allow(db, user) {
			continue
		}
		pgbEmitRow(emit, row, pgbPoolColumns, idx, db, user)
		if secs, ok := pgbValue(row, maxWait); ok {
			// maxwait_us is only the sub-second part of the wait.
			if us, ok := pgbValue(row, maxWaitUs); ok {
				secs += us / 1e6
			}
			emitSample(emit, pgbPoolMaxWaitDesc, secs, db, user)
		}
		if m := pgbCell(row, mode); m != "" {
			emitSample(emit, pgbPoolInfoDesc, 1, db, user, m)
		}
	}
	if haveClients {
		emitSample(emit, pgbClientsDesc, clients)
	}
	return nil
}

// pgbParseDatabases turns SHOW DATABASES into series, one set per database
// that allow admits.
func pgbParseDatabases(t pgbTable, allow func(database string) bool, emit func(prometheus.Metric), missing pgbMissing) error {
	return pgbParsePerDatabase(t, "DATABASES", "name", pgbDatabaseColumns, allow, emit, missing)
}

// pgbParseStats turns SHOW STATS into counters, one set per database that
// allow admits. The avg_* columns are left out: rate() of the totals gives
// them over any window.
func pgbParseStats(t pgbTable, allow func(database string) bool, emit func(prometheus.Metric), missing pgbMissing) error {
	return pgbParsePerDatabase(t, "STATS", "database", pgbStatsColumns, allow, emit, missing)
}

// pgbParsePerDatabase turns a SHOW answer of one row per database, named
// in its key column, into one set of cols' series per database that allow
// admits; the admin console's pseudo-database is left out.
func pgbParsePerDatabase(t pgbTable, command, key string, cols []pgbColumn, allow func(database string) bool, emit func(prometheus.Metric), missing pgbMissing) error {
	keyIdx, err := pgbRequire(t, command, key)
	if err != nil {
		return err
	}
	idx := pgbResolve(t, command, cols, missing)
	for _, row := range t.rows {
		db := pgbCell(row, keyIdx[0])
		if db == pgbAdminDatabase || !allow(db) {
			continue
		}
		pgbEmitRow(emit, row, cols, idx, db)
	}
	return nil
}

// pgbParseConfig turns the SHOW CONFIG key/value rows of the limits that
// utilisation is measured against into gauges.
func pgbParseConfig(t pgbTable, emit func(prometheus.Metric), missing pgbMissing) error {
	idx, err := pgbRequire(t, "CONFIG", "key", "value")
	if err != nil {
		return err
	}
	values := make(map[string]string, len(t.rows))
	for _, row := range t.rows {
		values[pgbCell(row, idx[0])] = pgbCell(row, idx[1])
	}
	for _, k := range pgbConfigKeys {
		raw, ok := values[k.key]
		if !ok {
			if missing != nil {
				missing("CONFIG", k.key, false)
			}
			continue
		}
		if v, ok := pgbValue([]string{raw}, 0); ok {
			emitSample(emit, k.desc, v)
		}
	}
	return nil
}
