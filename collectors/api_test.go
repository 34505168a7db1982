package collectors

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"

	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/kind"
)

// The API collector's real component is an HTTP server, so these tests run
// httptest servers on loopback and scrape them through a Runner and the
// same Gatherer the exporter serves.

func apiConfig(healthURL string) config.API {
	return config.API{
		Name:           "api",
		HealthURL:      healthURL,
		ExpectedStatus: http.StatusOK,
		Timeout:        model.Duration(2 * time.Second),
	}
}

// newAPIRunner builds the target and a runner around it, with both logging
// into the returned sink.
func newAPIRunner(t *testing.T, c config.API) (*apiTarget, *Runner, *logSink) {
	t.Helper()
	logger, logs := testLogger()
	target, err := NewAPI(c, logger)
	if err != nil {
		t.Fatalf("NewAPI: %v", err)
	}
	at := target.(*apiTarget)
	r := NewRunner(target, logger)
	t.Cleanup(r.Close)
	return at, r, logs
}

var apiKind = []string{"kind", string(kind.API)}

// apiWantOneFailure checks that the probe counters saw one probe: a success
// when reason is "", else one failure with that reason.
func apiWantOneFailure(t *testing.T, s series, reason string) {
	t.Helper()
	succ := 1.0
	if reason != "" {
		succ = 0
	}
	s.want(t, "headroom_api_probe_successes_total", succ)
	for r := probeReason(0); r < numProbeReasons; r++ {
		want := 0.0
		if r.String() == reason {
			want = 1
		}
		s.want(t, "headroom_api_probe_failures_total", want, "reason", r.String())
	}
}

func apiServe(status int, contentType, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}
}

const apiJSONType = "application/json"

