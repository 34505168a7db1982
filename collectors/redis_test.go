package collectors

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/testenv"
)

func newRedisRunner(t testing.TB, c config.Redis) (*Runner, *redisTarget, *logSink) {
	t.Helper()
	if c.Name == "" {
		c.Name = "cache"
	}
	logger, logs := testLogger()
	target, err := NewRedis(c, logger)
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	t.Cleanup(target.Close)
	return NewRunner(target, logger), target.(*redisTarget), logs
}

// redisFixtureTarget serves a canned INFO reply through the real parser and
// emitter, so that fixture tests see exactly what a scrape would export.
type redisFixtureTarget struct {
	*redisTarget
	raw string
}

func (f redisFixtureTarget) Scrape(_ context.Context, s *Scrape) error {
	info := parseRedisInfo(f.raw)
	s.Run("info", func(emit func(prometheus.Metric)) error { return f.emitInfo(s, info, emit) })
	return nil
}

func redisFixtureScrape(t testing.TB, c config.Redis, raw string) series {
	t.Helper()
	if c.Address == "" {
		c.Address = "127.0.0.1:1" // never dialled
	}
	target, err := NewRedis(c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	defer target.Close()
	r := NewRunner(redisFixtureTarget{target.(*redisTarget), raw}, slog.New(slog.DiscardHandler))
	s := gather(t, r, 5*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	problems, err := testutil.GatherAndLint(Gatherer(ctx, r))
	if err != nil {
		t.Fatalf("lint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	s.finite(t)
	return s
}

// redisSameData compares two scrapes, durations aside.
func redisSameData(t *testing.T, a, b series) {
	t.Helper()
	for k, v := range a {
		if strings.Contains(k, "duration_seconds") {
			continue
		}
		if w, ok := b[k]; !ok || w.value != v.value {
			t.Errorf("%s: %v in one, %v (present %v) in the other", k, v.value, w.value, ok)
		}
	}
	if len(a) != len(b) {
		t.Errorf("%d series against %d", len(a), len(b))
	}
}

// redisUp is the key of the target's up series.
var redisUp = seriesKey("headroom_target_up", "kind", "redis")

// redisWaitFor bounds the wait for a live server to reach a state.
const redisWaitFor = 20 * time.Second

func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func TestRedisInfoParse(t *testing.T) {
	const master7 = `# Server
redis_version:7.0.15
redis_mode:standalone
uptime_in_seconds:3600
gcc_version:12.2.0

# Clients
connected_clients:5
maxclients:10000
blocked_clients:1

# Memory
used_memory:1048576
total_system_memory:8589934592
maxmemory:0
maxmemory_policy:noeviction
mem_fragmentation_ratio:1.5

# Stats
total_connections_received:100
total_commands_processed:2000
rejected_connections:2
expired_keys:7
evicted_keys:0
keyspace_hits:30
keyspace_misses:10
some_field_from_the_future:42

# Replication
role:master
connected_slaves:2
slave0:ip=10.0.0.2,port=6379,state=online,offset=900,lag=0
slave1:ip=10.0.0.3,port=6379,state=online,offset=1000,lag=1
master_replid:1f0d8e0c4b7f
master_repl_offset:1000
second_repl_offset:-1

# Keyspace
db0:keys=10,expires=3,avg_ttl=0
db3:keys=1,expires=0,avg_ttl=0,subexpiry=0
`
	const replica7 = `# Server
redis_version:7.0.15
redis_mode:standalone
# Replication
role:slave
master_host:10.0.0.1
master_port:6379
master_link_status:up
master_last_io_seconds_ago:1
master_sync_in_progress:0
slave_read_repl_offset:5000
slave_repl_offset:4990
slave_priority:100
slave_read_only:1
connected_slaves:0
master_repl_offset:5000
`
	tests := []struct {
		name   string
		cfg    config.Redis
		info   string
		want   map[string]float64
		absent []string
	}{{
		name: "master, maxmemory 0, denominator from system memory",
		info: master7,
		want: map[string]float64{
			`headroom_target_up{kind="redis"}`: 1,
			`headroom_redis_info{maxmemory_policy="noeviction",mode="standalone",role="master",server="redis",version="7.0.15"}`: 1,
			`headroom_redis_uptime_seconds`:                                             1 * 3600,
			`headroom_redis_is_master`:                                                  1,
			`headroom_redis_connected_clients`:                                          5,
			`headroom_redis_blocked_clients`:                                            1,
			`headroom_redis_max_clients`:                                                10000,
			`headroom_redis_connections_received_total`:                                 100,
			`headroom_redis_commands_processed_total`:                                   2000,
			`headroom_redis_rejected_connections_total`:                                 2,
			`headroom_redis_expired_keys_total`:                                         7,
			`headroom_redis_evicted_keys_total`:                                         0,
			`headroom_redis_keyspace_hits_total`:                                        30,
			`headroom_redis_keyspace_misses_total`:                                      10,
			`headroom_redis_memory_used_bytes`:                                          1048576,
			`headroom_redis_memory_limit_bytes{source="system"}`:                        8589934592,
			`headroom_redis_memory_fragmentation_ratio`:                                 1.5,
			`headroom_redis_connected_replicas`:                                         2,
			`headroom_redis_master_repl_offset_bytes`:                                   1000,
			`headroom_redis_connected_replica_lag_bytes{replica="10.0.0.2:6379"}`:       100,
			`headroom_redis_connected_replica_lag_bytes{replica="10.0.0.3:6379"}`:       0,
			`headroom_redis_connected_replica_ack_age_seconds{replica="10.0.0.3:6379"}`: 1,
			`headroom_redis_db_keys{db="db0"}`:                                          10,
			`headroom_redis_db_keys_expiring{db="db0"}`:                                 3,
			`headroom_redis_db_keys{db="db3"}`:                                          1,
		},
		absent: []string{"headroom_redis_master_link_up", "headroom_redis_replication_offset_lag_bytes",
			"headroom_redis_replica_repl_offset_bytes", "headroom_redis_master_last_io_age_seconds",
			// maxmemory 0 is no limit: nothing to divide by.
			"headroom_redis_memory_max_bytes"},
	}, {
		name: "\\r\\n line endings read the same",
		info: crlf(master7),
		want: map[string]float64{
			`headroom_redis_info{maxmemory_policy="noeviction",mode="standalone",role="master",server="redis",version="7.0.15"}`: 1,
			`headroom_redis_keyspace_hits_total`:                                  30,
			`headroom_redis_connected_replica_lag_bytes{replica="10.0.0.2:6379"}`: 100,
			`headroom_redis_db_keys{db="db3"}`:                                    1,
		},
	}, {
		name: "maxmemory 0 with a configured limit: source config",
		cfg:  config.Redis{MemoryLimitBytes: 512 << 20},
		info: master7,
		want: map[string]float64{`headroom_redis_memory_limit_bytes{source="config"}`: 512 << 20},
		absent: []string{`headroom_redis_memory_limit_bytes{source="system"}`,
			`headroom_redis_memory_limit_bytes{source="maxmemory"}`},
	}, {
		name: "maxmemory set wins over the configured limit",
		cfg:  config.Redis{MemoryLimitBytes: 512 << 20},
		info: strings.Replace(master7, "maxmemory:0", "maxmemory:268435456", 1),
		want: map[string]float64{
			`headroom_redis_memory_limit_bytes{source="maxmemory"}`: 268435456,
			`headroom_redis_memory_max_bytes`:                       268435456,
		},
		absent: []string{`headroom_redis_memory_limit_bytes{source="config"}`},
	}, {
		name: "no denominator known: no limit series at all, never +Inf",
		info: "redis_version:6.0.20\nrole:master\nused_memory:1000\nmaxmemory:0\n",
		want: map[string]float64{`headroom_redis_memory_used_bytes`: 1000},
		absent: []string{"headroom_redis_memory_limit_bytes", "headroom_redis_memory_max_bytes", "headroom_redis_max_clients",
			"headroom_redis_memory_fragmentation_ratio"},
	}, {
		name: "missing and unparsable fields leave their metrics out",
		info: "redis_version:6.0.0\nrole:master\nevicted_keys:\nkeyspace_hits:lots\nmem_fragmentation_ratio:inf\nconnected_clients:3\n",
		want: map[string]float64{`headroom_redis_connected_clients`: 3},
		absent: []string{"headroom_redis_evicted_keys_total", "headroom_redis_keyspace_hits_total",
			"headroom_redis_memory_fragmentation_ratio", "headroom_redis_expired_keys_total",
			"headroom_redis_keyspace_misses_total", "headroom_redis_db_keys"},
	}, {
		name: "replica",
		info: replica7,
		want: map[string]float64{
			`headroom_redis_info{maxmemory_policy="",mode="standalone",role="replica",server="redis",version="7.0.15"}`: 1,
			`headroom_redis_is_master`:                    0,
			`headroom_redis_master_link_up`:               1,
			`headroom_redis_master_last_io_age_seconds`:   1,
			`headroom_redis_master_repl_offset_bytes`:     5000,
			`headroom_redis_replica_repl_offset_bytes`:    4990,
			`headroom_redis_replication_offset_lag_bytes`: 10,
			`headroom_redis_connected_replicas`:           0,
		},
		absent: []string{"headroom_redis_connected_replica_lag_bytes"},
	}, {
		name: "replica with the link down",
		info: strings.NewReplacer("master_link_status:up", "master_link_status:down",
			"master_last_io_seconds_ago:1", "master_last_io_seconds_ago:-1").Replace(replica7),
		want:   map[string]float64{`headroom_redis_master_link_up`: 0},
		absent: []string{"headroom_redis_master_last_io_age_seconds"},
	}, {
		name: "valkey names itself and its own version",
		info: "# Server\nredis_version:7.2.4\nserver_name:valkey\nvalkey_version:8.0.1\nredis_mode:standalone\nrole:master\n",
		want: map[string]float64{
			`headroom_redis_info{maxmemory_policy="",mode="standalone",role="master",server="valkey",version="8.0.1"}`: 1,
		},
	}, {
		name: "replicas and databases beyond their limits are dropped and counted",
		cfg:  config.Redis{Limits: config.Limits{Replicas: 1, Databases: 1}},
		info: master7,
		want: map[string]float64{
			`headroom_redis_connected_replica_lag_bytes{replica="10.0.0.2:6379"}`:  100,
			`headroom_redis_db_keys{db="db0"}`:                                     10,
			`headroom_target_series_dropped_total{kind="redis",limit="replicas"}`:  1,
			`headroom_target_series_dropped_total{kind="redis",limit="databases"}`: 1,
		},
		absent: []string{`headroom_redis_connected_replica_lag_bytes{replica="10.0.0.3:6379"}`,
			`headroom_redis_db_keys{db="db3"}`},
	}, {
		name: "a reply that is not INFO is up 0 with no data",
		info: "hello world\n",
		want: map[string]float64{
			`headroom_target_up{kind="redis"}`:                    0,
			`headroom_scrape_collector_success{collector="info"}`: 0,
		},
		absent: []string{"headroom_redis_info"},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := redisFixtureScrape(t, tc.cfg, tc.info)
			s.expect(t, tc.want, tc.absent)
		})
	}
}

// redisFixtureWant is what the README of testdata/redis says each captured
// INFO reply holds.
type redisFixtureWant struct {
	want   map[string]float64
	absent []string
}

// redisFixture builds the expectations every fixture shares; the values
// are the file's own.
type redisFixture struct {
	server, version, role, policy            string
	uptime, clients, blocked, used, maxmem   float64
	limit                                    string // the memory_limit_bytes series
	limitValue, frag, conns, cmds, rejected  float64
	expired, evicted, hits, misses, replicas float64
	replOffset                               float64
	dbs                                      [][3]float64 // index, keys, expires
	extra                                    map[string]float64
	absent                                   []string
}

func (f redisFixture) want() redisFixtureWant {
	w := map[string]float64{
		`headroom_target_up{kind="redis"}`: 1,
		fmt.Sprintf(`headroom_redis_info{maxmemory_policy=%q,mode="standalone",role=%q,server=%q,version=%q}`,
			f.policy, f.role, f.server, f.version): 1,
		`headroom_redis_is_master`:                  redisBool(f.role == "master"),
		`headroom_redis_uptime_seconds`:             f.uptime,
		`headroom_redis_connected_clients`:          f.clients,
		`headroom_redis_blocked_clients`:            f.blocked,
		`headroom_redis_max_clients`:                10000,
		`headroom_redis_memory_used_bytes`:          f.used,
		f.limit:                                     f.limitValue,
		`headroom_redis_memory_fragmentation_ratio`: f.frag,
		`headroom_redis_connections_received_total`: f.conns,
		`headroom_redis_commands_processed_total`:   f.cmds,
		`headroom_redis_rejected_connections_total`: f.rejected,
		`headroom_redis_expired_keys_total`:         f.expired,
		`headroom_redis_evicted_keys_total`:         f.evicted,
		`headroom_redis_keyspace_hits_total`:        f.hits,
		`headroom_redis_keyspace_misses_total`:      f.misses,
		`headroom_redis_connected_replicas`:         f.replicas,
		`headroom_redis_master_repl_offset_bytes`:   f.replOffset,
	}
	for _, db := range f.dbs {
		w[fmt.Sprintf(`headroom_redis_db_keys{db="db%d"}`, int(db[0]))] = db[1]
		w[fmt.Sprintf(`headroom_redis_db_keys_expiring{db="db%d"}`, int(db[0]))] = db[2]
	}
	maps.Copy(w, f.extra)
	absent := f.absent
	if f.maxmem > 0 {
		w[`headroom_redis_memory_max_bytes`] = f.maxmem
	} else {
		absent = append(absent, "headroom_redis_memory_max_bytes")
	}
	if f.role == "master" {
		absent = append(absent, "headroom_redis_master_link_up", "headroom_redis_replication_offset_lag_bytes",
			"headroom_redis_replica_repl_offset_bytes", "headroom_redis_master_last_io_age_seconds")
	} else {
		absent = append(absent, "headroom_redis_connected_replica_lag_bytes")
	}
	for _, source := range []string{"maxmemory", "config", "system"} {
		if key := fmt.Sprintf(`headroom_redis_memory_limit_bytes{source=%q}`, source); key != f.limit {
			absent = append(absent, key)
		}
	}
	// Sections INFO has but headroom does not read must not leak in.
	absent = append(absent, `headroom_redis_db_keys{db="db1"}`)
	return redisFixtureWant{want: w, absent: absent}
}

const (
	redisSystemLimit = `headroom_redis_memory_limit_bytes{source="system"}`
	redisMaxmemLimit = `headroom_redis_memory_limit_bytes{source="maxmemory"}`
	redisFixtureRAM  = 25276063744
)

var redisFixtureExpectations = map[string]redisFixtureWant{
	"info-redis-6.2.txt": redisFixture{
		server: "redis", version: "6.2.14", role: "master", policy: "noeviction",
		uptime: 3, clients: 3, blocked: 1, used: 920304, maxmem: 0,
		limit: redisSystemLimit, limitValue: redisFixtureRAM, frag: 5.56,
		conns: 59, cmds: 65, expired: 3, hits: 18, misses: 9,
		dbs: [][3]float64{{0, 17, 4}, {2, 5, 2}},
	}.want(),
	"info-redis-7.0.txt": redisFixture{
		server: "redis", version: "7.0.15", role: "master", policy: "allkeys-lru",
		uptime: 30, clients: 3, blocked: 1, used: 1411872, maxmem: 268435456,
		limit: redisMaxmemLimit, limitValue: 268435456, frag: 9.16,
		conns: 66, cmds: 90, expired: 3, hits: 18, misses: 9, replicas: 1, replOffset: 144,
		dbs: [][3]float64{{0, 17, 4}, {2, 5, 2}},
		extra: map[string]float64{
			`headroom_redis_connected_replica_lag_bytes{replica="127.0.0.1:16380"}`:       0,
			`headroom_redis_connected_replica_ack_age_seconds{replica="127.0.0.1:16380"}`: 1,
		},
	}.want(),
	"info-redis-7.0-replica.txt": redisFixture{
		server: "redis", version: "7.0.15", role: "replica", policy: "noeviction",
		uptime: 19, clients: 2, used: 1065416, maxmem: 0,
		limit: redisSystemLimit, limitValue: redisFixtureRAM, frag: 12.01,
		conns: 3, cmds: 7, replOffset: 144,
		dbs: [][3]float64{{0, 17, 4}, {2, 5, 2}},
		extra: map[string]float64{
			`headroom_redis_master_link_up`:               1,
			`headroom_redis_master_last_io_age_seconds`:   5,
			`headroom_redis_replica_repl_offset_bytes`:    144,
			`headroom_redis_replication_offset_lag_bytes`: 0,
		},
	}.want(),
	"info-redis-7.2.txt": redisFixture{
		server: "redis", version: "7.2.4", role: "master", policy: "allkeys-lfu",
		uptime: 10, clients: 3, blocked: 1, used: 3509128, maxmem: 1073741824,
		limit: redisMaxmemLimit, limitValue: 1073741824, frag: 2.58,
		conns: 266, cmds: 278, expired: 3, evicted: 96, hits: 18, misses: 9, replicas: 1, replOffset: 130,
		dbs: [][3]float64{{0, 121, 4}, {2, 5, 2}},
		extra: map[string]float64{
			`headroom_redis_connected_replica_lag_bytes{replica="127.0.0.1:16384"}`:       0,
			`headroom_redis_connected_replica_ack_age_seconds{replica="127.0.0.1:16384"}`: 0,
		},
	}.want(),
	"info-redis-7.2-replica.txt": redisFixture{
		server: "redis", version: "7.2.4", role: "replica", policy: "noeviction",
		uptime: 7, clients: 2, used: 3141784, maxmem: 0,
		limit: redisSystemLimit, limitValue: redisFixtureRAM, frag: 2.88,
		conns: 1, cmds: 4, replOffset: 130,
		dbs: [][3]float64{{0, 121, 4}, {2, 5, 2}},
		extra: map[string]float64{
			`headroom_redis_master_link_up`:               1,
			`headroom_redis_master_last_io_age_seconds`:   2,
			`headroom_redis_replica_repl_offset_bytes`:    130,
			`headroom_redis_replication_offset_lag_bytes`: 0,
		},
	}.want(),
	"info-redis-7.4.txt": redisFixture{
		server: "redis", version: "7.4.1", role: "master", policy: "volatile-lru",
		uptime: 3, clients: 3, blocked: 1, used: 1335560, maxmem: 268435456,
		limit: redisMaxmemLimit, limitValue: 268435456, frag: 5.49,
		conns: 61, cmds: 66, expired: 3, hits: 18, misses: 9,
		dbs: [][3]float64{{0, 18, 4}, {2, 5, 2}},
	}.want(),
	"info-valkey-8.0.txt": redisFixture{
		server: "valkey", version: "8.0.1", role: "master", policy: "allkeys-lru",
		uptime: 4, clients: 3, blocked: 1, used: 1260472, maxmem: 536870912,
		limit: redisMaxmemLimit, limitValue: 536870912, frag: 5.51,
		conns: 64, cmds: 67, rejected: 4, expired: 3, hits: 18, misses: 9,
		dbs: [][3]float64{{0, 17, 4}, {2, 5, 2}},
	}.want(),
}

// TestRedisInfoFixtures parses every INFO reply captured from a real server
// in testdata/redis, with \r\n endings as the server sends them.
func TestRedisInfoFixtures(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "redis", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no INFO fixtures in testdata/redis")
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s := redisFixtureScrape(t, config.Redis{}, string(raw))
			// The same reply with the other line endings reads the same.
			lf := strings.ReplaceAll(string(raw), "\r\n", "\n")
			other := crlf(lf)
			if other == string(raw) {
				other = lf
			}
			redisSameData(t, s, redisFixtureScrape(t, config.Redis{}, other))
			// What every reply from every version must give.
			for _, family := range []string{"headroom_redis_info", "headroom_redis_is_master",
				"headroom_redis_memory_used_bytes", "headroom_redis_keyspace_hits_total",
				"headroom_redis_connected_clients", "headroom_redis_uptime_seconds"} {
				if s.with(family) == "" {
					t.Errorf("no %s", family)
				}
			}
			exp, ok := redisFixtureExpectations[name]
			if !ok {
				t.Fatalf("no expectations for %s in redisFixtureExpectations", name)
			}
			s.expect(t, exp.want, exp.absent)
		})
	}
}

