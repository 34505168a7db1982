package collectors

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/testenv"
)

func TestScrapeBudget(t *testing.T) {
	t.Parallel()
	const offset = 500 * time.Millisecond
	for _, tc := range []struct {
		timeout, want time.Duration
	}{
		{10 * time.Millisecond, MinScrapeBudget},
		{60 * time.Millisecond, MinScrapeBudget},
		{100 * time.Millisecond, 75 * time.Millisecond},
		{500 * time.Millisecond, 375 * time.Millisecond},
		{time.Second, 750 * time.Millisecond},
		{1500 * time.Millisecond, 1125 * time.Millisecond},
		{2 * time.Second, 1500 * time.Millisecond},
		{10 * time.Second, 9500 * time.Millisecond},
		{MaxScrapeTimeout, MaxScrapeTimeout - offset},
	} {
		if got := ScrapeBudget(tc.timeout, offset); got != tc.want {
			t.Errorf("ScrapeBudget(%v, %v) = %v, want %v", tc.timeout, offset, got, tc.want)
		}
	}

	// Non-decreasing in the timeout, below it once the timeout leaves room
	// for MinScrapeBudget, for caps on both sides of the quarter.
	for _, maxOffset := range []time.Duration{0, 100 * time.Millisecond, offset, 3 * time.Second} {
		prev := time.Duration(0)
		for h := time.Millisecond; h <= 30*time.Second; h += 7 * time.Millisecond {
			b := ScrapeBudget(h, maxOffset)
			switch {
			case b < prev:
				t.Fatalf("offset cap %v: budget falls from %v to %v as the timeout grows to %v", maxOffset, prev, b, h)
			case b < MinScrapeBudget:
				t.Fatalf("offset cap %v: budget %v for %v is below the floor", maxOffset, b, h)
			case b > h && b != MinScrapeBudget:
				t.Fatalf("offset cap %v: budget %v exceeds the timeout %v", maxOffset, b, h)
			case h-b > maxOffset:
				t.Fatalf("offset cap %v: budget %v keeps back more than the cap from %v", maxOffset, b, h)
			}
			prev = b
		}
	}
}

// A header Prometheus would never send still gives a scrape a sane
// budget, and is logged once per distinct value, not once per scrape.
func TestScrapeTimeoutHeader(t *testing.T) {
	t.Parallel()
	logger, logs := testLogger()
	e := &Exporter{logger: logger, DefaultTimeout: 7 * time.Second, Offset: 500 * time.Millisecond}
	for _, tc := range []struct {
		header string
		want   time.Duration
		logged bool
	}{
		{"", 7 * time.Second, false},
		{"1", 750 * time.Millisecond, false},
		{" 2.5 ", 2 * time.Second, false},
		{"abc", 7 * time.Second, true},
		{"1s", 7 * time.Second, true},
		{"0", 7 * time.Second, true},
		{"-3", 7 * time.Second, true},
		{"NaN", 7 * time.Second, true},
		{"Inf", 7 * time.Second, true},
		{"-Inf", 7 * time.Second, true},
		{"1e9", MaxScrapeTimeout - 500*time.Millisecond, true},
		{"1e300", MaxScrapeTimeout - 500*time.Millisecond, true},
	} {
		before := strings.Count(logs.String(), "unusable X-Prometheus-Scrape-Timeout-Seconds")
		for range 3 {
			if got := e.scrapeBudget(tc.header); got != tc.want {
				t.Errorf("header %q: budget %v, want %v", tc.header, got, tc.want)
			}
		}
		lines := strings.Count(logs.String(), "unusable X-Prometheus-Scrape-Timeout-Seconds") - before
		want := 0
		if tc.logged {
			want = 1
		}
		if lines != want {
			t.Errorf("header %q over three scrapes: logged %d times, want %d\n%s", tc.header, lines, want, logs)
		}
	}
}

func healthyAPI(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL + "/health"
}

// deadlineExporter serves a healthy and a hung API target. The targets'
// own timeout is long, so that only the scrape budget ends the wait.
func deadlineExporter(t *testing.T) (*Exporter, *httptest.Server) {
	e, srv, _ := deadlineExporterLogs(t)
	return e, srv
}

// deadlineExporterLogs is deadlineExporter with its log output.
func deadlineExporterLogs(t *testing.T) (*Exporter, *httptest.Server, *logSink) {
	t.Helper()
	return loggedExporter(t, fmt.Sprintf("api:\n"+
		"  - {name: healthy, health_url: %q, timeout: 60s}\n"+
		"  - {name: hung, health_url: %q, timeout: 60s}\n", healthyAPI(t), "http://"+testenv.StartHung(t)+"/health"))
}

