package kind

import "testing"

func TestKinds(t *testing.T) {
	cases := []struct {
		kind   Kind
		title  string
		prefix string
	}{
		{Postgres, "PostgreSQL", "headroom_postgres_"},
		{PgBouncer, "PgBouncer", "headroom_pgbouncer_"},
		{Redis, "Redis", "headroom_redis_"},
		{API, "API", "headroom_api_"},
		{"mysql", "mysql", "headroom_mysql_"},
	}
	for _, c := range cases {
		if got := c.kind.Title(); got != c.title {
			t.Errorf("%q.Title() = %q, want %q", c.kind, got, c.title)
		}
		if got := c.kind.MetricPrefix(); got != c.prefix {
			t.Errorf("%q.MetricPrefix() = %q, want %q", c.kind, got, c.prefix)
		}
	}
	if got := len(All()); got != 4 {
		t.Errorf("All() has %d kinds, want 4", got)
	}
}
