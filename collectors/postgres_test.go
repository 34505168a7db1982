package collectors

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/model"

	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/testenv"
)

func newPostgresRunner(t testing.TB, c config.Postgres, logger *slog.Logger) (*Runner, *postgresTarget) {
	t.Helper()
	if c.Name == "" {
		c.Name = "pg"
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = 2
	}
	if c.StatementTimeout == 0 {
		c.StatementTimeout = model.Duration(5 * time.Second)
	}
	if c.LockTimeout == 0 {
		c.LockTimeout = model.Duration(time.Second)
	}
	if c.Limits == (config.Limits{}) {
		c.Limits = config.DefaultLimits
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	target, err := NewPostgres(c, logger)
	if err != nil {
		t.Fatalf("NewPostgres: %v", err)
	}
	r := NewRunner(target, logger)
	t.Cleanup(r.Close)
	return r, target.(*postgresTarget)
}

func TestPostgresPrimaryAndReplica(t *testing.T) {
	t.Parallel()
	// Its own server: it sets max_connections, creates a role and a
	// database, attaches a replica, and counts backends by pool and role.
	pg := testenv.StartPostgres(t, testenv.PostgresOptions{MaxConnections: 50})
	pg.Exec(t, "postgres", "CREATE DATABASE appdb", "CREATE ROLE app LOGIN CONNECTION LIMIT 7", "ALTER DATABASE appdb CONNECTION LIMIT 20")
	replica := pg.StartReplica(t)

	// Three connections of the "api" pool, one idle in a transaction, and
	// one of a "worker" pool identified by its user only.
	held := []struct{ user, app string }{{"postgres", "api"}, {"postgres", "api"}, {"postgres", "api"}, {"app", ""}}
	for i, h := range held {
		c := pg.ConnectAs(t, "appdb", h.user, h.app)
		if i == 0 {
			if _, err := c.Exec(context.Background(), "BEGIN; SELECT 1"); err != nil {
				t.Fatal(err)
			}
		}
	}

	primary, _ := newPostgresRunner(t, config.Postgres{DSN: pg.DSN("postgres", "postgres"),
		Pools: map[string]int{"api": 5, "app": 4}}, nil)
	s := gather(t, primary, 10*time.Second)

	for _, want := range []struct {
		name   string
		labels []string
		value  float64
	}{
		{"headroom_target_up", []string{"kind", "postgres"}, 1},
		{"headroom_postgres_in_recovery", nil, 0},
		{"headroom_postgres_max_connections", nil, 50},
		{"headroom_postgres_superuser_reserved_connections", nil, 3},
		{"headroom_postgres_usable_connections", nil, 47},
		{"headroom_postgres_pool_size", []string{"pool", "api"}, 5},
		{"headroom_postgres_pool_backends", []string{"pool", "api", "state", "idle"}, 2},
		{"headroom_postgres_pool_backends", []string{"pool", "api", "state", "idle_in_transaction"}, 1},
		{"headroom_postgres_pool_backends", []string{"pool", "api", "state", "active"}, 0},
		{"headroom_postgres_pool_backends", []string{"pool", "app", "state", "idle"}, 1},
		{"headroom_postgres_backends", []string{"database", "appdb", "state", "idle_in_transaction"}, 1},
		{"headroom_postgres_backends", []string{"database", "appdb", "state", "idle"}, 3},
		{"headroom_postgres_backends", []string{"database", "appdb", "state", "waiting"}, 0},
		{"headroom_postgres_database_connection_limit", []string{"database", "appdb"}, 20},
		{"headroom_postgres_role_backends", []string{"role", "app"}, 1},
		{"headroom_postgres_role_connection_limit", []string{"role", "app"}, 7},
		{"headroom_postgres_replication_streaming", []string{"replica", "walreceiver", "client_addr", "127.0.0.1"}, 1},
	} {
		if got := s.must(t, want.name, want.labels...); got != want.value {
			t.Errorf("%s%v = %v, want %v", want.name, want.labels, got, want.value)
		}
	}
	if _, ok := s.value("headroom_postgres_database_connection_limit", "database", "postgres"); ok {
		t.Errorf("unlimited database has a connection limit series")
	}
	if age := s.must(t, "headroom_postgres_oldest_transaction_age_seconds", "database", "appdb"); age <= 0 {
		t.Errorf("open transaction has age %v", age)
	}
	if _, ok := s.value("headroom_postgres_standby_lag_seconds"); ok {
		t.Errorf("primary reports standby lag")
	}

	// The standby runs only queries that work in recovery: every collector succeeds.
	standby, _ := newPostgresRunner(t, config.Postgres{DSN: replica.DSN("postgres", "postgres")}, nil)
	replica.WaitCaughtUp(t, pg)
	s = gather(t, standby, 10*time.Second)
	if s.must(t, "headroom_postgres_in_recovery") != 1 {
		t.Errorf("replica not detected as in recovery")
	}
	for _, c := range s.family("headroom_scrape_collector_success") {
		if c.value != 1 {
			t.Errorf("standby collector failed: %v", c.labels)
		}
	}
	if lag := s.must(t, "headroom_postgres_standby_lag_seconds"); lag != 0 {
		t.Errorf("caught-up standby lag = %v, want 0", lag)
	}
	if s.must(t, "headroom_postgres_wal_receiver_streaming") != 1 || s.must(t, "headroom_postgres_wal_receiver_status", "status", "streaming") != 1 {
		t.Errorf("receiver not reported streaming")
	}
	if _, ok := s.value("headroom_postgres_replication_streaming", "replica", "walreceiver", "client_addr", "127.0.0.1"); ok {
		t.Errorf("standby reports pg_stat_replication rows")
	}

	for _, r := range []*Runner{primary, standby} {
		if problems, err := testutil.GatherAndLint(Gatherer(context.Background(), r)); err != nil || len(problems) > 0 {
			t.Errorf("lint %s: %v %v", r.Name(), err, problems)
		}
	}
}

// TestStandbyLagOnRealServers covers the three cases existing exporters get
// wrong: an idle primary, replay paused under writes, and a blocked stream.
func TestStandbyLagOnRealServers(t *testing.T) {
	t.Parallel()
	// Its own server: "idle" is the primary writing no WAL, which another
	// test's scrapes or writes would break.
	pg := testenv.StartPostgres(t, testenv.PostgresOptions{})
	pg.Exec(t, "postgres", "CREATE TABLE w (at timestamptz)")
	replica := pg.StartReplica(t)
	// A commit replayed before the quiet minute, so that the standby has a
	// last replay timestamp for the naive reading to be compared against.
	pg.Exec(t, "postgres", "INSERT INTO w VALUES (now())")
	replica.WaitCaughtUp(t, pg)
	standby, _ := newPostgresRunner(t, config.Postgres{DSN: replica.DSN("postgres", "postgres")}, nil)
	lag := func() float64 {
		t.Helper()
		return gather(t, standby, 10*time.Second).must(t, "headroom_postgres_standby_lag_seconds")
	}
	// idleFor is how long the primary stays idle before the pause: long
	// enough for a naive reading to grow well past the true lag, and for
	// at least 20 readings at two a second.
	const idleFor = 20 * time.Second

	t.Run("idle primary stays at zero", func(t *testing.T) {
		// "Idle" is the primary writing no WAL between two readings. It
		// still writes some of its own now and then (a checkpoint, a
		// standby snapshot), and a scrape that catches the standby before
		// it replayed that record rightly reads up to a scrape interval;
		// such readings are not an idle primary's and are not judged.
		walAt := func() int64 { return pg.QueryInt(t, "postgres", "SELECT pg_current_wal_lsn() - '0/0'") }
		judged := 0
		before := walAt()
		deadline := time.Now().Add(idleFor)
		for time.Now().Before(deadline) {
			l := lag()
			after := walAt()
			if after == before {
				judged++
				if l != 0 {
					t.Fatalf("lag on an idle primary (WAL at %d throughout) = %v, want 0", after, l)
				}
			} else {
				t.Logf("the primary wrote WAL (%d to %d); lag %v not judged", before, after, l)
			}
			before = after
			time.Sleep(500 * time.Millisecond)
		}
		if judged < 20 {
			t.Fatalf("only %d of the readings were taken with the primary idle", judged)
		}
	})

	t.Run("paused replay under writes reads the pause", func(t *testing.T) {
		replica.Exec(t, "postgres", "SELECT pg_wal_replay_pause()")
		// Resumed even when an assertion stops this subtest, so that the
		// next one starts from a replaying standby.
		defer replica.Exec(t, "postgres", "SELECT pg_wal_replay_resume()")
		lag() // a scrape sees it fresh at the moment of the pause
		const writing = 8 * time.Second
		start := time.Now()
		for time.Since(start) < writing {
			pg.Exec(t, "postgres", "INSERT INTO w VALUES (now())")
			lag()
			time.Sleep(500 * time.Millisecond)
		}
		s := gather(t, standby, 10*time.Second)
		got := s.must(t, "headroom_postgres_standby_lag_seconds")
		want := time.Since(start).Seconds()
		if got < want-3 || got > want+3 {
			t.Errorf("lag after %0.1fs of paused replay under writes = %0.1fs", want, got)
		}
		// The test discriminates: the classic now() - last replay
		// timestamp reads the idle spell before the pause too.
		naive := float64(time.Now().UnixNano())/1e9 - s.must(t, "headroom_postgres_standby_last_replay_timestamp_seconds")
		if naive < want+idleFor.Seconds()/2 {
			t.Errorf("naive lag %0.1fs is close to the true %0.1fs; the test no longer tells them apart", naive, want)
		}
		replica.Exec(t, "postgres", "SELECT pg_wal_replay_resume()")
		replica.WaitCaughtUp(t, pg)
		if l := lag(); l != 0 {
			t.Errorf("lag after resume = %v, want 0", l)
		}
	})

	t.Run("blocked stream grows though nothing is left to replay", func(t *testing.T) {
		lag()
		closed := testenv.FreePort(t)
		replica.Exec(t, "postgres", fmt.Sprintf("ALTER SYSTEM SET primary_conninfo = 'host=127.0.0.1 port=%d user=postgres'", closed))
		replica.Reload(t)
		start := time.Now()
		var last float64
		for time.Since(start) < 6*time.Second {
			pg.Exec(t, "postgres", "INSERT INTO w VALUES (now())")
			last = lag()
			time.Sleep(500 * time.Millisecond)
		}
		if last < 4 {
			t.Errorf("lag with a blocked stream after %0.1fs = %v, want it to grow", time.Since(start).Seconds(), last)
		}
		s := gather(t, standby, 10*time.Second)
		if s.must(t, "headroom_postgres_wal_receiver_streaming") != 0 {
			t.Errorf("blocked receiver reported streaming")
		}
		replica.Exec(t, "postgres", "ALTER SYSTEM RESET primary_conninfo")
		replica.Reload(t)
	})
}

func TestPostgresFaults(t *testing.T) {
	t.Parallel()
	// Its own server: it stops, freezes and re-HBAs it, and counts the
	// connections named headroom on it.
	pg := testenv.StartPostgres(t, testenv.PostgresOptions{})
	logger, logs := testLogger()
	r, target := newPostgresRunner(t, config.Postgres{DSN: pg.DSN("postgres", "postgres")}, logger)

	if up := gather(t, r, 5*time.Second).must(t, "headroom_target_up", "kind", "postgres"); up != 1 {
		t.Fatalf("up = %v before any fault", up)
	}
	t.Run("steady state opens no connection", func(t *testing.T) {
		before := target.PoolStats().NewConnsCount()
		for i := 0; i < 20; i++ {
			gather(t, r, 5*time.Second)
		}
		if opened := target.PoolStats().NewConnsCount() - before; opened != 0 {
			t.Errorf("20 steady-state scrapes opened %d connections", opened)
		}
		if n := pg.QueryInt(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'headroom'"); n != 1 {
			t.Errorf("server sees %d headroom connections, want 1", n)
		}
	})

	t.Run("stopped server is up 0 and recovers", func(t *testing.T) {
		pg.Stop(t)
		s := gather(t, r, 5*time.Second)
		if up := s.must(t, "headroom_target_up", "kind", "postgres"); up != 0 {
			t.Errorf("up = %v with the server stopped", up)
		}
		if _, ok := s.value("headroom_postgres_max_connections"); ok {
			t.Errorf("data series emitted while down")
		}
		pg.Start(t)
		var up float64
		for i := 0; i < 3 && up != 1; i++ { // the pool drops dead connections on first use
			up = gather(t, r, 5*time.Second).must(t, "headroom_target_up", "kind", "postgres")
		}
		if up != 1 {
			t.Errorf("up = %v after restart", up)
		}
	})

	t.Run("hung server answers within the deadline", func(t *testing.T) {
		pg.Freeze()
		defer pg.Thaw()
		start := time.Now()
		s := gather(t, r, 2*time.Second)
		if took := time.Since(start); took > 2500*time.Millisecond {
			t.Errorf("scrape of a frozen server took %v with a 2s deadline", took)
		}
		if up := s.must(t, "headroom_target_up", "kind", "postgres"); up != 0 {
			t.Errorf("up = %v with the server frozen", up)
		}
		if n := s.must(t, "headroom_target_scrape_errors_total", "kind", "postgres", "reason", "timeout"); n < 1 {
			t.Errorf("timeout not counted")
		}
	})

	t.Run("wrong password is up 0, reason auth, password never logged", func(t *testing.T) {
		pg.Exec(t, "postgres", "CREATE ROLE secretive LOGIN PASSWORD 'right-horse-battery'")
		pg.SetHBA(t, "local all all trust", "host all secretive 127.0.0.1/32 scram-sha-256", "host all all 127.0.0.1/32 trust")
		bad, _ := newPostgresRunner(t, config.Postgres{Name: "bad", DSN: pg.DSN("postgres", "secretive"),
			Secret: config.Secret{Value: "wrong-staple-sentinel"}}, logger)
		s := gather(t, bad, 5*time.Second)
		if up := s.must(t, "headroom_target_up", "kind", "postgres"); up != 0 {
			t.Errorf("up = %v with a wrong password", up)
		}
		if n := s.must(t, "headroom_target_scrape_errors_total", "kind", "postgres", "reason", "auth"); n != 1 {
			t.Errorf("auth errors = %v, want 1", n)
		}
		if strings.Contains(logs.String(), "wrong-staple-sentinel") {
			t.Errorf("password in logs:\n%s", logs.String())
		}
		if !strings.Contains(logs.String(), "reason=auth") {
			t.Errorf("no logged reason:\n%s", logs.String())
		}
		good, _ := newPostgresRunner(t, config.Postgres{Name: "good", DSN: pg.DSN("postgres", "secretive"),
			Secret: config.Secret{Value: "right-horse-battery"}}, logger)
		if up := gather(t, good, 5*time.Second).must(t, "headroom_target_up", "kind", "postgres"); up != 1 {
			t.Errorf("up = %v with the right password", up)
		}
	})

	t.Run("a rotated password_file is read for the next connection", func(t *testing.T) {
		pg.Exec(t, "postgres", "CREATE ROLE rotated LOGIN PASSWORD 'first-horse'")
		pg.SetHBA(t, "local all all trust", "host all rotated 127.0.0.1/32 scram-sha-256", "host all all 127.0.0.1/32 trust")
		file := filepath.Join(t.TempDir(), "password")
		if err := os.WriteFile(file, []byte("first-horse\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		r, _ := newPostgresRunner(t, config.Postgres{Name: "rotated", DSN: pg.DSN("postgres", "rotated"), Secret: config.Secret{File: file}}, logger)
		if up := gather(t, r, 5*time.Second).must(t, "headroom_target_up", "kind", "postgres"); up != 1 {
			t.Fatalf("up = %v with the file's password", up)
		}
		pg.Exec(t, "postgres", "ALTER ROLE rotated PASSWORD 'second-horse'",
			"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'rotated'")
		if err := os.WriteFile(file, []byte("second-horse\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		s := gatherUntil(t, r, 10*time.Second, "up again with the rotated password", func(s series) bool {
			up, _ := s.value("headroom_target_up", "kind", "postgres")
			return up == 1
		})
		s.want(t, "headroom_target_up", 1, "kind", "postgres")
	})
}

// TestPostgresConcurrentScrapesShareConnections is the load a pair of HA
// Prometheus servers (or a hundred) put on the database: never more than the
// cap of connections, and every scrape answers.
func TestPostgresConcurrentScrapesShareConnections(t *testing.T) {
	t.Parallel()
	// Its own server: it counts the connections named headroom on it,
	// which every other test's scrapes would add to.
	pg := testenv.StartPostgres(t, testenv.PostgresOptions{})
	r, target := newPostgresRunner(t, config.Postgres{DSN: pg.DSN("postgres", "postgres"), MaxConnections: 2}, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	answered := 0
	stop := make(chan struct{})
	watched := make(chan struct{})
	peak := int64(0)
	monitor := pg.Connect(t, "postgres")
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			default:
			}
			var n int64
			if err := monitor.QueryRow(context.Background(),
				"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'headroom'").Scan(&n); err != nil {
				t.Errorf("monitor: %v", err)
				return
			}
			mu.Lock()
			if n > peak {
				peak = n
			}
			mu.Unlock()
		}
	}()
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := gather(t, r, 10*time.Second)
			if v, ok := s.value("headroom_target_up", "kind", "postgres"); ok && v == 1 {
				mu.Lock()
				answered++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-watched
	if answered != 100 {
		t.Errorf("%d of 100 concurrent scrapes answered with data", answered)
	}
	if peak > 2 {
		t.Errorf("server saw %d headroom connections, cap is 2", peak)
	}
	if total := target.PoolStats().NewConnsCount(); total > 2 {
		t.Errorf("opened %d connections for 100 concurrent scrapes", total)
	}
}

func TestPostgresLabelCaps(t *testing.T) {
	t.Parallel()
	// Its own server: it creates databases and counts all of them.
	pg := testenv.StartPostgres(t, testenv.PostgresOptions{})
	for i := 0; i < 5; i++ {
		pg.Exec(t, "postgres", fmt.Sprintf("CREATE DATABASE db%d", i))
	}
	limits := config.DefaultLimits
	limits.Databases = 2
	// With sizes on, two collectors label by database: they keep the same
	// two, and each database left out is counted once.
	r, _ := newPostgresRunner(t, config.Postgres{DSN: pg.DSN("postgres", "postgres"), Limits: limits, DatabaseSizes: true}, nil)
	s := gather(t, r, 10*time.Second)
	sized := map[string]bool{}
	for _, c := range s.family("headroom_postgres_database_size_bytes") {
		sized[c.labels["database"]] = true
	}
	dbs := map[string]bool{}
	for _, c := range s.family("headroom_postgres_database_commits_total") {
		if db, ok := c.labels["database"]; ok {
			dbs[db] = true
		}
	}
	if len(dbs) != 2 {
		t.Errorf("databases exported = %v, want 2 under the cap", dbs)
	}
	if fmt.Sprint(sized) != fmt.Sprint(dbs) {
		t.Errorf("databases with a size = %v, want the same as with statistics, %v", sized, dbs)
	}
	// 6 databases (postgres + db0..db4), 2 kept: 4 dropped.
	if n := s.must(t, "headroom_target_series_dropped_total", "kind", "postgres", "limit", "databases"); n != 4 {
		t.Errorf("dropped = %v, want 4", n)
	}
	// The limits nothing exceeded are counted from 0, not absent until
	// their first drop.
	for _, limit := range []string{"roles", "slots", "replicas"} {
		if n := s.must(t, "headroom_target_series_dropped_total", "kind", "postgres", "limit", limit); n != 0 {
			t.Errorf("dropped over %s = %v, want 0", limit, n)
		}
	}
}

// A monitoring role that is not a superuser (pg_monitor, as docs/config.md
// asks for) reads other roles' backends with their database, role,
// application and state: the connections query names them from the oids
// through pg_database and pg_roles, which every role may read.
func TestPostgresMonitorRoleSeesOtherRoles(t *testing.T) {
	t.Parallel()
	// Its own server: it creates roles and a database, and counts backends
	// by role and application name.
	pg := testenv.StartPostgres(t, testenv.PostgresOptions{})
	pg.Exec(t, "postgres", "CREATE ROLE monitor LOGIN", "GRANT pg_monitor TO monitor", "CREATE ROLE app LOGIN", "CREATE DATABASE shop OWNER app")
	for i := 0; i < 3; i++ {
		pg.ConnectAs(t, "shop", "app", "api")
	}
	busy := pg.ConnectAs(t, "shop", "app", "api")
	if _, err := busy.Exec(context.Background(), "BEGIN"); err != nil {
		t.Fatal(err)
	}
	r, _ := newPostgresRunner(t, config.Postgres{DSN: pg.DSN("postgres", "monitor"), Pools: map[string]int{"api": 13}}, nil)
	s := gather(t, r, 10*time.Second)
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"headroom_postgres_backends", []string{"database", "shop", "state", "idle"}, 3},
		{"headroom_postgres_backends", []string{"database", "shop", "state", "idle_in_transaction"}, 1},
		{"headroom_postgres_pool_backends", []string{"pool", "api", "state", "idle"}, 3},
		{"headroom_postgres_pool_backends", []string{"pool", "api", "state", "idle_in_transaction"}, 1},
		{"headroom_postgres_role_backends", []string{"role", "app"}, 4},
	} {
		if got := s.must(t, c.name, c.labels...); got != c.want {
			t.Errorf("%s%v = %v as monitor, want %v", c.name, c.labels, got, c.want)
		}
	}
}

