package collectors

import (
	"compress/gzip"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/testenv"
)

func newTestExporter(t *testing.T, yaml string) *httptest.Server {
	t.Helper()
	_, srv := startTestExporter(t, yaml)
	return srv
}

// startTestExporter is newTestExporter for tests that also look inside
// the exporter (its runners' pools).
func startTestExporter(t *testing.T, yaml string) (*Exporter, *httptest.Server) {
	t.Helper()
	cfg, err := config.Parse("test.yml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(cfg, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	mux := http.NewServeMux()
	mux.Handle("/metrics", e.MetricsHandler())
	mux.Handle("/probe", e.ProbeHandler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return e, srv
}

func fetchMetrics(t *testing.T, url string, header http.Header) (int, map[string]*dto.MetricFamily, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return resp.StatusCode, nil, string(body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, body)
	}
	return resp.StatusCode, fams, string(body)
}

func TestProbeOnlyConfiguredTargets(t *testing.T) {
	t.Parallel()
	pg := readOnlyPostgres.Get(t)
	srv := newTestExporter(t, "postgres:\n  - {name: main, dsn: '"+pg.DSN("postgres", "postgres")+"'}\n")

	for _, tc := range []struct {
		query string
		code  int
		body  string
	}{
		{"", 400, "target parameter is missing"},
		{"?target=elsewhere", 400, "unknown target"},
		// An address is not a name: headroom never dials what is not configured.
		{"?target=" + pg.Addr(), 400, "unknown target"},
		{"?target=main", 200, `headroom_target_up{kind="postgres",target="main"} 1`},
	} {
		code, _, body := fetchMetrics(t, srv.URL+"/probe"+tc.query, nil)
		if code != tc.code || !strings.Contains(body, tc.body) {
			t.Errorf("/probe%s: %d %q, want %d containing %q", tc.query, code, body, tc.code, tc.body)
		}
	}
}

// A hung target must not cost the others their data: each answers within
// the deadline Prometheus announced.
func TestMetricsDeadlineWithHungTarget(t *testing.T) {
	t.Parallel()
	healthy := readOnlyPostgres.Get(t)
	// Its own: it is frozen.
	hung := testenv.StartPostgres(t, testenv.PostgresOptions{})
	srv := newTestExporter(t, "postgres:\n"+
		"  - {name: healthy, dsn: '"+healthy.DSN("postgres", "postgres")+"'}\n"+
		"  - {name: hung, dsn: '"+hung.DSN("postgres", "postgres")+"'}\n")
	if code, _, body := fetchMetrics(t, srv.URL+"/metrics", nil); code != 200 || !strings.Contains(body, `headroom_target_up{kind="postgres",target="hung"} 1`) {
		t.Fatalf("before freezing: %d\n%s", code, body)
	}
	hung.Freeze()
	defer hung.Thaw()

	start := time.Now()
	code, fams, body := fetchMetrics(t, srv.URL+"/metrics", http.Header{"X-Prometheus-Scrape-Timeout-Seconds": {"3"}})
	took := time.Since(start)
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	// 3s announced, 0.5s kept back: the answer is due by 2.5s.
	if took > 2800*time.Millisecond {
		t.Errorf("scrape with a hung target took %v for a 3s Prometheus timeout", took)
	}
	for _, want := range []string{
		`headroom_target_up{kind="postgres",target="hung"} 0`,
		`headroom_target_up{kind="postgres",target="healthy"} 1`,
		`headroom_postgres_max_connections{target="healthy"} 100`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("missing %s", want)
		}
	}
	if f := fams["headroom_postgres_max_connections"]; f != nil && len(f.GetMetric()) != 1 {
		t.Errorf("hung target still reported data: %v", f)
	}
}

