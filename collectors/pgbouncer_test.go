package collectors

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/testenv"
)

// pgbEnv is a live PostgreSQL with PgBouncer in front and a runner on the
// PgBouncer admin console. Each test has its own PgBouncer (they count its
// clients and stop and freeze it); the PostgreSQL behind it is the shared
// one, which they only query through it.
type pgbEnv struct {
	pg      *testenv.Postgres
	bouncer *testenv.PgBouncer
	target  *pgbouncerTarget
	runner  *Runner
}

func pgbStart(t *testing.T, opts testenv.PgBouncerOptions) *pgbEnv {
	t.Helper()
	pg := readOnlyPostgres.Get(t)
	bouncer := testenv.StartPgBouncer(t, pg, opts)
	logger := slog.New(slog.DiscardHandler)
	target, err := NewPgBouncer(config.PgBouncer{Name: "pgb", DSN: bouncer.AdminDSN(), Limits: config.DefaultLimits}, logger)
	if err != nil {
		t.Fatal(err)
	}
	runner := NewRunner(target, logger)
	t.Cleanup(runner.Close)
	return &pgbEnv{pg: pg, bouncer: bouncer, target: target.(*pgbouncerTarget), runner: runner}
}

// scrape gathers the runner once under a deadline of timeout, every value
// finite.
func (e *pgbEnv) scrape(t *testing.T, timeout time.Duration) series {
	t.Helper()
	s := gather(t, e.runner, timeout)
	s.finite(t)
	return s
}

var pgbUp = seriesKey("headroom_target_up", "kind", "pgbouncer")

