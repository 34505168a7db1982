package collectors

// Fuzz targets for the parsers of what the servers send: Redis INFO,
// PgBouncer SHOW rows and the API's health and metrics JSON. Their seed
// corpora are the recorded fixtures and the bodies of the API tests, and
// run in every `go test`; `make fuzz` runs the fuzzing itself. Beside them,
// TestParserAllocationBound holds each parser to a fixed multiple of its
// input in bytes allocated.

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/headroom-dev/headroom/internal/allocbound"
)

func FuzzRedisInfo(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "redis", "*.txt"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no INFO fixtures in testdata/redis (%v)", err)
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(raw))
	}
	f.Add("# Replication\r\nrole:slave\r\nslave0:ip=::1,port=6380,state=online,offset=7,lag=0\r\n")
	f.Add("db0:keys=1,expires=0,avg_ttl=0\ndb1:keys=x\nslave:\nslave1x:\n")
	f.Fuzz(func(t *testing.T, raw string) {
		info := parseRedisInfo(raw)
		// Every replica and database comes from a line of its own.
		lines := strings.Count(raw, "\n") + 1
		if n := len(info.Replicas) + len(info.Keyspace); n > lines {
			t.Errorf("%d replicas and databases from %d lines", n, lines)
		}
		if info.Server == "" {
			t.Error("no server name: it defaults to redis")
		}
		for _, n := range []num{info.UsedMemory, info.MemFragmentationRatio, info.MasterReplOffset} {
			if n.ok && !finite(n.v) {
				t.Errorf("non-finite value %v kept", n.v)
			}
		}
	})
}

// pgbTableFromCSV reads a SHOW answer in the fixtures' form: a header of
// column names, then rows, ragged ones included (the parsers must cope with
// a row shorter than its row description).
func pgbTableFromCSV(data []byte) (pgbTable, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.FieldsPerRecord = -1
	records, err := r.ReadAll()
	if err != nil {
		return pgbTable{}, err
	}
	if len(records) == 0 {
		return pgbTable{}, fmt.Errorf("no header")
	}
	return pgbTable{columns: records[0], rows: records[1:]}, nil
}

// pgbParseEveryCommand runs the four SHOW parsers over one table, as if the server
// had sent it for each command, and returns what they emitted.
func pgbParseEveryCommand(t pgbTable) []prometheus.Metric {
	var out []prometheus.Metric
	emit := func(m prometheus.Metric) { out = append(out, m) }
	missing := func(string, string, bool) {}
	_ = pgbParsePools(t, func(string, string) bool { return true }, emit, missing)
	_ = pgbParseDatabases(t, func(string) bool { return true }, emit, missing)
	_ = pgbParseStats(t, func(string) bool { return true }, emit, missing)
	_ = pgbParseConfig(t, emit, missing)
	return out
}

func FuzzPgBouncerShow(f *testing.F) {
	for _, v := range pgbVersions {
		for _, file := range []string{"pools.csv", "databases.csv", "stats.csv", "config.csv"} {
			raw, err := os.ReadFile(filepath.Join("testdata", "pgbouncer", v, file))
			if err != nil {
				f.Fatal(err)
			}
			f.Add(raw)
		}
	}
	f.Add([]byte("database,user,cl_active,maxwait,maxwait_us,pool_mode\nd,u,1,2\nd\n"))
	f.Add([]byte("key,value\nmax_client_conn,NaN\ndefault_pool_size,1e400\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		table, err := pgbTableFromCSV(data)
		if err != nil {
			return
		}
		// Per row at most every pool column, maxwait and pool_mode; per
		// command one client total and the config gauges.
		limit := len(table.rows)*(len(pgbPoolColumns)+2+len(pgbDatabaseColumns)+len(pgbStatsColumns)) + 1 + len(pgbConfigKeys)
		ms := pgbParseEveryCommand(table)
		if len(ms) > limit {
			t.Errorf("%d series from %d rows, at most %d", len(ms), len(table.rows), limit)
		}
		for _, m := range ms {
			var d dto.Metric
			if err := m.Write(&d); err != nil {
				t.Fatalf("series %s: %v", m.Desc(), err)
			}
			if v := d.GetGauge().GetValue() + d.GetCounter().GetValue(); !finite(v) {
				t.Errorf("series %s: non-finite value %v", m.Desc(), v)
			}
		}
	})
}

