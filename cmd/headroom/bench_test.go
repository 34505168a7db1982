package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/redis/go-redis/v9"

	"github.com/headroom-dev/headroom/collectors"
	"github.com/headroom-dev/headroom/internal/testenv"
)

// BenchmarkScrape measures a full scrape of a PostgreSQL primary and
// replica, PgBouncer and Redis by the real exporter binary (as the Docker
// image builds it), over HTTP, while
// clients write to the databases; then again with twice the clients and
// databases. It reports, per scrape: latency (median, p95, per target),
// the same queries run directly (the floor), bytes, series, the
// exporter's CPU time, its RSS, and connections it opened.
//
//	make bench
func BenchmarkScrape(b *testing.B) {
	var first *scrapeMedians
	for i, size := range []struct{ clients, databases int }{{300, 20}, {600, 40}} {
		b.Run(fmt.Sprintf("clients=%d/databases=%d", size.clients, size.databases), func(b *testing.B) {
			m := benchmarkScrape(b, size.clients, size.databases)
			// The doubled size says how much it grew, in the same run.
			// (The testing package runs each size once with b.N = 1
			// before the real run; the last one of the first size counts.)
			if i == 0 {
				first = &m
				return
			}
			b.ReportMetric(100*(float64(m.scrape)/float64(first.scrape)-1), "median-growth-%")
			b.ReportMetric(100*(float64(m.direct)/float64(first.direct)-1), "direct-growth-%")
			b.ReportMetric(100*(float64(m.scrape-m.direct)/float64(first.scrape-first.direct)-1), "overhead-growth-%")
		})
	}
}

// scrapeMedians are one size's median scrape and concurrent floor.
type scrapeMedians struct{ scrape, direct time.Duration }

// BenchmarkServeRSS compares the exporter a user builds (`make build`)
// with the one the Docker image ships: RSS after 20 scrapes of
// headroom.yml (the local defaults, `make run`'s config), the median of 3
// runs of each, taken in turns. The default build once linked the
// generators and held twice the image's RSS, their pages loaded and their
// init functions run; now both are the same exporter, and they must stay
// within 2 MiB of each other.
func BenchmarkServeRSS(b *testing.B) {
	const scrapes, runs, allowed = 20, 3, 2 << 20
	builds := []struct{ name, bin string }{
		{"make-build", makeBuildBinary(b)},
		{"dockerfile", exporterBinary(b)},
	}
	b.ResetTimer() // the builds are not the measure
	rss := make([][]int64, len(builds))
	for range runs {
		for i, build := range builds {
			rss[i] = append(rss[i], serveRSS(b, build.bin, "headroom.yml", scrapes))
		}
	}
	medians := make([]int64, len(builds))
	for i, build := range builds {
		slices.Sort(rss[i])
		medians[i] = rss[i][len(rss[i])/2]
		b.ReportMetric(float64(medians[i])/(1<<20), build.name+"-rss-MiB")
	}
	b.ReportMetric(float64(medians[0]-medians[1])/(1<<20), "difference-MiB")
	if medians[0]-medians[1] > allowed {
		b.Errorf("make build's exporter holds %.1f MiB, %.1f MiB more than the image's (%.1f MiB); runs %v and %v bytes",
			float64(medians[0])/(1<<20), float64(medians[0]-medians[1])/(1<<20), float64(medians[1])/(1<<20), rss[0], rss[1])
	}
}

// serveRSS starts bin serve on config, scrapes it the given number of
// times, and returns its RSS.
func serveRSS(b *testing.B, bin, config string, scrapes int) int64 {
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(b))
	// Its log is left out: with the local defaults absent, every scrape
	// logs each target down, and up or down is the same for both builds.
	exporter := exec.Command(bin, "serve", "--config.file="+config, "--web.listen-address="+addr)
	if err := exporter.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { exporter.Process.Kill(); exporter.Wait() }()
	waitListening(b, addr)
	for range scrapes {
		scrapeOnce(b, "http://"+addr+"/metrics")
	}
	rss, _, _ := processMemory(b, exporter.Process.Pid)
	return rss
}