func TestRedisLiveCounters(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	ctx := testenv.Context(t)
	cl := srv.Client(t)
	runner, _, _ := newRedisRunner(t, config.Redis{Address: srv.Addr()})

	for i := range 10 {
		if err := cl.Set(ctx, fmt.Sprintf("k%d", i), "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.Expire(ctx, "k0", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	// A scrape before the reset, so that the target's own connection set-up
	// is behind us too.
	gather(t, runner, 5*time.Second)
	if err := cl.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	const hits, misses = 7, 5
	for i := range hits {
		if err := cl.Get(ctx, fmt.Sprintf("k%d", i)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for i := range misses {
		if err := cl.Get(ctx, fmt.Sprintf("absent%d", i)).Err(); !errors.Is(err, redis.Nil) {
			t.Fatalf("GET of a missing key: %v", err)
		}
	}
	// Twice: INFO itself must not count as a lookup.
	gather(t, runner, 5*time.Second)
	s := gather(t, runner, 5*time.Second)
	s.expect(t, map[string]float64{
		`headroom_target_up{kind="redis"}`:                    1,
		`headroom_redis_keyspace_hits_total`:                  hits,
		`headroom_redis_keyspace_misses_total`:                misses,
		`headroom_redis_db_keys{db="db0"}`:                    10,
		`headroom_redis_db_keys_expiring{db="db0"}`:           1,
		`headroom_redis_is_master`:                            1,
		`headroom_scrape_collector_success{collector="info"}`: 1,
	}, []string{
		// Redis 6.2+ reports maxclients in INFO: no CONFIG round trip.
		`headroom_scrape_collector_success{collector="config"}`,
		// maxmemory 0: no limit, no series to divide by.
		"headroom_redis_memory_max_bytes",
		"headroom_redis_master_link_up",
	})
	if s.must(t, "headroom_redis_max_clients") <= 0 {
		t.Errorf("max_clients = %v", s["headroom_redis_max_clients"].value)
	}
	if s.must(t, "headroom_redis_memory_limit_bytes", "source", "system") <= 0 {
		t.Error("system memory limit is not positive")
	}
	if s.must(t, "headroom_redis_connected_clients") < 2 {
		t.Errorf("connected_clients = %v, want the test's and the exporter's", s["headroom_redis_connected_clients"].value)
	}
	if s.must(t, "headroom_redis_commands_processed_total") < hits+misses {
		t.Errorf("commands_processed_total = %v", s["headroom_redis_commands_processed_total"].value)
	}

	// The same server, with a container limit configured: maxmemory is 0,
	// so the configured limit is the denominator.
	limited, _, _ := newRedisRunner(t, config.Redis{Address: srv.Addr(), MemoryLimitBytes: 1 << 30})
	s = gather(t, limited, 5*time.Second)
	s.expect(t, map[string]float64{`headroom_redis_memory_limit_bytes{source="config"}`: 1 << 30},
		[]string{`headroom_redis_memory_limit_bytes{source="system"}`})
}

func TestRedisEviction(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{MaxMemory: "2mb", MaxMemoryPolicy: "allkeys-lru"})
	ctx := testenv.Context(t)
	cl := srv.Client(t)
	runner, _, _ := newRedisRunner(t, config.Redis{Address: srv.Addr(), MemoryLimitBytes: 1 << 30})

	value := strings.Repeat("x", 1024)
	for batch := range 40 { // 4 MB into 2 MB
		pipe := cl.Pipeline()
		for i := range 100 {
			pipe.Set(ctx, fmt.Sprintf("fill:%d:%d", batch, i), value, 0)
		}
		if _, err := pipe.Exec(ctx); err != nil && !strings.HasPrefix(err.Error(), "OOM") {
			t.Fatal(err)
		}
	}
	s := gather(t, runner, 5*time.Second)
	const maxmemory = 2 << 20
	s.expect(t, map[string]float64{
		`headroom_redis_memory_max_bytes`:                       maxmemory,
		`headroom_redis_memory_limit_bytes{source="maxmemory"}`: maxmemory,
	}, []string{`headroom_redis_memory_limit_bytes{source="config"}`})
	if v := s.must(t, "headroom_redis_evicted_keys_total"); v <= 0 {
		t.Errorf("evicted_keys_total = %v after writing 4 MB into 2 MB", v)
	}
	if used := s.must(t, "headroom_redis_memory_used_bytes"); used <= 0 || used > maxmemory*1.25 {
		t.Errorf("memory_used_bytes = %v, want about maxmemory %d at most", used, maxmemory)
	}
	if v := s.must(t, "headroom_redis_db_keys", "db", "db0"); v >= 4000 {
		t.Errorf("db_keys = %v: nothing was evicted", v)
	}
	if s.with(`headroom_redis_info{maxmemory_policy="allkeys-lru"`) == "" {
		t.Errorf("info has no maxmemory_policy=allkeys-lru:\n%s", s.with("headroom_redis_info"))
	}
}

func TestRedisReplication(t *testing.T) {
	master := testenv.StartRedis(t, testenv.RedisOptions{})
	replica := testenv.StartRedis(t, testenv.RedisOptions{ReplicaOf: master})
	replica.WaitReplicaSynced(t)
	ctx := testenv.Context(t)
	if err := master.Client(t).Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}

	masterRunner, _, _ := newRedisRunner(t, config.Redis{Name: "primary", Address: master.Addr()})
	replicaRunner, _, _ := newRedisRunner(t, config.Redis{Name: "replica", Address: replica.Addr()})

	s := gather(t, replicaRunner, 5*time.Second)
	s.expect(t, map[string]float64{
		`headroom_target_up{kind="redis"}`: 1,
		`headroom_redis_is_master`:         0,
		`headroom_redis_master_link_up`:    1,
	}, []string{"headroom_redis_connected_replica_lag_bytes"})
	if s.with(`headroom_redis_info{maxmemory_policy="noeviction",mode="standalone",role="replica"`) == "" {
		t.Errorf("replica's info:\n%s", s.with("headroom_redis_info"))
	}
	if lag := s.must(t, "headroom_redis_replication_offset_lag_bytes"); lag < 0 {
		t.Errorf("replication_offset_lag_bytes = %v", lag)
	}
	s.must(t, "headroom_redis_replica_repl_offset_bytes")
	s.must(t, "headroom_redis_master_last_io_age_seconds")

	// The master lists the replica under the port it listens on, and its lag
	// closes once the replica acknowledges (every second).
	s = gatherUntil(t, masterRunner, redisWaitFor, "master sees its replica caught up", func(s series) bool {
		lag, ok := s.value("headroom_redis_connected_replica_lag_bytes", "replica", replica.Addr())
		return s["headroom_redis_connected_replicas"].value == 1 && ok && lag == 0
	})
	s.expect(t, map[string]float64{
		`headroom_redis_is_master`:          1,
		`headroom_redis_connected_replicas`: 1,
		`headroom_redis_info{maxmemory_policy="noeviction",mode="standalone",role="master",server="redis",version="7.0.15"}`: 1,
	}, []string{"headroom_redis_master_link_up", "headroom_redis_replication_offset_lag_bytes"})
	s.must(t, "headroom_redis_connected_replica_ack_age_seconds", "replica", replica.Addr())
	if s.must(t, "headroom_redis_master_repl_offset_bytes") <= 0 {
		t.Error("master_repl_offset_bytes is 0 after a write")
	}
}

// TestRedisLint lints the whole output of a master with a replica and of
// the replica, the richest shapes a scrape has.
func TestRedisLint(t *testing.T) {
	master := testenv.StartRedis(t, testenv.RedisOptions{MaxMemory: "64mb"})
	replica := testenv.StartRedis(t, testenv.RedisOptions{ReplicaOf: master})
	replica.WaitReplicaSynced(t)
	if err := master.Client(t).Set(testenv.Context(t), "k", "v", time.Hour).Err(); err != nil {
		t.Fatal(err)
	}
	masterRunner, _, _ := newRedisRunner(t, config.Redis{Name: "primary", Address: master.Addr()})
	replicaRunner, _, _ := newRedisRunner(t, config.Redis{Name: "replica", Address: replica.Addr()})
	gatherUntil(t, masterRunner, redisWaitFor, "replica listed", func(s series) bool { return s["headroom_redis_connected_replicas"].value == 1 })

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g := Gatherer(ctx, masterRunner, replicaRunner)
	problems, err := testutil.GatherAndLint(g)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	n, err := testutil.GatherAndCount(g)
	if err != nil {
		t.Fatal(err)
	}
	if n < 40 {
		t.Errorf("only %d series from a master and a replica", n)
	}
}

func TestRedisFaults(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	runner, target, logs := newRedisRunner(t, config.Redis{Address: srv.Addr()})
	isUp := func(s series) bool { return s[redisUp].value == 1 }

	t.Run("steady-state scrapes open no connection", func(t *testing.T) {
		gatherUntil(t, runner, redisWaitFor, "up", isUp)
		before := *target.PoolStats()
		for range 20 {
			if s := gather(t, runner, 5*time.Second); !isUp(s) {
				t.Fatalf("down during steady state:\n%s\nlog:\n%s", s.with("headroom_target"), logs)
			}
		}
		after := *target.PoolStats()
		if after.Misses != before.Misses || after.TotalConns != before.TotalConns {
			t.Errorf("20 scrapes opened connections: before %+v, after %+v", before, after)
		}
		if after.TotalConns > 1 {
			t.Errorf("one scrape at a time needs one connection, pool holds %d", after.TotalConns)
		}
		s := gather(t, runner, 5*time.Second)
		if opened := s.must(t, "headroom_target_connections_opened_total", "kind", "redis"); opened != 1 {
			t.Errorf("headroom_target_connections_opened_total = %v after steady scrapes, want 1", opened)
		}
	})

	t.Run("stopped server: up 0, then up 1 on the same target", func(t *testing.T) {
		srv.Stop(t)
		s := gather(t, runner, 3*time.Second)
		if s[redisUp].value != 0 {
			t.Fatalf("up = %v with the server stopped", s[redisUp].value)
		}
		if s.with("headroom_redis_") != "" {
			t.Errorf("data series from a stopped server:\n%s", s.with("headroom_redis_"))
		}
		if s[seriesKey("headroom_target_scrape_errors_total", "kind", "redis", "reason", "refused")].value < 1 {
			t.Errorf("errors:\n%s", s.with("headroom_target_scrape_errors_total"))
		}
		srv.Start(t)
		gatherUntil(t, runner, redisWaitFor, "up after restart", isUp)
	})

	t.Run("frozen server: the scrape ends at its deadline", func(t *testing.T) {
		gatherUntil(t, runner, redisWaitFor, "up", isUp)
		srv.Freeze()
		defer srv.Thaw()
		start := time.Now()
		s := gather(t, runner, 2*time.Second)
		took := time.Since(start)
		if took > 2500*time.Millisecond {
			t.Errorf("scrape of a frozen server took %s with a 2s deadline", took)
		}
		if s[redisUp].value != 0 {
			t.Errorf("up = %v with the server frozen", s[redisUp].value)
		}
		if s[seriesKey("headroom_target_scrape_errors_total", "kind", "redis", "reason", "timeout")].value < 1 {
			t.Errorf("errors:\n%s", s.with("headroom_target_scrape_errors_total"))
		}
		srv.Thaw()
		gatherUntil(t, runner, redisWaitFor, "up after thaw", isUp)
	})
}

func TestRedisAuth(t *testing.T) {
	const right, wrong = "right-horse-battery", "wrong-staple-XYZZY"
	srv := testenv.StartRedis(t, testenv.RedisOptions{Password: right})
	errKey := seriesKey("headroom_target_scrape_errors_total", "kind", "redis", "reason", "auth")

	for _, tc := range []struct {
		name     string
		password string
	}{{"wrong password", wrong}, {"no password", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			c := config.Redis{Address: srv.Addr()}
			c.Secret.Value = tc.password
			runner, _, logs := newRedisRunner(t, c)
			s := gather(t, runner, 5*time.Second)
			if s[redisUp].value != 0 {
				t.Errorf("up with %s", tc.name)
			}
			if s[errKey].value != 1 {
				t.Errorf("%s = %v, want 1; errors:\n%s", errKey, s[errKey].value, s.with("headroom_target_scrape_errors_total"))
			}
			s = gather(t, runner, 5*time.Second)
			if s[errKey].value != 2 {
				t.Errorf("after a second scrape %s = %v, want 2", errKey, s[errKey].value)
			}
			out := logs.String()
			if !strings.Contains(out, "reason=auth") {
				t.Errorf("log does not say why:\n%s", out)
			}
			for _, secret := range []string{right, wrong} {
				if strings.Contains(out, secret) {
					t.Errorf("log contains a password:\n%s", out)
				}
			}
		})
	}

	t.Run("right password", func(t *testing.T) {
		c := config.Redis{Address: srv.Addr()}
		c.Secret.Value = right
		runner, _, _ := newRedisRunner(t, c)
		if s := gather(t, runner, 5*time.Second); s[redisUp].value != 1 {
			t.Errorf("down with the right password:\n%s", s.with("headroom_target"))
		}
	})

	t.Run("password from a file, re-read for a new connection", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "pw")
		if err := os.WriteFile(file, []byte(wrong+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		c := config.Redis{Address: srv.Addr()}
		c.Secret.File = file
		runner, _, _ := newRedisRunner(t, c)
		if s := gather(t, runner, 5*time.Second); s[redisUp].value != 0 {
			t.Fatal("up with the wrong password in the file")
		}
		if err := os.WriteFile(file, []byte(right+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		gatherUntil(t, runner, redisWaitFor, "up after the password file was fixed", func(s series) bool {
			return s[redisUp].value == 1
		})
	})
}

// TestRedisConfigMaxClients covers the fallback for servers whose INFO has
// no maxclients (before Redis 6.2), against a live server that has both.
func TestRedisConfigMaxClients(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{})
	ctx := testenv.Context(t)
	cl := srv.Client(t)
	_, target, _ := newRedisRunner(t, config.Redis{Address: srv.Addr()})

	n, err := target.configMaxClients(ctx)
	if err != nil || !n.ok {
		t.Fatalf("CONFIG GET maxclients: %v %v", n, err)
	}
	raw, err := cl.Info(ctx, "clients").Result()
	if err != nil {
		t.Fatal(err)
	}
	if want := parseRedisInfo(raw).MaxClients; n != want {
		t.Errorf("CONFIG GET maxclients = %v, INFO says %v", n, want)
	}

	// A user that may not run CONFIG: the value is left out, no error, and
	// the server is not asked again.
	if err := cl.Do(ctx, "ACL", "SETUSER", "monitor", "on", ">monitor-pw", "+@all", "-config").Err(); err != nil {
		t.Fatal(err)
	}
	c := config.Redis{Address: srv.Addr(), Username: "monitor"}
	c.Secret.Value = "monitor-pw"
	runner, limited, _ := newRedisRunner(t, c)
	n, err = limited.configMaxClients(ctx)
	if err != nil || n.ok {
		t.Errorf("CONFIG GET as a user without CONFIG: %v %v, want nothing and no error", n, err)
	}
	if !limited.configRefused.Load() {
		t.Error("the refusal is not remembered")
	}
	if s := gather(t, runner, 5*time.Second); s[redisUp].value != 1 {
		t.Errorf("an ACL user with INFO but not CONFIG is down:\n%s", s.with("headroom_target"))
	}
}

func TestRedisErrorKeepsTheServerCode(t *testing.T) {
	srv := testenv.StartRedis(t, testenv.RedisOptions{Password: "pw"})
	cl := redis.NewClient(&redis.Options{Addr: srv.Addr(), Password: "not-pw", Protocol: 2, MaxRetries: -1})
	defer cl.Close()
	err := cl.Ping(testenv.Context(t)).Err()
	if err == nil {
		t.Fatal("PING with a wrong password succeeded")
	}
	got := redisError(err)
	if Classify(got) != ReasonAuth {
		t.Errorf("Classify(%q) = %s, want auth", got, Classify(got))
	}
	var rerr redis.Error
	if !errors.As(got, &rerr) {
		t.Errorf("%v no longer wraps the server's error", got)
	}
	if other := errors.New("dial tcp: connection refused"); redisError(other) != other {
		t.Error("a non-server error was rewritten")
	}

	// go-redis wraps the refusal of its AUTH fallback (servers without
	// HELLO) as "failed to authenticate: WRONGPASS ...".
	wrapped := fmt.Errorf("failed to authenticate: %w", redisTestError("WRONGPASS invalid username-password pair or user is disabled."))
	got = redisError(wrapped)
	if want := "WRONGPASS invalid username-password pair or user is disabled. (failed to authenticate)"; got.Error() != want {
		t.Errorf("redisError(%q) = %q, want %q", wrapped, got, want)
	}
	if Classify(got) != ReasonAuth {
		t.Errorf("Classify(%q) = %s, want auth", got, Classify(got))
	}
}

// redisTestError is a server error as go-redis types them.
type redisTestError string

func (e redisTestError) Error() string { return string(e) }
func (redisTestError) RedisError()     {}

func TestNewRedisRejectsBadTLSFiles(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		tls  config.TLS
		want string
	}{
		{"CA file without a certificate", config.TLS{CAFile: notPEM}, "tls.ca_file"},
		{"missing CA file", config.TLS{Enabled: true, CAFile: filepath.Join(dir, "nope.pem")}, "tls.ca_file"},
		{"bad key pair", config.TLS{CertFile: notPEM, KeyFile: notPEM}, "tls.cert_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewRedis(config.Redis{Name: "x", Address: "127.0.0.1:6379", TLS: tc.tls}, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one naming %s", err, tc.want)
			}
		})
	}
}

