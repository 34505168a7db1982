// Package e2e runs the whole bundle the way its users meet it: throwaway
// PostgreSQL (primary and replica), PgBouncer and Redis, a stand-in API, the
// exporter, a real Prometheus loading the generated rules and a real
// Alertmanager loading the generated routing, with a webhook standing in for
// the pager and the ticket queue. Each scenario induces a cause, waits for
// the right alert to reach the right receiver, removes the cause and waits
// for the resolution.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/headroom-dev/headroom/alerts"
	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/replay"
	"github.com/headroom-dev/headroom/internal/standin"
	"github.com/headroom-dev/headroom/internal/testenv"
)

// Shortened for the test: every `for` and keep_firing_for, and every rate
// window. Thresholds stay the preset's.
const (
	testFor    = 3 * time.Second
	testWindow = 10 * time.Second
)

// notification is one alert as a receiver got it.
type notification struct {
	receiver string
	status   string
	labels   map[string]string
	annot    map[string]string
	// group is the labels of the notification's group (groupLabels):
	// what the route's group_by kept together.
	group map[string]string
	at    time.Time
}

type webhook struct {
	mu   sync.Mutex
	seen []notification
}

func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	var msg struct {
		Receiver    string            `json:"receiver"`
		GroupLabels map[string]string `json:"groupLabels"`
		Alerts      []struct {
			Status      string            `json:"status"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"alerts"`
	}
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &msg); err != nil {
		http.Error(rw, err.Error(), http.StatusBadRequest)
		return
	}
	now := time.Now()
	w.mu.Lock()
	for _, a := range msg.Alerts {
		w.seen = append(w.seen, notification{receiver: msg.Receiver, status: a.Status, labels: a.Labels, annot: a.Annotations, group: msg.GroupLabels, at: now})
	}
	w.mu.Unlock()
}

// wait returns the first notification after since that matches.
func (w *webhook) wait(t *testing.T, since time.Time, within time.Duration, alertname, status string, labels ...string) notification {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		w.mu.Lock()
		for _, n := range w.seen {
			if n.at.Before(since) || n.labels["alertname"] != alertname || n.status != status {
				continue
			}
			ok := true
			for i := 0; i+1 < len(labels); i += 2 {
				ok = ok && n.labels[labels[i]] == labels[i+1]
			}
			if ok {
				w.mu.Unlock()
				return n
			}
		}
		w.mu.Unlock()
		if time.Now().After(deadline) {
			t.Fatalf("no %s notification of %s%v within %s; got:\n%s", status, alertname, labels, within, w.dump(since))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// firedSince lists alert names notified as firing since t, by receiver.
func (w *webhook) firedSince(since time.Time) map[string][]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string][]string{}
	for _, n := range w.seen {
		if !n.at.Before(since) && n.status == "firing" {
			out[n.labels["alertname"]] = append(out[n.labels["alertname"]], n.receiver)
		}
	}
	return out
}

func (w *webhook) dump(since time.Time) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var lines []string
	for _, n := range w.seen {
		if !n.at.Before(since) {
			lines = append(lines, fmt.Sprintf("  %s %s %s %v", n.at.Format("15:04:05.0"), n.receiver, n.status, n.labels))
		}
	}
	return strings.Join(lines, "\n")
}

type bundle struct {
	pg, replica *testenv.Postgres
	bouncer     *testenv.PgBouncer
	cache       *testenv.Redis
	api         *standin.API
	prom        *testenv.Prometheus
	am          *testenv.Alertmanager
	hook        *webhook
	timings     []string
	// ruleFiles are the generated rule files Prometheus loaded.
	ruleFiles []string
}