var (
	buildMu  sync.Mutex
	binDir   string
	binPaths = map[string]string{}
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// headroomBinary builds headroom and, beside it, headroomtool (which
// `headroom generate|replay|preset` re-executes), static and stripped, once
// per test process.
func headroomBinary(t testing.TB) string {
	buildBinary(t, "tests", "headroomtool", "../headroomtool", "-ldflags", "-s -w")
	return buildBinary(t, "tests", "headroom", ".", "-ldflags", "-s -w")
}

// exporterBinary builds headroom as the Dockerfile does: static, stripped,
// -trimpath; the image has no headroomtool.
func exporterBinary(t testing.TB) string {
	return buildBinary(t, "image", "headroom", ".", "-trimpath", "-ldflags", "-s -w")
}

// rssFloorBinary builds testdata/rssfloor as the image builds headroom.
func rssFloorBinary(t testing.TB) string {
	return buildBinary(t, "image", "rssfloor", "./testdata/rssfloor", "-trimpath", "-ldflags", "-s -w")
}

// makeBuildBinary is the headroom a user gets from `make build` (run here
// with its outputs in a temporary directory): version stamped, and
// headroomtool built beside it.
func makeBuildBinary(t testing.TB) string {
	buildMu.Lock()
	defer buildMu.Unlock()
	dir := filepath.Join(tempBinDir(t), "make")
	bin := filepath.Join(dir, "headroom")
	if binPaths["make"] == "" {
		cmd := exec.Command("make", "-s", "-C", "../..", "build", "BIN="+bin, "TOOL="+filepath.Join(dir, "headroomtool"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("make build: %v\n%s", err, out)
		}
		binPaths["make"] = bin
	}
	return bin
}

// buildBinary builds pkg as dir/name under the test's temporary directory
// with CGO off (as `make build` and the Dockerfile do) and the given flags,
// once per test process; binaries that run each other share a dir.
func buildBinary(t testing.TB, dir, name, pkg string, flags ...string) string {
	buildMu.Lock()
	defer buildMu.Unlock()
	path := filepath.Join(tempBinDir(t), dir, name)
	if binPaths[path] != "" {
		return path
	}
	cmd := exec.Command("go", append(append([]string{"build"}, flags...), "-o", path, pkg)...)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", strings.Join(cmd.Args[2:], " "), err, out)
	}
	binPaths[path] = path
	return path
}

// tempBinDir is the directory of every binary the tests build, removed by
// TestMain; the caller holds buildMu.
func tempBinDir(t testing.TB) string {
	if binDir == "" {
		dir, err := os.MkdirTemp("", "headroom-bin-")
		if err != nil {
			t.Fatal(err)
		}
		binDir = dir
	}
	return binDir
}

func benchmarkScrape(b *testing.B, clients, databases int) scrapeMedians {
	pg := testenv.StartPostgres(b, testenv.PostgresOptions{MaxConnections: clients + 100,
		Settings: []string{"shared_preload_libraries = 'pg_stat_statements'"}})
	// headroom connects as its own role, so that pg_stat_statements tells
	// its queries from the same ones the floor runs as postgres.
	pg.Exec(b, "postgres", "CREATE EXTENSION pg_stat_statements", "CREATE ROLE headroom LOGIN IN ROLE pg_monitor")
	replica := pg.StartReplica(b)
	bouncer := testenv.StartPgBouncer(b, pg, testenv.PgBouncerOptions{DefaultPoolSize: 5, MaxClientConn: clients})
	rds := testenv.StartRedis(b, testenv.RedisOptions{MaxMemory: "64mb"})
	for i := 0; i < databases; i++ {
		pg.Exec(b, "postgres", fmt.Sprintf("CREATE DATABASE db%d", i))
		pg.Exec(b, fmt.Sprintf("db%d", i), "CREATE TABLE t (id bigserial PRIMARY KEY, v int, at timestamptz DEFAULT now())")
	}

	stopLoad := startLoad(b, pg, bouncer, rds, clients, databases)
	defer stopLoad()

	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(b))
	cfgPath := writeBenchConfig(b, pg, replica, bouncer, rds)
	exporter := exec.Command(exporterBinary(b), "serve", "--config.file="+cfgPath, "--web.listen-address="+addr, "--log.level=warn")
	exporter.Stderr = os.Stderr
	if err := exporter.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { exporter.Process.Kill(); exporter.Wait() }()
	url := "http://" + addr + "/metrics"
	waitListening(b, addr)

	for i := 0; i < 5; i++ { // warm: connections made, statements cached
		scrapeOnce(b, url)
	}
	openedBefore := connectionsOpened(scrapeOnce(b, url).families)
	cpuBefore := processCPU(b, exporter.Process.Pid)

	// The floor is measured in the same loop, one scrape then the same
	// queries run directly (all targets at once, then one after another),
	// the order turning each round: the load and the machine drift over a
	// run, and a floor measured afterwards compared different conditions.
	floor := newDirectQueries(b, pg, replica, bouncer, rds)
	for i := 0; i < 5; i++ {
		floor.concurrent(b)
		floor.sequential(b)
	}
	pg.Exec(b, "postgres", "SELECT pg_stat_statements_reset()")
	var full, concurrent, sequential []time.Duration
	perTarget := map[string][]float64{}
	directEach := make([][]time.Duration, len(floor.names))
	var wireBytes, series int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := 0; k < 3; k++ {
			switch (i + k) % 3 {
			case 0:
				r := scrapeOnce(b, url)
				full = append(full, r.took)
				wireBytes += r.bytes
				series += r.series
				for target, secs := range r.targetDurations {
					perTarget[target] = append(perTarget[target], secs)
				}
			case 1:
				took, each := floor.concurrent(b)
				concurrent = append(concurrent, took)
				for j, d := range each {
					directEach[j] = append(directEach[j], d)
				}
			case 2:
				sequential = append(sequential, floor.sequential(b))
			}
		}
	}
	b.StopTimer()
	reportServerTime(b, pg, b.N)
	cpu := processCPU(b, exporter.Process.Pid) - cpuBefore
	last := scrapeOnce(b, url)
	opened := connectionsOpened(last.families) - openedBefore
	for _, up := range last.families["headroom_target_up"].GetMetric() {
		if up.GetGauge().GetValue() != 1 {
			b.Fatalf("target down during the benchmark: %v", up.GetLabel())
		}
	}
	rss, hwm, anon := processMemory(b, exporter.Process.Pid)
	floorRSS, floorAnon := rssFloor(b, pg, rds, b.N)
	direct, directSequential := quantile(concurrent, 0.5), quantile(sequential, 0.5)

	med, p95 := quantile(full, 0.5), quantile(full, 0.95)
	b.ReportMetric(ms(med), "median-ms")
	b.ReportMetric(ms(p95), "p95-ms")
	b.ReportMetric(ms(direct), "direct-median-ms")
	b.ReportMetric(float64(med)/float64(direct), "scrape/direct")
	// What the exporter adds to its servers' own time: the part of a
	// scrape that is headroom's to make cheaper, and that should not grow
	// with the connections and databases it reports on.
	b.ReportMetric(ms(med-direct), "overhead-ms")
	b.ReportMetric(ms(directSequential), "direct-sequential-median-ms")
	b.ReportMetric(float64(med)/float64(directSequential), "scrape/direct-sequential")
	b.ReportMetric(float64(wireBytes)/float64(b.N), "gzip-bytes/scrape")
	b.ReportMetric(float64(series)/float64(b.N), "series/scrape")
	b.ReportMetric(cpu.Seconds()*1000/float64(b.N+1), "cpu-ms/scrape")
	b.ReportMetric(float64(rss)/(1<<20), "rss-MiB")
	b.ReportMetric(float64(hwm)/(1<<20), "peak-rss-MiB")
	b.ReportMetric(float64(anon)/(1<<20), "anon-rss-MiB")
	b.ReportMetric(float64(floorRSS)/(1<<20), "floor-rss-MiB")
	b.ReportMetric(float64(floorAnon)/(1<<20), "floor-anon-rss-MiB")
	b.ReportMetric(opened/float64(b.N), "conns-opened/scrape")
	for _, target := range sortedTargets(perTarget) {
		d := perTarget[target]
		sort.Float64s(d)
		b.ReportMetric(d[len(d)/2]*1000, target+"-median-ms")
		b.ReportMetric(d[int(float64(len(d)-1)*0.95)]*1000, target+"-p95-ms")
		if j := slices.Index(floor.names, target); j >= 0 {
			b.ReportMetric(ms(quantile(directEach[j], 0.5)), target+"-direct-median-ms")
		}
	}
	return scrapeMedians{scrape: med, direct: direct}
}