// apiHealthSeeds are the health bodies of the API tests, each with the
// content type it was served with.
var apiHealthSeeds = []struct{ contentType, body string }{
	{apiJSONType, `{"status":"healthy","components":{"database":{"status":"healthy","latency_ms":3},"redis":{"status":"healthy"},"llm":{"status":"degraded"}}}`},
	{apiJSONType, `{"status":"ok","checks":{"redis":"ok","database":"pass","llm":"timeout talking to provider"}}`},
	{apiJSONType, `{"database":"healthy","redis":"healthy","llm":"unhealthy","version":"1.4.2","uptime_seconds":3600}`},
	{"application/health+json", `{"status":"pass","checks":{"db:responseTime":[{"status":"pass"},{"status":"warn"}],"cache":[{"status":"pass"}]}}`},
	{"application/json; charset=utf-8", `{"status":"UP","components":[{"name":"db","status":"UP"},{"name":"diskSpace","status":"DOWN"},{"status":"UP"}]}`},
	{apiJSONType, `{"status":"unhealthy","components":{"database":{"status":"unhealthy"},"redis":{"status":"healthy"}}}`},
	{apiJSONType, `{"status":"degraded","components":{"llm":{"status":"degraded"}}}`},
	{"text/plain", "OK"},
	{"", "healthy\n"},
	{apiJSONType, `{"status":"healthy",`},
	{apiJSONType, `{"status":true,"services":{"a":{"healthy":false}},"dependencies":[]}`},
}

func FuzzAPIHealth(f *testing.F) {
	for _, s := range apiHealthSeeds {
		f.Add(s.contentType, []byte(s.body), false)
	}
	f.Add(apiJSONType, []byte(`{"status":"healthy"}`), true)
	f.Fuzz(func(t *testing.T, contentType string, body []byte, truncated bool) {
		doc, isJSON, invalid := parseHealthBody(&response{status: 200, contentType: contentType, body: body, truncated: truncated})
		if isJSON && invalid {
			t.Fatal("a body both JSON and invalid")
		}
		obj, ok := doc.(map[string]any)
		if !ok {
			return
		}
		if overall, ok := topLevelStatus(obj); ok && rank(overall) >= len(healthStates) {
			t.Errorf("overall status %q is not a state", overall)
		}
		for name, state := range extractComponents(obj) {
			if name == "" || len(name) > maxComponentName {
				t.Errorf("component name %q: empty or longer than %d bytes", name, maxComponentName)
			}
			if rank(state) >= len(healthStates) {
				t.Errorf("component %q: status %q is not a state", name, state)
			}
		}
	})
}

func FuzzAPIMetricsJSON(f *testing.F) {
	for _, path := range []string{"database.pool_utilization_percent", "redis.hit_rate", "workers.1.busy", "cpu.percent", "huge", "nothing", "workers.-1", "."} {
		f.Add([]byte(apiMetricsDoc), path)
	}
	f.Add([]byte(`[1, "2", true, null, {"a": [0.5]}]`), "4.a.0")
	f.Fuzz(func(t *testing.T, body []byte, path string) {
		doc, err := decodeJSON(body)
		if err != nil {
			return
		}
		v, found := lookupPath(doc, path)
		if !found {
			return
		}
		if x, ok := number(v); ok && !finite(x) {
			t.Errorf("path %q: non-finite %v read as a number", path, x)
		}
	})
}

// repeated is n bytes or more of line, repeated.
func repeated(line string, n int) string {
	return strings.Repeat(line, n/len(line)+1)
}

// The bounds are what each parser allocates at worst per byte of input,
// rounded up, measured over the seed corpus and the adversarial inputs
// below (one item per line, per cell or per JSON value: the most a parser
// keeps for the least input). A slice grown by append past 256 elements
// has allocated about 5 times its final size, so a 64-byte redisReplica
// kept per 8-byte "slave0:" line comes to about 52 bytes per byte. The
// fixed part is the parser's own start-up (the key tables of
// parseRedisInfo, the JSON decoder).
var (
	redisInfoBound   = allocbound.Bound{PerByte: 64, Fixed: 16 << 10}
	pgbShowBound     = allocbound.Bound{PerByte: 128, Fixed: 16 << 10}
	apiJSONBound     = allocbound.Bound{PerByte: 96, Fixed: 16 << 10}
	adversarialBytes = 256 << 10
)