// connect opens a client connection through PgBouncer.
func (e *pgbEnv) connect(t *testing.T) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(e.bouncer.DSN("postgres", "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect through pgbouncer: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// TestPgBouncerLive: a pool of 2 with 5 clients that all want a server
// leaves 3 waiting, and the exporter says so exactly; stats count queries
// exactly; the output lints clean; and 20 scrapes reuse one connection.
func TestPgBouncerLive(t *testing.T) {
	t.Parallel()
	e := pgbStart(t, testenv.PgBouncerOptions{DefaultPoolSize: 2})
	ctx := testenv.Context(t)

	if got := e.scrape(t, 10*time.Second); got[pgbUp].value != 1 {
		t.Fatalf("up = %v, want 1; log:\n%s", got[pgbUp].value, e.bouncer.Log())
	}

	// Two clients hold the pool's two servers (session pooling: a server
	// stays with its client until the client leaves).
	var holders []*pgx.Conn
	for range 2 {
		c := e.connect(t)
		if _, err := c.Exec(ctx, "BEGIN; SELECT 1"); err != nil {
			t.Fatal(err)
		}
		holders = append(holders, c)
	}
	// Three more send a query and wait for a server.
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	for range 3 {
		c := e.connect(t)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// In session pooling the server stays with this client until
			// it leaves, so it leaves, to let the next waiter through.
			defer c.Close(ctx)
			if _, err := c.Exec(ctx, "SELECT 1"); err != nil {
				errs <- err
			}
		}()
	}
	waiting := seriesKey("headroom_pgbouncer_pool_client_connections", "database", "postgres", "user", "postgres", "state", "waiting")
	deadline := time.Now().Add(15 * time.Second)
	for e.scrape(t, 5*time.Second)[waiting].value != 3 {
		if time.Now().After(deadline) {
			t.Fatalf("cl_waiting never reached 3")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Exact: one pool (postgres/postgres) of size 2, both servers active,
	// 2 clients active and 3 waiting, every cancel state 0.
	expected := `
# HELP headroom_pgbouncer_pool_client_connections Client connections of the pool by state: active (linked to a server or idle), waiting (for a server), and cancel requests (cancel_req before 1.18; active_cancel_req, waiting_cancel_req from 1.18).
# TYPE headroom_pgbouncer_pool_client_connections gauge
headroom_pgbouncer_pool_client_connections{database="postgres",state="active",target="pgb",user="postgres"} 2
headroom_pgbouncer_pool_client_connections{database="postgres",state="active_cancel_req",target="pgb",user="postgres"} 0
headroom_pgbouncer_pool_client_connections{database="postgres",state="waiting",target="pgb",user="postgres"} 3
headroom_pgbouncer_pool_client_connections{database="postgres",state="waiting_cancel_req",target="pgb",user="postgres"} 0
# HELP headroom_pgbouncer_pool_server_connections Server connections of the pool by state: active (linked to a client), idle, used (needs the check query), tested, login, and active_cancel/being_canceled (1.18+).
# TYPE headroom_pgbouncer_pool_server_connections gauge
headroom_pgbouncer_pool_server_connections{database="postgres",state="active",target="pgb",user="postgres"} 2
headroom_pgbouncer_pool_server_connections{database="postgres",state="active_cancel",target="pgb",user="postgres"} 0
headroom_pgbouncer_pool_server_connections{database="postgres",state="being_canceled",target="pgb",user="postgres"} 0
headroom_pgbouncer_pool_server_connections{database="postgres",state="idle",target="pgb",user="postgres"} 0
headroom_pgbouncer_pool_server_connections{database="postgres",state="login",target="pgb",user="postgres"} 0
headroom_pgbouncer_pool_server_connections{database="postgres",state="tested",target="pgb",user="postgres"} 0
headroom_pgbouncer_pool_server_connections{database="postgres",state="used",target="pgb",user="postgres"} 0
# HELP headroom_pgbouncer_pool_info Always 1; the pool's resolved pool_mode as a label.
# TYPE headroom_pgbouncer_pool_info gauge
headroom_pgbouncer_pool_info{database="postgres",pool_mode="session",target="pgb",user="postgres"} 1
# HELP headroom_pgbouncer_client_connections Client connections in every pool, the admin console's included: what counts against max_client_conn (clients still logging in are not in any pool and are not counted).
# TYPE headroom_pgbouncer_client_connections gauge
headroom_pgbouncer_client_connections{target="pgb"} 6
# HELP headroom_pgbouncer_database_pool_size Maximum server connections of each pool (database, user) of this database: pool_size, or default_pool_size when the database does not set it.
# TYPE headroom_pgbouncer_database_pool_size gauge
headroom_pgbouncer_database_pool_size{database="postgres",target="pgb"} 2
# HELP headroom_pgbouncer_database_server_connections Server connections PgBouncer holds to this database (current_connections).
# TYPE headroom_pgbouncer_database_server_connections gauge
headroom_pgbouncer_database_server_connections{database="postgres",target="pgb"} 2
# HELP headroom_pgbouncer_config_default_pool_size The default_pool_size setting: server connections per pool unless the database sets pool_size.
# TYPE headroom_pgbouncer_config_default_pool_size gauge
headroom_pgbouncer_config_default_pool_size{target="pgb"} 2
# HELP headroom_pgbouncer_config_max_client_connections The max_client_conn setting: client connections PgBouncer accepts in total.
# TYPE headroom_pgbouncer_config_max_client_connections gauge
headroom_pgbouncer_config_max_client_connections{target="pgb"} 200
# HELP headroom_target_up 1 when the target answered with usable data in this scrape, 0 otherwise.
# TYPE headroom_target_up gauge
headroom_target_up{kind="pgbouncer",target="pgb"} 1
`
	gctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := testutil.GatherAndCompare(Gatherer(gctx, e.runner), strings.NewReader(expected),
		"headroom_pgbouncer_pool_client_connections", "headroom_pgbouncer_pool_server_connections",
		"headroom_pgbouncer_pool_info", "headroom_pgbouncer_client_connections",
		"headroom_pgbouncer_database_pool_size", "headroom_pgbouncer_database_server_connections",
		"headroom_pgbouncer_config_default_pool_size", "headroom_pgbouncer_config_max_client_connections",
		"headroom_target_up"); err != nil {
		t.Error(err)
	}
	// The oldest waiter has waited since before the loop above saw it.
	time.Sleep(50 * time.Millisecond)
	got := e.scrape(t, 5*time.Second)
	if v := got[seriesKey("headroom_pgbouncer_pool_max_wait_seconds", "database", "postgres", "user", "postgres")].value; v <= 0 || v > 60 {
		t.Errorf("max wait = %v s, want in (0, 60]", v)
	}
	for _, c := range []string{"pools", "stats", "databases", "config"} {
		if v := got[seriesKey("headroom_scrape_collector_success", "collector", c)].value; v != 1 {
			t.Errorf("collector %s success = %v", c, v)
		}
	}

	// Let the waiters through and out.
	for _, c := range holders {
		c.Close(ctx)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("waiting client: %v", err)
	}
	if t.Failed() {
		return
	}

	t.Run("stats count queries", func(t *testing.T) {
		queries := seriesKey("headroom_pgbouncer_stats_queries_total", "database", "postgres")
		xacts := seriesKey("headroom_pgbouncer_stats_transactions_total", "database", "postgres")
		queryTime := seriesKey("headroom_pgbouncer_stats_query_duration_seconds_total", "database", "postgres")
		received := seriesKey("headroom_pgbouncer_stats_received_bytes_total", "database", "postgres")
		sent := seriesKey("headroom_pgbouncer_stats_sent_bytes_total", "database", "postgres")
		c := e.connect(t)
		before := e.scrape(t, 5*time.Second)
		const n = 10
		for range n {
			if _, err := c.Exec(ctx, "SELECT pg_sleep(0.01)"); err != nil {
				t.Fatal(err)
			}
		}
		after := e.scrape(t, 5*time.Second)
		if d := after[queries].value - before[queries].value; d != n {
			t.Errorf("queries grew by %v, want %d", d, n)
		}
		if d := after[xacts].value - before[xacts].value; d != n {
			t.Errorf("transactions grew by %v, want %d", d, n)
		}
		if d := after[queryTime].value - before[queryTime].value; d < n*0.01 || d > 5 {
			t.Errorf("query time grew by %v s, want at least %v s", d, n*0.01)
		}
		for _, k := range []string{received, sent} {
			if after[k].value <= before[k].value {
				t.Errorf("%s did not grow: %v -> %v", k, before[k].value, after[k].value)
			}
			if after[k].kind != dto.MetricType_COUNTER {
				t.Errorf("%s is a %v", k, after[k].kind)
			}
		}
	})

	t.Run("lint", func(t *testing.T) {
		lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		problems, err := testutil.GatherAndLint(Gatherer(lctx, e.runner))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("promlint: %s: %s", p.Metric, p.Text)
		}
	})

	// The commands go out together; one PgBouncer does not know fails on
	// its own, and the connection answers on.
	t.Run("pipeline", func(t *testing.T) {
		admin := e.bouncer.ConnectAdmin(t)
		for range 2 {
			answers, err := pgbPipeline(ctx, admin.PgConn(), []string{"SHOW POOLS", "SHOW NO_SUCH_THING", "SHOW CONFIG"})
			if err != nil {
				t.Fatal(err)
			}
			var pgErr *pgconn.PgError
			if !errors.As(answers[1].err, &pgErr) {
				t.Errorf("unknown command: err = %v, want PgBouncer's error", answers[1].err)
			}
			for _, k := range []int{0, 2} {
				if answers[k].err != nil || len(answers[k].table.rows) == 0 {
					t.Errorf("answer %d: %+v", k, answers[k])
				}
			}
			if answers[0].table.index("cl_waiting") < 0 || answers[2].table.index("key") < 0 {
				t.Errorf("answers out of order: columns %v and %v", answers[0].table.columns, answers[2].table.columns)
			}
		}
	})

	t.Run("one connection across scrapes", func(t *testing.T) {
		admin := e.bouncer.ConnectAdmin(t)
		exporterClients := func() []string {
			answers, err := pgbPipeline(ctx, admin.PgConn(), []string{"SHOW CLIENTS"})
			if err != nil || answers[0].err != nil {
				t.Fatal(err, answers)
			}
			tab := answers[0].table
			app, port := tab.index("application_name"), tab.index("port")
			var out []string
			for _, row := range tab.rows {
				if row[app] == "headroom" {
					out = append(out, row[port])
				}
			}
			return out
		}
		opened := seriesKey("headroom_target_connections_opened_total", "kind", "pgbouncer")
		connects := e.scrape(t, 5*time.Second)[opened].value
		before := exporterClients()
		if len(before) != 1 {
			t.Fatalf("exporter clients in SHOW CLIENTS: %v, want one", before)
		}
		var last series
		for range 20 {
			if last = e.scrape(t, 5*time.Second); last[pgbUp].value != 1 {
				t.Fatalf("up = %v", last[pgbUp].value)
			}
		}
		if n := last[opened].value; n != connects {
			t.Errorf("20 scrapes opened %v connections, want 0", n-connects)
		}
		if after := exporterClients(); !slices.Equal(after, before) {
			t.Errorf("exporter clients (by port) went from %v to %v", before, after)
		}
		if connects != 1 || e.target.ConnectionsOpened() != 1 {
			t.Errorf("connections opened over the whole test: %v, want 1", connects)
		}
	})
}

// TestPgBouncerFaults: a stopped PgBouncer is up 0 (no panic), a restarted
// one is up 1 again through the same runner (even when the restart cut the
// connection between two scrapes), and a frozen one makes the scrape
// return by its deadline with up 0.
func TestPgBouncerFaults(t *testing.T) {
	t.Parallel()
	e := pgbStart(t, testenv.PgBouncerOptions{})
	refused := seriesKey("headroom_target_scrape_errors_total", "kind", "pgbouncer", "reason", "refused")
	timeouts := seriesKey("headroom_target_scrape_errors_total", "kind", "pgbouncer", "reason", "timeout")

	if got := e.scrape(t, 5*time.Second); got[pgbUp].value != 1 {
		t.Fatalf("up = %v at start", got[pgbUp].value)
	}

	e.bouncer.Stop(t)
	got := e.scrape(t, 5*time.Second)
	if got[pgbUp].value != 0 {
		t.Fatalf("up = %v with PgBouncer stopped", got[pgbUp].value)
	}
	if got[refused].value < 1 {
		t.Errorf("refused errors = %v, want at least 1", got[refused].value)
	}
	for k := range got {
		if strings.HasPrefix(k, "headroom_pgbouncer_") {
			t.Errorf("data series %s while down", k)
		}
	}

	e.bouncer.Start(t)
	if got := e.scrape(t, 5*time.Second); got[pgbUp].value != 1 {
		t.Fatalf("up = %v on the first scrape after PgBouncer came back", got[pgbUp].value)
	}

	// A restart between two scrapes cuts the kept connection; the next
	// scrape replaces it and is up.
	connects := e.target.ConnectionsOpened()
	e.bouncer.Stop(t)
	e.bouncer.Start(t)
	if got := e.scrape(t, 5*time.Second); got[pgbUp].value != 1 {
		t.Fatalf("up = %v on the first scrape after a restart", got[pgbUp].value)
	}
	if n := e.target.ConnectionsOpened() - connects; n != 1 {
		t.Errorf("the restart cost %d new connections, want 1", n)
	}

	e.bouncer.Freeze()
	thawed := false
	defer func() {
		if !thawed {
			e.bouncer.Thaw()
		}
	}()
	start := time.Now()
	got = e.scrape(t, 2*time.Second)
	took := time.Since(start)
	t.Logf("scrape of a frozen PgBouncer returned after %v", took)
	if took > 2500*time.Millisecond {
		t.Errorf("scrape of a frozen PgBouncer took %v, want at most 2.5s", took)
	}
	if got[pgbUp].value != 0 {
		t.Errorf("up = %v with PgBouncer frozen", got[pgbUp].value)
	}
	if got[timeouts].value < 1 {
		t.Errorf("timeout errors = %v, want at least 1", got[timeouts].value)
	}
	e.bouncer.Thaw()
	thawed = true

	deadline := time.Now().Add(15 * time.Second)
	for e.scrape(t, 5*time.Second)[pgbUp].value != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("still down 15s after thaw; log:\n%s", e.bouncer.Log())
		}
		time.Sleep(200 * time.Millisecond)
	}

	// A frozen PgBouncer at the first connect (no connection kept) also
	// gives up at the deadline.
	e.target.sem <- struct{}{}
	e.target.dropConn()
	<-e.target.sem
	e.bouncer.Freeze()
	thawed = false
	start = time.Now()
	got = e.scrape(t, 2*time.Second)
	if took := time.Since(start); took > 2500*time.Millisecond {
		t.Errorf("connecting to a frozen PgBouncer took %v, want at most 2.5s", took)
	}
	if got[pgbUp].value != 0 {
		t.Errorf("up = %v connecting to a frozen PgBouncer", got[pgbUp].value)
	}
	e.bouncer.Thaw()
	thawed = true
}