// loggedExporter serves the targets of a config with a logger whose output
// the test reads back.
func loggedExporter(t *testing.T, yaml string) (*Exporter, *httptest.Server, *logSink) {
	t.Helper()
	cfg, err := config.Parse("test.yml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	logger, logs := testLogger()
	e, err := New(cfg, prometheus.NewRegistry(), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	srv := httptest.NewServer(e.MetricsHandler())
	t.Cleanup(srv.Close)
	return e, srv, logs
}

// A target that runs out of the scrape's budget is logged with the URL
// and the budget, so that the log says how long headroom waited, not only
// that it gave up.
func TestTimeoutLogNamesDeadline(t *testing.T) {
	t.Parallel()
	_, srv, logs := deadlineExporterLogs(t)
	timedScrape(t, srv.URL, "0.5")
	want := regexp.MustCompile(`msg="health probe failed" target=hung kind=api reason=timeout err="GET http://127\.0\.0\.1:\d+/health: no answer within 37\dms: context deadline exceeded"`)
	waitForLog(t, logs, want)
}

// timedScrape fetches url with Prometheus's header and returns the body
// and the time until the last byte.
func timedScrape(t *testing.T, url, timeoutHeader string) (string, time.Duration) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", timeoutHeader)
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	took := time.Since(start)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("status %d, %v: %s", resp.StatusCode, err, body)
	}
	return string(body), took
}

// sampleValue reads one series' value from text-format output; -1 when it
// is absent.
func sampleValue(body, series string) float64 {
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, _ := strconv.ParseFloat(m[1], 64)
	return v
}

// checkHungReported says what is wrong with how the scrape reports the
// healthy and the hung target: the healthy one's data must be there, and
// the hung one must be down with the given reason counted. (An API target
// whose probe itself gave up in time reports probe_success 0 with the
// reason instead; whichever of the two comes first is what is served.)
func checkHungReported(body, reason string) []string {
	var problems []string
	if v := sampleValue(body, `headroom_target_up{kind="api",target="healthy"}`); v != 1 {
		problems = append(problems, fmt.Sprintf("healthy target_up %v, want 1", v))
	}
	if v := sampleValue(body, `headroom_api_probe_success{target="healthy"}`); v != 1 {
		problems = append(problems, fmt.Sprintf("healthy probe_success %v, want 1", v))
	}
	up := sampleValue(body, `headroom_target_up{kind="api",target="hung"}`)
	targetReason := sampleValue(body, `headroom_target_scrape_errors_total{kind="api",reason="`+reason+`",target="hung"}`)
	probe := sampleValue(body, `headroom_api_probe_success{target="hung"}`)
	probeReason := sampleValue(body, `headroom_api_probe_failures_total{reason="`+reason+`",target="hung"}`)
	switch {
	case up == 0 && targetReason >= 1:
	case reason != "shutdown" && up == 1 && probe == 0 && probeReason >= 1:
	default:
		problems = append(problems, fmt.Sprintf("hung target: target_up %v with %d %s errors, probe_success %v with %v %s failures",
			up, int(targetReason), reason, probe, probeReason, reason))
	}
	return problems
}

// The answer arrives within the budget of the timeout Prometheus
// announced, plus 50ms to write it or, where the offset kept back is
// larger, before the timeout itself (what Prometheus waits for: a loaded
// machine's scheduling must not fail a scrape that is still in time),
// with a hung target among the others; and not before the budget, since
// the hung target is waited for until then.
func TestScrapeDeadlineWallClock(t *testing.T) {
	t.Parallel()
	for _, h := range []string{"0.1", "0.5", "1", "1.5", "2", "10"} {
		t.Run(h+"s", func(t *testing.T) {
			t.Parallel()
			e, srv := deadlineExporter(t)
			secs, _ := strconv.ParseFloat(h, 64)
			budget := ScrapeBudget(time.Duration(secs*float64(time.Second)), e.Offset)
			body, took := timedScrape(t, srv.URL, h)
			t.Logf("timeout %ss: budget %v, answered after %v", h, budget, took)
			limit := max(budget+50*time.Millisecond, time.Duration(secs*float64(time.Second)))
			if took > limit || took < budget {
				t.Errorf("timeout %ss: answered after %v, want within [%v, %v]", h, took, budget, limit)
			}
			for _, p := range checkHungReported(body, "timeout") {
				t.Errorf("timeout %ss: %s", h, p)
			}
		})
	}
}