func TestParserAllocationBound(t *testing.T) {
	n := adversarialBytes
	redis := []string{
		repeated("slave0:ip=10.0.0.2,port=6379,state=online,offset=1234,lag=0\n", n),
		repeated("slave0:\n", n),
		repeated("db0:keys=1\n", n),
		"db0:" + repeated("keys=1,", n),
		repeated("a_version:1\n", n),
		repeated("\n", n),
		repeated("used_memory:1\r\n", n),
	}
	var distinct strings.Builder
	for i := 0; distinct.Len() < n; i++ {
		fmt.Fprintf(&distinct, "v%d_version:%d\n", i, i)
	}
	redis = append(redis, distinct.String())
	fixtures, _ := filepath.Glob(filepath.Join("testdata", "redis", "*.txt"))
	for _, file := range fixtures {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		redis = append(redis, string(raw))
	}

	pools := []string{"database", "user", "maxwait", "maxwait_us", "pool_mode"}
	for _, c := range pgbPoolColumns {
		pools = append(pools, c.names[0])
	}
	var databases []string
	for _, c := range append(append([]pgbColumn{}, pgbDatabaseColumns...), pgbStatsColumns...) {
		databases = append(databases, c.names[0])
	}
	databases = append(databases, "name", "database", "key", "value")
	var pgb []pgbTable
	for _, cols := range [][]string{pools, databases} {
		row := make([]string, len(cols))
		for i := range row {
			row[i] = "1"
		}
		tab := pgbTable{columns: cols}
		for size := 0; size < n; size += 2 * len(row) {
			tab.rows = append(tab.rows, row)
		}
		pgb = append(pgb, tab)
	}
	pgb = append(pgb, pgbTable{columns: []string{"key", "value"}})
	for i := 0; i < n/16; i++ {
		pgb[len(pgb)-1].rows = append(pgb[len(pgb)-1].rows, []string{fmt.Sprintf("k%d", i), "1"})
	}

	for _, v := range pgbVersions {
		for _, file := range []string{"pools.csv", "databases.csv", "stats.csv", "config.csv"} {
			raw, err := os.ReadFile(filepath.Join("testdata", "pgbouncer", v, file))
			if err != nil {
				t.Fatal(err)
			}
			tab, err := pgbTableFromCSV(raw)
			if err != nil {
				t.Fatalf("%s/%s: %v", v, file, err)
			}
			pgb = append(pgb, tab)
		}
	}

	var flat strings.Builder
	flat.WriteString("{")
	for i := 0; flat.Len() < n; i++ {
		fmt.Fprintf(&flat, `"c%d":"ok",`, i)
	}
	flat.WriteString(`"x":"ok"}`)
	json := []string{
		"[" + repeated("{},", n) + "{}]",
		"[" + repeated("0,", n) + "0]",
		`{"components":[` + repeated(`{"name":"a","status":"ok"},`, n) + `{}]}`,
		`{"checks":{"a":[` + repeated(`{"status":"ok"},`, n) + `{}]}}`,
		strings.Repeat("[", 10000) + strings.Repeat("]", 10000),
		`"` + strings.Repeat("\\u00e9", n/6) + `"`,
		flat.String(),
		apiMetricsDoc,
	}
	for _, s := range apiHealthSeeds {
		json = append(json, s.body)
	}

	allocbound.UnderMemoryLimit(64<<20, func() {
		for i, raw := range redis {
			checkBound(t, fmt.Sprintf("redis INFO %d", i), len(raw), redisInfoBound, func() { parseRedisInfo(raw) })
		}
		for i, tab := range pgb {
			size := 0
			for _, r := range append([][]string{tab.columns}, tab.rows...) {
				for _, c := range r {
					size += len(c) + 1
				}
			}
			checkBound(t, fmt.Sprintf("PgBouncer SHOW %d", i), size, pgbShowBound, func() { pgbParseEveryCommand(tab) })
		}
		for i, body := range json {
			b := []byte(body)
			checkBound(t, fmt.Sprintf("API JSON %d", i), len(b), apiJSONBound, func() {
				doc, _, _ := parseHealthBody(&response{contentType: apiJSONType, body: b})
				if obj, ok := doc.(map[string]any); ok {
					extractComponents(obj)
				}
				lookupPath(doc, "0.a.b")
			})
		}
	})
}

// checkBound fails when parse allocates more than bound allows for an
// input of n bytes.
func checkBound(t *testing.T, name string, n int, bound allocbound.Bound, parse func()) {
	t.Helper()
	got := allocbound.AllocatedBy(parse)
	if got > bound.Of(n) {
		t.Errorf("%s: %d bytes allocated for %d bytes of input (%.1f per byte), more than %d×%d+%d",
			name, got, n, float64(got)/float64(n), bound.PerByte, n, bound.Fixed)
	}
	if testing.Verbose() {
		t.Logf("%s: %d bytes of input, %d allocated (%.1f per byte)", name, n, got, float64(got)/float64(max(n, 1)))
	}
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
