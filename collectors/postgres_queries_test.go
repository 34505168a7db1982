package collectors

import (
	"strings"
	"testing"
	"time"
)

func TestQueriesForVersionAndRole(t *testing.T) {
	for _, tc := range []struct {
		version           int
		reserved, asyncPs bool
	}{
		{130015, false, false},
		{140012, false, true},
		{150019, false, true},
		{160008, true, true},
		{170004, true, true},
		{180001, true, true}, // newer than tested: the newest set
	} {
		for _, replica := range []bool{false, true} {
			q, err := queriesFor(tc.version, replica)
			if err != nil {
				t.Fatalf("%d replica=%v: %v", tc.version, replica, err)
			}
			if got := strings.Contains(q.settings, "'reserved_connections'"); got != tc.reserved {
				t.Errorf("%d: reserved_connections queried=%v, want %v", tc.version, got, tc.reserved)
			}
			if replica {
				if q.replication != "" {
					t.Errorf("%d: standby would run pg_stat_replication", tc.version)
				}
				if q.standby == "" {
					t.Errorf("%d: standby has no standby query", tc.version)
				}
				if got := strings.Contains(q.standby, "pg_get_wal_replay_pause_state"); got != tc.asyncPs {
					t.Errorf("%d: pause-state function used=%v, want %v", tc.version, got, tc.asyncPs)
				}
				// Functions that error during recovery must never run there.
				for _, primaryOnly := range []string{"pg_current_wal_lsn", "pg_current_wal_insert_lsn", "txid_current()"} {
					for name, sql := range map[string]string{"settings": q.settings, "connections": q.connections,
						"databases": q.databases, "sizes": q.sizes, "slots": q.slots, "standby": q.standby} {
						if strings.Contains(sql, primaryOnly) {
							t.Errorf("%d: standby query %s uses primary-only %s", tc.version, name, primaryOnly)
						}
					}
				}
			} else {
				if q.replication == "" || q.standby != "" {
					t.Errorf("%d: primary queries wrong: replication=%q standby=%q", tc.version, q.replication, q.standby)
				}
			}
		}
	}
	if _, err := queriesFor(120017, false); err == nil || !strings.Contains(err.Error(), "older than 13") {
		t.Errorf("PostgreSQL 12 accepted: %v", err)
	}
}

func TestStandbyLagObserve(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	ts := func(s int) *time.Time { v := at(s); return &v }
	type obs struct {
		sec                int
		streaming          bool
		received, replayed float64
		replayTS           *time.Time
		want               float64 // seconds; -1 = no value
	}
	for _, tc := range []struct {
		name string
		seq  []obs
	}{
		{"idle primary stays at zero however old the last commit", []obs{
			{0, true, 100, 100, ts(-3600), 0},
			{60, true, 100, 100, ts(-3600), 0},
			{600, true, 100, 100, ts(-3600), 0},
		}},
		{"paused after a quiet spell counts from when writes began, not from the last commit", []obs{
			{0, true, 100, 100, ts(-3600), 0},
			{15, true, 100, 100, ts(-3600), 0}, // paused, nothing new yet
			{30, true, 500, 100, ts(-3600), 15},
			{45, true, 900, 100, ts(-3600), 30},
		}},
		{"replay resuming moves the bound to when the replayed data arrived", []obs{
			{0, true, 100, 100, nil, 0},
			{10, true, 200, 100, nil, 10},
			{20, true, 300, 200, nil, 10}, // everything seen at 10 is replayed
		}},
		{"blocked stream grows although received == replayed", []obs{
			{0, true, 100, 100, ts(-1), 0},
			{10, false, 100, 100, ts(-1), 10},
			{70, false, 100, 100, ts(-1), 70},
		}},
		{"fresh start while behind falls back to the last replayed commit", []obs{
			{100, true, 500, 100, ts(90), 10},
		}},
		{"fresh start with nothing known gives no value", []obs{
			{100, false, 500, 100, nil, -1},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l standbyLag
			for _, o := range tc.seq {
				lag, ok := l.observe(at(o.sec), o.streaming, o.received, o.replayed, o.replayTS)
				if o.want < 0 {
					if ok {
						t.Fatalf("t=%d: got %v, want no value", o.sec, lag)
					}
					continue
				}
				if !ok || lag.Seconds() != o.want {
					t.Fatalf("t=%d: got %v (ok=%v), want %vs", o.sec, lag, ok, o.want)
				}
			}
		})
	}
}

// TestPostgresStatementCacheHoldsEveryQuery: a connection's statement
// cache, kept small for memory's sake, still holds every query a server
// can be asked across a failover (both roles, sizes on), so that no
// steady-state scrape prepares a statement again.
func TestPostgresStatementCacheHoldsEveryQuery(t *testing.T) {
	for major := minPostgresMajor; major <= maxPostgresMajor; major++ {
		distinct := map[string]bool{}
		for _, replica := range []bool{false, true} {
			queries, err := PostgresQueries(major*10000, replica, true)
			if err != nil {
				t.Fatal(err)
			}
			for _, q := range queries {
				distinct[q] = true
			}
		}
		if len(distinct) > postgresStatementCache {
			t.Errorf("PostgreSQL %d: %d distinct queries, the statement cache keeps %d", major, len(distinct), postgresStatementCache)
		}
	}
}