func TestMetricsGzipRoundTrips(t *testing.T) {
	t.Parallel()
	pg := readOnlyPostgres.Get(t)
	srv := newTestExporter(t, "postgres:\n  - {name: main, dsn: '"+pg.DSN("postgres", "postgres")+"'}\n")
	for _, enc := range []string{"gzip", "gzip;q=0", "gzip; q=0.0", "deflate, gzip;q=0.5", "identity", ""} {
		req, _ := http.NewRequest("GET", srv.URL+"/metrics", nil)
		req.Header.Set("Accept-Encoding", enc)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = resp.Body
		gzipped := resp.Header.Get("Content-Encoding") == "gzip"
		if wanted := enc == "gzip" || strings.HasSuffix(enc, "q=0.5"); gzipped != wanted {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q", enc, resp.Header.Get("Content-Encoding"))
		}
		if gzipped {
			zr, err := gzip.NewReader(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			body = zr
		}
		raw, err := io.ReadAll(body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%q: %v", enc, err)
		}
		if !strings.Contains(string(raw), `headroom_target_up{kind="postgres",target="main"} 1`) {
			t.Errorf("%q: body lacks up:\n%.300s", enc, raw)
		}
	}
}

// Text (what Prometheus gets unless it asks for protobuf, OpenMetrics
// included since headroom does not offer it) comes from headroom's own
// writer; protobuf from promhttp's. Both carry the same series, with the
// content type and Vary headers promhttp sends.
func TestMetricsFormats(t *testing.T) {
	t.Parallel()
	// Shared: the series it counts in each format are the same from one
	// scrape to the next, as the other tests on the server create nothing
	// and every backend state has its series, zero or not.
	pg := readOnlyPostgres.Get(t)
	srv := newTestExporter(t, "postgres:\n  - {name: main, dsn: '"+pg.DSN("postgres", "postgres")+"'}\n")
	series := map[string]int{}
	for _, tc := range []struct{ accept, wantType string }{
		{"", "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"},
		{"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
			"text/plain; version=0.0.4; charset=utf-8; escaping=underscores"},
		{"application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited",
			"application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited; escaping=underscores"},
	} {
		req, _ := http.NewRequest("GET", srv.URL+"/metrics", nil)
		req.Header.Set("Accept", tc.accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Header.Get("Content-Type"); got != tc.wantType {
			t.Errorf("Accept %q: Content-Type %q, want %q", tc.accept, got, tc.wantType)
		}
		if vary := resp.Header.Values("Vary"); !slices.Contains(vary, "Accept") {
			t.Errorf("Accept %q: Vary %q lacks Accept", tc.accept, vary)
		}
		dec := expfmt.NewDecoder(resp.Body, expfmt.ResponseFormat(resp.Header))
		n := 0
		for {
			var f dto.MetricFamily
			if err := dec.Decode(&f); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("Accept %q: %v", tc.accept, err)
			}
			n += len(f.GetMetric())
		}
		resp.Body.Close()
		series[tc.wantType] = n
	}
	// promhttp's name[] filter, on both paths.
	for _, accept := range []string{"", "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;encoding=delimited"} {
		req, _ := http.NewRequest("GET", srv.URL+"/metrics?name[]=headroom_target_up&name[]=headroom_postgres_max_connections", nil)
		req.Header.Set("Accept", accept)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		dec := expfmt.NewDecoder(resp.Body, expfmt.ResponseFormat(resp.Header))
		var names []string
		for {
			var f dto.MetricFamily
			if err := dec.Decode(&f); err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			names = append(names, f.GetName())
		}
		resp.Body.Close()
		// expfmt's text decoder hands families back in map order.
		slices.Sort(names)
		if !slices.Equal(names, []string{"headroom_postgres_max_connections", "headroom_target_up"}) {
			t.Errorf("Accept %q, name[] filter: families %v", accept, names)
		}
	}
	if len(series) != 2 || series["text/plain; version=0.0.4; charset=utf-8; escaping=underscores"] < 20 ||
		series["text/plain; version=0.0.4; charset=utf-8; escaping=underscores"] !=
			series["application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited; escaping=underscores"] {
		t.Errorf("series by format: %v, want the same number in both", series)
	}
}
