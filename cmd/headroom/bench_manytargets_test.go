package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/headroom-dev/headroom/collectors"
	"github.com/headroom-dev/headroom/internal/testenv"
)

// The many-targets run: 100 PostgreSQL targets (the databases of one
// throwaway server, each a target of its own) and 20 Redis targets (one
// redis-server each), beside a light write load.
const (
	manyPostgres   = 100
	manyRedis      = 20
	manyLoad       = 20  // client connections writing 300 rows a second between them
	manyRounds     = 30  // measured scrapes of each kind, per b.N
	manyPerTarget  = 5   // measured probes of each target alone
	manyServerConn = 400 // two exporters' 100 each, the floor's 100, the load's 20
)

// BenchmarkManyTargets measures the real exporter binary configured with
// 120 targets. First /probe of one target while the 119 others are
// configured but not scraped, against the exporter configured with that
// target alone (their probes take turns), with the heap the configured
// targets add (HeapInuse after GC, from pprof) and the connections held.
// Then full scrapes: their median against the slowest target's own time
// (its /probe with nothing else scraped, and its queries run directly on
// an open connection) and against every target's queries run directly at
// once, the heap each scraped target adds, the connections held per
// PostgreSQL target (pg_stat_activity) and the exporter's CPU. Last, the
// full scrape's median at lower --scrape.concurrency caps, taking turns
// with the default's. Its rounds are fixed (manyRounds), so `-benchtime
// 1x` runs it once.
//
//	make bench
func BenchmarkManyTargets(b *testing.B) {
	pg := testenv.StartPostgres(b, testenv.PostgresOptions{MaxConnections: manyServerConn})
	pg.Exec(b, "postgres", "CREATE ROLE headroom LOGIN IN ROLE pg_monitor", "CREATE ROLE headroom_one LOGIN IN ROLE pg_monitor")
	// Every database is a copy of template1, with the load's table.
	pg.Exec(b, "template1", "CREATE TABLE t (id bigserial PRIMARY KEY, v int, at timestamptz DEFAULT now())")
	created := time.Now()
	for i := range manyPostgres {
		pg.Exec(b, "postgres", fmt.Sprintf("CREATE DATABASE %s", manyDB(i)))
	}
	b.ReportMetric(ms(time.Since(created))/manyPostgres, "create-database-ms")
	redises := make([]*testenv.Redis, manyRedis)
	for i := range redises {
		redises[i] = testenv.StartRedis(b, testenv.RedisOptions{})
	}
	stopLoad := startManyLoad(b, pg)
	defer stopLoad()
	rounds := manyRounds * b.N

	// The baseline, the exporter configured with one target, runs beside
	// the one configured with all 120: their probes of that target take
	// turns, so that both see the same load. The baseline connects as a
	// role of its own, so that counting headroom's connections counts the
	// other's alone.
	one := startManyExporter(b, writeManyConfig(b, pg, redises, 1, 0, "headroom_one"))
	many := startManyExporter(b, writeManyConfig(b, pg, redises, manyPostgres, manyRedis, "headroom"))
	defer many.stop()
	for range 5 {
		one.probe(b, "pg000")
		many.probe(b, "pg000")
	}
	var alone, probed []time.Duration
	for i := range rounds {
		if i%2 == 0 {
			alone = append(alone, one.probe(b, "pg000"))
			probed = append(probed, many.probe(b, "pg000"))
		} else {
			probed = append(probed, many.probe(b, "pg000"))
			alone = append(alone, one.probe(b, "pg000"))
		}
	}
	heapOne := one.heapInuse(b)
	one.stop()
	// 120 targets configured; one probed, the others never scraped.
	heapProbe := many.heapInuse(b)
	connsProbe := headroomConns(b, pg)

	// Every target scraped: full scrapes, each round beside the same
	// queries run directly, every target at once.
	floor := newManyDirect(b, pg, redises)
	for range 3 {
		scrapeOnce(b, many.url+"/metrics")
		floor.concurrent(b)
	}
	var full, direct []time.Duration
	var series, wire int
	cpuBefore := processCPU(b, many.cmd.Process.Pid)
	for range rounds {
		r := scrapeOnce(b, many.url+"/metrics")
		full = append(full, r.took)
		series += r.series
		wire += r.bytes
		took, _ := floor.concurrent(b)
		direct = append(direct, took)
	}
	cpu := processCPU(b, many.cmd.Process.Pid) - cpuBefore
	last := scrapeOnce(b, many.url+"/metrics")
	up := 0
	for _, m := range last.families["headroom_target_up"].GetMetric() {
		if m.GetGauge().GetValue() == 1 {
			up++
		}
	}
	if up != manyPostgres+manyRedis {
		b.Fatalf("%d of %d targets up after the full scrapes", up, manyPostgres+manyRedis)
	}
	heapFull := many.heapInuse(b)
	connsFull := headroomConns(b, pg)
	rss, _, _ := processMemory(b, many.cmd.Process.Pid)

	// Each target's own time: its /probe with nothing else scraped, and
	// its queries run directly on an open connection, one target at a
	// time. The slowest target's median of each is the full scrape's
	// yardstick.
	var slowestProbe, slowestOwn time.Duration
	slowestName := ""
	for i, name := range floor.names {
		many.probe(b, name)
		var p, d []time.Duration
		for range manyPerTarget {
			p = append(p, many.probe(b, name))
			t0 := time.Now()
			if err := floor.jobs[i](); err != nil {
				b.Fatal(err)
			}
			d = append(d, time.Since(t0))
		}
		if m := quantile(p, 0.5); m > slowestProbe {
			slowestProbe, slowestName = m, name
		}
		slowestOwn = max(slowestOwn, quantile(d, 0.5))
	}

	// Lower caps, for the default's sake: on one server with two cores,
	// fewer queries at once may finish as soon. Each capped exporter's
	// full scrapes take turns with the default's, as its own role.
	for _, limit := range []int{8, 32} {
		e := startManyExporter(b, writeManyConfig(b, pg, redises, manyPostgres, manyRedis, "headroom_one"), "--scrape.concurrency="+strconv.Itoa(limit))
		for range 3 {
			scrapeOnce(b, e.url+"/metrics")
		}
		var capped, dflt []time.Duration
		for range rounds / 2 {
			capped = append(capped, scrapeOnce(b, e.url+"/metrics").took)
			dflt = append(dflt, scrapeOnce(b, many.url+"/metrics").took)
		}
		e.stop()
		b.ReportMetric(ms(quantile(capped, 0.5)), fmt.Sprintf("cap%d-full-median-ms", limit))
		b.ReportMetric(float64(quantile(capped, 0.5))/float64(quantile(dflt, 0.5)), fmt.Sprintf("cap%d/default", limit))
	}
	many.stop()
	waitHeadroomGone(b, pg)

	fullMed := quantile(full, 0.5)
	b.Logf("slowest target by /probe alone: %s", slowestName)
	b.ReportMetric(ms(fullMed), "full-median-ms")
	b.ReportMetric(ms(quantile(full, 0.95)), "full-p95-ms")
	b.ReportMetric(ms(slowestProbe), "slowest-probe-alone-ms")
	b.ReportMetric(float64(fullMed)/float64(slowestProbe), "full/slowest-probe")
	b.ReportMetric(ms(slowestOwn), "slowest-own-queries-ms")
	b.ReportMetric(float64(fullMed)/float64(slowestOwn), "full/slowest-own")
	b.ReportMetric(ms(quantile(direct, 0.5)), "direct-all-median-ms")
	b.ReportMetric(float64(fullMed)/float64(quantile(direct, 0.5)), "full/direct-all")
	b.ReportMetric(float64(series)/float64(rounds), "series/scrape")
	b.ReportMetric(float64(wire)/float64(rounds), "gzip-bytes/scrape")
	b.ReportMetric(ms(cpu)/float64(rounds), "cpu-ms/scrape")
	b.ReportMetric(float64(heapFull-heapOne)/(manyPostgres+manyRedis-1)/1000, "heap-kB/target")
	b.ReportMetric(float64(rss)/(1<<20), "rss-MiB")
	b.ReportMetric(float64(connsFull)/manyPostgres, "conns/pg-target")
	b.ReportMetric(ms(quantile(alone, 0.5)), "probe-1-configured-ms")
	b.ReportMetric(ms(quantile(probed, 0.5)), "probe-120-configured-ms")
	b.ReportMetric(float64(quantile(probed, 0.5))/float64(quantile(alone, 0.5)), "probe-120/probe-1")
	b.ReportMetric(float64(heapProbe-heapOne)/(manyPostgres+manyRedis-1)/1000, "probe-heap-kB/target")
	b.ReportMetric(float64(connsProbe), "probe-conns-held")

}