func TestEndToEnd(t *testing.T) {
	pint := buildPint(t)
	b := startBundle(t)

	// The idle system first: with nothing scaling up, the scale-down
	// tickets arrive (CPU 20 %, memory 15 %, DB pool empty).
	t.Run("idle system raises scale-down tickets", func(t *testing.T) {
		for _, name := range []string{"CPULow", "MemoryLow", "DBPoolLow"} {
			n := b.hook.wait(t, time.Time{}, 90*time.Second, name, "firing")
			b.expectRouted(t, n, "ticket")
		}
	})

	var cpuFrom, cpuTo time.Time // the CPU scale-up scenario's range, replayed below
	t.Run("scale-down stays inhibited while a scale-up fires", func(t *testing.T) {
		cause := time.Now()
		cpuFrom = cause
		defer func() { cpuTo = time.Now() }()
		b.api.SetCPU(0.95)
		n := b.hook.wait(t, cause, 60*time.Second, "CPUHigh", "firing")
		b.expectRouted(t, n, "pager")
		b.record("CPUHigh", cause, n)
		// MemoryLow is still true, and silenced by CPUHigh.
		b.waitAMState(t, "MemoryLow", "suppressed", 30*time.Second)
		if fired := b.hook.firedSince(n.at.Add(2 * time.Second)); len(fired["MemoryLow"]) > 0 {
			t.Errorf("MemoryLow notified while CPUHigh fired: %v", fired)
		}
		b.api.SetCPU(0.5)
		b.hook.wait(t, cause, 60*time.Second, "CPUHigh", "resolved")
		b.waitAMState(t, "MemoryLow", "active", 30*time.Second)
	})

	t.Run("replay reports the CPU scale-up", func(t *testing.T) {
		b.replayCPUScaleUp(t, cpuFrom, cpuTo)
	})

	t.Run("DB pool saturation pages", func(t *testing.T) {
		cause := time.Now()
		var held []*pgx.Conn
		for i := 0; i < 5; i++ { // pool size 5: 100 % > 80 %
			held = append(held, b.pg.ConnectAs(t, "postgres", "postgres", "api"))
		}
		n := b.hook.wait(t, cause, 60*time.Second, "DBPoolHigh", "firing", "pool", "api")
		b.expectRouted(t, n, "pager")
		b.record("DBPoolHigh", cause, n)
		for _, c := range held {
			c.Close(context.Background())
		}
		b.hook.wait(t, cause, 60*time.Second, "DBPoolHigh", "resolved", "pool", "api")
	})

	t.Run("cache misses and evictions", func(t *testing.T) {
		client := b.cache.Client(t)
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		cause := time.Now()
		go func() {
			for i := 0; ctx.Err() == nil; i++ {
				client.Get(ctx, fmt.Sprintf("absent-%d", i))
				time.Sleep(5 * time.Millisecond)
			}
		}()
		n := b.hook.wait(t, cause, 60*time.Second, "CacheHitRateLow", "firing", "target", "cache")
		b.expectRouted(t, n, "ticket")
		b.record("CacheHitRateLow", cause, n)
		stop()
		b.hook.wait(t, cause, 60*time.Second, "CacheHitRateLow", "resolved", "target", "cache")

		ctx, stop = context.WithCancel(context.Background())
		defer stop()
		cause = time.Now()
		value := strings.Repeat("x", 16<<10)
		go func() { // 2 MB of maxmemory, overfilled continuously
			for i := 0; ctx.Err() == nil; i++ {
				client.Set(ctx, fmt.Sprintf("fill-%d", i), value, 0)
				time.Sleep(2 * time.Millisecond)
			}
		}()
		n = b.hook.wait(t, cause, 60*time.Second, "RedisEvictionsHigh", "firing", "target", "cache")
		b.expectRouted(t, n, "ticket")
		b.record("RedisEvictionsHigh", cause, n)
		stop()
		b.hook.wait(t, cause, 60*time.Second, "RedisEvictionsHigh", "resolved", "target", "cache")
	})

	t.Run("paused replay under writes raises replication lag", func(t *testing.T) {
		b.replica.Exec(t, "postgres", "SELECT pg_wal_replay_pause()")
		defer b.replica.Exec(t, "postgres", "SELECT pg_wal_replay_resume()")
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		cause := time.Now()
		conn := b.pg.Connect(t, "postgres")
		go func() {
			for ctx.Err() == nil {
				conn.Exec(ctx, "INSERT INTO writes VALUES (now())")
				time.Sleep(200 * time.Millisecond)
			}
		}()
		n := b.hook.wait(t, cause, 90*time.Second, "ReplicationLagHigh", "firing", "target", "replica", "severity", "warning")
		b.expectRouted(t, n, "ticket")
		b.record("ReplicationLagHigh (10s threshold)", cause, n)
		stop()
		b.replica.Exec(t, "postgres", "SELECT pg_wal_replay_resume()")
		b.hook.wait(t, cause, 60*time.Second, "ReplicationLagHigh", "resolved", "target", "replica")
	})

	t.Run("PgBouncer clients waiting", func(t *testing.T) {
		cause := time.Now()
		// Pool size 2: two queries run, the other two clients wait for a
		// server connection.
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				c, err := pgx.Connect(ctx, b.bouncer.DSN("postgres", "postgres"))
				if err != nil {
					return
				}
				defer c.Close(context.Background())
				c.Exec(ctx, "SELECT pg_sleep(120)")
			}()
		}
		n := b.hook.wait(t, cause, 60*time.Second, "PgBouncerClientsWaiting", "firing", "target", "bouncer")
		b.expectRouted(t, n, "pager")
		b.record("PgBouncerClientsWaiting", cause, n)
		stop()
		wg.Wait()
		b.hook.wait(t, cause, 60*time.Second, "PgBouncerClientsWaiting", "resolved", "target", "bouncer")
	})

	t.Run("API down, failing and slow", func(t *testing.T) {
		cause := time.Now()
		b.api.SetHealthy(false)
		n := b.hook.wait(t, cause, 60*time.Second, "APIDown", "firing")
		b.expectRouted(t, n, "pager")
		b.record("APIDown", cause, n)
		b.api.SetHealthy(true)
		b.hook.wait(t, cause, 90*time.Second, "APIDown", "resolved")

		cause = time.Now()
		b.api.SetErrorRate(0.1)
		n = b.hook.wait(t, cause, 60*time.Second, "APIErrorRateHigh", "firing")
		b.expectRouted(t, n, "pager")
		b.record("APIErrorRateHigh", cause, n)
		b.api.SetErrorRate(0)
		b.hook.wait(t, cause, 60*time.Second, "APIErrorRateHigh", "resolved")

		cause = time.Now()
		b.api.SetLatency(6 * time.Second)
		n = b.hook.wait(t, cause, 90*time.Second, "APILatencyP95High", "firing")
		b.expectRouted(t, n, "pager")
		b.record("APILatencyP95High", cause, n)
		b.api.SetLatency(0)
		b.hook.wait(t, cause, 90*time.Second, "APILatencyP95High", "resolved")
	})

	t.Run("a stopped target pages and inhibits its data-path alerts", func(t *testing.T) {
		client := b.cache.Client(t)
		ctx, stop := context.WithCancel(context.Background())
		defer stop()
		cause := time.Now()
		value := strings.Repeat("x", 16<<10)
		go func() { // used memory near the 2 MB maxmemory
			for i := 0; ctx.Err() == nil; i++ {
				client.Set(ctx, fmt.Sprintf("fill-%d", i%400), value, 0)
				time.Sleep(5 * time.Millisecond)
			}
		}()
		// Full since the eviction scenario, perhaps already notified then.
		n := b.hook.wait(t, time.Time{}, 60*time.Second, "RedisMemoryNearMax", "firing", "target", "cache")
		b.expectRouted(t, n, "pager")
		stop()

		cause = time.Now()
		b.cache.Stop(t)
		n = b.hook.wait(t, cause, 60*time.Second, "RedisDown", "firing", "target", "cache")
		b.expectRouted(t, n, "pager")
		b.record("RedisDown", cause, n)
		// RedisMemoryNearMax keeps firing (keep_firing_for) without data,
		// and Alertmanager holds it back while its target is down.
		b.waitAMState(t, "RedisMemoryNearMax", "suppressed", 20*time.Second)
		b.cache.Start(t)
		b.hook.wait(t, cause, 60*time.Second, "RedisDown", "resolved", "target", "cache")
	})

	// Last, when every scenario has produced its series.
	t.Run("every series a rule or panel uses exists or is a documented external input", func(t *testing.T) {
		b.lintOnline(t, pint.wait(t), e2eConfig(t))
		b.dashboardSeries(t, e2eConfig(t))
	})

	t.Logf("cause to notification (every `for` shortened to %s, rate windows to %s):\n%s",
		testFor, testWindow, strings.Join(b.timings, "\n"))
}

