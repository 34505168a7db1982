package testenv

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisServerPath is Debian's redis-server.
var RedisServerPath = "/usr/bin/redis-server"

// RedisOptions tune a throwaway Redis.
type RedisOptions struct {
	MaxMemory       string // e.g. "2mb"; empty means unlimited
	MaxMemoryPolicy string // default allkeys-lru when MaxMemory is set
	Password        string // requirepass
	ReplicaOf       *Redis
}

// Redis is a throwaway redis-server.
type Redis struct {
	Server
	Password string
}

// StartRedis starts a redis-server that keeps nothing on disk.
func StartRedis(t TB, opts RedisOptions) *Redis {
	t.Helper()
	dir := Dir(t, "redis")
	port := FreePort(t)
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--daemonize", "no", "--protected-mode", "no",
		// Replicas sync at once rather than after Redis's default 5s wait.
		"--repl-diskless-sync-delay", "0"}
	if opts.MaxMemory != "" {
		policy := opts.MaxMemoryPolicy
		if policy == "" {
			policy = "allkeys-lru"
		}
		args = append(args, "--maxmemory", opts.MaxMemory, "--maxmemory-policy", policy)
	}
	if opts.Password != "" {
		args = append(args, "--requirepass", opts.Password)
	}
	if opts.ReplicaOf != nil {
		args = append(args, "--replicaof", opts.ReplicaOf.Host, strconv.Itoa(opts.ReplicaOf.Port))
		if opts.ReplicaOf.Password != "" {
			args = append(args, "--masterauth", opts.ReplicaOf.Password)
		}
	}
	r := &Redis{Server: Server{Host: "127.0.0.1", Port: port, Dir: dir}, Password: opts.Password}
	r.proc = &process{
		name:    "redis",
		addr:    r.Addr(),
		logPath: dir + "/redis.log",
		start:   func() (*exec.Cmd, error) { return asPostgres(RedisServerPath, args...) },
	}
	r.register(t)
	if err := r.proc.run(); err != nil {
		t.Fatalf("%v", err)
	}
	if err := waitRedis(r.Addr(), r.Password, readyWithin); err != nil {
		t.Fatalf("%v\n%s", err, r.Log())
	}
	return r
}

// Client returns a go-redis client, closed at cleanup.
func (r *Redis) Client(t TB) *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: r.Addr(), Password: r.Password})
	t.Cleanup(func() { c.Close() })
	return c
}

// WaitReplicaSynced waits until a replica reports master_link_status:up.
func (r *Redis) WaitReplicaSynced(t TB) {
	t.Helper()
	c := r.Client(t)
	err := WaitReady("sync of redis replica", r.Addr(), readyWithin, 2*time.Second, func(ctx context.Context) error {
		info, err := c.Info(ctx, "replication").Result()
		if err == nil && !containsLine(info, "master_link_status:up") {
			err = fmt.Errorf("master link not up: %s", info)
		}
		return err
	})
	if err != nil {
		t.Fatalf("%v", err)
	}
}

// waitRedis waits until the server answers PING.
func waitRedis(addr, password string, within time.Duration) error {
	// Without ContextTimeoutEnabled go-redis reads under its own 3s timeouts
	// and ignores the attempt's deadline.
	c := redis.NewClient(&redis.Options{Addr: addr, Password: password, MaxRetries: -1, ContextTimeoutEnabled: true})
	defer c.Close()
	return WaitReady("redis", addr, within, time.Second, func(ctx context.Context) error {
		return c.Ping(ctx).Err()
	})
}

func containsLine(text, line string) bool {
	for _, l := range strings.Split(text, "\n") {
		if strings.TrimRight(l, "\r") == line {
			return true
		}
	}
	return false
}
