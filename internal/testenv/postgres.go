package testenv

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresOptions tune a throwaway server; the zero value is a small primary.
type PostgresOptions struct {
	MaxConnections int      // default 100
	Settings       []string // extra postgresql.conf lines
}

// Postgres is a throwaway PostgreSQL server.
type Postgres struct {
	Server
	Replica bool
}

// StartPostgres initialises a new cluster in a temp directory and starts it
// as a primary that accepts streaming replicas.
func StartPostgres(t TB, opts PostgresOptions) *Postgres {
	t.Helper()
	dir := Dir(t, "pg")
	data := dataPath(dir, "data")
	if err := initCluster(data); err != nil {
		t.Fatalf("%v", err)
	}
	if opts.MaxConnections == 0 {
		opts.MaxConnections = 100
	}
	port := FreePort(t)
	conf := []string{
		"listen_addresses = '127.0.0.1'",
		fmt.Sprintf("port = %d", port),
		fmt.Sprintf("unix_socket_directories = '%s'", dir),
		fmt.Sprintf("max_connections = %d", opts.MaxConnections),
		"superuser_reserved_connections = 3",
		"shared_buffers = 16MB",
		"wal_level = replica",
		"max_wal_senders = 10",
		"max_replication_slots = 10",
		"hot_standby = on",
		// Throwaway data: durability only costs test time.
		"fsync = off",
		"full_page_writes = off",
		"synchronous_commit = off",
		"logging_collector = off",
		"log_min_messages = warning",
	}
	conf = append(conf, opts.Settings...)
	appendConf(t, data, conf)
	writeFile(t, dataPath(data, "pg_hba.conf"),
		"local all all trust\nhost all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n")
	return runPostgres(t, "postgres", dir, port, false)
}

// runPostgres starts the server of an initialised data directory (dir/data)
// and waits until it accepts queries.
func runPostgres(t TB, name, dir string, port int, replica bool) *Postgres {
	t.Helper()
	data := dataPath(dir, "data")
	p := &Postgres{Server: Server{Host: "127.0.0.1", Port: port, Dir: data}, Replica: replica}
	p.proc = &process{
		name:    name,
		addr:    p.Addr(),
		logPath: dataPath(dir, "postgres.log"),
		start:   func() (*exec.Cmd, error) { return asPostgres(PGBin+"/postgres", "-D", data) },
	}
	p.register(t)
	if err := p.proc.run(); err != nil {
		t.Fatalf("%v", err)
	}
	p.waitReady(t)
	return p
}