// rssFloor runs testdata/rssfloor (the libraries headroom links, with one
// query to PostgreSQL and one INFO to Redis a scrape) against the same
// servers, scrapes it as often as headroom was, and returns its RSS and
// the anonymous part of it.
func rssFloor(b *testing.B, pg *testenv.Postgres, rds *testenv.Redis, scrapes int) (rss, anon int64) {
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(b))
	floor := exec.Command(rssFloorBinary(b), "--postgres="+pg.DSN("postgres", "postgres"), "--redis="+rds.Addr(), "--web.listen-address="+addr)
	floor.Stderr = os.Stderr
	if err := floor.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { floor.Process.Kill(); floor.Wait() }()
	waitListening(b, addr)
	for i := 0; i < scrapes; i++ {
		if r := scrapeOnce(b, "http://"+addr+"/metrics"); r.families["rssfloor_backends"] == nil {
			b.Fatal("rssfloor did not reach PostgreSQL")
		}
	}
	rss, _, anon = processMemory(b, floor.Process.Pid)
	return rss, anon
}

// startLoad holds `clients` connections spread over the databases, which
// write writesPerSecond rows a second between them; one in ten goes
// through PgBouncer, and a Redis client reads and writes alongside.
func startLoad(b *testing.B, pg *testenv.Postgres, bouncer *testenv.PgBouncer, rds *testenv.Redis, clients, databases int) func() {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var failures atomic.Int64
	for i := 0; i < clients; i++ {
		db := fmt.Sprintf("db%d", i%databases)
		dsn := pg.DSN(db, "postgres")
		if i%10 == 9 {
			dsn = bouncer.DSN(fmt.Sprintf("db%d", i%4), "postgres")
		}
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			b.Fatal(err)
		}
		cfg.RuntimeParams["application_name"] = fmt.Sprintf("app%d", i%5)
		cfg.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
		if i%10 != 9 {
			conn, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				b.Fatalf("client %d: %v", i, err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer conn.Close(context.Background())
				writeLoop(ctx, conn, clients, &failures)
			}()
			continue
		}
		// Clients beyond PgBouncer's pool wait there: connect in the
		// background so that start-up does not block on them.
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := pgx.ConnectConfig(ctx, cfg)
			if err != nil {
				return
			}
			defer conn.Close(context.Background())
			writeLoop(ctx, conn, clients, &failures)
		}()
	}
	rc := redis.NewClient(&redis.Options{Addr: rds.Addr()})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer rc.Close()
		for i := 0; ctx.Err() == nil; i++ {
			rc.Set(ctx, fmt.Sprintf("k%d", i%5000), strings.Repeat("v", 256), 0)
			rc.Get(ctx, fmt.Sprintf("k%d", (i*7)%10000))
			time.Sleep(time.Millisecond)
		}
	}()
	return func() {
		cancel()
		wg.Wait()
	}
}

