package collectors

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"

	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/exposition"
	"github.com/headroom-dev/headroom/internal/kind"
)

// Redis (and Valkey) from one INFO round trip per scrape.
//
// The denominators that matter:
//
//	memory:  headroom_redis_memory_used_bytes / headroom_redis_memory_limit_bytes
//	clients: headroom_redis_connected_clients / headroom_redis_max_clients
//	cache:   rate(headroom_redis_keyspace_hits_total) /
//	         (rate(headroom_redis_keyspace_hits_total) + rate(headroom_redis_keyspace_misses_total))
//
// headroom_redis_memory_limit_bytes is maxmemory when it is set, else the
// configured memory_limit_bytes (a container's limit), else the machine's
// memory, and its source label says which; when none is known it is absent,
// so a ratio over it is absent rather than +Inf. headroom_redis_memory_max_bytes
// is maxmemory itself, present only when it is set (maxmemory 0 means no
// limit), so that even a ratio written against it is absent, never +Inf.
var (
	redisSubsystem = "redis"

	redisInfoDesc = redisDesc("info", exposition.Gauge,
		"Always 1; the labels say what the server is: server (redis or valkey), version, mode, role (master or replica) and maxmemory_policy.",
		"server", "version", "mode", "role", "maxmemory_policy")
	redisUptimeDesc   = redisDesc("uptime_seconds", exposition.Gauge, "Time since the server started.")
	redisIsMasterDesc = redisDesc("is_master", exposition.Gauge, "1 when the server's role is master, 0 when it is a replica.")

	redisConnectedClientsDesc = redisDesc("connected_clients", exposition.Gauge, "Client connections, replicas excluded.")
	redisBlockedClientsDesc   = redisDesc("blocked_clients", exposition.Gauge, "Clients blocked in a blocking call (BLPOP, WAIT, ...).")
	redisMaxClientsDesc       = redisDesc("max_clients", exposition.Gauge,
		"The maxclients limit (INFO clients on Redis 6.2+, CONFIG GET maxclients before; absent when the server refuses CONFIG). Replica and cluster-bus connections count against it too.")
	redisRejectedConnsDesc = redisDesc("rejected_connections_total", exposition.Counter, "Connections refused because maxclients was reached.")
	redisConnsReceivedDesc = redisDesc("connections_received_total", exposition.Counter, "Connections accepted by the server.")
	redisCommandsDesc      = redisDesc("commands_processed_total", exposition.Counter, "Commands processed by the server.")

	redisKeyspaceHitsDesc   = redisDesc("keyspace_hits_total", exposition.Counter, "Successful lookups of keys.")
	redisKeyspaceMissesDesc = redisDesc("keyspace_misses_total", exposition.Counter, "Failed lookups of keys (the key did not exist).")
	redisEvictedKeysDesc    = redisDesc("evicted_keys_total", exposition.Counter, "Keys evicted because of the maxmemory limit.")
	redisExpiredKeysDesc    = redisDesc("expired_keys_total", exposition.Counter, "Keys removed because their TTL expired.")

	redisMemoryUsedDesc = redisDesc("memory_used_bytes", exposition.Gauge, "Memory allocated by Redis (used_memory).")
	redisMemoryMaxDesc  = redisDesc("memory_max_bytes", exposition.Gauge,
		"The maxmemory setting; absent when it is 0 (no limit). For utilisation divide by headroom_redis_memory_limit_bytes, which always has a denominator when one is known.")
	redisMemoryLimitDesc = redisDesc("memory_limit_bytes", exposition.Gauge,
		"The memory the server may use, from source maxmemory (when set), config (memory_limit_bytes of the target) or system (total_system_memory); absent when none is known.",
		"source")
	redisFragmentationDesc = redisDesc("memory_fragmentation_ratio", exposition.Gauge, "Resident memory over used memory (mem_fragmentation_ratio).")

	redisConnectedReplicasDesc = redisDesc("connected_replicas", exposition.Gauge, "Replicas connected to this server.")
	redisMasterLinkUpDesc      = redisDesc("master_link_up", exposition.Gauge, "On a replica: 1 when the link to its master is up, 0 otherwise.")
	redisMasterLastIODesc      = redisDesc("master_last_io_age_seconds", exposition.Gauge,
		"On a replica: seconds since it last heard from its master; absent while the link is down.")
	redisMasterReplOffsetDesc = redisDesc("master_repl_offset_bytes", exposition.Gauge,
		"The server's replication offset (master_repl_offset).")
	redisReplicaReplOffsetDesc = redisDesc("replica_repl_offset_bytes", exposition.Gauge,
		"On a replica: the offset of the replication stream it has processed (slave_repl_offset).")
	redisReplicationOffsetLagDesc = redisDesc("replication_offset_lag_bytes", exposition.Gauge,
		"On a replica: master_repl_offset minus slave_repl_offset as the replica reports them. It cannot see writes the master has not sent; for those use headroom_redis_connected_replica_lag_bytes on the master.")
	redisConnectedReplicaLagDesc = redisDesc("connected_replica_lag_bytes", exposition.Gauge,
		"Replication stream this server has that the replica (ip:port) has not acknowledged: master_repl_offset minus the replica's offset.",
		"replica")
	redisConnectedReplicaAckDesc = redisDesc("connected_replica_ack_age_seconds", exposition.Gauge,
		"Seconds since the replica (ip:port) last acknowledged the stream; replicas acknowledge every second.",
		"replica")

	redisDBKeysDesc     = redisDesc("db_keys", exposition.Gauge, "Keys in the database.", "db")
	redisDBExpiringDesc = redisDesc("db_keys_expiring", exposition.Gauge, "Keys with a TTL in the database.", "db")
)

