package report_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/internal/charts/chartstest"
	"github.com/headroom-dev/headroom/internal/drift"
	"github.com/headroom-dev/headroom/internal/replay"
	"github.com/headroom-dev/headroom/internal/report"
)

// storyConfig is the health-agent preset with the story's users metric.
func storyConfig(t testing.TB) *catalogue.Bundle {
	t.Helper()
	cfg, err := catalogue.LoadOnto(catalogue.SetHealthAgent, []byte("report:\n  users_metric: app_active_users\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := catalogue.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	storyOnce sync.Once
	story     *report.Report
)

// storyReport is the week's report, evaluated once for the tests.
func storyReport(t *testing.T) *report.Report {
	t.Helper()
	storyOnce.Do(func() { story = evaluateStory(t) })
	if story == nil {
		t.Fatal("the story's report failed")
	}
	return story
}

func evaluateStory(t *testing.T) *report.Report {
	t.Helper()
	path, err := writeStory(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	src, err := replay.ReadInputFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b := storyConfig(t)
	in := report.Inputs(b)
	_, end := src.Span()
	opts := replay.Options{Start: end.Add(-7 * day), End: end, Step: 5 * time.Minute}
	started := time.Now()
	rng, err := replay.EvaluateRange(context.Background(), b, src, opts, report.Exprs(in))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("evaluated 7 days at a 5m step in %s", time.Since(started).Round(time.Millisecond))
	// The file's temporary path would change the example at each run.
	rng.Source = "the synthetic week of internal/report/history_test.go"
	rep, err := report.Build(b, in, rng)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestTheStoryWeek(t *testing.T) {
	rep := storyReport(t)
	items := map[string]report.Item{}
	for _, it := range rep.Checklist {
		items[it.Name] = it
	}
	if it := items["Bottleneck identified"]; it.Status != report.Pass || !strings.HasPrefix(it.Detail, "Redis memory") {
		t.Errorf("bottleneck: %+v, want Redis memory (full from day 5)", it)
	}
	if it := items["Metrics monitored for 7+ days"]; it.Status != report.Pass {
		t.Errorf("monitored: %+v", it)
	}
	if it := items["Error rate under 1 %"]; it.Status != report.Pass || math.Abs(*it.Value-0.005) > 0.0005 {
		t.Errorf("errors: %+v, want 0.5 %%", it)
	}
	// Peak users of the last day: 200 × (1 + 0.03 × 7.04) × 1.3.
	users := rep.Cost.Users
	if users == nil || math.Abs(*users-315) > 5 {
		t.Fatalf("users %v, want about 315", users)
	}
	recs := map[string]report.Recommendation{}
	for _, r := range rep.Recommendations {
		recs[r.Action] = r
	}
	if r := recs["3–5 API instances"]; r.Status != report.NotNeeded {
		t.Errorf("API: %+v, want the 300–500 tier's 3–5 instances, met by the 5 running", rep.Recommendations)
	}
	if r := recs["more memory"]; r.Status != report.Recommended || !strings.Contains(r.Because, "evictions peak 2/s") {
		t.Errorf("Redis memory: %+v, want recommended on the evictions and the hit rate", r)
	}
	if r := recs["connections for 5 instances"]; r.Status != report.NotNeeded || !strings.Contains(r.Because, "5 × pool 13 = 65 ≤ 100 usable") {
		t.Errorf("connection guard: %+v, want 5 × 13 under PgBouncer's 100 clients", r)
	}
	if r := recs["Redis Sentinel (HA)"]; r.Status != report.Recommended {
		t.Errorf("Sentinel: %+v, want recommended with no replica", r)
	}
	if r := recs["read replicas"]; r.Status != report.Unknown {
		t.Errorf("read replicas: %+v, want unknown without tuple counts", r)
	}
	if r := recs["table partitioning"]; r.Status != report.NotEvaluated {
		t.Errorf("partitioning: %+v", r)
	}
	// 315 users: the guide's 500-user tier, $325 a month.
	if c := rep.Cost; c.Now == nil || c.Now.Users != 500 || c.Now.Monthly != 325 || c.PerUser == nil || math.Abs(*c.PerUser - 325 / *users) > 1e-9 {
		t.Errorf("cost: %+v", c)
	}
	for _, f := range rep.Saturation {
		if f.Signal != string(catalogue.SignalDBPool) {
			continue
		}
		want := storyPoolCrossing(storySpan, 0.8).Hours()
		if f.Hours == nil || math.Abs(*f.Hours-want) > 0.1*want {
			t.Errorf("DB pool time to 80 %%: %v h (%s), want %.1f h within 10 %%", f.Hours, f.Detail, want)
		} else {
			t.Logf("DB pool time to 80 %%: %.1f h, true %.1f h", *f.Hours, want)
		}
	}
	v := rep.Validation
	if v == nil || v.From != 3 || v.To != 5 {
		t.Fatalf("validation: %+v, want the scale-out from 3 to 5", v)
	}
	for _, it := range v.Targets {
		want := report.Pass
		switch {
		case strings.Contains(it.Name, "hit"):
			want = report.Fail
		case strings.Contains(it.Name, "latency"):
			want = report.Unknown
		}
		if it.Status != want {
			t.Errorf("target %s: %s (%s), want %s", it.Name, it.Status, it.Detail, want)
		}
	}
	if failed := rep.Failed(); len(failed) != 1 || !strings.Contains(failed[0], "hit") {
		t.Errorf("failed %q, want the cache hit target alone", failed)
	}
}

// The example under docs/examples is the story's report, in Markdown,
// JSON and HTML. The HTML page is the same at each run (fixed chart ids,
// no time of writing), or it could not be drift-tested.
func TestExampleReportIsCurrent(t *testing.T) {
	rep := storyReport(t)
	var md, js, page, again bytes.Buffer
	if err := rep.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	if err := rep.WriteHTML(&again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(page.Bytes(), again.Bytes()) {
		t.Error("the HTML page differs between two writes of the same report")
	}
	files := map[string][]byte{"report.md": md.Bytes(), "report.json": js.Bytes(), "report.html": page.Bytes()}
	dir := "../../docs/examples"
	if os.Getenv("HEADROOM_UPDATE_EXAMPLES") != "" {
		for name, data := range files {
			if err := os.WriteFile(dir+"/"+name, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	drift.Check(t, dir, files)
}

// docs/report.md lists every field of the config's report section.
func TestDocsListEveryReportField(t *testing.T) {
	doc, err := os.ReadFile("../../docs/report.md")
	if err != nil {
		t.Fatal(err)
	}
	typ := reflect.TypeOf(catalogue.Report{})
	for i := range typ.NumField() {
		name := strings.Split(typ.Field(i).Tag.Get("yaml"), ",")[0]
		if !strings.Contains(string(doc), "| `"+name+"` |") {
			t.Errorf("docs/report.md has no row for report.%s", name)
		}
	}
}

// The story's HTML page opens in a real chromium with the network cut
// off: nothing leaves the file, no console error, a drawn chart for each
// resource, and the sections of the other formats as text.
func TestHTMLOpensOfflineWithEveryChartDrawn(t *testing.T) {
	rep := storyReport(t)
	var page bytes.Buffer
	if err := rep.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	t.Logf("the story's page is %d bytes", page.Len())
	for _, s := range []string{"Pre-scaling checklist", "Decision tree", "Cost", "Time to saturation", "Post-scaling validation",
		"<td>Redis Sentinel (HA)</td>", "Replicas 3 → 5", "forecast: peak of the last day +1.50 points/day"} {
		if !strings.Contains(page.String(), s) {
			t.Errorf("the page does not say %q", s)
		}
	}
	got := chartstest.OpenHTML(t, "report.html", page.Bytes())
	for _, p := range got.Problems() {
		t.Error(p)
	}
	if len(got.Charts) != len(rep.Saturation) || len(got.Charts) != 5 {
		t.Errorf("%d charts, want one for each of the %d resources (5)", len(got.Charts), len(rep.Saturation))
	}
}

// The resources are the bundle's forecast tickets: amas's own triggers
// (its request rate per pod among them), and none whose forecast the
// config disables.
func TestResourcesAreTheBundlesForecasts(t *testing.T) {
	for _, c := range []struct {
		name, set, yaml string
		want            []string
	}{
		{"health-agent", catalogue.SetHealthAgent, "", []string{"api_cpu CPUHigh", "api_memory MemoryHigh", "db_pool DBPoolHigh",
			"postgres_connections PostgresConnectionsNearMax", "redis_memory RedisMemoryNearMax"}},
		{"a forecast disabled", catalogue.SetHealthAgent, "triggers:\n  DBPoolHigh: {forecast: {enabled: false}}\n",
			[]string{"api_cpu CPUHigh", "api_memory MemoryHigh", "postgres_connections PostgresConnectionsNearMax", "redis_memory RedisMemoryNearMax"}},
		{"amas", "amas", "", []string{"api_requests_per_instance RequestRateHigh", "api_cpu ResourcePressure", "api_memory ResourcePressure",
			"postgres_connections PostgresConnectionsNearMax", "redis_memory RedisMemoryNearMax"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			b := bundleOf(t, c.set, c.yaml)
			rep := buildFlat(t, b, 0.5)
			var got []string
			for _, f := range rep.Saturation {
				got = append(got, f.Signal+" "+f.Trigger)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("forecasts %q, want %q", got, c.want)
			}
			for _, in := range report.Inputs(b) {
				if in.Key == string(catalogue.SignalAPIRequestsPerInstance) && c.set != "amas" {
					t.Errorf("input %s outside amas", in.Key)
				}
			}
			bn := rep.Checklist[1]
			for _, f := range rep.Saturation {
				if !strings.Contains(bn.Detail, f.Resource) {
					t.Errorf("the bottleneck item %q does not weigh %s", bn.Detail, f.Resource)
				}
			}
		})
	}
}

// bundleOf builds a preset with a config on top.
func bundleOf(t *testing.T, set, yaml string) *catalogue.Bundle {
	t.Helper()
	cfg, err := catalogue.LoadOnto(set, []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	b, err := catalogue.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// buildFlat builds the report of a bundle over 3 days at a 5m step where
// every input is v: no query runs.
func buildFlat(t *testing.T, b *catalogue.Bundle, v float64) *report.Report {
	t.Helper()
	return buildWith(t, b, 3*day, func(string, int) float64 { return v })
}

// buildWith builds the report of a bundle over span at a 5m step where
// input key's value at step k is f(key, k).
func buildWith(t *testing.T, b *catalogue.Bundle, span time.Duration, f func(key string, k int) float64) *report.Report {
	t.Helper()
	in := report.Inputs(b)
	step := 5 * time.Minute
	n := int(span/step) + 1
	end := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	rng := &replay.Range{Source: "test", Start: end.Add(-span), End: end, Step: step}
	for _, x := range in {
		vals := make([]float64, n)
		for k := range vals {
			vals[k] = f(x.Key, k)
		}
		rng.Values = append(rng.Values, vals)
	}
	rep, err := report.Build(b, in, rng)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// The report forecasts with the trigger's own window, as its alerts do:
// a rise that started 36 h ago has a linear 1-day mean over the last 12 h
// (slope exact) but not over the last day. 0.45 points a day from 30 % to
// 75 %, 5 points under DBPoolHigh's 80 %: 4 h, under the page's 6 h.
func TestForecastFollowsTheTriggersWindow(t *testing.T) {
	const slope = 0.3 // a day
	span := 3 * day
	steps := int(span / (5 * time.Minute))
	rise := func(key string, k int) float64 {
		if key != string(catalogue.SignalDBPool) {
			return 0.5
		}
		since := (time.Duration(k-steps)*5*time.Minute + 36*time.Hour).Hours() / 24
		return 0.3 + slope*max(since, 0)
	}
	dbPool := func(rep *report.Report) report.Forecast {
		for _, f := range rep.Saturation {
			if f.Signal == string(catalogue.SignalDBPool) {
				return f
			}
		}
		t.Fatalf("no DB pool forecast in %+v", rep.Saturation)
		return report.Forecast{}
	}
	f := dbPool(buildWith(t, bundleOf(t, catalogue.SetHealthAgent, "triggers:\n  DBPoolHigh: {forecast: {window: 12h}}\n"), span, rise))
	if f.Window != "12h" || f.SlopeDay == nil || math.Abs(*f.SlopeDay-slope) > 0.01*slope {
		t.Errorf("12h window: %s, slope %v, want 12h and %v a day", f.Window, orNil(f.SlopeDay), slope)
	}
	if f.Hours == nil || math.Abs(*f.Hours-4) > 0.1 || f.Alert != "page" || f.PageHorizon != "6h" || f.TicketHorizon != "3d" {
		t.Errorf("12h window: %v h, alert %q (page %s, ticket %s), want 4 h, a page under 6h", orNil(f.Hours), f.Alert, f.PageHorizon, f.TicketHorizon)
	}
	f = dbPool(buildWith(t, bundleOf(t, catalogue.SetHealthAgent, ""), span, rise))
	// The day's means fit 0.272 a day: half of them still curve.
	if f.Window != "1d" || f.SlopeDay == nil || math.Abs(*f.SlopeDay-0.272) > 0.005 {
		t.Errorf("default window: %s, slope %v, want 1d and 0.272 a day", f.Window, orNil(f.SlopeDay))
	}
	f = dbPool(buildWith(t, bundleOf(t, catalogue.SetHealthAgent, "triggers:\n  DBPoolHigh: {forecast: {window: 12h, page_horizon: 2h}}\n"), span, rise))
	if f.Alert != "ticket" {
		t.Errorf("4 h with a 2h page horizon: alert %q, want ticket", f.Alert)
	}
}

// orNil is a number or nil, for messages.
func orNil(v *float64) any {
	if v == nil {
		return nil
	}
	return *v
}

// The post-scaling targets are the bundle's CapacityTargetMissed
// triggers, in its order, each read from its own signal's input: amas's
// two as well as health-agent's six.
func TestTargetsAreTheBundlesCapacityTargetMissed(t *testing.T) {
	for _, set := range []string{catalogue.SetHealthAgent, "amas"} {
		t.Run(set, func(t *testing.T) {
			b := bundleOf(t, set, "triggers:\n  CapacityTargetMissedLatency: {threshold: 1.5}\n")
			keys := map[string]bool{}
			for _, in := range report.Inputs(b) {
				keys[in.Key] = true
			}
			var want []string
			for _, tr := range b.Triggers {
				if tr.Alert != catalogue.AlertCapacityTargetMissed {
					continue
				}
				want = append(want, string(tr.ID))
				if !keys[string(tr.Signal.ID)] {
					t.Errorf("no input %s for %s", tr.Signal.ID, tr.ID)
				}
			}
			if len(want) < 2 {
				t.Fatalf("%s has %d CapacityTargetMissed triggers", set, len(want))
			}
			rep := buildWith(t, b, 3*day, func(key string, k int) float64 {
				if key == "replicas" {
					return float64(3 + 2*min(k/500, 1))
				}
				return 0.5
			})
			if rep.Validation == nil {
				t.Fatal("no validation after 3 → 5 replicas")
			}
			var got []string
			for _, it := range rep.Validation.Targets {
				if it.Value == nil || *it.Value != 0.5 {
					t.Errorf("%s: %v (%s), want 0.5 read from its signal", it.Name, orNil(it.Value), it.Detail)
				}
				_, id, _ := strings.Cut(strings.TrimSuffix(it.Detail, ")"), "(")
				got = append(got, id)
				if id == string(catalogue.TriggerCapacityTargetMissedLatency) && !strings.HasSuffix(it.Name, "< 1.5") {
					t.Errorf("%s: the configured threshold 1.5 is not its bound", it.Name)
				}
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("targets %q, want %q", got, want)
			}
		})
	}
}

// "Now" is priced as deployed: the smallest tier with as many API servers
// as the instances running, the users' tier only when the instances are
// unknown. "After" a scale-up is the users' tier when larger, else the
// next one.
func TestCostNowIsWhatIsDeployed(t *testing.T) {
	b := bundleOf(t, catalogue.SetHealthAgent, "report:\n  users_metric: app_active_users\n")
	for _, c := range []struct {
		name            string
		users, replicas float64
		dbPool          float64
		now, after      int
		detail          string
	}{
		{"10 instances for 50 users", 50, 10, 0.5, 2000, 0, "the 10 instances deployed"},
		{"instances unknown", 50, math.NaN(), 0.5, 100, 0, "API instances unknown"},
		{"1 instance for 300 users scales to their tier", 300, 1, 0.5, 100, 500, "after: the tier for the users, 500"},
		{"5 instances, DB vertical: the next tier", 300, 5, 0.9, 500, 2000, "after: the next tier, 2000 users"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep := buildWith(t, b, 3*day, func(key string, _ int) float64 {
				switch key {
				case "users":
					return c.users
				case "replicas":
					return c.replicas
				case string(catalogue.SignalDBPool):
					return c.dbPool
				}
				return 0.5
			})
			cost := rep.Cost
			if cost.Now == nil || cost.Now.Users != c.now || !strings.Contains(cost.Detail, c.detail) {
				t.Fatalf("now %+v (%s), want the %d-user tier and %q", cost.Now, cost.Detail, c.now, c.detail)
			}
			if after := cost.After; (after == nil) != (c.after == 0) || after != nil && after.Users != c.after {
				t.Errorf("after %+v (%s), want the %d-user tier", after, cost.Detail, c.after)
			}
			if cost.PerUser == nil || math.Abs(*cost.PerUser-cost.Now.Monthly/c.users) > 1e-9 {
				t.Errorf("per user %v, want now's %v ÷ %v", orNil(cost.PerUser), cost.Now.Monthly, c.users)
			}
		})
	}
}

// A price table without an "API Server" line cannot say which tier runs
// the instances deployed: the users' tier stands in, and the detail says
// why, rather than the dearest tier.
func TestCostNowWithoutAPIServerLines(t *testing.T) {
	b := bundleOf(t, catalogue.SetHealthAgent, `report:
  users_metric: app_active_users
  prices:
    - {users: 100, items: [{service: App, size: small, count: 1, monthly: 10}]}
    - {users: 1000, items: [{service: App, size: large, count: 4, monthly: 80}]}
`)
	rep := buildWith(t, b, 3*day, func(key string, _ int) float64 {
		switch key {
		case "users":
			return 50
		case "replicas":
			return 10
		}
		return 0.5
	})
	if cost := rep.Cost; cost.Now == nil || cost.Now.Users != 100 || !strings.Contains(cost.Detail, "no tier of report.prices has an") {
		t.Errorf("now %+v (%s), want the 100-user tier, for want of an API Server line", cost.Now, cost.Detail)
	}
}

// The JSON's step is a Prometheus duration, as every duration headroom
// writes for Prometheus users.
func TestJSONStepIsAPrometheusDuration(t *testing.T) {
	var js bytes.Buffer
	if err := buildFlat(t, bundleOf(t, catalogue.SetHealthAgent, ""), 0.5).WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(js.String(), `"step": "5m",`) || !strings.Contains(js.String(), fmt.Sprintf(`"version": %d,`, report.SchemaVersion)) {
		t.Errorf("JSON head:\n%.300s\nwant \"step\": \"5m\" and version %d", js.String(), report.SchemaVersion)
	}
}

// The raw series the report reads take the selectors and target regexes
// the rest of the bundle applies, and the tuple rates the request rate's
// window.
func TestInputsTakeTheConfigsSelectors(t *testing.T) {
	b := bundleOf(t, catalogue.SetHealthAgent, "selectors: {headroom: 'job=\"hr\"'}\ntargets: {redis: 'cache-a|cache-b'}\napi: {rate_window: 2m}\n")
	exprs := map[string]string{}
	for _, in := range report.Inputs(b) {
		exprs[in.Key] = in.Expr
		if _, err := catalogue.ParseExpr(in.Expr); err != nil {
			t.Errorf("%s: %v", in.Key, err)
		}
	}
	for key, want := range map[string]string{
		"redis_bytes":    `headroom_redis_memory_used_bytes{job="hr", target=~"cache-a|cache-b"}`,
		"redis_replicas": `headroom_redis_connected_replicas{job="hr", target=~"cache-a|cache-b"}`,
		"tuples_read":    `pg_stat_database_tup_fetched[2m]`,
		"tuples_written": `pg_stat_database_tup_deleted[2m]`,
	} {
		if !strings.Contains(exprs[key], want) {
			t.Errorf("%s: %s, want it to hold %s", key, exprs[key], want)
		}
	}
}

// With the database-connection guard, the instances the decision tree
// asks for must fit their pools in the usable connections: 400 users ask
// for up to 5 instances.
func TestInstancesAreCheckedAgainstTheConnectionGuard(t *testing.T) {
	for through, first := range map[string]string{"pgbouncer": "raise PgBouncer's max_client_conn first", "postgres": "PgBouncer/raise max_connections first"} {
		b := bundleOf(t, catalogue.SetHealthAgent, "report:\n  users_metric: app_active_users\nautoscaling: {db: {connects_through: "+through+"}}\n")
		g, ok := catalogue.ConnectionGuardOf(b.Config)
		if !ok {
			t.Fatal("health-agent has no connection guard")
		}
		need := 5 * g.Pool
		for _, c := range []struct {
			name   string
			usable float64
			want   report.Status
			says   string
		}{
			{"fits", float64(need), report.NotNeeded, fmt.Sprintf("5 × pool %d = %d ≤ %d usable", g.Pool, need, need)},
			{"does not fit", float64(need - 1), report.Recommended, fmt.Sprintf("%s: 5 × pool %d = %d > %d usable", first, g.Pool, need, need-1)},
			{"unknown", math.NaN(), report.Unknown, "unknown"},
		} {
			t.Run(through+"/"+c.name, func(t *testing.T) {
				rep := buildWith(t, b, 3*day, func(key string, _ int) float64 {
					switch key {
					case "users":
						return 400
					case "replicas":
						return 3
					case "usable_connections":
						return c.usable
					}
					return 0.5
				})
				var got *report.Recommendation
				for i, r := range rep.Recommendations {
					if r.Action == "connections for 5 instances" {
						got = &rep.Recommendations[i]
					}
				}
				if got == nil || got.Status != c.want || !strings.Contains(got.Because, c.says) {
					t.Errorf("%+v, want %s saying %q", got, c.want, c.says)
				}
			})
		}
	}
	for _, r := range buildFlat(t, bundleOf(t, "amas", "report:\n  users_metric: app_active_users\n"), 300).Recommendations {
		if strings.HasPrefix(r.Action, "connections for") {
			t.Errorf("amas has no guard, yet %+v", r)
		}
	}
}