func (b *bundle) record(what string, cause time.Time, n notification) {
	b.timings = append(b.timings, fmt.Sprintf("  %-36s %5.1fs", what, n.at.Sub(cause).Seconds()))
}

// expectRouted checks the receiver, the labels every alert carries, and
// the runbook link.
func (b *bundle) expectRouted(t *testing.T, n notification, receiver string) {
	t.Helper()
	if n.receiver != receiver {
		t.Errorf("%s went to %s, want %s", n.labels["alertname"], n.receiver, receiver)
	}
	for _, l := range []string{"severity", "urgency", "action", "service"} {
		if n.labels[l] == "" {
			t.Errorf("%s lacks label %s: %v", n.labels["alertname"], l, n.labels)
		}
	}
	if _, ok := n.labels["direction"]; !ok {
		t.Errorf("%s lacks label direction: %v", n.labels["alertname"], n.labels)
	}
	want := "#" + strings.ToLower(n.labels["alertname"])
	if !strings.HasSuffix(n.annot["runbook_url"], want) || n.annot["summary"] == "" || n.annot["description"] == "" {
		t.Errorf("%s annotations: %v", n.labels["alertname"], n.annot)
	}
}

// waitAMState polls Alertmanager's API until an alert of that name is in
// the state (active, suppressed).
func (b *bundle) waitAMState(t *testing.T, alertname, state string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for {
		resp, err := http.Get(fmt.Sprintf("http://%s/api/v2/alerts?filter=alertname=%%22%s%%22", b.am.Addr(), alertname))
		if err == nil {
			var list []struct {
				Status struct {
					State       string   `json:"state"`
					InhibitedBy []string `json:"inhibitedBy"`
				} `json:"status"`
			}
			json.NewDecoder(resp.Body).Decode(&list)
			resp.Body.Close()
			for _, a := range list {
				last = a.Status.State
				if a.Status.State == state && (state != "suppressed" || len(a.Status.InhibitedBy) > 0) {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not %s in Alertmanager within %s (last state %q)", alertname, state, within, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func startBundle(t *testing.T) *bundle {
	b := &bundle{hook: &webhook{}}
	b.pg = testenv.StartPostgres(t, testenv.PostgresOptions{})
	b.pg.Exec(t, "postgres", "CREATE TABLE writes (at timestamptz)",
		// So that every series a dashboard reads exists: connection limits
		// on a role and a database, and a slot nothing consumes.
		"CREATE ROLE app LOGIN CONNECTION LIMIT 20", "CREATE DATABASE app OWNER app CONNECTION LIMIT 30",
		"SELECT pg_create_physical_replication_slot('unconsumed', true)")
	b.replica = b.pg.StartReplica(t)
	// postgres has an entry of its own, so that the pool size its pool
	// utilisation is measured against is there for the whole run: reached
	// through the `*` fallback it appeared with the scenario's clients and
	// was gone again in some runs (4 samples in all, pint's check failed).
	b.bouncer = testenv.StartPgBouncer(t, b.pg, testenv.PgBouncerOptions{DefaultPoolSize: 2, Databases: []string{"postgres"}})
	b.cache = testenv.StartRedis(t, testenv.RedisOptions{MaxMemory: "2mb", MaxMemoryPolicy: "allkeys-lru"})
	cacheReplica := testenv.StartRedis(t, testenv.RedisOptions{ReplicaOf: b.cache})

	b.api = standin.New()
	apiSrv := httptest.NewServer(b.api.Handler())
	t.Cleanup(apiSrv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go standin.Drive(ctx, apiSrv.URL, 20)

	cfg, err := config.Parse("e2e", []byte(fmt.Sprintf(`postgres:
  - {name: primary, dsn: '%s', pools: {api: 5}, database_sizes: true}
  - {name: replica, dsn: '%s'}
pgbouncer:
  - {name: bouncer, dsn: '%s'}
redis:
  - {name: cache, address: '%s'}
  - {name: cache-replica, address: '%s'}
api:
  # components: 2 of the stand-in's three, so that the dropped-labels counter a dashboard reads has a series.
  - {name: health-agent-api, health_url: '%[6]s/api/health', metrics_url: '%[6]s/api/v1/metrics', timeout: 500ms,
     json_fields: [{name: db_pool_utilization_percent, path: database.pool_utilization_percent}], limits: {components: 2}}
`, b.pg.DSN("postgres", "postgres"), b.replica.DSN("postgres", "postgres"), b.bouncer.AdminDSN(), b.cache.Addr(), cacheReplica.Addr(), apiSrv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	exporterSrv := serveExporter(t, cfg)
	hookSrv := httptest.NewServer(b.hook)
	t.Cleanup(hookSrv.Close)

	files := generate(t)
	ruleFiles := writeRuleFiles(t, files)
	b.ruleFiles = ruleFiles
	b.am = testenv.StartAlertmanager(t, webhookRouting(t, files[alerts.FileAlertmanager], hookSrv.URL))
	b.prom = testenv.StartPrometheus(t, testenv.PrometheusOptions{
		Targets:      []string{strings.TrimPrefix(exporterSrv.URL, "http://")},
		Jobs:         map[string][]string{"health-agent-api": {strings.TrimPrefix(apiSrv.URL, "http://")}},
		RuleFiles:    ruleFiles,
		Alertmanager: b.am.Addr(),
		// The SLO rules read back over the whole window.
		Retention: time.Duration(e2eConfig(t).SLOs.Window),
	})
	b.prom.WaitFor(t, `headroom_target_up{target="replica"} == 1`, 30*time.Second)
	return b
}

// replayCPUScaleUp runs headroom replay (the library call behind the
// command) against this Prometheus over the range the CPU scenario ran: the
// health-agent HPA must scale up on cpu, and CPUHigh must fire, as it did
// in Prometheus. The HPA syncs every second here, as every duration of the
// test is shortened.
func (b *bundle) replayCPUScaleUp(t *testing.T, from, to time.Time) {
	if from.IsZero() || to.IsZero() {
		t.Fatal("the CPU scenario did not run")
	}
	src, err := replay.NewPrometheusSource("http://"+b.prom.Addr(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := replay.Replay(context.Background(), catalogue.MustBuild(e2eConfig(t)), src, replay.Options{Start: from, End: to, Step: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	up := false
	for _, e := range rep.Events {
		up = up || (e.To > e.From && e.Trigger == "cpu" && e.From == 3)
	}
	fired := false
	for _, a := range rep.Alerts {
		fired = fired || a.Alert == "CPUHigh"
	}
	t.Logf("replay over the CPU scenario's %s: %d scale events %v, peak %d, alerts %d",
		to.Sub(from).Round(time.Second), len(rep.Events), rep.Events, rep.Peak, len(rep.Alerts))
	if !up || rep.Peak <= 3 || !fired {
		t.Errorf("replay over the CPU scenario: scale-up on cpu from 3 %v, peak %d, CPUHigh %v:\n%s", up, rep.Peak, fired, text.String())
	}
}

// generate makes the health-agent bundle with every duration shortened.
func generate(t *testing.T) alerts.Files {
	files, err := alerts.Generate(catalogue.MustBuild(e2eConfig(t)))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// e2eConfig is the health-agent preset with every duration shortened.
func e2eConfig(t *testing.T) *catalogue.Config {
	cfg, err := catalogue.Preset("health-agent")
	if err != nil {
		t.Fatal(err)
	}
	// Prometheus here scrapes every second.
	cfg.ScrapeInterval = model.Duration(time.Second)
	window := model.Duration(testWindow)
	cfg.API.RateWindow, cfg.Resources.RateWindow, cfg.Redis.RateWindow = window, window, window
	// The stand-in reports CPU as a share of one core.
	cfg.Resources.CPUCores = standin.Cores
	short := model.Duration(testFor)
	// Long enough to outlive its data when the target stops.
	lingering := model.Duration(30 * time.Second)
	if cfg.Triggers == nil {
		cfg.Triggers = map[catalogue.TriggerID]catalogue.Override{}
	}
	for _, tr := range catalogue.Catalogue(cfg) {
		if tr.IsForecast() {
			// A forecast's for is its trigger's forecast field, and it
			// needs days of history that an end-to-end run never has.
			continue
		}
		o := cfg.Triggers[tr.ID]
		o.For = &short
		if tr.KeepFiringFor > 0 {
			o.KeepFiringFor = &short
		}
		if tr.ID == "RedisMemoryNearMax" {
			o.KeepFiringFor = &lingering
		}
		if tr.ID == "CPULow" {
			// A scale-down on a rate must outlast a filling window, or a
			// new instance fires it (validation refuses less).
			o.For = &window
		}
		cfg.Triggers[tr.ID] = o
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// webhookRouting keeps the generated routes and inhibitions, points every
// receiver at the test's webhook and shortens grouping delays to seconds.
func webhookRouting(t *testing.T, generated []byte, hookURL string) string {
	t.Helper()
	var cfg map[string]any
	if err := yaml.Unmarshal(generated, &cfg); err != nil {
		t.Fatal(err)
	}
	receivers, _ := cfg["receivers"].([]any)
	for _, r := range receivers {
		rec := r.(map[string]any)
		rec["webhook_configs"] = []any{map[string]any{"url": hookURL + "/" + rec["name"].(string), "send_resolved": true}}
	}
	var shorten func(route map[string]any)
	shorten = func(route map[string]any) {
		route["group_wait"], route["group_interval"] = "0s", "1s"
		if subs, ok := route["routes"].([]any); ok {
			for _, s := range subs {
				shorten(s.(map[string]any))
			}
		}
	}
	shorten(cfg["route"].(map[string]any))
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}