func redisDesc(name string, typ exposition.Type, help string, labels ...string) *exposition.Desc {
	return newDesc(redisSubsystem, name, typ, help, labels...)
}

type redisTarget struct {
	cfg    config.Redis
	client *redis.Client

	// configRefused is set once the server answered CONFIG GET with an
	// error (CONFIG renamed away on managed services, or denied by ACL):
	// from then on maxclients is left out on servers whose INFO lacks it.
	configRefused atomic.Bool
}

// ConnectionsOpened counts connections the pool had to open: every time it
// found no idle connection to reuse.
func (t *redisTarget) ConnectionsOpened() uint64 { return uint64(t.client.PoolStats().Misses) }

// NewRedis builds a Redis target. Nothing connects until the first scrape;
// then at most MaxConnections connections are opened and kept for the
// following scrapes. TLS is used when tls.enabled or any other tls field is
// set. The password is read when a connection is opened, so a rotated
// password_file is picked up on the next connection.
func NewRedis(c config.Redis, logger *slog.Logger) (Target, error) {
	redisLoggerOnce.Do(func() { redis.SetLogger(redisLibraryLogger{}) })
	if c.Address == "" {
		return nil, errors.New("address is required")
	}
	if c.MaxConnections <= 0 {
		c.MaxConnections = 2
	}
	if c.Limits.Databases <= 0 {
		c.Limits.Databases = config.DefaultLimits.Databases
	}
	if c.Limits.Replicas <= 0 {
		c.Limits.Replicas = config.DefaultLimits.Replicas
	}
	tlsConfig, err := redisTLSConfig(c.TLS, c.Address)
	if err != nil {
		return nil, err
	}
	if _, _, err := c.Secret.Password(); err != nil {
		return nil, fmt.Errorf("password: %w", err)
	}
	secret, username := c.Secret, c.Username
	opts := &redis.Options{
		Addr:       c.Address,
		ClientName: "headroom",
		CredentialsProviderContext: func(context.Context) (string, string, error) {
			pw, _, err := secret.Password()
			if err != nil {
				return "", "", fmt.Errorf("password: %w", err)
			}
			return username, pw, nil
		},
		DB:        c.DB,
		TLSConfig: tlsConfig,
		// RESP2: INFO is a plain bulk string on every server version, and no
		// push-notification machinery is needed to read it.
		Protocol:                 2,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		// The scrape's deadline bounds every dial, write and read; the
		// timeouts below are only backstops for a context without one.
		ContextTimeoutEnabled: true,
		DialTimeout:           3 * time.Second,
		DialerRetries:         2,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          30 * time.Second,
		// One retry lets a connection that died while idle (a restarted
		// server) be replaced within the same scrape.
		MaxRetries:     1,
		PoolSize:       c.MaxConnections,
		MaxActiveConns: c.MaxConnections,
		MinIdleConns:   0,
		PoolTimeout:    30 * time.Second,
	}
	client := redis.NewClient(opts)
	client.AddHook(redisLogHook{logger: targetLogger(logger, kind.Redis, c.Name)})
	return &redisTarget{cfg: c, client: client}, nil
}

// go-redis logs every failed dial to stderr by itself. Its failures reach
// the Runner as errors, which logs a failure once when it starts; the
// library's own lines are kept for --log.level=debug.
//
// go-redis has one logger for the whole process (redis.SetLogger), not one
// per client, so it cannot be handed a target's logger. What it hands its
// logger is the context of the line: redisLogHook puts the target's
// injected logger into the context of each of the client's commands, and
// redisLibraryLogger logs through the logger it finds there. The lines
// go-redis logs from its own goroutines come with a context of their own
// (context.Background(): its dials, among them the "failed to dial" line,
// run in one, apart from the command that wanted the connection), which
// names no target; those go to slog.Default(), which headroom's serve sets
// to the injected logger.
var redisLoggerOnce sync.Once

