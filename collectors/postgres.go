package collectors

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/exposition"
	"github.com/headroom-dev/headroom/internal/kind"
)

// Connection utilisation, the denominators that matter:
//
//	server:   sum(headroom_postgres_backends) / headroom_postgres_usable_connections
//	pool:     sum by (pool) (headroom_postgres_pool_backends) / headroom_postgres_pool_size
//	database: headroom_postgres_database_backends / headroom_postgres_database_connection_limit
//	role:     headroom_postgres_role_backends / headroom_postgres_role_connection_limit
//
// usable = max_connections - superuser_reserved_connections - reserved_connections:
// ordinary clients get "too many clients" once they hold that many.
var (
	pgSubsystem = "postgres"

	pgInRecoveryDesc = pgDesc("in_recovery", exposition.Gauge, "1 when the server is a standby (in recovery), 0 on a primary.")
	pgVersionDesc    = pgDesc("server_version_num", exposition.Gauge, "The server's version as server_version_num (e.g. 150019).")

	pgMaxConnectionsDesc    = pgDesc("max_connections", exposition.Gauge, "The max_connections setting.")
	pgSuperuserReservedDesc = pgDesc("superuser_reserved_connections", exposition.Gauge, "The superuser_reserved_connections setting.")
	pgReservedDesc          = pgDesc("reserved_connections", exposition.Gauge, "The reserved_connections setting (16+; 0 before, where it does not exist).")
	pgUsableConnectionsDesc = pgDesc("usable_connections", exposition.Gauge, "Connections ordinary clients can hold: max_connections - superuser_reserved_connections - reserved_connections.")

	pgBackendsDesc = pgDesc("backends", exposition.Gauge,
		"Client backends by database and state (active, idle, idle_in_transaction, idle_in_transaction_aborted, waiting on a lock, ...).",
		"database", "state")
	pgOldestXactDesc = pgDesc("oldest_transaction_age_seconds", exposition.Gauge,
		"Age of the longest-running open transaction in the database, 0 when none is open.", "database")
	pgDatabaseLimitDesc = pgDesc("database_connection_limit", exposition.Gauge,
		"The database's datconnlimit; absent when unlimited.", "database")
	pgRoleBackendsDesc = pgDesc("role_backends", exposition.Gauge, "Client backends by role (user).", "role")
	pgRoleLimitDesc    = pgDesc("role_connection_limit", exposition.Gauge, "The role's rolconnlimit; absent when unlimited.", "role")
	pgPoolBackendsDesc = pgDesc("pool_backends", exposition.Gauge,
		"Client backends of a configured pool (matched by application_name, else by user), by state.", "pool", "state")
	pgPoolSizeDesc = pgDesc("pool_size", exposition.Gauge, "The configured size of the application's connection pool.", "pool")

	pgCommitsDesc    = pgDesc("database_commits_total", exposition.Counter, "Transactions committed in the database.", "database")
	pgRollbacksDesc  = pgDesc("database_rollbacks_total", exposition.Counter, "Transactions rolled back in the database.", "database")
	pgDeadlocksDesc  = pgDesc("database_deadlocks_total", exposition.Counter, "Deadlocks detected in the database.", "database")
	pgBlocksHitDesc  = pgDesc("database_blocks_hit_total", exposition.Counter, "Disk blocks found in shared buffers.", "database")
	pgBlocksReadDesc = pgDesc("database_blocks_read_total", exposition.Counter, "Disk blocks read from disk (or the OS cache).", "database")
	pgSizeDesc       = pgDesc("database_size_bytes", exposition.Gauge, "Size of the database on disk (optional: database_sizes in the config).", "database")

	cacheAgeDesc = newDesc("", "collector_cache_age_seconds", exposition.Gauge,
		"Age of the answer a collector with a query_ttl served in this scrape: 0 when its query ran, else how long ago it did.", "collector")
	queryExecutionsDesc = newDesc("", "collector_query_executions_total", exposition.Counter,
		"Times a collector's query ran on the server (a scrape served from the collector's cache runs none).", "collector")
	querySecondsDesc = newDesc("", "collector_query_seconds_total", exposition.Counter,
		"Time a collector's query took, summed over its executions, measured by headroom as the time from the previous result of the pipelined round trip to this one's last row: close to the server's own time for the query, network transfer of its rows included.", "collector")
)

