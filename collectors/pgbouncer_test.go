package collectors

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/testenv"
)

// pgbVersions are the PgBouncer releases with fixtures in testdata/pgbouncer.
var pgbVersions = []string{"1.16", "1.17", "1.18", "1.19", "1.20", "1.21", "1.22", "1.23", "1.24"}

// pgbFixture reads one fixture CSV: the header is the row description's
// column names, an empty field is NULL.
func pgbFixture(t *testing.T, version, file string) pgbTable {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", "pgbouncer", version, file))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	records, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatalf("%s/%s: %v", version, file, err)
	}
	return pgbTable{columns: records[0], rows: records[1:]}
}

// pgbMetrics is a collector of metrics already made, so that the parsers'
// output can go through a registry (and promlint) like a scrape's.
type pgbMetrics []prometheus.Metric

func (pgbMetrics) Describe(chan<- *prometheus.Desc) {}
func (m pgbMetrics) Collect(ch chan<- prometheus.Metric) {
	for _, x := range m {
		ch <- x
	}
}

func pgbGatherMetrics(t *testing.T, ms []prometheus.Metric) series {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(pgbMetrics(ms))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	s := flatten(t, mfs)
	s.finite(t)
	return s
}

// pgbMissingCall is one report of a column the server did not send.
type pgbMissingCall struct {
	column   string
	optional bool
}

// pgbParseAll runs the four parsers over one version's fixtures, admitting
// every pool and database.
func pgbParseAll(t *testing.T, version string) ([]prometheus.Metric, []pgbMissingCall) {
	t.Helper()
	var ms []prometheus.Metric
	var missing []pgbMissingCall
	emit := func(m prometheus.Metric) { ms = append(ms, m) }
	note := func(command, column string, optional bool) {
		missing = append(missing, pgbMissingCall{command + "." + column, optional})
	}
	all2 := func(string, string) bool { return true }
	all1 := func(string) bool { return true }
	if err := pgbParsePools(pgbFixture(t, version, "pools.csv"), all2, emit, note); err != nil {
		t.Fatalf("pools: %v", err)
	}
	if err := pgbParseStats(pgbFixture(t, version, "stats.csv"), all1, emit, note); err != nil {
		t.Fatalf("stats: %v", err)
	}
	if err := pgbParseDatabases(pgbFixture(t, version, "databases.csv"), all1, emit, note); err != nil {
		t.Fatalf("databases: %v", err)
	}
	if err := pgbParseConfig(pgbFixture(t, version, "config.csv"), emit, note); err != nil {
		t.Fatalf("config: %v", err)
	}
	return ms, missing
}

// pgbExpect is one series the fixtures must produce, in the versions from
// since to until (empty: no bound), and must not produce in the others.
type pgbExpect struct {
	key          string
	value        float64
	since, until string
}

func pgbVersionLess(a, b string) bool {
	var amaj, amin, bmaj, bmin int
	fmt.Sscanf(a, "%d.%d", &amaj, &amin)
	fmt.Sscanf(b, "%d.%d", &bmaj, &bmin)
	return amaj < bmaj || (amaj == bmaj && amin < bmin)
}

func (e pgbExpect) in(version string) bool {
	if e.since != "" && pgbVersionLess(version, e.since) {
		return false
	}
	if e.until != "" && pgbVersionLess(e.until, version) {
		return false
	}
	return true
}

