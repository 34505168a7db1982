package collectors

import (
	"math"
	"net"
	"strconv"
	"strings"
)

// redisInfo is what one INFO reply says, read by field name. Every field a
// server version may lack is a num or a string that stays unset, so that a
// field missing from a reply leaves its metric out instead of reading 0.
type redisInfo struct {
	// Server is "redis" unless the reply names another (Valkey 8 sends
	// server_name:valkey); Version is that server's own version, e.g.
	// valkey_version rather than the redis_version Valkey keeps for
	// compatibility.
	Server  string
	Version string
	Mode    string
	Role    string // "master" or "replica" (INFO says "slave")

	UptimeSeconds num

	ConnectedClients num
	BlockedClients   num
	MaxClients       num // INFO clients has it from Redis 6.2 on

	UsedMemory            num
	MaxMemory             num
	TotalSystemMemory     num
	MaxMemoryPolicy       string
	MemFragmentationRatio num

	ConnectionsReceived num
	CommandsProcessed   num
	RejectedConnections num
	ExpiredKeys         num
	EvictedKeys         num
	KeyspaceHits        num
	KeyspaceMisses      num

	ConnectedReplicas      num
	MasterLinkStatus       string // replicas only: "up" or "down"
	MasterLastIOSecondsAgo num
	MasterReplOffset       num
	SlaveReplOffset        num
	Replicas               []redisReplica // a master's slaveN lines, in order

	Keyspace []redisDB // dbN lines, in order
}

// redisReplica is one slaveN line of a master's INFO replication:
// slave0:ip=10.0.0.2,port=6379,state=online,offset=1234,lag=0
type redisReplica struct {
	Addr   string // ip:port as the replica announced it
	State  string
	Offset num
	Lag    num // seconds since the replica's last REPLCONF ACK
}

// redisDB is one dbN line of INFO keyspace: db0:keys=3,expires=1,avg_ttl=0
type redisDB struct {
	Name    string // "db0"
	Keys    num
	Expires num
}

// num is a number INFO may or may not have reported.
type num struct {
	v  float64
	ok bool
}

func (n *num) set(s string) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	// A value that is not a finite number ("inf" has been seen for ratios
	// on an empty server) is as good as absent.
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	n.v, n.ok = v, true
}

// parseRedisInfo reads an INFO reply by key. Section headers, blank lines,
// unknown keys and values that do not parse are skipped; the order of lines
// and \r\n versus \n endings do not matter.
func parseRedisInfo(raw string) *redisInfo {
	i := &redisInfo{}
	nums := map[string]*num{
		"uptime_in_seconds":          &i.UptimeSeconds,
		"connected_clients":          &i.ConnectedClients,
		"blocked_clients":            &i.BlockedClients,
		"maxclients":                 &i.MaxClients,
		"used_memory":                &i.UsedMemory,
		"maxmemory":                  &i.MaxMemory,
		"total_system_memory":        &i.TotalSystemMemory,
		"mem_fragmentation_ratio":    &i.MemFragmentationRatio,
		"total_connections_received": &i.ConnectionsReceived,
		"total_commands_processed":   &i.CommandsProcessed,
		"rejected_connections":       &i.RejectedConnections,
		"expired_keys":               &i.ExpiredKeys,
		"evicted_keys":               &i.EvictedKeys,
		"keyspace_hits":              &i.KeyspaceHits,
		"keyspace_misses":            &i.KeyspaceMisses,
		"connected_slaves":           &i.ConnectedReplicas,
		"master_last_io_seconds_ago": &i.MasterLastIOSecondsAgo,
		"master_repl_offset":         &i.MasterReplOffset,
		"slave_repl_offset":          &i.SlaveReplOffset,
	}
	strs := map[string]*string{
		"redis_mode":         &i.Mode,
		"server_mode":        &i.Mode, // Valkey 8
		"maxmemory_policy":   &i.MaxMemoryPolicy,
		"master_link_status": &i.MasterLinkStatus,
	}
	// Versions are kept by key until the server's name is known, whatever
	// order the lines come in.
	versions := map[string]string{}
	for line := range strings.Lines(raw) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" || line[0] == '#' {
			continue
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if n, ok := nums[key]; ok {
			n.set(value)
			continue
		}
		if s, ok := strs[key]; ok {
			*s = value
			continue
		}
		switch {
		case key == "role":
			i.Role = value
			if value == "slave" {
				i.Role = "replica"
			}
		case key == "server_name":
			i.Server = value
		case strings.HasSuffix(key, "_version"):
			versions[strings.TrimSuffix(key, "_version")] = value
		case indexed(key, "slave"):
			i.Replicas = append(i.Replicas, parseReplicaLine(value))
		case indexed(key, "db"):
			db := redisDB{Name: key}
			db.Keys.set(kvValue(value, "keys"))
			db.Expires.set(kvValue(value, "expires"))
			if db.Keys.ok {
				i.Keyspace = append(i.Keyspace, db)
			}
		}
	}
	if i.Server == "" {
		i.Server = "redis"
	}
	i.Version = versions[i.Server]
	if i.Version == "" {
		i.Version = versions["redis"]
	}
	return i
}

// indexed reports whether key is prefix followed by a decimal index, as in
// slave0 or db15 (and not slave_repl_offset or slave_read_only).
func indexed(key, prefix string) bool {
	rest, ok := strings.CutPrefix(key, prefix)
	if !ok || rest == "" {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// kvValue is key's value in "a=1,b=2", the last one if key repeats, or ""
// when absent; malformed items are skipped. It scans rather than building a
// map, so that a line costs nothing but what is kept of it.
func kvValue(list, key string) string {
	value := ""
	for list != "" {
		var item string
		item, list, _ = strings.Cut(list, ",")
		if k, v, ok := strings.Cut(item, "="); ok && k == key {
			value = v
		}
	}
	return value
}

func parseReplicaLine(value string) redisReplica {
	r := redisReplica{State: kvValue(value, "state")}
	if ip, port := kvValue(value, "ip"), kvValue(value, "port"); ip != "" || port != "" {
		r.Addr = net.JoinHostPort(ip, port)
	}
	r.Offset.set(kvValue(value, "offset"))
	r.Lag.set(kvValue(value, "lag"))
	return r
}
