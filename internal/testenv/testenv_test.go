package testenv

import (
	"context"
	"testing"
)

func TestServersStartAndStop(t *testing.T) {
	pg := StartPostgres(t, PostgresOptions{})
	replica := pg.StartReplica(t)
	pg.Exec(t, "postgres", "CREATE TABLE t (x int)", "INSERT INTO t SELECT generate_series(1, 100)")
	replica.WaitCaughtUp(t, pg)
	if n := replica.QueryInt(t, "postgres", "SELECT count(*) FROM t"); n != 100 {
		t.Fatalf("replica has %d rows, want 100", n)
	}
	bouncer := StartPgBouncer(t, pg, PgBouncerOptions{})
	conn := bouncer.ConnectAdmin(t)
	if _, err := conn.Exec(context.Background(), "SHOW POOLS"); err != nil {
		t.Fatalf("SHOW POOLS: %v", err)
	}
	r := StartRedis(t, RedisOptions{MaxMemory: "2mb"})
	if err := r.Client(t).Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	pg.Stop(t)
	pg.Start(t)
	pg.Exec(t, "postgres", "SELECT 1")
}