// pgbFixtureExpect is what every fixture version must parse to; the values
// are the README's table, which is the same in every version.
func pgbFixtureExpect() []pgbExpect {
	var out []pgbExpect
	add := func(since, until string, value float64, name string, labels ...string) {
		out = append(out, pgbExpect{key: seriesKey(name, labels...), value: value, since: since, until: until})
	}
	clients := "headroom_pgbouncer_pool_client_connections"
	servers := "headroom_pgbouncer_pool_server_connections"
	pools := []struct {
		db, user, mode                              string
		clActive, clWaiting                         float64
		svActive, svIdle, svUsed, svTested, svLogin float64
		maxWait                                     float64
	}{
		{"app", "app", "transaction", 5, 2, 5, 1, 0, 0, 0, 1.5},
		{"reports", "reporting", "session", 2, 0, 2, 0, 1, 0, 0, 0},
	}
	for _, p := range pools {
		l := func(state string) []string { return []string{"database", p.db, "user", p.user, "state", state} }
		add("", "", p.clActive, clients, l("active")...)
		add("", "", p.clWaiting, clients, l("waiting")...)
		add("", "1.17", 0, clients, l("cancel_req")...)
		add("1.18", "", 0, clients, l("active_cancel_req")...)
		add("1.18", "", 0, clients, l("waiting_cancel_req")...)
		add("", "", p.svActive, servers, l("active")...)
		add("", "", p.svIdle, servers, l("idle")...)
		add("", "", p.svUsed, servers, l("used")...)
		add("", "", p.svTested, servers, l("tested")...)
		add("", "", p.svLogin, servers, l("login")...)
		add("1.18", "", 0, servers, l("active_cancel")...)
		add("1.18", "", 0, servers, l("being_canceled")...)
		add("", "", p.maxWait, "headroom_pgbouncer_pool_max_wait_seconds", "database", p.db, "user", p.user)
		add("", "", 1, "headroom_pgbouncer_pool_info", "database", p.db, "user", p.user, "pool_mode", p.mode)
	}
	// 5+2 (app) + 1 (the admin console's own client) + 2 (reports).
	add("", "", 10, "headroom_pgbouncer_client_connections")

	dbs := []struct {
		db                                            string
		poolSize, reserve, current, maxConns, clients float64
		xacts, queries, recv, sent                    float64
		xactTime, queryTime, waitTime                 float64
		assignments, clientParses, serverParses, bind float64
	}{
		{"app", 20, 5, 6, 0, 7, 120345, 483210, 51234567, 987654321, 361.035, 289.926, 15, 125000, 48000, 1200, 96000},
		{"reports", 10, 0, 3, 50, 2, 1500, 3000, 450000, 98000000, 900, 880, 0.0025, 1510, 0, 0, 0},
	}
	for _, d := range dbs {
		db := []string{"database", d.db}
		add("", "", d.poolSize, "headroom_pgbouncer_database_pool_size", db...)
		add("", "", d.reserve, "headroom_pgbouncer_database_reserve_pool_size", db...)
		add("", "", d.current, "headroom_pgbouncer_database_server_connections", db...)
		add("", "", d.maxConns, "headroom_pgbouncer_database_max_server_connections", db...)
		add("1.24", "", d.clients, "headroom_pgbouncer_database_client_connections", db...)
		add("1.24", "", 0, "headroom_pgbouncer_database_max_client_connections", db...)
		add("", "", 0, "headroom_pgbouncer_database_paused", db...)
		add("", "", 0, "headroom_pgbouncer_database_disabled", db...)

		add("", "", d.xacts, "headroom_pgbouncer_stats_transactions_total", db...)
		add("", "", d.queries, "headroom_pgbouncer_stats_queries_total", db...)
		add("", "", d.recv, "headroom_pgbouncer_stats_received_bytes_total", db...)
		add("", "", d.sent, "headroom_pgbouncer_stats_sent_bytes_total", db...)
		add("", "", d.xactTime, "headroom_pgbouncer_stats_transaction_duration_seconds_total", db...)
		add("", "", d.queryTime, "headroom_pgbouncer_stats_query_duration_seconds_total", db...)
		add("", "", d.waitTime, "headroom_pgbouncer_stats_client_wait_seconds_total", db...)
		add("1.23", "", d.assignments, "headroom_pgbouncer_stats_server_assignments_total", db...)
		add("1.24", "", d.clientParses, "headroom_pgbouncer_stats_client_parses_total", db...)
		add("1.24", "", d.serverParses, "headroom_pgbouncer_stats_server_parses_total", db...)
		add("1.24", "", d.bind, "headroom_pgbouncer_stats_binds_total", db...)
	}

	add("", "", 100, "headroom_pgbouncer_config_max_client_connections")
	add("", "", 0, "headroom_pgbouncer_config_max_db_connections")
	add("", "", 0, "headroom_pgbouncer_config_max_user_connections")
	add("", "", 20, "headroom_pgbouncer_config_default_pool_size")
	add("", "", 0, "headroom_pgbouncer_config_reserve_pool_size")
	return out
}