func pgDesc(name string, typ exposition.Type, help string, labels ...string) *exposition.Desc {
	return newDesc(pgSubsystem, name, typ, help, labels...)
}

// backendStates are always emitted for every database and pool, zero when
// no backend is in them, so that an idle pool reads 0 % rather than nothing
// and a scale-down rule can see it.
var backendStates = []string{"active", "idle", "idle_in_transaction", "waiting"}

var stateReplacer = strings.NewReplacer(" (", "_", ")", "", " ", "_")

// normaliseState turns pg_stat_activity's state into a label value.
func normaliseState(s string) string {
	s = stateReplacer.Replace(s)
	switch s {
	case "active", "idle", "idle_in_transaction", "idle_in_transaction_aborted", "fastpath_function_call", "disabled", "waiting":
		return s
	}
	return "unknown"
}

type postgresTarget struct {
	cfg  config.Postgres
	pool *pgxpool.Pool

	// role is what the last scrape found the server to be.
	roleMu sync.Mutex
	role   pgRole

	// standby lag state: what earlier scrapes saw of this server.
	lagMu sync.Mutex
	lag   standbyLag

	// queries is what each collector's query has cost this server, and
	// the answers kept for the collectors with a query_ttl.
	queriesMu sync.Mutex
	queries   map[string]*queryRecord
}

// queryRecord is one collector's query on one target: how often it ran,
// for how long, and its last good answer when the collector has a TTL.
type queryRecord struct {
	executions uint64
	took       time.Duration
	answer     []prometheus.Metric
	answeredAt time.Time
}

// cachedAnswer is the collector's last good answer and its age, when it
// is younger than the collector's TTL.
func (t *postgresTarget) cachedAnswer(collector string, now time.Time) ([]prometheus.Metric, time.Duration, bool) {
	ttl := time.Duration(t.cfg.QueryTTL[collector])
	if ttl <= 0 {
		return nil, 0, false
	}
	t.queriesMu.Lock()
	defer t.queriesMu.Unlock()
	r := t.queries[collector]
	if r == nil || r.answer == nil {
		return nil, 0, false
	}
	age := now.Sub(r.answeredAt)
	if age >= ttl {
		return nil, 0, false
	}
	return r.answer, age, true
}

// recordQuery counts one execution of a collector's query and, when the
// collector has a TTL and succeeded, keeps its answer. A failed query
// keeps nothing: the next scrape asks again.
func (t *postgresTarget) recordQuery(collector string, took time.Duration, answer []prometheus.Metric, ok bool, at time.Time) {
	t.queriesMu.Lock()
	defer t.queriesMu.Unlock()
	if t.queries == nil {
		t.queries = map[string]*queryRecord{}
	}
	r := t.queries[collector]
	if r == nil {
		r = &queryRecord{}
		t.queries[collector] = r
	}
	r.executions++
	r.took += took
	if ok && t.cfg.QueryTTL[collector] > 0 {
		r.answer, r.answeredAt = answer, at
	}
}

// emitQueryCosts emits every collector's executions and time so far.
func (t *postgresTarget) emitQueryCosts(emit func(prometheus.Metric)) {
	t.queriesMu.Lock()
	defer t.queriesMu.Unlock()
	for collector, r := range t.queries {
		emitSample(emit, queryExecutionsDesc, float64(r.executions), collector)
		emitSample(emit, querySecondsDesc, r.took.Seconds(), collector)
	}
}