func appendConf(t TB, data string, lines []string) {
	t.Helper()
	f, err := os.OpenFile(dataPath(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("postgresql.conf: %v", err)
	}
	defer f.Close()
	if _, err := f.WriteString("\n" + strings.Join(lines, "\n") + "\n"); err != nil {
		t.Fatalf("postgresql.conf: %v", err)
	}
}

// StartReplica makes a streaming replica of p with pg_basebackup and starts it.
func (p *Postgres) StartReplica(t TB) *Postgres {
	t.Helper()
	dir := Dir(t, "pg-replica")
	data := dataPath(dir, "data")
	if err := runAsPostgres(PGBin+"/pg_basebackup", "-D", data, "-h", p.Host, "-p", strconv.Itoa(p.Port),
		"-U", "postgres", "-X", "stream", "-R", "--no-sync", "-c", "fast"); err != nil {
		t.Fatalf("pg_basebackup: %v", err)
	}
	port := FreePort(t)
	appendConf(t, data, []string{
		fmt.Sprintf("port = %d", port),
		fmt.Sprintf("unix_socket_directories = '%s'", dir),
		// Report receiver status often so that lag tests need not wait.
		"wal_receiver_status_interval = 1s",
		"wal_retrieve_retry_interval = 1s",
	})
	r := runPostgres(t, "postgres-replica", dir, port, true)
	r.WaitStreaming(t)
	return r
}

// DSN is a connection URL for the given database and user (trust auth).
func (p *Postgres) DSN(database, user string) string {
	u := url.URL{Scheme: "postgres", User: url.User(user), Host: p.Addr(), Path: "/" + database}
	u.RawQuery = "sslmode=disable"
	return u.String()
}

// Connect opens a connection as postgres to the given database, closed at cleanup.
func (p *Postgres) Connect(t TB, database string) *pgx.Conn {
	return p.ConnectAs(t, database, "postgres", "")
}

// ConnectAs opens a connection with a user and application_name.
func (p *Postgres) ConnectAs(t TB, database, user, application string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(p.DSN(database, user))
	if err != nil {
		t.Fatalf("parse dsn: %v", err)
	}
	if application != "" {
		cfg.RuntimeParams["application_name"] = application
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect to %s as %s: %v", p.Addr(), user, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Exec runs statements as postgres on the given database.
func (p *Postgres) Exec(t TB, database string, sql ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.DSN(database, "postgres"))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	for _, s := range sql {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// QueryInt runs a query returning one integer.
func (p *Postgres) QueryInt(t TB, database, sql string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.DSN(database, "postgres"))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var v int64
	if err := conn.QueryRow(ctx, sql).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

func (p *Postgres) waitReady(t TB) {
	t.Helper()
	if err := waitPostgres(p.proc.name, p.Addr(), p.DSN("postgres", "postgres"), readyWithin); err != nil {
		t.Fatalf("%v\n%s", err, p.Log())
	}
}

// waitPostgres waits until a connection to dsn succeeds; PgBouncer's admin
// console answers the same way.
func waitPostgres(what, addr, dsn string, within time.Duration) error {
	return WaitReady(what, addr, within, 2*time.Second, func(ctx context.Context) error {
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			return err
		}
		return conn.Close(ctx)
	})
}

// queryInt runs a query returning one integer under ctx.
func queryInt(ctx context.Context, dsn, sql string) (int64, error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.Background())
	var v int64
	err = conn.QueryRow(ctx, sql).Scan(&v)
	return v, err
}

// WaitStreaming waits until a replica's WAL receiver is streaming.
func (p *Postgres) WaitStreaming(t TB) {
	t.Helper()
	err := WaitReady("streaming of "+p.proc.name, p.Addr(), readyWithin, 2*time.Second, func(ctx context.Context) error {
		n, err := queryInt(ctx, p.DSN("postgres", "postgres"), "SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'")
		if err == nil && n != 1 {
			err = errors.New("no WAL receiver is streaming")
		}
		return err
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, p.Log())
	}
}

// WaitCaughtUp waits until a replica has replayed everything it received.
func (p *Postgres) WaitCaughtUp(t TB, primary *Postgres) {
	t.Helper()
	target := primary.QueryInt(t, "postgres", "SELECT pg_current_wal_lsn() - '0/0'")
	err := WaitReady(fmt.Sprintf("replay up to the primary's %d on %s", target, p.proc.name), p.Addr(), readyWithin, 2*time.Second, func(ctx context.Context) error {
		n, err := queryInt(ctx, p.DSN("postgres", "postgres"), "SELECT coalesce(pg_last_wal_replay_lsn() - '0/0', 0)::bigint")
		if err == nil && n < target {
			err = fmt.Errorf("replayed up to %d", n)
		}
		return err
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, p.Log())
	}
}

// Reload makes the server re-read its configuration.
func (p *Postgres) Reload(t TB) {
	t.Helper()
	p.Exec(t, "postgres", "SELECT pg_reload_conf()")
}

// AppendConf adds lines to postgresql.conf (call Reload or restart after).
func (p *Postgres) AppendConf(t TB, lines ...string) { appendConf(t, p.Dir, lines) }

// SetHBA replaces pg_hba.conf and reloads, e.g. to require a password.
func (p *Postgres) SetHBA(t TB, lines ...string) {
	t.Helper()
	writeFile(t, dataPath(p.Dir, "pg_hba.conf"), strings.Join(lines, "\n")+"\n")
	p.Reload(t)
}

// Start starts a stopped server again and waits until it accepts queries:
// the port opens before recovery is done ("the database system is starting up").
func (p *Postgres) Start(t TB) {
	t.Helper()
	p.Server.Start(t)
	p.waitReady(t)
}