func pgbClose(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

// TestPgBouncerFixtures feeds every version's SHOW output through the
// parsers and asserts the same values for every version, exactly the
// expected set of series (nothing for the admin pseudo-database, nothing
// for a column the version does not have), and that a column a version
// lacks is reported as optional, never as a failure.
func TestPgBouncerFixtures(t *testing.T) {
	expect := pgbFixtureExpect()
	// Which columns each version lacks, of those the collector reads.
	wantMissing := func(v string) []string {
		var out []string
		if !pgbVersionLess(v, "1.18") {
			out = append(out, "POOLS.cl_cancel_req")
		} else {
			out = append(out, "POOLS.cl_active_cancel_req", "POOLS.cl_waiting_cancel_req",
				"POOLS.sv_active_cancel", "POOLS.sv_being_canceled")
		}
		if pgbVersionLess(v, "1.23") {
			out = append(out, "STATS.total_server_assignment_count")
		}
		if pgbVersionLess(v, "1.24") {
			out = append(out, "STATS.total_client_parse_count", "STATS.total_server_parse_count", "STATS.total_bind_count",
				"DATABASES.current_client_connections", "DATABASES.max_client_connections")
		}
		sort.Strings(out)
		return out
	}
	for _, version := range pgbVersions {
		t.Run(version, func(t *testing.T) {
			ms, missing := pgbParseAll(t, version)
			got := pgbGatherMetrics(t, ms)
			want := map[string]float64{}
			for _, e := range expect {
				if e.in(version) {
					want[e.key] = e.value
				}
			}
			for k, v := range want {
				g, ok := got[k]
				switch {
				case !ok:
					t.Errorf("missing %s (want %v)", k, v)
				case !pgbClose(g.value, v):
					t.Errorf("%s = %v, want %v", k, g.value, v)
				}
			}
			for k, g := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("unexpected series %s = %v", k, g.value)
				}
				isCounter := strings.HasSuffix(g.name, "_total")
				if isCounter != (g.kind == dto.MetricType_COUNTER) {
					t.Errorf("%s: type %v", k, g.kind)
				}
			}
			var gotMissing []string
			for _, m := range missing {
				if !m.optional {
					t.Errorf("column %s, which every supported version has, reported missing", m.column)
				}
				gotMissing = append(gotMissing, m.column)
			}
			sort.Strings(gotMissing)
			if !slices.Equal(gotMissing, wantMissing(version)) {
				t.Errorf("missing columns reported: %v, want %v", gotMissing, wantMissing(version))
			}
		})
	}
}

// TestPgBouncerFixturesLint runs promlint over what the newest and oldest
// fixtures parse to.
func TestPgBouncerFixturesLint(t *testing.T) {
	for _, version := range []string{"1.16", "1.24"} {
		ms, _ := pgbParseAll(t, version)
		problems, err := testutil.CollectAndLint(pgbMetrics(ms))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range problems {
			t.Errorf("%s: promlint: %s: %s", version, p.Metric, p.Text)
		}
	}
}

// pgbReshape returns the table with its columns in another order and an
// unknown column added, rows rearranged to match.
func pgbReshape(tab pgbTable) pgbTable {
	n := len(tab.columns)
	order := make([]int, n)
	for i := range order {
		order[i] = n - 1 - i
	}
	out := pgbTable{columns: []string{"from_the_future"}}
	for _, i := range order {
		out.columns = append(out.columns, tab.columns[i])
	}
	for _, row := range tab.rows {
		r := []string{"whatever"}
		for _, i := range order {
			r = append(r, row[i])
		}
		out.rows = append(out.rows, r)
	}
	return out
}

// pgbWithout drops a column, as a release that removed it would send.
func pgbWithout(tab pgbTable, column string) pgbTable {
	i := tab.index(column)
	if i < 0 {
		return tab
	}
	out := pgbTable{columns: slices.Delete(slices.Clone(tab.columns), i, i+1)}
	for _, row := range tab.rows {
		out.rows = append(out.rows, slices.Delete(slices.Clone(row), i, i+1))
	}
	return out
}

// pgbSet replaces one cell of the first row.
func pgbSet(tab pgbTable, column, value string) pgbTable {
	out := pgbTable{columns: tab.columns}
	for _, row := range tab.rows {
		out.rows = append(out.rows, slices.Clone(row))
	}
	out.rows[0][tab.index(column)] = value
	return out
}