func TestAPIHealthShapes(t *testing.T) {
	tests := []struct {
		name        string
		status      int
		contentType string
		body        string
		expected    int // config expected_status; 0 for the default 200
		success     float64
		reason      string            // failure reason; "" when the probe succeeds
		overall     string            // normalised top-level status; "" when none is reported
		components  map[string]string // component -> normalised status
	}{
		{
			name: "components objects, one degraded", status: 200, contentType: apiJSONType,
			body:    `{"status":"healthy","components":{"database":{"status":"healthy","latency_ms":3},"redis":{"status":"healthy"},"llm":{"status":"degraded"}}}`,
			success: 1, overall: "healthy",
			components: map[string]string{"database": "healthy", "redis": "healthy", "llm": "degraded"},
		},
		{
			name: "checks strings", status: 200, contentType: apiJSONType,
			body:    `{"status":"ok","checks":{"redis":"ok","database":"pass","llm":"timeout talking to provider"}}`,
			success: 1, overall: "healthy",
			components: map[string]string{"redis": "healthy", "database": "healthy", "llm": "unknown"},
		},
		{
			name: "flat", status: 200, contentType: apiJSONType,
			body:       `{"database":"healthy","redis":"healthy","llm":"unhealthy","version":"1.4.2","uptime_seconds":3600}`,
			success:    1,
			components: map[string]string{"database": "healthy", "redis": "healthy", "llm": "unhealthy"},
		},
		{
			name: "IETF health+json with check arrays", status: 200, contentType: "application/health+json",
			body:    `{"status":"pass","checks":{"db:responseTime":[{"status":"pass"},{"status":"warn"}],"cache":[{"status":"pass"}]}}`,
			success: 1, overall: "healthy",
			components: map[string]string{"db:responseTime": "degraded", "cache": "healthy"},
		},
		{
			name: "component list, upper case", status: 200, contentType: "application/json; charset=utf-8",
			body:    `{"status":"UP","components":[{"name":"db","status":"UP"},{"name":"diskSpace","status":"DOWN"},{"status":"UP"}]}`,
			success: 1, overall: "healthy",
			components: map[string]string{"db": "healthy", "diskSpace": "unhealthy"},
		},
		{
			name: "503 with the failing component", status: 503, contentType: apiJSONType,
			body:    `{"status":"unhealthy","components":{"database":{"status":"unhealthy"},"redis":{"status":"healthy"}}}`,
			success: 0, reason: "http_status", overall: "unhealthy",
			components: map[string]string{"database": "unhealthy", "redis": "healthy"},
		},
		{
			name: "200 but body says unhealthy", status: 200, contentType: apiJSONType,
			body:    `{"status":"unhealthy"}`,
			success: 0, reason: "body_status", overall: "unhealthy",
		},
		{
			name: "200 but body says degraded", status: 200, contentType: apiJSONType,
			body:    `{"status":"degraded","components":{"llm":{"status":"degraded"}}}`,
			success: 0, reason: "body_status", overall: "degraded",
			components: map[string]string{"llm": "degraded"},
		},
		{
			name: "plain text OK", status: 200, contentType: "text/plain",
			body: "OK", success: 1,
		},
		{
			name: "no content type, not JSON", status: 200,
			body: "healthy\n", success: 1,
		},
		{
			name: "declared JSON that does not parse", status: 200, contentType: apiJSONType,
			body: `{"status":"healthy",`, success: 0, reason: "invalid_body",
		},
		{
			name: "configured expected status", status: 204, expected: 204,
			success: 1,
		},
		{
			name: "unexpected 200 when 204 is configured", status: 200, contentType: apiJSONType, expected: 204,
			body: `{"status":"ok"}`, success: 0, reason: "http_status", overall: "healthy",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(apiServe(tc.status, tc.contentType, tc.body))
			defer srv.Close()
			c := apiConfig(srv.URL + "/api/health")
			if tc.expected != 0 {
				c.ExpectedStatus = tc.expected
			}
			_, r, _ := newAPIRunner(t, c)
			f := gather(t, r, 5*time.Second)

			// The API answered: the target is up whatever it said.
			f.want(t, "headroom_target_up", 1, apiKind...)
			f.want(t, "headroom_scrape_collector_success", 1, "collector", "health")
			f.want(t, "headroom_api_probe_success", tc.success)
			f.want(t, "headroom_api_probe_http_status_code", float64(tc.status))
			apiWantOneFailure(t, f, tc.reason)

			if tc.overall == "" {
				f.absent(t, "headroom_api_health_status")
			} else {
				for _, st := range healthStates {
					want := 0.0
					if st == tc.overall {
						want = 1
					}
					f.want(t, "headroom_api_health_status", want, "status", st)
				}
			}

			if got := f.count("headroom_api_component_up"); got != len(tc.components) {
				t.Errorf("headroom_api_component_up: %d series, want %d", got, len(tc.components))
			}
			if got := f.count("headroom_api_component_status"); got != 4*len(tc.components) {
				t.Errorf("headroom_api_component_status: %d series, want %d", got, 4*len(tc.components))
			}
			for name, state := range tc.components {
				up := 0.0
				if state == "healthy" {
					up = 1
				}
				f.want(t, "headroom_api_component_up", up, "component", name)
				for _, st := range healthStates {
					want := 0.0
					if st == state {
						want = 1
					}
					f.want(t, "headroom_api_component_status", want, "component", name, "status", st)
				}
			}
		})
	}
}

func TestAPIBasicAuthAndNoSecretsInLogs(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "probe" || p != "s3cret-pw" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	}))
	defer srv.Close()
	withCreds := strings.Replace(srv.URL, "http://", "http://probe:s3cret-pw@", 1) + "/api/health?token=tok-abc123"

	_, r, _ := newAPIRunner(t, apiConfig(withCreds))
	f := gather(t, r, 5*time.Second)
	f.want(t, "headroom_api_probe_success", 1)

	// Down: the error is logged, and must name the URL without secrets.
	srv.Close()
	at, r, logs := newAPIRunner(t, apiConfig(withCreds))
	f = gather(t, r, 5*time.Second)
	f.want(t, "headroom_target_up", 1, apiKind...)
	f.want(t, "headroom_api_probe_success", 0)
	if at.failures[probeRefused].Load() != 1 {
		t.Errorf("refused failures = %d, want 1", at.failures[probeRefused].Load())
	}
	out := logs.String()
	if !strings.Contains(out, "health probe failed") || !strings.Contains(out, "reason=refused") {
		t.Fatalf("expected a failure log line, got %q", out)
	}
	for _, secret := range []string{"s3cret-pw", "tok-abc123", "probe:"} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains %q: %s", secret, out)
		}
	}
}

