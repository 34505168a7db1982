package collectors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/kind"
)

// The PgBouncer target: its one admin-console connection, and a scrape as
// one pipelined round of SHOW commands on it. What the answers mean, and
// the series made of them, is pgbouncer_show.go's.

// pgbStartupParams are the startup parameters PgBouncer's admin console
// accepts without ignore_startup_parameters; any other (statement_timeout,
// search_path, ...) would make it refuse the connection, and none of them
// means anything to the console. Every query is bounded by the scrape's
// deadline instead.
var pgbStartupParams = map[string]bool{
	"application_name":            true,
	"client_encoding":             true,
	"datestyle":                   true,
	"timezone":                    true,
	"standard_conforming_strings": true,
}

// pgbNoDeadline bounds a scrape whose context carries no deadline: a frozen
// PgBouncer must never hold the connection, and Close, forever.
const pgbNoDeadline = 10 * time.Second

type pgbouncerTarget struct {
	name   string
	logger *slog.Logger    // the injected one, naming the target (targetLogger)
	cfg    *pgx.ConnConfig // password filled in from secret on each connect
	secret config.Secret
	limits config.Limits

	// sem is held by whoever uses conn. A channel rather than a mutex, so
	// that a caller waiting for it gives up at its deadline.
	sem    chan struct{}
	conn   *pgx.Conn
	closed bool

	// connects counts connections opened (ConnectionCounter).
	connects atomic.Uint64

	warnMu sync.Mutex
	warned map[string]bool
}

// NewPgBouncer builds a PgBouncer target for an admin-console DSN, e.g.
// postgres://stats@pgbouncer:6432/pgbouncer. It keeps one connection,
// opened on the first scrape and reused until it breaks; the admin console
// speaks only the simple query protocol, and a pool of one is all a
// target scraped once at a time needs. The comment on the metric
// descriptions at the top of pgbouncer_show.go says which series pair up
// into which utilisation.
func NewPgBouncer(c config.PgBouncer, logger *slog.Logger) (Target, error) {
	cfg, err := pgx.ParseConfig(c.DSN)
	if err != nil {
		return nil, fmt.Errorf("dsn: cannot parse: %s", config.RedactDSNError(err))
	}
	cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
	cfg.StatementCacheCapacity = 0
	cfg.DescriptionCacheCapacity = 0
	for k := range cfg.RuntimeParams {
		if !pgbStartupParams[k] {
			delete(cfg.RuntimeParams, k)
		}
	}
	if cfg.RuntimeParams["application_name"] == "" {
		// Names the exporter in SHOW CLIENTS.
		cfg.RuntimeParams["application_name"] = "headroom"
	}
	limits := c.Limits
	if limits.Pools <= 0 {
		limits.Pools = config.DefaultLimits.Pools
	}
	if limits.Databases <= 0 {
		limits.Databases = config.DefaultLimits.Databases
	}
	return &pgbouncerTarget{
		name:   c.Name,
		logger: targetLogger(logger, kind.PgBouncer, c.Name),
		cfg:    cfg,
		secret: c.Secret,
		limits: limits,
		sem:    make(chan struct{}, 1),
		warned: map[string]bool{},
	}, nil
}

func (t *pgbouncerTarget) Name() string    { return t.name }
func (t *pgbouncerTarget) Kind() kind.Kind { return kind.PgBouncer }

// ConnectionsOpened counts admin-console connections opened so far: one,
// plus one per break (PgBouncer restarted, a scrape hit its deadline).
func (t *pgbouncerTarget) ConnectionsOpened() uint64 { return t.connects.Load() }

// Close closes the connection, after any scrape in flight (which ends by
// its deadline).
func (t *pgbouncerTarget) Close() {
	t.sem <- struct{}{}
	defer func() { <-t.sem }()
	t.closed = true
	t.dropConn()
}

// Scrape runs SHOW POOLS, STATS, DATABASES and CONFIG on the target's one
// connection, each as its own collector.
func (t *pgbouncerTarget) Scrape(ctx context.Context, s *Scrape) error {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, pgbNoDeadline)
		defer cancel()
	}
	select {
	case t.sem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-t.sem }()
	if t.closed {
		return errors.New("target is closed")
	}

	// A connection kept from an earlier scrape may have been cut since
	// (PgBouncer restarted, or closed it for client_idle_timeout); until
	// it has answered once in this scrape, a broken one is replaced and
	// the commands sent again, so that a restart costs no scrape.
	stale := t.conn != nil
	if t.conn == nil {
		if err := t.connect(ctx); err != nil {
			return err
		}
	}

	pools := s.Cap("pools", t.limits.Pools)
	databases := s.Cap("databases", t.limits.Databases)
	allowPool := func(db, user string) bool { return pools.Allow(db + "\x00" + user) }
	steps := []struct {
		collector, command string
		parse              func(pgbTable, func(prometheus.Metric)) error
	}{
		{"pools", "POOLS", func(tab pgbTable, emit func(prometheus.Metric)) error {
			return pgbParsePools(tab, allowPool, emit, t.missing)
		}},
		{"stats", "STATS", func(tab pgbTable, emit func(prometheus.Metric)) error {
			return pgbParseStats(tab, databases.Allow, emit, t.missing)
		}},
		{"databases", "DATABASES", func(tab pgbTable, emit func(prometheus.Metric)) error {
			return pgbParseDatabases(tab, databases.Allow, emit, t.missing)
		}},
		{"config", "CONFIG", func(tab pgbTable, emit func(prometheus.Metric)) error {
			return pgbParseConfig(tab, emit, t.missing)
		}},
	}
	commands := make([]string, len(steps))
	for i, st := range steps {
		commands[i] = "SHOW " + st.command
	}
	// The four commands go out together and come back in one round trip;
	// the first collector's time includes it, as a pipeline's does for
	// PostgreSQL.
	var answers []pgbAnswer
	for i, st := range steps {
		s.Run(st.collector, func(emit func(prometheus.Metric)) error {
			if answers == nil {
				var err error
				if answers, err = t.showAll(ctx, commands, stale); err != nil {
					answers = make([]pgbAnswer, len(steps))
					for k := range answers {
						answers[k].err = err
					}
				}
			}
			if err := answers[i].err; err != nil {
				return fmt.Errorf("%s: %w", commands[i], err)
			}
			return st.parse(answers[i].table, emit)
		})
	}
	return nil
}