// writesPerSecond is the write load of every size, spread over its
// clients: a busy OLTP API. What doubles is what the target names, the
// connections and the databases; doubling the writes too (one a second
// per client, as this benchmark once did) doubled the CPU that PostgreSQL,
// its replica and the load itself took from this two-core machine, and
// every latency on it grew with that, the direct queries' as much as the
// scrape's.
const writesPerSecond = 300

func writeLoop(ctx context.Context, conn *pgx.Conn, clients int, failures *atomic.Int64) {
	tick := time.NewTicker(time.Duration(clients) * time.Second / writesPerSecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			if _, err := conn.Exec(ctx, "INSERT INTO t (v) VALUES (1)"); err != nil && ctx.Err() == nil {
				failures.Add(1)
			}
		}
	}
}

func writeBenchConfig(b *testing.B, pg, replica *testenv.Postgres, bouncer *testenv.PgBouncer, rds *testenv.Redis) string {
	cfg := fmt.Sprintf(`postgres:
  - name: primary
    dsn: %s
    pools: {app0: 13, app1: 13, app2: 13, app3: 13, app4: 13}
    database_sizes: true
  - name: replica
    dsn: %s
pgbouncer:
  - name: bouncer
    dsn: %s
redis:
  - name: cache
    address: %s
`, pg.DSN("postgres", "headroom"), replica.DSN("postgres", "headroom"), bouncer.AdminDSN(), rds.Addr())
	dir, err := os.MkdirTemp("", "headroom-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "headroom.yml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		b.Fatal(err)
	}
	return path
}