func TestAPITransportFailures(t *testing.T) {
	tests := []struct {
		name         string
		probeTimeout time.Duration
		deadline     time.Duration
	}{
		{name: "probe timeout shorter than scrape deadline", probeTimeout: 200 * time.Millisecond, deadline: 5 * time.Second},
		{name: "scrape deadline shorter than probe timeout", probeTimeout: 5 * time.Second, deadline: 300 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var slow atomic.Bool
			slow.Store(true)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if slow.Load() {
					select {
					case <-r.Context().Done():
					case <-time.After(10 * time.Second):
					}
					return
				}
				w.Header().Set("Content-Type", apiJSONType)
				_, _ = io.WriteString(w, `{"status":"ok"}`)
			}))
			defer srv.Close()
			c := apiConfig(srv.URL + "/api/health")
			c.Timeout = model.Duration(tc.probeTimeout)
			at, r, _ := newAPIRunner(t, c)

			start := time.Now()
			f := gather(t, r, tc.deadline)
			took := time.Since(start)
			limit := min(tc.probeTimeout, tc.deadline) + 500*time.Millisecond
			if took > limit {
				t.Errorf("scrape took %v, want under %v", took, limit)
			}
			// Either the probe timed out (probe_success 0, the API is
			// down) or the scrape's own deadline came first (up 0, reason
			// timeout): never a healthy reading.
			success, hasSuccess := f.value("headroom_api_probe_success")
			up, _ := f.value("headroom_target_up", apiKind...)
			timeouts, _ := f.value("headroom_target_scrape_errors_total", "kind", "api", "reason", "timeout")
			switch {
			case hasSuccess && success == 0 && up == 1:
			case !hasSuccess && up == 0 && timeouts >= 1:
			default:
				t.Errorf("slow API read as: probe_success=%v (present %v), up=%v, timeouts=%v", success, hasSuccess, up, timeouts)
			}

			// The probe itself finishes by its deadline even when the
			// caller stopped waiting first.
			apiWaitFor(t, 2*time.Second, func() bool { return at.failures[probeTimeout].Load() == 1 })

			// Recovered: the timeout is in the probe's own failure counter.
			// Waiting for a successful probe, not for up 1: the timed-out
			// scrape may still be finishing (its probe failure counted, its
			// result not yet returned), and a scrape that joins it reads
			// its up 1, probe_success 0.
			slow.Store(false)
			f = gatherUntil(t, r, 3*time.Second, "a successful probe after recovery", func(s series) bool {
				up, _ := s.value("headroom_target_up", apiKind...)
				v, _ := s.value("headroom_api_probe_success")
				return up == 1 && v == 1
			})
			f.want(t, "headroom_api_probe_failures_total", 1, "reason", "timeout")
			f.want(t, "headroom_api_probe_successes_total", 1)
		})
	}

	t.Run("connection refused", func(t *testing.T) {
		srv := httptest.NewServer(apiServe(200, "", "OK"))
		url := srv.URL
		srv.Close()
		c := apiConfig(url + "/api/health")
		c.MetricsURL = url + "/api/v1/metrics"
		at, r, _ := newAPIRunner(t, c)
		f := gather(t, r, 5*time.Second)
		// Unreachable is data: the probe ran and the API is down.
		f.want(t, "headroom_target_up", 1, apiKind...)
		f.want(t, "headroom_api_probe_success", 0)
		f.want(t, "headroom_api_probe_failures_total", 1, "reason", "refused")
		f.want(t, "headroom_scrape_collector_success", 1, "collector", "health")
		if _, ok := f.value("headroom_scrape_collector_success", "collector", "json"); ok {
			t.Error("json collector ran although the health endpoint did not answer")
		}
		if got := at.failures[probeRefused].Load(); got != 1 {
			t.Errorf("refused failures = %d, want 1", got)
		}
	})
}