func TestPgBouncerParseEdgeCases(t *testing.T) {
	all2 := func(string, string) bool { return true }
	all1 := func(string) bool { return true }
	pools := func(tab pgbTable) (series, []pgbMissingCall, error) {
		var ms []prometheus.Metric
		var missing []pgbMissingCall
		err := pgbParsePools(tab, all2, func(m prometheus.Metric) { ms = append(ms, m) },
			func(cmd, col string, opt bool) {
				if !opt { // cl_cancel_req, absent from 1.24, is expected
					missing = append(missing, pgbMissingCall{cmd + "." + col, opt})
				}
			})
		return pgbGatherMetrics(t, ms), missing, err
	}
	base := pgbFixture(t, "1.24", "pools.csv")
	want, _, err := pools(base)
	if err != nil {
		t.Fatal(err)
	}
	waiting := seriesKey("headroom_pgbouncer_pool_client_connections", "database", "app", "user", "app", "state", "waiting")
	reportsWaiting := seriesKey("headroom_pgbouncer_pool_client_connections", "database", "reports", "user", "reporting", "state", "waiting")
	maxWait := seriesKey("headroom_pgbouncer_pool_max_wait_seconds", "database", "app", "user", "app")

	cases := []struct {
		name        string
		tab         pgbTable
		wantErr     bool
		absent      []string
		wantMissing []pgbMissingCall
		changed     map[string]float64
	}{
		{name: "reordered with an unknown column", tab: pgbReshape(base)},
		{name: "cl_waiting dropped", tab: pgbWithout(base, "cl_waiting"), absent: []string{waiting, reportsWaiting},
			wantMissing: []pgbMissingCall{{"POOLS.cl_waiting", false}},
			changed:     map[string]float64{seriesKey("headroom_pgbouncer_client_connections"): 8}},
		{name: "maxwait_us dropped", tab: pgbWithout(base, "maxwait_us"),
			wantMissing: []pgbMissingCall{{"POOLS.maxwait_us", false}},
			changed:     map[string]float64{maxWait: 1}},
		{name: "NaN", tab: pgbSet(base, "cl_waiting", "NaN"), absent: []string{waiting},
			changed: map[string]float64{seriesKey("headroom_pgbouncer_client_connections"): 8}},
		{name: "+Inf", tab: pgbSet(base, "maxwait", "+Inf"), absent: []string{maxWait}},
		{name: "NULL", tab: pgbSet(base, "cl_waiting", ""), absent: []string{waiting},
			changed: map[string]float64{seriesKey("headroom_pgbouncer_client_connections"): 8}},
		{name: "text", tab: pgbSet(base, "cl_waiting", "many"), absent: []string{waiting},
			changed: map[string]float64{seriesKey("headroom_pgbouncer_client_connections"): 8}},
		{name: "no database column", tab: pgbWithout(base, "database"), wantErr: true},
		{name: "short row", tab: pgbTable{columns: base.columns, rows: [][]string{{"app", "app", "1"}}},
			changed: map[string]float64{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, missing, err := pools(tc.tab)
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(missing, tc.wantMissing) {
				t.Errorf("missing = %v, want %v", missing, tc.wantMissing)
			}
			if tc.name == "short row" {
				// Only cl_active of the one row is there.
				active := seriesKey("headroom_pgbouncer_pool_client_connections", "database", "app", "user", "app", "state", "active")
				if len(got) != 2 || got[active].value != 1 || got[seriesKey("headroom_pgbouncer_client_connections")].value != 1 {
					t.Errorf("short row: got %v", got)
				}
				return
			}
			for k, w := range want {
				if slices.Contains(tc.absent, k) {
					if _, ok := got[k]; ok {
						t.Errorf("%s should be left out", k)
					}
					continue
				}
				wv := w.value
				if c, ok := tc.changed[k]; ok {
					wv = c
				}
				if g, ok := got[k]; !ok || !pgbClose(g.value, wv) {
					t.Errorf("%s = %v (present %v), want %v", k, g.value, ok, wv)
				}
			}
			if len(got) != len(want)-len(tc.absent) {
				t.Errorf("%d series, want %d", len(got), len(want)-len(tc.absent))
			}
		})
	}

	t.Run("config key missing or not a number", func(t *testing.T) {
		tab := pgbTable{columns: []string{"key", "value", "default", "changeable"}, rows: [][]string{
			{"max_client_conn", "NaN", "100", "yes"},
			{"default_pool_size", "7", "20", "yes"},
		}}
		var ms []prometheus.Metric
		var missing []string
		err := pgbParseConfig(tab, func(m prometheus.Metric) { ms = append(ms, m) },
			func(_, col string, _ bool) { missing = append(missing, col) })
		if err != nil {
			t.Fatal(err)
		}
		got := pgbGatherMetrics(t, ms)
		if len(got) != 1 || got[seriesKey("headroom_pgbouncer_config_default_pool_size")].value != 7 {
			t.Errorf("got %v", got)
		}
		if want := []string{"max_db_connections", "max_user_connections", "reserve_pool_size"}; !slices.Equal(missing, want) {
			t.Errorf("missing = %v, want %v", missing, want)
		}
	})

	t.Run("reserve_pool and reserve_pool_size both sent", func(t *testing.T) {
		// Were a release to send both, the new name wins.
		tab := pgbTable{columns: []string{"name", "reserve_pool", "reserve_pool_size"}, rows: [][]string{{"app", "1", "2"}}}
		var ms []prometheus.Metric
		if err := pgbParseDatabases(tab, all1, func(m prometheus.Metric) { ms = append(ms, m) }, nil); err != nil {
			t.Fatal(err)
		}
		got := pgbGatherMetrics(t, ms)
		if v := got[seriesKey("headroom_pgbouncer_database_reserve_pool_size", "database", "app")].value; v != 2 {
			t.Errorf("reserve_pool_size = %v, want 2", v)
		}
	})
}