// postgresStatementCache is the statements a connection keeps prepared:
// every query of both roles (TestPostgresStatementCacheHoldsEveryQuery).
const postgresStatementCache = 32

// pgxDefaultCacheCapacity is what pgx's ParseConfig gives each cache when
// the DSN does not set it.
const pgxDefaultCacheCapacity = 512

// NewPostgres builds a PostgreSQL target. The pool is created lazily by
// pgxpool: nothing connects until the first scrape. The target logs
// nothing of its own (every failure is an error its runner logs), so it
// keeps no logger; it takes one as every kind's constructor does
// (exporter.go's table).
func NewPostgres(c config.Postgres, _ *slog.Logger) (Target, error) {
	pc, err := pgxpool.ParseConfig(c.DSN)
	if err != nil {
		return nil, fmt.Errorf("dsn: %s", config.RedactDSNError(err))
	}
	// Read now so that an unreadable file stops start-up by name, and
	// again before every new connection so that a rotated secret (a
	// Secret volume the kubelet updates) is used without a restart.
	if _, _, err := c.Secret.Password(); err != nil {
		return nil, fmt.Errorf("password: %w", err)
	}
	pc.BeforeConnect = func(_ context.Context, cc *pgx.ConnConfig) error {
		pw, ok, err := c.Secret.Password()
		if err != nil {
			return fmt.Errorf("read password: %w", err)
		}
		if ok {
			cc.Password = pw
		}
		return nil
	}
	pc.MaxConns = int32(c.MaxConnections)
	pc.MinConns = 0
	// Connections live long so that a steady-state scrape opens none.
	pc.MaxConnLifetime = 24 * time.Hour
	pc.MaxConnIdleTime = 30 * time.Minute
	// pgx's caches make room for 512 statements each when a connection
	// opens, 68 kB a target (BenchmarkManyTargets); headroom's queries
	// are a fixed few per role (postgres_queries.go), both roles' fit.
	// A size the DSN sets (statement_cache_capacity=0 for a pooler) is
	// the user's; only pgx's default is lowered.
	if pc.ConnConfig.StatementCacheCapacity == pgxDefaultCacheCapacity {
		pc.ConnConfig.StatementCacheCapacity = postgresStatementCache
	}
	if pc.ConnConfig.DescriptionCacheCapacity == pgxDefaultCacheCapacity {
		pc.ConnConfig.DescriptionCacheCapacity = postgresStatementCache
	}
	rp := pc.ConnConfig.RuntimeParams
	rp["application_name"] = "headroom"
	rp["statement_timeout"] = strconv.FormatInt(time.Duration(c.StatementTimeout).Milliseconds(), 10)
	rp["lock_timeout"] = strconv.FormatInt(time.Duration(c.LockTimeout).Milliseconds(), 10)
	// Monitoring must never hold up anything else; no query here writes.
	rp["default_transaction_read_only"] = "on"
	pool, err := pgxpool.NewWithConfig(context.Background(), pc)
	if err != nil {
		return nil, fmt.Errorf("pool: %s", config.RedactDSNError(err))
	}
	return &postgresTarget{cfg: c, pool: pool}, nil
}

func (t *postgresTarget) Name() string    { return t.cfg.Name }
func (t *postgresTarget) Kind() kind.Kind { return kind.Postgres }
func (t *postgresTarget) Close()          { t.pool.Close() }

// PoolStats exposes the connection pool's counters to tests.
func (t *postgresTarget) PoolStats() *pgxpool.Stat { return t.pool.Stat() }

// ConnectionsOpened counts connections the pool has opened.
func (t *postgresTarget) ConnectionsOpened() uint64 { return uint64(t.pool.Stat().NewConnsCount()) }