// A scrape sends the queries of the role the last scrape saw in the same
// round trip as the role itself. When the server has changed role since
// (a replica promoted), that scrape must still run the new role's
// queries, not the old role's: the primary-only replication collector
// succeeds and the standby collector is gone, in the first scrape after
// the promotion.
func TestPostgresScrapeFollowsPromotion(t *testing.T) {
	// Its own server: its replica is promoted.
	pg := testenv.StartPostgres(t, testenv.PostgresOptions{})
	replica := pg.StartReplica(t)
	r, target := newPostgresRunner(t, config.Postgres{Name: "replica", DSN: replica.DSN("postgres", "postgres")}, nil)

	s := gather(t, r, 10*time.Second)
	s.want(t, "headroom_postgres_in_recovery", 1)
	s.want(t, "headroom_scrape_collector_success", 1, "collector", "standby")
	s.absent(t, "headroom_scrape_collector_success", "collector", "replication")
	if got := target.role; !got.inRecovery {
		t.Fatalf("role after a scrape of a standby = %+v", got)
	}

	replica.Exec(t, "postgres", "SELECT pg_promote(true, 30)")
	s = gather(t, r, 10*time.Second)
	s.want(t, "headroom_target_up", 1, "kind", "postgres")
	s.want(t, "headroom_postgres_in_recovery", 0)
	s.want(t, "headroom_scrape_collector_success", 1, "collector", "replication")
	s.want(t, "headroom_scrape_collector_success", 1, "collector", "replication_slots")
	s.absent(t, "headroom_scrape_collector_success", "collector", "standby")
}

// A guess that names a role and version the server is not (a DSN that now
// reaches another server) costs one more round trip, not a failed scrape.
func TestPostgresWrongGuessRecovers(t *testing.T) {
	pg := readOnlyPostgres.Get(t)
	r, target := newPostgresRunner(t, config.Postgres{DSN: pg.DSN("postgres", "postgres")}, nil)
	for _, guess := range []pgRole{{inRecovery: true, versionNum: 140000}, {inRecovery: false, versionNum: 120000}} {
		target.role = guess
		s := gather(t, r, 10*time.Second)
		s.want(t, "headroom_target_up", 1, "kind", "postgres")
		s.want(t, "headroom_postgres_in_recovery", 0)
		s.want(t, "headroom_scrape_collector_success", 1, "collector", "replication")
		s.absent(t, "headroom_scrape_collector_success", "collector", "standby")
		if target.role.inRecovery || target.role.versionNum/10000 != 15 {
			t.Errorf("guess %+v: role after the scrape %+v", guess, target.role)
		}
	}
}
