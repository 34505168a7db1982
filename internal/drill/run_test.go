package drill

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/headroom-dev/headroom/internal/charts/chartstest"
)

// server is a loopback API that answers 200, or status for every n-th
// request, and records the bodies' sequence numbers.
type server struct {
	*httptest.Server
	requests atomic.Int64
	failEach int64
}

func newServer(t *testing.T, failEach int64) *server {
	s := &server{failEach: failEach}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := s.requests.Add(1)
		io.Copy(io.Discard, r.Body)
		if s.failEach > 0 && n%s.failEach == 0 {
			http.Error(w, "no", http.StatusServiceUnavailable)
			return
		}
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
			return
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(s.Close)
	return s
}

func runner(t *testing.T, url string) Runner { return runnerFor(t, url) }

// A real step against a loopback server: the requests it answered in each
// phase are within 5 % of the plan, every tenth failure is counted, and
// the per-second samples add up to the total.
func TestRunSendsTheStep(t *testing.T) {
	srv := newServer(t, 10)
	r := runner(t, srv.URL+"/api")
	reg := prometheus.NewRegistry()
	r.Observer = NewMetrics(reg, "amas")
	d := Drill{Name: "step", Pattern: Step, Rate: 40, To: 120, At: mdur("2s"), Duration: mdur("4s")}
	res := r.Run(context.Background(), d)
	if res.Interrupted {
		t.Fatal("interrupted")
	}
	before, after := 0, 0
	for _, s := range res.Samples {
		if s.Second < 2 {
			before += s.Sent
		} else {
			after += s.Sent
		}
	}
	for _, tc := range []struct {
		phase string
		got   int
		want  float64
	}{{"before the step", before, 80}, {"after the step", after, 240}} {
		// 8 %, not the 5 % the pacer meets on its own clock
		// (TestPatternsSendTheirCurve): here the phases split at a
		// wall-clock second that a stalled core can move by a few requests.
		if diff := float64(tc.got) - tc.want; diff > 0.08*tc.want || diff < -0.08*tc.want {
			t.Errorf("%s: %d requests, planned %v", tc.phase, tc.got, tc.want)
		}
	}
	if int64(res.Stats.Requests) != srv.requests.Load() || res.Stats.Requests != before+after {
		t.Errorf("%d results, %d in the samples, %d served", res.Stats.Requests, before+after, srv.requests.Load())
	}
	if errs := res.Stats.Requests - res.Stats.Successes; errs != res.Stats.Requests/10 || res.Errors["503 Service Unavailable"] != errs {
		t.Errorf("%d errors of %d requests (%v), want every tenth", errs, res.Stats.Requests, res.Errors)
	}
	if got := testutil.ToFloat64(r.Observer.(*metricsObserver).requests.WithLabelValues("step", "200", "step")); got < 200 {
		t.Errorf("amas_load_test_requests_total{test=step,status=200,phase=step} = %v", got)
	}
	if n, err := testutil.GatherAndCount(reg, "amas_load_test_requests_total", "amas_load_test_request_duration_seconds",
		"amas_load_test_active_users", "amas_load_test_requests_per_second"); err != nil || n < 5 {
		t.Errorf("the guide's series: %d, %v", n, err)
	}
}

// A redirect is not followed and not a success.
func TestRedirectIsNotFollowed(t *testing.T) {
	srv := newServer(t, 0)
	r := runner(t, srv.URL+"/moved")
	res := r.Run(context.Background(), Drill{Name: "moved", Pattern: Constant, Rate: 20, Duration: mdur("1s")})
	if res.Stats.Requests == 0 || res.Stats.Successes != 0 || srv.requests.Load() != int64(res.Stats.Requests) {
		t.Errorf("%d requests, %d successes, %d served (a followed redirect would double them)", res.Stats.Requests, res.Stats.Successes, srv.requests.Load())
	}
}