// pgbAnswer is one admin command's answer: a table, or the error
// PgBouncer gave for it.
type pgbAnswer struct {
	table pgbTable
	err   error
}

// showAll runs the commands on the target's connection, (re)connecting when
// there is none. A connection kept from an earlier scrape that turns out
// to be broken is replaced and the commands sent again once.
func (t *pgbouncerTarget) showAll(ctx context.Context, commands []string, stale bool) ([]pgbAnswer, error) {
	for {
		if t.conn == nil {
			if err := t.connect(ctx); err != nil {
				return nil, err
			}
		}
		answers, err := pgbPipeline(ctx, t.conn.PgConn(), commands)
		if err == nil {
			return answers, nil
		}
		t.dropConn()
		// The socket's deadline can pass a moment before the context's:
		// a timeout is not a connection to replace.
		if !stale || ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, err
		}
		stale = false
	}
}

func (t *pgbouncerTarget) connect(ctx context.Context) error {
	cfg := t.cfg.Copy()
	pw, ok, err := t.secret.Password()
	if err != nil {
		return fmt.Errorf("read password: %w", err)
	}
	if ok {
		cfg.Password = pw
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err
	}
	t.connects.Add(1)
	t.conn = conn
	return nil
}

// dropConn closes the connection. The close is bounded: a frozen PgBouncer
// would otherwise hold it.
func (t *pgbouncerTarget) dropConn() {
	if t.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = t.conn.Close(ctx)
	t.conn = nil
}

// missing logs a column PgBouncer did not send, once per target and
// column: at debug level for columns that only some supported versions
// have, as a warning for columns every supported version has.
func (t *pgbouncerTarget) missing(command, column string, optional bool) {
	key := command + "." + column
	t.warnMu.Lock()
	seen := t.warned[key]
	t.warned[key] = true
	t.warnMu.Unlock()
	if seen {
		return
	}
	level := slog.LevelWarn
	if optional {
		level = slog.LevelDebug
	}
	t.logger.Log(context.Background(), level, "pgbouncer did not send a column; its series are left out",
		"command", "SHOW "+command, "column", column)
}

// pgbPipeline sends every command before reading any answer: the admin
// console takes one command per query message (its parser refuses two in
// one string) but reads as many messages as arrive, and answers each in
// turn. An error PgBouncer answers with (an unknown command on an older
// version) is that command's; any other error (network, deadline,
// protocol, or a FATAL one, after which PgBouncer closes the connection)
// leaves the connection unusable and is returned, for every command.
func pgbPipeline(ctx context.Context, conn *pgconn.PgConn, commands []string) ([]pgbAnswer, error) {
	// Deadlines on the socket itself: pgconn's context watching starts a
	// goroutine per message read, and a scrape reads hundreds.
	if deadline, ok := ctx.Deadline(); ok {
		if err := conn.Conn().SetDeadline(deadline); err != nil {
			return nil, err
		}
		defer conn.Conn().SetDeadline(time.Time{})
	}
	for _, c := range commands {
		conn.Frontend().Send(&pgproto3.Query{String: c})
	}
	if err := conn.Frontend().Flush(); err != nil {
		return nil, err
	}
	answers := make([]pgbAnswer, len(commands))
	for i := 0; i < len(commands); {
		msg, err := conn.ReceiveMessage(context.Background())
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, err
		}
		a := &answers[i]
		switch m := msg.(type) {
		case *pgproto3.RowDescription:
			for _, f := range m.Fields {
				a.table.columns = append(a.table.columns, string(f.Name))
			}
		case *pgproto3.DataRow:
			row := make([]string, len(m.Values))
			for k, v := range m.Values {
				row[k] = string(v)
			}
			a.table.rows = append(a.table.rows, row)
		case *pgproto3.ErrorResponse:
			a.err = pgconn.ErrorResponseToPgError(m)
		case *pgproto3.ReadyForQuery:
			i++
		}
	}
	return answers, nil
}
