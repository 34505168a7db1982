package dashboards

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/headroom-dev/headroom/alerts"
	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/collectors"
	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/standin"
	"github.com/headroom-dev/headroom/internal/testenv"
)

// renderExempt lists, in one place, the panels that may be empty in the
// render test, and why. Every other query of every dashboard must return
// data.
var renderExempt = map[string]string{
	Overview + "/Firing scaling alerts":                                       "ALERTS has series only while an alert fires; the counts beside it are never empty",
	Overview + "/Autoscaler replicas: current, desired, max, asked for":       "kube-state-metrics' HPA series (catalogue.ExternalInputs), which the render test has no source for",
	Overview + "/Autoscaler thrashing: minutes rising and falling within 10m": "kube-state-metrics' HPA series, which the render test has no source for",
	Overview + "/Scaling events per hour":                                     "recorded from kube-state-metrics' HPA series, which the render test has no source for",
	Overview + "/Requests per second per replica":                             "recorded over kube-state-metrics' current replicas, which the render test has no source for",
	Overview + "/Cost per 1,000 requests":                                     "recorded from kube-state-metrics' current replicas, which the render test has no source for",
}

// selectorExempt lists, by metric, the selectors that may match no series
// in the render test, and why. A panel query's result alone does not show
// its selectors match: "count(x) or vector(0)", a stat's "or vector(1)"
// for absence, or a fallback after "or" answer with data whatever x
// selects. So every selector of every query must select series itself.
var selectorExempt = map[string]string{
	"ALERTS":                      "has series only while an alert fires; the render test induces none",
	catalogue.RecordScalingEvents: "recorded from kube-state-metrics' HPA series, which the render test has no source for",
	"workload:api_requests_per_replica:rate5m":     "recorded over kube-state-metrics' current replicas, which the render test has no source for",
	"workload:api_cost_per_request_dollars:rate5m": "recorded from kube-state-metrics' current replicas, which the render test has no source for",
	"kube_horizontalpodautoscaler_spec_max_replicas": "kube-state-metrics (catalogue.ExternalInputs), which the render test has no source for; " +
		"the panels fall back to autoscaling.max_replicas",
	"kube_horizontalpodautoscaler_status_desired_replicas": "kube-state-metrics (catalogue.ExternalInputs), which the render test has no source for",
	"kube_horizontalpodautoscaler_spec_min_replicas": "kube-state-metrics (catalogue.ExternalInputs), which the render test has no source for; " +
		"the panel falls back to autoscaling.min_replicas",
	"kube_horizontalpodautoscaler_status_current_replicas": "kube-state-metrics (catalogue.ExternalInputs), which the render test has no source for; " +
		"the panel falls back to the API instances Prometheus sees, else autoscaling.min_replicas",
}

// renderRateInterval stands for $__rate_interval: long enough for two
// samples at the test's 1s scrape interval, short enough to need no wait.
const renderRateInterval = "1m"