func (t *postgresTarget) Scrape(ctx context.Context, s *Scrape) error {
	conn, err := t.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()

	// The role decides which queries are safe to run, and it changes on
	// failover, so it is read on every scrape; but in the same round trip
	// as the queries of the role the last scrape saw. Only when that guess
	// is wrong (a failover, an upgrade, the first scrape) is the scrape
	// sent again with the right queries: a round trip saved on every other
	// scrape, on a busy server most of what the exporter adds to it.
	t.roleMu.Lock()
	guess := t.role
	t.roleMu.Unlock()
	for attempt := 0; ; attempt++ {
		results, run, unsupported := t.send(ctx, conn.Conn(), s, guess)
		var seen pgRole
		err := results.QueryRow().Scan(&seen.inRecovery, &seen.versionNum)
		switch {
		case attempt == 0 && err == nil && seen != guess:
			results.Close()
			guess = seen
			continue
		case attempt == 0 && err != nil && guess != (pgRole{}) && ctx.Err() == nil:
			// pgx prepares a pipeline's new statements before running
			// any, so one the server does not know (a DSN that now
			// reaches an older server) fails the role query with it:
			// ask for the role alone.
			results.Close()
			guess = pgRole{}
			continue
		}
		defer results.Close()
		t.roleMu.Lock()
		if err == nil {
			t.role = seen
		} else {
			t.role = pgRole{}
		}
		t.roleMu.Unlock()
		switch {
		case err != nil:
			return err
		case unsupported != nil:
			return unsupported
		}
		// A role that changed again between the two round trips keeps the
		// queries sent; the collectors that no longer apply fail, and the
		// next scrape asks for the right ones.
		emitSample(s.Emit, pgInRecoveryDesc, boolFloat(seen.inRecovery))
		emitSample(s.Emit, pgVersionDesc, float64(seen.versionNum))
		run(results)
		return nil
	}
}

// pgRole is what decides a scrape's queries: standby or primary, and the
// server's version.
type pgRole struct {
	inRecovery bool
	versionNum int
}