func manyDB(i int) string { return fmt.Sprintf("db%03d", i) }

// writeManyConfig lists the first pgN databases (connecting as user) and
// redisN servers as targets pg000... and redis00..., with every field at
// its default.
func writeManyConfig(b *testing.B, pg *testenv.Postgres, redises []*testenv.Redis, pgN, redisN int, user string) string {
	var cfg strings.Builder
	cfg.WriteString("postgres:\n")
	for i := range pgN {
		fmt.Fprintf(&cfg, "  - {name: pg%03d, dsn: '%s'}\n", i, pg.DSN(manyDB(i), user))
	}
	if redisN > 0 {
		cfg.WriteString("redis:\n")
	}
	for i := range redisN {
		fmt.Fprintf(&cfg, "  - {name: redis%02d, address: '%s'}\n", i, redises[i].Addr())
	}
	path := filepath.Join(b.TempDir(), "headroom.yml")
	if err := os.WriteFile(path, []byte(cfg.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

// manyExporter is the exporter binary, as the image builds it, serving
// one config with pprof on (for its heap).
type manyExporter struct {
	cmd  *exec.Cmd
	url  string
	once sync.Once
}

func startManyExporter(b *testing.B, config string, flags ...string) *manyExporter {
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(b))
	args := append([]string{"serve", "--config.file=" + config, "--web.listen-address=" + addr,
		"--log.level=warn", "--web.enable-profiling"}, flags...)
	cmd := exec.Command(exporterBinary(b), args...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	e := &manyExporter{cmd: cmd, url: "http://" + addr}
	b.Cleanup(e.stop)
	waitListening(b, addr)
	return e
}

func (e *manyExporter) stop() {
	e.once.Do(func() { e.cmd.Process.Kill(); e.cmd.Wait() })
}

// probe scrapes one target by /probe and returns the time it took.
func (e *manyExporter) probe(b *testing.B, target string) time.Duration {
	r := scrapeOnce(b, e.url+"/probe?target="+target)
	if up := r.families["headroom_target_up"].GetMetric(); len(up) != 1 || up[0].GetGauge().GetValue() != 1 {
		b.Fatalf("/probe?target=%s: not up", target)
	}
	return r.took
}

// heapInuse is the exporter's HeapInuse after a GC, from the heap
// profile's runtime.MemStats (gc=1 runs one first; the second read lets
// what the first freed be swept).
func (e *manyExporter) heapInuse(b *testing.B) int64 {
	var inuse int64
	for range 2 {
		resp, err := http.Get(e.url + "/debug/pprof/heap?debug=1&gc=1")
		if err != nil {
			b.Fatal(err)
		}
		inuse = -1
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "# HeapInuse = "); ok {
				inuse, _ = strconv.ParseInt(v, 10, 64)
			}
		}
		resp.Body.Close()
		if inuse < 0 {
			b.Fatal("no HeapInuse in the heap profile")
		}
	}
	return inuse
}

// headroomConns counts the connections headroom holds on the server.
func headroomConns(b *testing.B, pg *testenv.Postgres) int64 {
	return pg.QueryInt(b, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'headroom' AND usename = 'headroom'")
}

// waitHeadroomGone waits until a stopped exporter's backends have left,
// so that the next count is of the next exporter alone.
func waitHeadroomGone(b *testing.B, pg *testenv.Postgres) {
	deadline := time.Now().Add(10 * time.Second)
	for headroomConns(b, pg) > 0 {
		if time.Now().After(deadline) {
			b.Fatal("a stopped exporter's connections are still on the server after 10s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startManyLoad holds manyLoad connections, one to each of the first
// databases, writing writesPerSecond rows a second between them.
func startManyLoad(b *testing.B, pg *testenv.Postgres) func() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var failures atomic.Int64
	for i := range manyLoad {
		conn := pg.ConnectAs(b, manyDB(i%manyPostgres), "postgres", fmt.Sprintf("app%d", i%5))
		wg.Add(1)
		go func() {
			defer wg.Done()
			writeLoop(ctx, conn, manyLoad, &failures)
		}()
	}
	return func() {
		cancel()
		wg.Wait()
		if n := failures.Load(); n > 0 {
			b.Logf("%d writes of the load failed", n)
		}
	}
}

// newManyDirect is every target's own queries on an open connection of
// its own, as a scrape with the default settings runs them.
func newManyDirect(b *testing.B, pg *testenv.Postgres, redises []*testenv.Redis) *directQueries {
	ctx := context.Background()
	d := &directQueries{}
	var version int
	if err := pg.Connect(b, "postgres").QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		b.Fatal(err)
	}
	queries, err := collectors.PostgresQueries(version, false, false)
	if err != nil {
		b.Fatal(err)
	}
	for i := range manyPostgres {
		conn := pg.Connect(b, manyDB(i))
		d.names = append(d.names, fmt.Sprintf("pg%03d", i))
		d.jobs = append(d.jobs, func() error { return runAll(ctx, conn, queries) })
	}
	for i, r := range redises {
		rc := r.Client(b)
		d.names = append(d.names, fmt.Sprintf("redis%02d", i))
		d.jobs = append(d.jobs, func() error { return rc.Info(ctx).Err() })
	}
	return d
}

// runAll runs queries one after another and reads every row.
func runAll(ctx context.Context, conn *pgx.Conn, queries []string) error {
	for _, q := range queries {
		rows, err := conn.Query(ctx, q)
		if err != nil {
			return err
		}
		for rows.Next() {
		}
		if rows.Err() != nil {
			return rows.Err()
		}
	}
	return nil
}