func apiWaitFor(t *testing.T, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// apiServer serves a health document and a metrics document.
func apiServer(t *testing.T, health string, metrics http.HandlerFunc) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/api/health", apiServe(200, apiJSONType, health))
	mux.HandleFunc("/api/v1/metrics", metrics)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

const apiMetricsDoc = `{
	"database": {"pool_utilization_percent": 42.5, "pool_size": 13, "healthy": true},
	"redis": {"connected": false, "hit_rate": " 0.87 "},
	"cpu": {"percent": "NaN", "load": "Infinity"},
	"workers": [{"busy": 3}, {"busy": 5}],
	"huge": 1e999,
	"nothing": null
}`

func TestAPIComponentCap(t *testing.T) {
	srv := httptest.NewServer(apiServe(200, apiJSONType,
		`{"status":"healthy","components":{"e":{"status":"healthy"},"c":{"status":"healthy"},"a":{"status":"degraded"},"d":{"status":"healthy"},"b":{"status":"healthy"}}}`))
	defer srv.Close()
	c := apiConfig(srv.URL)
	c.Limits.Components = 2
	_, r, _ := newAPIRunner(t, c)
	f := gather(t, r, 5*time.Second)
	if got := f.count("headroom_api_component_up"); got != 2 {
		t.Errorf("headroom_api_component_up: %d series, want 2", got)
	}
	if got := f.count("headroom_api_component_status"); got != 2*4 {
		t.Errorf("headroom_api_component_status: %d series, want 8", got)
	}
	// The first names in sorted order are kept, whatever order the API
	// listed them in.
	f.want(t, "headroom_api_component_up", 0, "component", "a")
	f.want(t, "headroom_api_component_up", 1, "component", "b")
	f.want(t, "headroom_target_series_dropped_total", 3, "kind", "api", "limit", "components")
}

func TestAPIProbeHistogram(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every third probe fails: failed probes are observed too.
		if n.Add(1)%3 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "OK")
	}))
	defer srv.Close()
	_, r, _ := newAPIRunner(t, apiConfig(srv.URL))
	const k = 7
	var f series
	for range k {
		f = gather(t, r, 5*time.Second)
	}
	fam := f.family("headroom_api_probe_duration_seconds")
	if len(fam) == 0 {
		t.Fatal("no headroom_api_probe_duration_seconds")
	}
	if fam[0].kind != dto.MetricType_HISTOGRAM || len(fam) != 1 {
		t.Fatalf("want one histogram series, got %v with %d series", fam[0].kind, len(fam))
	}
	h := fam[0].metric.GetHistogram()
	if h.GetSampleCount() != k {
		t.Errorf("histogram count = %d, want %d", h.GetSampleCount(), k)
	}
	if h.GetSampleSum() <= 0 {
		t.Errorf("histogram sum = %v, want > 0", h.GetSampleSum())
	}
	if len(h.GetBucket()) == 0 {
		t.Error("no classic buckets")
	}
	if h.Schema == nil {
		t.Error("no native histogram schema")
	}
	f.want(t, "headroom_api_probe_successes_total", 5)
	f.want(t, "headroom_api_probe_failures_total", 2, "reason", "http_status")
}

func TestAPIConnectionReuse(t *testing.T) {
	var conns atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/api/health", apiServe(200, apiJSONType, `{"status":"healthy","components":{"database":{"status":"healthy"}}}`))
	mux.HandleFunc("/api/v1/metrics", apiServe(200, apiJSONType, apiMetricsDoc))
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	c := apiConfig(srv.URL + "/api/health")
	c.MetricsURL = srv.URL + "/api/v1/metrics"
	c.JSONFields = []config.JSONField{{Name: "db_pool", Path: "database.pool_utilization_percent"}}
	_, r, _ := newAPIRunner(t, c)
	var f series
	for i := range 20 {
		f = gather(t, r, 5*time.Second)
		if v, _ := f.value("headroom_api_probe_success"); v != 1 {
			t.Fatalf("scrape %d: probe failed", i)
		}
	}
	if got := conns.Load(); got != 1 {
		t.Errorf("20 scrapes (40 requests) opened %d TCP connections, want 1", got)
	}
	if opened := f.must(t, "headroom_target_connections_opened_total", "kind", "api"); opened != 1 {
		t.Errorf("headroom_target_connections_opened_total = %v, want 1", opened)
	}
}