// A column PgBouncer did not send is logged once, through the injected
// logger (naming the target as its runner's lines do), at warn for a
// column every supported version has and at debug for one only some have.
// No runner is involved: the target logs on its own.
func TestPgBouncerMissingColumnLog(t *testing.T) {
	logger, logs := testLogger()
	target, err := NewPgBouncer(config.PgBouncer{Name: "bouncer", DSN: "postgres://pgbouncer@127.0.0.1:1/pgbouncer"}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(target.Close)
	pgb := target.(*pgbouncerTarget)
	for range 2 {
		pgb.missing("POOLS", "maxwait", false)
		pgb.missing("STATS", "total_server_assignment_count", true)
	}
	for _, want := range []string{
		`level=WARN msg="pgbouncer did not send a column; its series are left out" target=bouncer kind=pgbouncer command="SHOW POOLS" column=maxwait`,
		`level=DEBUG msg="pgbouncer did not send a column; its series are left out" target=bouncer kind=pgbouncer command="SHOW STATS" column=total_server_assignment_count`,
	} {
		if n := strings.Count(logs.String(), want); n != 1 {
			t.Errorf("logged %d times, want once: %s\nlog:\n%s", n, want, logs.String())
		}
	}
}

// TestPgBouncerPoolLimitsLive: the limits the pool and client headroom
// rules add up (pool_size + reserve_pool per pool, max_client_conn) are
// what PgBouncer resolves for a database that sets none of its own: the
// defaults, not 0 or -1.
func TestPgBouncerPoolLimitsLive(t *testing.T) {
	t.Parallel()
	e := pgbStart(t, testenv.PgBouncerOptions{DefaultPoolSize: 4, ReservePoolSize: 3, MaxClientConn: 150, Databases: []string{"postgres"}})
	got := e.scrape(t, 10*time.Second)
	if got[pgbUp].value != 1 {
		t.Fatalf("up = %v; log:\n%s", got[pgbUp].value, e.bouncer.Log())
	}
	for _, want := range []struct {
		key   string
		value float64
	}{
		{seriesKey("headroom_pgbouncer_database_pool_size", "database", "postgres"), 4},
		{seriesKey("headroom_pgbouncer_database_reserve_pool_size", "database", "postgres"), 3},
		{seriesKey("headroom_pgbouncer_config_max_client_connections"), 150},
		{seriesKey("headroom_pgbouncer_config_reserve_pool_size"), 3},
	} {
		if s, ok := got[want.key]; !ok || s.value != want.value {
			t.Errorf("%s = %v (present %v), want %v", want.key, s.value, ok, want.value)
		}
	}
}
