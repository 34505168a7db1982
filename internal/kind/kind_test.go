package kind

import "testing"

func TestKinds(t *testing.T) {
	cases := []struct {
		kind   Kind
		valid  bool
		title  string
		prefix string
	}{
		{Postgres, true, "PostgreSQL", "headroom_postgres_"},
		{PgBouncer, true, "PgBouncer", "headroom_pgbouncer_"},
		{Redis, true, "Redis", "headroom_redis_"},
		{API, true, "API", "headroom_api_"},
		{"mysql", false, "mysql", "headroom_mysql_"},
	}
	for _, c := range cases {
		if got := c.kind.Valid(); got != c.valid {
			t.Errorf("%q.Valid() = %v, want %v", c.kind, got, c.valid)
		}
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