// redisTLSServer starts a redis-server that speaks only TLS and requires a
// client certificate, with a throwaway CA. It returns the address and the
// PEM files: ca, server name, client cert, client key.
func redisTLSServer(t *testing.T) (addr, ca, cert, key string) {
	t.Helper()
	dir := t.TempDir()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "headroom test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	issue := func(name string, serial int64, usage x509.ExtKeyUsage) (string, string) {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			DNSNames: []string{"redis.test"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		certPath, keyPath := filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
		redisWritePEM(t, certPath, "CERTIFICATE", der)
		redisWritePEM(t, keyPath, "PRIVATE KEY", keyDER)
		return certPath, keyPath
	}
	ca = filepath.Join(dir, "ca.crt")
	redisWritePEM(t, ca, "CERTIFICATE", caDER)
	serverCert, serverKey := issue("server", 2, x509.ExtKeyUsageServerAuth)
	cert, key = issue("client", 3, x509.ExtKeyUsageClientAuth)

	port := testenv.FreePort(t)
	addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(testenv.RedisServerPath, "--port", "0", "--tls-port", strconv.Itoa(port),
		"--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
		"--tls-cert-file", serverCert, "--tls-key-file", serverKey, "--tls-ca-cert-file", ca,
		"--tls-auth-clients", "yes")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-done:
			t.Fatalf("redis-server with TLS exited:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server with TLS not listening: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return addr, ca, cert, key
}

func redisWritePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestRedisTLS(t *testing.T) {
	addr, ca, cert, key := redisTLSServer(t)
	for _, tc := range []struct {
		name    string
		tls     config.TLS
		up      float64
		reasons []string // any one of them
	}{
		{"CA, client certificate, server name from the address",
			config.TLS{Enabled: true, CAFile: ca, CertFile: cert, KeyFile: key}, 1, nil},
		{"server name set", config.TLS{CAFile: ca, CertFile: cert, KeyFile: key, ServerName: "redis.test"}, 1, nil},
		{"insecure skip verify", config.TLS{InsecureSkipVerify: true, CertFile: cert, KeyFile: key}, 1, nil},
		{"unknown CA", config.TLS{Enabled: true, CertFile: cert, KeyFile: key}, 0, []string{"tls"}},
		{"wrong server name", config.TLS{CAFile: ca, CertFile: cert, KeyFile: key, ServerName: "other.test"}, 0, []string{"tls"}},
		// In TLS 1.3 the client's handshake is over before the server
		// checks the client's certificate: the refusal arrives as an alert
		// or, when the first write gets there first, as a reset.
		{"no client certificate", config.TLS{CAFile: ca}, 0, []string{"tls", "refused"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runner, _, logs := newRedisRunner(t, config.Redis{Address: addr, TLS: tc.tls})
			s := gather(t, runner, 5*time.Second)
			if got := s[redisUp].value; got != tc.up {
				t.Fatalf("up = %v, want %v; log:\n%s", got, tc.up, logs)
			}
			if tc.reasons == nil {
				return
			}
			total := 0.0
			for _, reason := range tc.reasons {
				total += s[seriesKey("headroom_target_scrape_errors_total", "kind", "redis", "reason", reason)].value
			}
			if total != 1 {
				t.Errorf("want one error for %v; errors:\n%s\nlog:\n%s", tc.reasons, s.with("headroom_target_scrape_errors_total"), logs)
			}
		})
	}
}