// send queues the role query and then every collector's query for the
// role guessed, in one pipeline: one round trip instead of one per query.
// A failing query fails its own collector; PostgreSQL skips the rest of
// the pipeline, and those collectors fail too. run reads the collectors'
// results after the role's row. When the guess names no version headroom
// supports (the first scrape, or a server too old), only the role is
// asked, and the error says why.
func (t *postgresTarget) send(ctx context.Context, conn *pgx.Conn, s *Scrape, guess pgRole) (pgx.BatchResults, func(pgx.BatchResults), error) {
	batch := &pgx.Batch{}
	batch.Queue(pgDetectQuery)
	q, err := queriesFor(guess.versionNum, guess.inRecovery)
	if err != nil {
		return conn.SendBatch(ctx, batch), nil, err
	}
	type step struct {
		name string
		read func(rows pgx.Rows, emit func(prometheus.Metric)) error
		// cached is the answer served instead of running the query, at
		// age; nil when the query runs.
		cached []prometheus.Metric
		age    time.Duration
	}
	var steps []step
	now := time.Now()
	add := func(name, sql string, read func(rows pgx.Rows, emit func(prometheus.Metric)) error) {
		if answer, age, ok := t.cachedAnswer(name, now); ok {
			steps = append(steps, step{name: name, cached: answer, age: age})
			return
		}
		batch.Queue(sql)
		steps = append(steps, step{name: name, read: read})
	}
	var databases, roleLimits map[string]float64
	add("settings", q.settings, t.readSettings)
	add("databases", q.databases, func(rows pgx.Rows, emit func(prometheus.Metric)) (err error) {
		databases, err = t.readDatabases(rows, s, emit)
		return err
	})
	add("roles", pgRolesQuery, func(rows pgx.Rows, _ func(prometheus.Metric)) (err error) {
		roleLimits, err = readRoleLimits(rows)
		return err
	})
	add("connections", q.connections, func(rows pgx.Rows, emit func(prometheus.Metric)) error {
		return t.readConnections(rows, databases, roleLimits, s, emit)
	})
	if t.cfg.DatabaseSizes {
		add("database_sizes", q.sizes, func(rows pgx.Rows, emit func(prometheus.Metric)) error { return t.readSizes(rows, s, emit) })
	}
	if q.replication != "" {
		add("replication", q.replication, func(rows pgx.Rows, emit func(prometheus.Metric)) error { return t.readReplication(rows, s, emit) })
	}
	add("replication_slots", q.slots, func(rows pgx.Rows, emit func(prometheus.Metric)) error { return t.readSlots(rows, s, emit) })
	if q.standby != "" {
		add("standby", q.standby, t.readStandby)
	}

	return conn.SendBatch(ctx, batch), func(results pgx.BatchResults) {
		// The server runs a pipeline's queries one after another and
		// sends each result as it is done, so the time from one result's
		// end to the next's is the next query's time on the server, the
		// round trip having gone to the role query read before this.
		// Cached answers are served again as they were, without
		// timestamps: Prometheus stamps them with the scrape's time, as
		// it does every other series.
		prev := time.Now()
		for _, st := range steps {
			if st.cached != nil {
				s.Run(st.name, func(emit func(prometheus.Metric)) error {
					for _, m := range st.cached {
						emit(m)
					}
					return nil
				})
				emitSample(s.Emit, cacheAgeDesc, st.age.Seconds(), st.name)
				continue
			}
			keep := t.cfg.QueryTTL[st.name] > 0
			var answer []prometheus.Metric
			var failed bool
			s.Run(st.name, func(emit func(prometheus.Metric)) (err error) {
				defer func() { failed = err != nil }()
				if keep {
					inner := emit
					emit = func(m prometheus.Metric) {
						answer = append(answer, m)
						inner(m)
					}
				}
				rows, err := results.Query()
				if err != nil {
					return err
				}
				defer rows.Close()
				if err := st.read(rows, emit); err != nil {
					return err
				}
				return rows.Err()
			})
			done := time.Now()
			if keep && answer == nil {
				// An empty answer is an answer (no replication slots):
				// kept as such, not asked again every scrape.
				answer = []prometheus.Metric{}
			}
			t.recordQuery(st.name, done.Sub(prev), answer, !failed, done)
			prev = done
			if keep && !failed {
				emitSample(s.Emit, cacheAgeDesc, 0, st.name)
			}
		}
		t.emitQueryCosts(s.Emit)
	}, nil
}

func (t *postgresTarget) readSettings(rows pgx.Rows, emit func(prometheus.Metric)) error {
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return err
		}
		return fmt.Errorf("no row from the settings query")
	}
	var max, su, res float64
	if err := rows.Scan(&max, &su, &res); err != nil {
		return err
	}
	emitSample(emit, pgMaxConnectionsDesc, max)
	emitSample(emit, pgSuperuserReservedDesc, su)
	emitSample(emit, pgReservedDesc, res)
	emitSample(emit, pgUsableConnectionsDesc, max-su-res)
	return nil
}

// readDatabases emits per-database counters and limits and returns the
// databases it saw (with their limits) so that connections can zero-fill.
func (t *postgresTarget) readDatabases(rows pgx.Rows, s *Scrape, emit func(prometheus.Metric)) (map[string]float64, error) {
	dbCap := s.Cap("databases", t.cfg.Limits.Databases)
	seen := map[string]float64{}
	for rows.Next() {
		var name string
		var limit, commits, rollbacks, deadlocks, hit, read float64
		if err := rows.Scan(&name, &limit, &commits, &rollbacks, &deadlocks, &hit, &read); err != nil {
			return nil, err
		}
		if !dbCap.Allow(name) {
			continue
		}
		seen[name] = limit
		emitSample(emit, pgCommitsDesc, commits, name)
		emitSample(emit, pgRollbacksDesc, rollbacks, name)
		emitSample(emit, pgDeadlocksDesc, deadlocks, name)
		emitSample(emit, pgBlocksHitDesc, hit, name)
		emitSample(emit, pgBlocksReadDesc, read, name)
		if limit >= 0 {
			emitSample(emit, pgDatabaseLimitDesc, limit, name)
		}
	}
	return seen, rows.Err()
}