// A real Prometheus scraping the exporter, which watches throwaway
// PostgreSQL (primary and streaming replica), PgBouncer, Redis (master and
// replica) and the stand-in API, and evaluating the bundle's recording
// rules, answers every query of every dashboard with data, and with no
// NaN or infinite value. The committed preset (health-agent) is rendered.
func TestRender(t *testing.T) {
	start := time.Now()
	cfg, err := catalogue.Preset(committedPreset)
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := alerts.Generate(catalogue.MustBuild(cfg))
	if err != nil {
		t.Fatal(err)
	}
	ds, err := Build(catalogue.MustBuild(cfg))
	if err != nil {
		t.Fatal(err)
	}

	// Servers.
	var pg, replica *testenv.Postgres
	var rd, rdReplica *testenv.Redis
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		rd = testenv.StartRedis(t, testenv.RedisOptions{MaxMemory: "64mb"})
		rdReplica = testenv.StartRedis(t, testenv.RedisOptions{ReplicaOf: rd})
	}()
	pg = testenv.StartPostgres(t, testenv.PostgresOptions{})
	pg.Exec(t, "postgres",
		"CREATE ROLE app LOGIN CONNECTION LIMIT 20",
		"CREATE DATABASE app OWNER app CONNECTION LIMIT 30",
		"SELECT pg_create_physical_replication_slot('dashboards_test', true)")
	replica = pg.StartReplica(t)
	bouncer := testenv.StartPgBouncer(t, pg, testenv.PgBouncerOptions{Settings: []string{"max_db_connections = 50"}})
	wg.Wait()
	rdReplica.WaitReplicaSynced(t)

	api := standin.New()
	apiSrv := httptest.NewServer(api.Handler())
	t.Cleanup(apiSrv.Close)

	// Load: application pool connections, transactions through PgBouncer,
	// cache hits and misses on keys with and without a TTL, API requests.
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	poolConn := pg.ConnectAs(t, "app", "app", "api")
	bouncerConn := connect(t, bouncer.DSN("app", "app"))
	cache := rd.Client(t)
	for i := 0; i < 20; i++ {
		cache.Set(ctx, fmt.Sprintf("key:%d", i), "v", 0)
		cache.Set(ctx, fmt.Sprintf("ttl:%d", i), "v", time.Hour)
	}
	var load sync.WaitGroup
	load.Add(2)
	go func() {
		defer load.Done()
		for ctx.Err() == nil {
			poolConn.Exec(ctx, "SELECT 1")
			bouncerConn.Exec(ctx, "SELECT 1")
			cache.Get(ctx, "key:1")
			cache.Get(ctx, "missing")
			time.Sleep(50 * time.Millisecond)
		}
	}()
	go func() { defer load.Done(); standin.Drive(ctx, apiSrv.URL, 20) }()
	t.Cleanup(func() { cancel(); load.Wait() })

	// The exporter, in-process.
	exporterYAML := fmt.Sprintf(`postgres:
  - {name: pg-primary, dsn: '%s', pools: {api: 13}, database_sizes: true}
  - {name: pg-replica, dsn: '%s'}
pgbouncer:
  - {name: bouncer, dsn: '%s'}
redis:
  - {name: cache, address: '%s'}
  - {name: cache-replica, address: '%s'}
api:
  - name: health-agent
    health_url: %s/api/health
    metrics_url: %s/api/v1/metrics
    json_fields: [{name: db_pool_utilization_percent, path: database.pool_utilization_percent}]
`, pg.DSN("postgres", "postgres"), replica.DSN("postgres", "postgres"), bouncer.AdminDSN(), rd.Addr(), rdReplica.Addr(), apiSrv.URL, apiSrv.URL)
	ecfg, err := config.Parse("render.yml", []byte(exporterYAML))
	if err != nil {
		t.Fatal(err)
	}
	exp, err := collectors.New(ecfg, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(exp.Close)
	mux := http.NewServeMux()
	mux.Handle("/metrics", exp.MetricsHandler())
	expSrv := httptest.NewServer(mux)
	t.Cleanup(expSrv.Close)

	// Prometheus with the bundle's recording rules.
	rules := filepath.Join(t.TempDir(), alerts.FileRules)
	if err := os.WriteFile(rules, bundle[alerts.FileRules], 0o644); err != nil {
		t.Fatal(err)
	}
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{
		Targets:   []string{strings.TrimPrefix(expSrv.URL, "http://")},
		Jobs:      map[string][]string{"health-agent-api": {strings.TrimPrefix(apiSrv.URL, "http://")}},
		RuleFiles: []string{rules},
	})
	t.Logf("servers up after %s", time.Since(start).Round(time.Millisecond))

	// Every query, retried until it has data or the deadline passes: rates
	// need two scrapes, recording rules an evaluation after that. And every
	// selector of every query (exempt panels' too), on its own.
	type pending struct{ where, expr string }
	var todo []pending
	selectors := map[string][]string{} // selector: the panels that read it
	var selectorOrder []string
	usedExempt := map[string]bool{}
	for _, name := range Names {
		for _, p := range allPanels(ds[name]) {
			key := name + "/" + str(p.Title)
			if readsForecasts(t, p) {
				continue // TestRenderForecasts
			}
			for _, q := range exprsOf(t, p) {
				for _, sel := range selectorsOf(t, renderable(q.expr)) {
					if _, ok := selectorExempt[sel.metric]; ok {
						usedExempt[sel.metric] = true
						continue
					}
					if _, ok := selectors[sel.text]; !ok {
						selectorOrder = append(selectorOrder, sel.text)
					}
					selectors[sel.text] = append(selectors[sel.text], key)
				}
			}
			if _, ok := renderExempt[key]; ok {
				continue
			}
			for _, q := range exprsOf(t, p) {
				todo = append(todo, pending{key, renderable(q.expr)})
			}
		}
		for _, v := range ds[name].Templating.List {
			if v.Name != "job" && v.Name != "target" {
				continue // the test's Prometheus has no cluster label
			}
			m := labelValues.FindStringSubmatch(str(v.Query.String))
			todo = append(todo, pending{name + "/variable " + v.Name, fmt.Sprintf("count by (%s) (%s)", m[2], renderable(m[1]))})
		}
	}
	for _, sel := range selectorOrder {
		panels := dedupe(selectors[sel])
		if len(panels) > 3 {
			panels = append(panels[:3], fmt.Sprintf("and %d more", len(panels)-3))
		}
		todo = append(todo, pending{fmt.Sprintf("selector %s (in %s)", sel, strings.Join(panels, ", ")), "count(" + sel + ")"})
	}
	for metric := range selectorExempt {
		if !usedExempt[metric] {
			t.Errorf("selectorExempt lists %s, which no panel selects", metric)
		}
	}
	for key := range renderExempt {
		found := false
		for _, name := range Names {
			for _, p := range allPanels(ds[name]) {
				found = found || name+"/"+str(p.Title) == key
			}
		}
		if !found {
			t.Errorf("renderExempt lists %q, which no dashboard has", key)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	problems := map[string]string{}
	for {
		var next []pending
		for _, q := range todo {
			v, err := instant(prom, q.expr)
			switch {
			case err != nil:
				problems[q.where] = fmt.Sprintf("%v\n%s", err, q.expr)
			case len(v) == 0:
				problems[q.where] = "no data for\n" + q.expr
			default:
				bad := ""
				for _, s := range v {
					if f := float64(s.Value); math.IsNaN(f) || math.IsInf(f, 0) {
						bad = fmt.Sprintf("%s = %v", s.Metric, f)
					}
				}
				if bad == "" {
					delete(problems, q.where)
					continue
				}
				problems[q.where] = bad + " (NaN or infinite) for\n" + q.expr
			}
			next = append(next, q)
		}
		todo = next
		if len(todo) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	for _, q := range todo {
		t.Errorf("%s: %s", q.where, problems[q.where])
	}
	checkDBHeadroom(t, prom, cfg, ds[Overview])
	t.Logf("every query answered %s after start", time.Since(start).Round(time.Millisecond))
}

// checkDBHeadroom: the connection headroom stat reads PgBouncer's
// max_client_conn less the API instances Prometheus sees (no
// kube-state-metrics here) x the pool size per pod, in pods, rounded down,
// worked out here from the raw inputs. It is about the whole deployment, so
// it ignores $target: with one PostgreSQL target, the standby or PgBouncer
// chosen it reads the same.
func checkDBHeadroom(t *testing.T, prom *testenv.Prometheus, cfg *catalogue.Config, overview dashboard.Dashboard) {
	t.Helper()
	h, ok := catalogue.DBConnectionHeadroom(cfg)
	if !ok {
		t.Fatalf("preset %s has no connection headroom", committedPreset)
	}
	var raw string
	for _, p := range allPanels(overview) {
		if str(p.Title) == dbHeadroomTitle {
			raw = exprsOf(t, p)[0].expr
		}
	}
	if raw == "" {
		t.Fatalf("no panel %q on the overview", dbHeadroomTitle)
	}
	if strings.Contains(raw, "$target") {
		t.Errorf("%s is scoped by $target, which cuts the targets it joins:\n%s", dbHeadroomTitle, raw)
	}
	expr := renderable(raw)
	one := func(q string) float64 {
		t.Helper()
		v, err := instant(prom, q)
		if err != nil || len(v) != 1 {
			t.Fatalf("%s: %v %v, want one value", q, v, err)
		}
		return float64(v[0].Value)
	}
	usable := one("sum(" + h.Usable + ")")
	pods := one(`count(instance:api_cpu_utilisation:ratio)`)
	pool := float64(h.PoolSizePerPod)
	want := math.Floor((usable - pods*pool) / pool)
	if got := one(expr); got != want {
		t.Errorf("%s = %v, want (%v usable - %v pods x %v) / %v rounded down = %v\n%s", dbHeadroomTitle, got, usable, pods, pool, pool, want, expr)
	}
	for _, target := range []string{"pg-primary", "pg-replica", "bouncer"} {
		q := renderableWithTarget(raw, target)
		if got := one(q); got != want {
			t.Errorf("%s with $target = %s: %v, want %v as with All\n%s", dbHeadroomTitle, target, got, want, q)
		}
	}
	t.Logf("%s: %v (%v usable, %v pods x %v)", dbHeadroomTitle, want, usable, pods, pool)
}

// selector is one vector selector of a query, as Prometheus prints it.
type selector struct{ metric, text string }

// selectorsOf returns the vector selectors of a query.
func selectorsOf(t *testing.T, expr string) []selector {
	t.Helper()
	e, err := catalogue.ParseExpr(expr)
	if err != nil {
		t.Fatalf("%v\n%s", err, expr)
	}
	var out []selector
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			out = append(out, selector{vs.Name, vs.String()})
		}
		return nil
	})
	return out
}

func dedupe(list []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// renderable substitutes the dashboard variables as Grafana would with
// All selected (.* for cluster and target, .+ for job), and
// $__rate_interval.
func renderable(expr string) string {
	return strings.NewReplacer(
		"$__rate_interval", renderRateInterval,
		`"$cluster"`, `".*"`, `"$job"`, `".+"`, `"$target"`, `".*"`,
	).Replace(expr)
}

// renderableWithTarget is renderable with one target chosen in $target.
func renderableWithTarget(expr, target string) string {
	return renderable(strings.ReplaceAll(expr, `"$target"`, fmt.Sprintf("%q", target)))
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect %s: %v", dsn, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func instant(p *testenv.Prometheus, expr string) (model.Vector, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, _, _, err := p.API.Query(ctx, expr, time.Now())
	if err != nil {
		return nil, err
	}
	vec, ok := v.(model.Vector)
	if !ok {
		return nil, fmt.Errorf("want a vector, got %s", v.Type())
	}
	return vec, nil
}