func TestAPILint(t *testing.T) {
	srv := apiServer(t, `{"status":"healthy","components":{"database":{"status":"healthy"},"llm":{"status":"degraded"}}}`,
		apiServe(200, apiJSONType, apiMetricsDoc))
	c := apiConfig(srv.URL + "/api/health")
	c.MetricsURL = srv.URL + "/api/v1/metrics"
	c.JSONFields = []config.JSONField{{Name: "db_pool", Path: "database.pool_utilization_percent"}}
	_, r, _ := newAPIRunner(t, c)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	g := Gatherer(ctx, r)
	problems, err := testutil.GatherAndLint(g)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	// Every api family is there and gathers consistently.
	want := []string{
		"headroom_api_probe_success", "headroom_api_probe_http_status_code",
		"headroom_api_probe_last_duration_seconds", "headroom_api_probe_duration_seconds",
		"headroom_api_probe_successes_total", "headroom_api_probe_failures_total",
		"headroom_api_health_status", "headroom_api_component_up", "headroom_api_component_status",
		"headroom_api_json_value",
	}
	n, err := testutil.GatherAndCount(g, want...)
	if err != nil {
		t.Fatal(err)
	}
	// 1+1+1+1+1+9 reasons+4 statuses+2 components+8 component statuses+1 field.
	if n != 29 {
		t.Errorf("api series: %d, want 29", n)
	}
}

func TestAPIRedirects(t *testing.T) {
	var otherHits atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	}))
	defer other.Close()
	_, otherPort, _ := net.SplitHostPort(other.Listener.Addr().String())

	tests := []struct {
		name     string
		location func(self string) string
		success  float64
		reason   string
		status   float64
	}{
		{"another host", func(string) string { return "http://localhost:" + otherPort + "/api/health" }, 0, "redirect", 302},
		{"same host, another port", func(string) string { return other.URL + "/api/health" }, 0, "redirect", 302},
		{"same origin, relative", func(string) string { return "/api/health" }, 1, "", 200},
		{"same origin, absolute", func(self string) string { return self + "/api/health" }, 1, "", 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			otherHits.Store(0)
			mux := http.NewServeMux()
			srv := httptest.NewServer(mux)
			defer srv.Close()
			mux.HandleFunc("/old/health", func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, tc.location(srv.URL), http.StatusFound)
			})
			mux.HandleFunc("/api/health", apiServe(200, apiJSONType, `{"status":"ok"}`))
			_, r, _ := newAPIRunner(t, apiConfig(srv.URL+"/old/health"))
			f := gather(t, r, 5*time.Second)
			f.want(t, "headroom_target_up", 1, apiKind...)
			f.want(t, "headroom_api_probe_success", tc.success)
			f.want(t, "headroom_api_probe_http_status_code", tc.status)
			apiWantOneFailure(t, f, tc.reason)
			if got := otherHits.Load(); got != 0 {
				t.Errorf("the other server got %d requests, want 0", got)
			}
		})
	}

	t.Run("redirect loop", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/again", http.StatusFound)
		}))
		defer srv.Close()
		_, r, _ := newAPIRunner(t, apiConfig(srv.URL))
		f := gather(t, r, 5*time.Second)
		f.want(t, "headroom_target_up", 1, apiKind...)
		apiWantOneFailure(t, f, "redirect")
	})
}

func TestNewAPIRejectsBadURL(t *testing.T) {
	for _, raw := range []string{"ftp://x/health", "http://", "http://user:pw@[::1/health"} {
		_, err := NewAPI(apiConfig(raw), slog.New(slog.DiscardHandler))
		if err == nil {
			t.Errorf("NewAPI(%q): no error", raw)
			continue
		}
		if strings.Contains(err.Error(), "pw") {
			t.Errorf("NewAPI(%q): error leaks the password: %v", raw, err)
		}
	}
}