// go-redis's logger is one for the process; what it logs about a command
// of a target's client goes to that target's injected logger, found in
// the command's context, naming the target.
func TestRedisLibraryLinesGoToTheTargetLogger(t *testing.T) {
	logger, logs := testLogger()
	target, err := NewRedis(config.Redis{Name: "cache", Address: "127.0.0.1:1"}, logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(target.Close)
	client := target.(*redisTarget).client
	// Added after NewRedis's hook, so inside it: it sees the context
	// go-redis's own code would, and logs as go-redis would, instead of
	// dialling.
	client.AddHook(redisLibraryLine{})
	if err := client.Ping(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	want := `level=DEBUG msg="connection pool: 7 attempts" target=cache kind=redis library=go-redis`
	if !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %s\nlog:\n%s", want, logs.String())
	}
}

// redisLibraryLine stands in for go-redis's pool: it logs one line through
// the library's logger in the command's context and answers nothing.
type redisLibraryLine struct{}

func (redisLibraryLine) DialHook(next redis.DialHook) redis.DialHook { return next }

func (redisLibraryLine) ProcessHook(redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, _ redis.Cmder) error {
		redisLibraryLogger{}.Printf(ctx, "connection pool: %d attempts", 7)
		return nil
	}
}

func (redisLibraryLine) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}