type redisLibraryLogger struct{}

func (redisLibraryLogger) Printf(ctx context.Context, format string, v ...any) {
	logger, ok := ctx.Value(redisLoggerKey{}).(*slog.Logger)
	if !ok {
		logger = slog.Default()
	}
	logger.DebugContext(ctx, fmt.Sprintf(format, v...), "library", "go-redis")
}

// redisLoggerKey is the context key of the logger go-redis's lines about a
// command go to.
type redisLoggerKey struct{}

// redisLogHook gives go-redis, in the context of each command of one
// client, the logger of that client's target.
type redisLogHook struct{ logger *slog.Logger }

func (h redisLogHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h redisLogHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		return next(context.WithValue(ctx, redisLoggerKey{}, h.logger), cmd)
	}
}

func (h redisLogHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		return next(context.WithValue(ctx, redisLoggerKey{}, h.logger), cmds)
	}
}

// redisTLSConfig builds the client TLS configuration, or nil for plain TCP.
// Errors name the file, never its contents.
func redisTLSConfig(c config.TLS, address string) (*tls.Config, error) {
	if !c.Enabled && c.CAFile == "" && c.CertFile == "" && c.KeyFile == "" && c.ServerName == "" && !c.InsecureSkipVerify {
		return nil, nil
	}
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // the operator's explicit choice
	}
	if tc.ServerName == "" {
		if host, _, err := net.SplitHostPort(address); err == nil {
			tc.ServerName = host
		}
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("tls.ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls.ca_file %s: no PEM certificate in it", c.CAFile)
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" || c.KeyFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("tls.cert_file/tls.key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func (t *redisTarget) Name() string    { return t.cfg.Name }
func (t *redisTarget) Kind() kind.Kind { return kind.Redis }
func (t *redisTarget) Close()          { t.client.Close() }

// PoolStats exposes the connection pool's counters to tests and benchmarks.
func (t *redisTarget) PoolStats() *redis.PoolStats { return t.client.PoolStats() }

// Scrape sends one INFO (its default sections, which every server version
// has) and turns the reply into metrics. On servers whose INFO lacks
// maxclients (before Redis 6.2) a second, cheap round trip asks CONFIG GET
// maxclients.
func (t *redisTarget) Scrape(ctx context.Context, s *Scrape) error {
	raw, err := t.client.Info(ctx).Result()
	if err != nil {
		return redisError(err)
	}
	info := parseRedisInfo(raw)
	s.Run("info", func(emit func(prometheus.Metric)) error {
		return t.emitInfo(s, info, emit)
	})
	if !info.MaxClients.ok && !t.configRefused.Load() {
		s.Run("config", func(emit func(prometheus.Metric)) error {
			n, err := t.configMaxClients(ctx)
			if n.ok {
				emitSample(emit, redisMaxClientsDesc, n.v)
			}
			return err
		})
	}
	return nil
}

// errNotInfo is a reply that has none of the fields every INFO has.
var errNotInfo = errors.New("the INFO reply has neither a version nor a role")

func (t *redisTarget) emitInfo(s *Scrape, i *redisInfo, emit func(prometheus.Metric)) error {
	if i.Version == "" && i.Role == "" {
		return errNotInfo
	}
	// known emits a field INFO had; one it lacked is left out.
	known := func(d *exposition.Desc, n num, labels ...string) {
		if n.ok {
			emitSample(emit, d, n.v, labels...)
		}
	}

	emitSample(emit, redisInfoDesc, 1, i.Server, i.Version, i.Mode, i.Role, i.MaxMemoryPolicy)
	known(redisUptimeDesc, i.UptimeSeconds)
	if i.Role != "" {
		emitSample(emit, redisIsMasterDesc, redisBool(i.Role == "master"))
	}

	known(redisConnectedClientsDesc, i.ConnectedClients)
	known(redisBlockedClientsDesc, i.BlockedClients)
	known(redisMaxClientsDesc, i.MaxClients)
	known(redisRejectedConnsDesc, i.RejectedConnections)
	known(redisConnsReceivedDesc, i.ConnectionsReceived)
	known(redisCommandsDesc, i.CommandsProcessed)

	known(redisKeyspaceHitsDesc, i.KeyspaceHits)
	known(redisKeyspaceMissesDesc, i.KeyspaceMisses)
	known(redisEvictedKeysDesc, i.EvictedKeys)
	known(redisExpiredKeysDesc, i.ExpiredKeys)

	known(redisMemoryUsedDesc, i.UsedMemory)
	if i.MaxMemory.ok && i.MaxMemory.v > 0 {
		emitSample(emit, redisMemoryMaxDesc, i.MaxMemory.v)
	}
	if limit, source, ok := redisMemoryLimit(i, t.cfg.MemoryLimitBytes); ok {
		emitSample(emit, redisMemoryLimitDesc, limit, source)
	}
	known(redisFragmentationDesc, i.MemFragmentationRatio)

	known(redisConnectedReplicasDesc, i.ConnectedReplicas)
	known(redisMasterReplOffsetDesc, i.MasterReplOffset)
	if i.Role == "replica" {
		if i.MasterLinkStatus != "" {
			up := i.MasterLinkStatus == "up"
			emitSample(emit, redisMasterLinkUpDesc, redisBool(up))
			// Redis reports -1 (or a stale value) while the link is down.
			if up && i.MasterLastIOSecondsAgo.ok && i.MasterLastIOSecondsAgo.v >= 0 {
				emitSample(emit, redisMasterLastIODesc, i.MasterLastIOSecondsAgo.v)
			}
		}
		known(redisReplicaReplOffsetDesc, i.SlaveReplOffset)
		if i.MasterReplOffset.ok && i.SlaveReplOffset.ok {
			emitSample(emit, redisReplicationOffsetLagDesc, max(0, i.MasterReplOffset.v-i.SlaveReplOffset.v))
		}
	}
	// A master lists its replicas; so does a replica that has replicas of
	// its own (chained replication).
	replicas := s.Cap("replicas", t.cfg.Limits.Replicas)
	seen := map[string]bool{}
	for _, r := range i.Replicas {
		if r.Addr == "" || seen[r.Addr] || !replicas.Allow(r.Addr) {
			continue
		}
		seen[r.Addr] = true
		if r.Offset.ok && i.MasterReplOffset.ok {
			emitSample(emit, redisConnectedReplicaLagDesc, max(0, i.MasterReplOffset.v-r.Offset.v), r.Addr)
		}
		known(redisConnectedReplicaAckDesc, r.Lag, r.Addr)
	}

	dbs := s.Cap("databases", t.cfg.Limits.Databases)
	seen = map[string]bool{}
	for _, db := range i.Keyspace {
		if seen[db.Name] || !dbs.Allow(db.Name) {
			continue
		}
		seen[db.Name] = true
		known(redisDBKeysDesc, db.Keys, db.Name)
		known(redisDBExpiringDesc, db.Expires, db.Name)
	}
	return nil
}

// redisMemoryLimit picks the denominator for memory use: maxmemory when it
// is set, else the configured limit, else the machine's memory. It never
// returns 0: no known limit means no series.
func redisMemoryLimit(i *redisInfo, configured int64) (limit float64, source string, ok bool) {
	switch {
	case i.MaxMemory.ok && i.MaxMemory.v > 0:
		return i.MaxMemory.v, "maxmemory", true
	case configured > 0:
		return float64(configured), "config", true
	case i.TotalSystemMemory.ok && i.TotalSystemMemory.v > 0:
		return i.TotalSystemMemory.v, "system", true
	}
	return 0, "", false
}

// configMaxClients asks CONFIG GET maxclients. A server that refuses
// CONFIG is remembered and not asked again: that is how it is set up, not a
// failure of this scrape.
func (t *redisTarget) configMaxClients(ctx context.Context) (num, error) {
	var n num
	res, err := t.client.ConfigGet(ctx, "maxclients").Result()
	var rerr redis.Error
	if errors.As(err, &rerr) {
		msg := rerr.Error()
		if strings.HasPrefix(msg, "NOPERM") || strings.HasPrefix(msg, "ERR") {
			t.configRefused.Store(true)
			return n, nil
		}
	}
	if err != nil {
		return n, redisError(err)
	}
	n.set(res["maxclients"])
	return n, nil
}

// redisError keeps a server's own error text first. go-redis wraps an
// authentication failure during connection set-up as "failed to
// authenticate: WRONGPASS ..."; Classify recognises a server error by its
// leading code, so the code is put back in front and go-redis's words
// follow it.
func redisError(err error) error {
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return err
	}
	msg, inner := err.Error(), rerr.Error()
	if msg == inner || !strings.HasSuffix(msg, inner) {
		return err
	}
	during := strings.TrimSuffix(strings.TrimSuffix(msg, inner), ": ")
	return fmt.Errorf("%w (%s)", rerr, during)
}

func redisBool(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