// TestPgBouncerLabelCaps: with room for one pool and one database, the
// first of each (in PgBouncer's order) is kept, the rest are counted as
// dropped, and the client total still counts every pool.
func TestPgBouncerLabelCaps(t *testing.T) {
	s := &Scrape{}
	pools := s.Cap("pools", 1)
	dbs := s.Cap("databases", 1)
	var ms []prometheus.Metric
	emit := func(m prometheus.Metric) { ms = append(ms, m) }
	allowPool := func(db, user string) bool { return pools.Allow(db + "\x00" + user) }
	if err := pgbParsePools(pgbFixture(t, "1.24", "pools.csv"), allowPool, emit, nil); err != nil {
		t.Fatal(err)
	}
	if err := pgbParseStats(pgbFixture(t, "1.24", "stats.csv"), dbs.Allow, emit, nil); err != nil {
		t.Fatal(err)
	}
	if err := pgbParseDatabases(pgbFixture(t, "1.24", "databases.csv"), dbs.Allow, emit, nil); err != nil {
		t.Fatal(err)
	}
	got := pgbGatherMetrics(t, ms)
	for k := range got {
		if strings.Contains(k, `"reports"`) || strings.Contains(k, `"pgbouncer"`) {
			t.Errorf("%s should have been capped", k)
		}
	}
	if _, ok := got[seriesKey("headroom_pgbouncer_database_pool_size", "database", "app")]; !ok {
		t.Error("app's pool_size was capped")
	}
	if v := got[seriesKey("headroom_pgbouncer_client_connections")].value; v != 10 {
		t.Errorf("client_connections = %v, want 10 (every pool, capped or not)", v)
	}
	// One pool (reports) dropped; the database reports, left out of both
	// stats and databases, counted once. The admin console is left out
	// before the cap and not counted.
	if want := map[string]int{"pools": 1, "databases": 1}; !maps.Equal(s.dropped, want) {
		t.Errorf("dropped = %v, want %v", s.dropped, want)
	}
}

// pgbEnv is a live PostgreSQL with PgBouncer in front and a runner on the
// PgBouncer admin console.
type pgbEnv struct {
	pg      *testenv.Postgres
	bouncer *testenv.PgBouncer
	target  *pgbouncerTarget
	runner  *Runner
}

func pgbStart(t *testing.T, opts testenv.PgBouncerOptions) *pgbEnv {
	t.Helper()
	pg := testenv.StartPostgres(t, testenv.PostgresOptions{})
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
