package testenv

import (
	"context"
	"time"

	"fmt"
	"net/url"
	"os/exec"
	"strings"

	"github.com/jackc/pgx/v5"
)

// PgBouncerPath is Debian's PgBouncer binary.
var PgBouncerPath = "/usr/sbin/pgbouncer"

// PgBouncerOptions tune a throwaway PgBouncer.
type PgBouncerOptions struct {
	PoolMode        string // default "session"
	DefaultPoolSize int    // default 2, small so that tests can make clients wait
	ReservePoolSize int
	MaxClientConn   int      // default 200
	Settings        []string // extra [pgbouncer] lines
	// Databases are given entries of their own, as production configs
	// list theirs: SHOW DATABASES has them from the start and for good,
	// where a database reached through the `*` fallback appears at its
	// first client and may go again.
	Databases []string
}

// PgBouncer is a throwaway PgBouncer in front of a Postgres. Every database
// of the backend is reachable through it (a `*` fallback entry), and the
// users `pgbouncer` and `postgres` may use the admin console.
type PgBouncer struct {
	Server
}

// StartPgBouncer starts PgBouncer in front of backend.
func StartPgBouncer(t TB, backend *Postgres, opts PgBouncerOptions) *PgBouncer {
	t.Helper()
	dir := Dir(t, "pgbouncer")
	if opts.PoolMode == "" {
		opts.PoolMode = "session"
	}
	if opts.DefaultPoolSize == 0 {
		opts.DefaultPoolSize = 2
	}
	if opts.MaxClientConn == 0 {
		opts.MaxClientConn = 200
	}
	port := FreePort(t)
	ini := []string{"[databases]"}
	for _, db := range opts.Databases {
		ini = append(ini, fmt.Sprintf("%s = host=%s port=%d dbname=%s", db, backend.Host, backend.Port, db))
	}
	ini = append(ini,
		fmt.Sprintf("* = host=%s port=%d", backend.Host, backend.Port),
		"[pgbouncer]",
		"listen_addr = 127.0.0.1",
		fmt.Sprintf("listen_port = %d", port),
		fmt.Sprintf("unix_socket_dir = %s", dir),
		"auth_type = trust",
		fmt.Sprintf("auth_file = %s/userlist.txt", dir),
		"admin_users = pgbouncer, postgres",
		"stats_users = stats",
		fmt.Sprintf("pool_mode = %s", opts.PoolMode),
		fmt.Sprintf("default_pool_size = %d", opts.DefaultPoolSize),
		fmt.Sprintf("reserve_pool_size = %d", opts.ReservePoolSize),
		fmt.Sprintf("max_client_conn = %d", opts.MaxClientConn),
		"ignore_startup_parameters = extra_float_digits,statement_timeout,lock_timeout",
		"server_check_delay = 1",
		"log_connections = 0",
		"log_disconnections = 0",
	)
	ini = append(ini, opts.Settings...)
	writeFile(t, dir+"/pgbouncer.ini", strings.Join(ini, "\n")+"\n")
	writeFile(t, dir+"/userlist.txt", "\"pgbouncer\" \"\"\n\"postgres\" \"\"\n\"stats\" \"\"\n\"app\" \"\"\n")
	b := &PgBouncer{Server: Server{Host: "127.0.0.1", Port: port, Dir: dir}}
	b.proc = &process{
		name:    "pgbouncer",
		addr:    b.Addr(),
		logPath: dir + "/pgbouncer.log",
		start:   func() (*exec.Cmd, error) { return asPostgres(PgBouncerPath, dir+"/pgbouncer.ini") },
	}
	b.register(t)
	if err := b.proc.run(); err != nil {
		t.Fatalf("%v", err)
	}
	if err := waitPostgres("pgbouncer admin console", b.Addr(), b.AdminDSN(), readyWithin); err != nil {
		t.Fatalf("%v\n%s", err, b.Log())
	}
	return b
}

// AdminDSN is the admin console's connection URL.
func (b *PgBouncer) AdminDSN() string { return b.DSN("pgbouncer", "pgbouncer") }

// DSN is a connection URL through PgBouncer.
func (b *PgBouncer) DSN(database, user string) string {
	u := url.URL{Scheme: "postgres", User: url.User(user), Host: b.Addr(), Path: "/" + database}
	u.RawQuery = "sslmode=disable"
	return u.String()
}

// ConnectAdmin opens a simple-protocol connection to the admin console.
func (b *PgBouncer) ConnectAdmin(t TB) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(b.AdminDSN())
	if err != nil {
		t.Fatalf("parse dsn: %v", err)
	}
	// The admin console speaks only the simple query protocol.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect to pgbouncer admin on %s: %v", b.Addr(), err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