type scrapeResult struct {
	took            time.Duration
	bytes, series   int
	families        map[string]*dto.MetricFamily
	targetDurations map[string]float64
}

func scrapeOnce(b *testing.B, url string) scrapeResult {
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "10")
	// Asked for explicitly, the transport leaves the body compressed: the
	// time is the exporter's, not this client's gunzip, and the bytes are
	// what crosses the wire, as for Prometheus.
	req.Header.Set("Accept-Encoding", "gzip")
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	wire, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	if err != nil || resp.StatusCode != 200 {
		b.Fatalf("scrape: %d %v", resp.StatusCode, err)
	}
	body := wire
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(bytes.NewReader(wire))
		if err != nil {
			b.Fatal(err)
		}
		if body, err = io.ReadAll(zr); err != nil {
			b.Fatal(err)
		}
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	r := scrapeResult{took: took, bytes: len(wire), families: fams, targetDurations: map[string]float64{}}
	for _, f := range fams {
		r.series += len(f.GetMetric())
	}
	for _, m := range fams["headroom_target_scrape_duration_seconds"].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "target" {
				r.targetDurations[lp.GetValue()] = m.GetGauge().GetValue()
			}
		}
	}
	return r
}

func connectionsOpened(fams map[string]*dto.MetricFamily) float64 {
	total := 0.0
	for _, m := range fams["headroom_target_connections_opened_total"].GetMetric() {
		total += m.GetCounter().GetValue()
	}
	return total
}

// directQueries are the exporter's own queries on open connections, one
// job per target: the floor a scrape is compared with.
type directQueries struct {
	names []string
	jobs  []func() error
}

func newDirectQueries(b *testing.B, pg, replica *testenv.Postgres, bouncer *testenv.PgBouncer, rds *testenv.Redis) *directQueries {
	ctx := context.Background()
	d := &directQueries{}
	for _, server := range []*testenv.Postgres{pg, replica} {
		conn := server.Connect(b, "postgres")
		var version int
		if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
			b.Fatal(err)
		}
		queries, err := collectors.PostgresQueries(version, server.Replica, false)
		if err != nil {
			b.Fatal(err)
		}
		d.names = append(d.names, map[bool]string{false: "primary", true: "replica"}[server.Replica])
		d.jobs = append(d.jobs, func() error { return runAll(ctx, conn, queries) })
	}
	admin := bouncer.ConnectAdmin(b)
	d.names = append(d.names, "bouncer")
	d.jobs = append(d.jobs, func() error {
		for _, q := range []string{"SHOW POOLS", "SHOW STATS", "SHOW DATABASES", "SHOW CONFIG"} {
			rows, err := admin.Query(ctx, q)
			if err != nil {
				return err
			}
			for rows.Next() {
			}
			rows.Close()
		}
		return nil
	})
	rc := rds.Client(b)
	d.names = append(d.names, "cache")
	d.jobs = append(d.jobs, func() error { return rc.Info(ctx).Err() })
	return d
}

// concurrent runs every target's queries at once, as a scrape does, and
// returns the time for all and for each.
func (d *directQueries) concurrent(b *testing.B) (time.Duration, []time.Duration) {
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, len(d.jobs))
	each := make([]time.Duration, len(d.jobs))
	for k, job := range d.jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t0 := time.Now()
			errs[k] = job()
			each[k] = time.Since(t0)
		}()
	}
	wg.Wait()
	took := time.Since(start)
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	return took, each
}

// sequential runs the targets' queries one target after another, as
// someone checking by hand would.
func (d *directQueries) sequential(b *testing.B) time.Duration {
	start := time.Now()
	for _, job := range d.jobs {
		if err := job(); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start)
}

func processCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const clockTicks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clockTicks
}

// processMemory reads RSS, its peak, and its anonymous part: the rest of
// RSS is the binary's own code pages, shared and reclaimable.
func processMemory(b *testing.B, pid int) (rss, peak, anon int64) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		fields := strings.Fields(line)
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			peak = kb << 10
		case "RssAnon:":
			anon = kb << 10
		}
	}
	return rss, peak, anon
}

func quantile(d []time.Duration, q float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(float64(len(s)-1)*q)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func sortedTargets(m map[string][]float64) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// reportServerTime reports, from the primary's pg_stat_statements, what
// headroom's queries cost that server per scrape with database sizes on
// and the default query_ttl, the size query cached since the warm-up
// scrapes: in all (pg-server-ms/scrape), the activity query's own part,
// and the size query's runs in the loop. The floor leaves sizes out, as a
// steady-state scrape does, so the size query's own cost is measured
// after the loop: run sizeRuns times directly, its mean is what
// query_ttl 0 adds to every scrape. From the two, its share of the server
// time per scrape uncached, and with the 5 minute TTL at Prometheus's
// default 15 s interval, where one scrape in 20 runs it.
func reportServerTime(b *testing.B, pg *testenv.Postgres, scrapes int) {
	const sizeRuns, scrapesPerTTL = 20, 20
	ctx := context.Background()
	conn := pg.Connect(b, "postgres")
	defer conn.Close(ctx)
	version, err := strconv.Atoi(serverVersionNum(b, conn))
	if err != nil {
		b.Fatal(err)
	}
	withSizes, err := collectors.PostgresQueries(version, false, true)
	if err != nil {
		b.Fatal(err)
	}
	without, _ := collectors.PostgresQueries(version, false, false)
	sizeQuery := ""
	for _, q := range withSizes {
		if !slices.Contains(without, q) {
			sizeQuery = q
		}
	}
	for range sizeRuns {
		rows, err := conn.Query(ctx, sizeQuery)
		if err != nil {
			b.Fatal(err)
		}
		for rows.Next() {
		}
		if err := rows.Err(); err != nil {
			b.Fatal(err)
		}
	}
	var total, activity, sizeCalls, sizeInLoop, sizeMean float64
	err = conn.QueryRow(ctx, `
SELECT coalesce(sum(s.total_exec_time) FILTER (WHERE r.rolname = 'headroom'), 0),
       coalesce(sum(s.total_exec_time) FILTER (WHERE r.rolname = 'headroom' AND s.query LIKE '%pg_stat_get_activity(NULL)%'), 0),
       coalesce(sum(s.calls) FILTER (WHERE r.rolname = 'headroom' AND s.query LIKE '%pg_database_size(%'), 0)::float8,
       coalesce(sum(s.total_exec_time) FILTER (WHERE r.rolname = 'headroom' AND s.query LIKE '%pg_database_size(%'), 0),
       coalesce(sum(s.total_exec_time) FILTER (WHERE r.rolname = 'postgres' AND s.query LIKE '%pg_database_size(%'), 0) / $1
FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid`, float64(sizeRuns)).Scan(&total, &activity, &sizeCalls, &sizeInLoop, &sizeMean)
	if err != nil {
		b.Fatal(err)
	}
	perScrape := total / float64(scrapes)
	others := (total - sizeInLoop) / float64(scrapes)
	b.ReportMetric(perScrape, "pg-server-ms/scrape")
	b.ReportMetric(activity/float64(scrapes), "pg-activity-ms/scrape")
	b.ReportMetric(sizeCalls, "pg-size-runs-in-loop")
	b.ReportMetric(sizeMean, "pg-size-ms/run")
	b.ReportMetric(100*sizeMean/(others+sizeMean), "pg-size-share-ttl0-%")
	b.ReportMetric(100*(sizeMean/scrapesPerTTL)/(others+sizeMean/scrapesPerTTL), "pg-size-share-ttl5m@15s-%")
}

func serverVersionNum(b *testing.B, conn *pgx.Conn) string {
	var v string
	if err := conn.QueryRow(context.Background(), "SHOW server_version_num").Scan(&v); err != nil {
		b.Fatal(err)
	}
	return v
}