// Cancelling stops the load at once and keeps what was sent.
func TestCancelStopsAtOnce(t *testing.T) {
	srv := newServer(t, 0)
	r := runner(t, srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(time.Second, cancel)
	began := time.Now()
	res := r.Run(ctx, Drill{Name: "long", Pattern: Constant, Rate: 50, Duration: mdur("30s")})
	if took := time.Since(began); took > 5*time.Second {
		t.Errorf("stopped after %s", took)
	}
	if !res.Interrupted || res.Stats.Requests == 0 {
		t.Errorf("interrupted %v with %d requests", res.Interrupted, res.Stats.Requests)
	}
	res.Verdict.SLOMet = true
	if ExitCode([]DrillResult{res}) != ExitInterrupted {
		t.Error("an interrupted run does not exit 130")
	}
}

func TestResolveRefusesPublicAddresses(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1": true, "::1": true, "10.1.2.3": true, "172.16.0.1": true, "192.168.1.1": true,
		"fd00::1": true, "8.8.8.8": false, "2001:db8::1": false, "169.254.1.1": false, "100.64.0.1": false} {
		if got := Allowed(netip.MustParseAddr(addr)); got != want {
			t.Errorf("%s: allowed %v", addr, got)
		}
	}
	if _, err := Resolve(context.Background(), "http://8.8.8.8/", false); err == nil || !strings.Contains(err.Error(), "8.8.8.8") ||
		!strings.Contains(err.Error(), "--allow-public-target") {
		t.Errorf("8.8.8.8: %v", err)
	}
	if d, err := Resolve(context.Background(), "http://8.8.8.8/", true); err != nil || d.Addrs[0] != "8.8.8.8:80" {
		t.Errorf("8.8.8.8 allowed: %+v, %v", d, err)
	}
	if d, err := Resolve(context.Background(), "http://localhost:8000/", false); err != nil || len(d.Addrs) == 0 {
		t.Errorf("localhost: %+v, %v", d, err)
	}
}

func TestUnreachableNamesTheAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	d, err := Resolve(context.Background(), "http://"+addr+"/", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Reachable(context.Background(), "http://"+addr+"/"); err == nil || !strings.Contains(err.Error(), "unreachable at "+addr) {
		t.Errorf("closed port: %v", err)
	}
}

// The JSON and CSV reports carry the same samples; JSON has its schema.
func TestReports(t *testing.T) {
	srv := newServer(t, 0)
	r := runner(t, srv.URL)
	results := []DrillResult{r.Run(context.Background(), Drill{Name: "c", Pattern: Constant, Rate: 30, Duration: mdur("2s")})}
	Judge(results, r.Config.SLO, r.Config.Regression, nil)
	rep := ReportOf(r.Config, results)
	var js bytes.Buffer
	if err := WriteJSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || back["schema"] != ReportSchema || back["exit_code"] != 0.0 {
		t.Fatalf("JSON: %v %v", back["schema"], err)
	}
	var cs bytes.Buffer
	if err := WriteCSV(&cs, rep); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&cs).ReadAll()
	if err != nil || strings.Join(rows[0], ",") != strings.Join(CSVHeader, ",") || len(rows)-1 != len(rep.Drills[0].Samples) {
		t.Fatalf("CSV: %d rows, %v", len(rows), err)
	}
	var text bytes.Buffer
	WriteText(&text, rep)
	for _, want := range []string{"c (constant to 30 req/s", "SLO       met", "exit code 0"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
}

// The HTML report opens in a real headless chromium, offline, with three
// charts a drill (load, latency, errors), none blank, and no console error.
func TestHTMLReportInABrowser(t *testing.T) {
	srv := newServer(t, 4)
	r := runner(t, srv.URL)
	results := []DrillResult{r.Run(context.Background(), Drill{Name: "burst", Pattern: Spike, Rate: 10, To: 40, At: mdur("1s"), Hold: mdur("1s"), Duration: mdur("3s")})}
	Judge(results, r.Config.SLO, r.Config.Regression, nil)
	var page bytes.Buffer
	if err := WriteHTML(&page, ReportOf(r.Config, results)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<td>SLO</td>", "failed: success ratio 7", "below 99.00%", "burst: latency (seconds)"} {
		if !strings.Contains(page.String(), want) {
			t.Errorf("the page does not say %q", want)
		}
	}
	got := chartstest.OpenHTML(t, "drill.html", page.Bytes())
	for _, p := range got.Problems() {
		t.Error(p)
	}
	if len(got.Charts) != 3 {
		t.Errorf("%d charts, want 3", len(got.Charts))
	}
}
