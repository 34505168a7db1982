package collectors

import (
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/testenv"
)

// With a query_ttl the size query runs once and its answer is served again,
// with its age, until the TTL is up; with 0 it runs every scrape. The cache
// is the target's own, and a failed query is not kept. pg_stat_statements
// counts what the server ran, beside headroom's own counter.
func TestPostgresQueryTTL(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t, testenv.PostgresOptions{Settings: []string{"shared_preload_libraries = 'pg_stat_statements'"}})
	pg.Exec(t, "postgres",
		"CREATE EXTENSION pg_stat_statements",
		"CREATE DATABASE sized",
		"CREATE ROLE monitor LOGIN",
		"CREATE DATABASE guarded",
		"REVOKE CONNECT ON DATABASE guarded FROM PUBLIC",
		"SELECT pg_stat_statements_reset()")
	sizeCalls := func() int64 {
		return pg.QueryInt(t, "postgres", `SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements WHERE query LIKE 'SELECT datname, pg_database_size(oid)%'`)
	}
	ttl := func(d time.Duration) map[string]model.Duration {
		return map[string]model.Duration{"database_sizes": model.Duration(d)}
	}
	cached, _ := newPostgresRunner(t, config.Postgres{Name: "cached", DSN: pg.DSN("postgres", "postgres"), DatabaseSizes: true, QueryTTL: ttl(5 * time.Minute)}, nil)
	every, _ := newPostgresRunner(t, config.Postgres{Name: "every", DSN: pg.DSN("postgres", "postgres"), DatabaseSizes: true, QueryTTL: ttl(0)}, nil)

	var ages []float64
	for i := range 3 {
		s := gather(t, cached, 10*time.Second)
		s.want(t, "headroom_collector_query_executions_total", 1, "collector", "database_sizes")
		s.want(t, "headroom_scrape_collector_success", 1, "collector", "database_sizes")
		if size := s.must(t, "headroom_postgres_database_size_bytes", "database", "sized"); size <= 0 {
			t.Errorf("scrape %d: size of sized %v, want the cached positive size", i, size)
		}
		ages = append(ages, s.must(t, "headroom_collector_cache_age_seconds", "collector", "database_sizes"))
		if took := s.must(t, "headroom_collector_query_seconds_total", "collector", "database_sizes"); took <= 0 {
			t.Errorf("scrape %d: query time %v, want above 0", i, took)
		}
		// The collectors without a TTL ran every time.
		s.want(t, "headroom_collector_query_executions_total", float64(i+1), "collector", "connections")
		time.Sleep(10 * time.Millisecond)
	}
	if ages[0] != 0 || !(ages[1] > 0 && ages[2] > ages[1]) {
		t.Errorf("cache ages %v, want 0 and then rising", ages)
	}
	if n := sizeCalls(); n != 1 {
		t.Errorf("pg_stat_statements counts %d size queries after 3 scrapes with a 5m TTL, want 1", n)
	}

	// A TTL of 0, and another target: its own query every scrape, whatever
	// the other target has cached.
	for i := range 3 {
		s := gather(t, every, 10*time.Second)
		s.want(t, "headroom_collector_query_executions_total", float64(i+1), "collector", "database_sizes")
		s.absent(t, "headroom_collector_cache_age_seconds", "collector", "database_sizes")
		s.must(t, "headroom_postgres_database_size_bytes", "database", "sized")
	}
	if n := sizeCalls(); n != 4 {
		t.Errorf("pg_stat_statements counts %d size queries, want 4 (1 cached + 3 every scrape)", n)
	}

	// A role that may not size one database: the query fails, and the
	// next scrape asks again instead of serving nothing from the cache.
	denied, _ := newPostgresRunner(t, config.Postgres{Name: "denied", DSN: pg.DSN("postgres", "monitor"), DatabaseSizes: true, QueryTTL: ttl(5 * time.Minute)}, nil)
	for i := range 2 {
		s := gather(t, denied, 10*time.Second)
		s.want(t, "headroom_target_up", 1, "kind", "postgres")
		s.want(t, "headroom_scrape_collector_success", 0, "collector", "database_sizes")
		s.want(t, "headroom_collector_query_executions_total", float64(i+1), "collector", "database_sizes")
		s.absent(t, "headroom_postgres_database_size_bytes", "database", "sized")
		s.absent(t, "headroom_collector_cache_age_seconds", "collector", "database_sizes")
	}
	pg.Exec(t, "postgres", "GRANT CONNECT ON DATABASE guarded TO monitor")
	for range 2 {
		s := gather(t, denied, 10*time.Second)
		s.want(t, "headroom_scrape_collector_success", 1, "collector", "database_sizes")
		s.want(t, "headroom_collector_query_executions_total", 3, "collector", "database_sizes")
		s.must(t, "headroom_postgres_database_size_bytes", "database", "guarded")
	}
}