type backendKey struct{ a, b string }

func (t *postgresTarget) readConnections(rows pgx.Rows, databases, roleLimits map[string]float64, s *Scrape, emit func(prometheus.Metric)) error {
	byDB := map[backendKey]float64{}
	byPool := map[backendKey]float64{}
	byRole := map[string]float64{}
	oldest := map[string]float64{}
	for rows.Next() {
		var db, user, app, state string
		var n, age float64
		if err := rows.Scan(&db, &user, &app, &state, &n, &age); err != nil {
			return err
		}
		state = normaliseState(state)
		byDB[backendKey{db, state}] += n
		byRole[user] += n
		if age > oldest[db] {
			oldest[db] = age
		}
		// application_name names the pool; a user name is the fallback
		// for clients that do not set one.
		if _, ok := t.cfg.Pools[app]; ok {
			byPool[backendKey{app, state}] += n
		} else if _, ok := t.cfg.Pools[user]; ok {
			byPool[backendKey{user, state}] += n
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	// Databases are the ones pg_database lists (already capped), so that
	// an idle database reads zero; backends without a database (none for
	// client backends today) are left out rather than given an empty label.
	for db := range databases {
		for _, st := range backendStates {
			if _, ok := byDB[backendKey{db, st}]; !ok {
				byDB[backendKey{db, st}] = 0
			}
		}
		emitSample(emit, pgOldestXactDesc, oldest[db], db)
	}
	for k, n := range byDB {
		if _, ok := databases[k.a]; ok {
			emitSample(emit, pgBackendsDesc, n, k.a, k.b)
		}
	}
	for pool, size := range t.cfg.Pools {
		emitSample(emit, pgPoolSizeDesc, float64(size), pool)
		for _, st := range backendStates {
			if _, ok := byPool[backendKey{pool, st}]; !ok {
				byPool[backendKey{pool, st}] = 0
			}
		}
	}
	for k, n := range byPool {
		emitSample(emit, pgPoolBackendsDesc, n, k.a, k.b)
	}
	t.emitRoles(byRole, roleLimits, s, emit)
	return nil
}

func readRoleLimits(rows pgx.Rows) (map[string]float64, error) {
	limits := map[string]float64{}
	for rows.Next() {
		var role string
		var limit float64
		if err := rows.Scan(&role, &limit); err != nil {
			return nil, err
		}
		limits[role] = limit
	}
	return limits, rows.Err()
}

// emitRoles emits backends per role, and the limits of roles that have
// one. Roles with neither connections nor a limit are left out: a cluster
// with ten thousand roles must not make ten thousand zero series.
func (t *postgresTarget) emitRoles(byRole, limits map[string]float64, s *Scrape, emit func(prometheus.Metric)) {
	roleCap := s.Cap("roles", t.cfg.Limits.Roles)
	for _, role := range sortedKeys(byRole, limits) {
		if !roleCap.Allow(role) {
			continue
		}
		emitSample(emit, pgRoleBackendsDesc, byRole[role], role)
		if limit, ok := limits[role]; ok {
			emitSample(emit, pgRoleLimitDesc, limit, role)
		}
	}
}

func (t *postgresTarget) readSizes(rows pgx.Rows, s *Scrape, emit func(prometheus.Metric)) error {
	dbCap := s.Cap("databases", t.cfg.Limits.Databases)
	for rows.Next() {
		var name string
		var size float64
		if err := rows.Scan(&name, &size); err != nil {
			return err
		}
		if dbCap.Allow(name) {
			emitSample(emit, pgSizeDesc, size, name)
		}
	}
	return rows.Err()
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