// Shutdown cuts the scrapes in flight at the end of the grace period,
// long before their own deadline; what answered is served, the rest is
// down with reason shutdown, and a scrape after it ends at once.
func TestShutdownCutsScrapesInFlight(t *testing.T) {
	t.Parallel()
	e, srv := deadlineExporter(t)
	const grace = 300 * time.Millisecond
	type result struct {
		body string
		took time.Duration
	}
	done := make(chan result, 1)
	go func() {
		body, took := timedScrape(t, srv.URL, "10")
		done <- result{body, took}
	}()
	time.Sleep(100 * time.Millisecond)
	signalled := time.Now()
	e.Shutdown(grace)
	e.Shutdown(time.Hour) // a second signal does not move the deadline
	select {
	case res := <-done:
		afterSignal := time.Since(signalled)
		if afterSignal < grace || afterSignal > grace+50*time.Millisecond {
			t.Errorf("answered %v after Shutdown(%v) (%v after the request)", afterSignal, grace, res.took)
		}
		for _, p := range checkHungReported(res.body, "shutdown") {
			t.Error(p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("scrape in flight not answered after Shutdown")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := e.WaitScrapes(ctx); err != nil {
		t.Errorf("WaitScrapes after the answer: %v", err)
	}

	body, took := timedScrape(t, srv.URL, "10")
	if took > 50*time.Millisecond {
		t.Errorf("scrape after the grace period took %v", took)
	}
	if v := sampleValue(body, `headroom_target_up{kind="api",target="hung"}`); v != 0 {
		t.Errorf("hung target after the grace period: target_up %v\n%s", v, body)
	}
}

// A real Prometheus with scrape_timeout 1s keeps the exporter up and the
// healthy target's series while another target hangs.
func TestRealPrometheusOneSecondTimeout(t *testing.T) {
	t.Parallel()
	_, srv := deadlineExporter(t)
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{
		Targets:        []string{strings.TrimPrefix(srv.URL, "http://")},
		ScrapeInterval: time.Second,
		ScrapeTimeout:  time.Second,
	})
	// Three scrapes at least, each of which had to wait for the hung target.
	prom.WaitFor(t, `count_over_time(up{job="headroom"}[1m]) >= 3`, 20*time.Second)
	for _, tc := range []struct{ expr, want string }{
		{`min_over_time(up{job="headroom"}[1m])`, "1"},
		{`max_over_time(scrape_duration_seconds{job="headroom"}[1m]) < 1`, "any"},
		{`min_over_time(scrape_duration_seconds{job="headroom"}[1m]) >= 0.75`, "any"},
		{`min_over_time(headroom_target_up{target="healthy"}[1m])`, "1"},
		{`min_over_time(headroom_api_probe_success{target="healthy"}[1m])`, "1"},
		// Down, or up with its probe failed when the probe gave up first.
		{`(max_over_time(headroom_target_up{target="hung"}[1m]) == 0) or (max_over_time(headroom_api_probe_success{target="hung"}[1m]) == 0)`, "0"},
	} {
		v := prom.Query(t, tc.expr)
		switch {
		case len(v) != 1:
			t.Errorf("%s: %d samples, want 1: %v", tc.expr, len(v), v)
		case tc.want != "any" && v[0].Value.String() != tc.want:
			t.Errorf("%s = %s, want %s", tc.expr, v[0].Value, tc.want)
		}
	}
}

// The same for a target whose client gives no URL of its own: the runner's
// log line carries the budget.
func TestTimeoutLogNamesDeadlineRedis(t *testing.T) {
	t.Parallel()
	_, srv, logs := loggedExporter(t, fmt.Sprintf("redis:\n  - {name: stuck, address: %q}\n", testenv.StartHung(t)))
	body, _ := timedScrape(t, srv.URL, "0.5")
	if v := sampleValue(body, `headroom_target_up{kind="redis",target="stuck"}`); v != 0 {
		t.Errorf("stuck redis target_up %v, want 0", v)
	}
	want := regexp.MustCompile(`msg="target scrape failed" target=stuck kind=redis reason=timeout deadline=37\dms`)
	waitForLog(t, logs, want)
}

// waitForLog waits for a line the scrape's goroutine may write after the
// answer went out.
func waitForLog(t *testing.T, logs *logSink, want *regexp.Regexp) {
	t.Helper()
	for end := time.Now().Add(2 * time.Second); !want.MatchString(logs.String()); {
		if time.Now().After(end) {
			t.Fatalf("no log line matching %s:\n%s", want, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
