package standin

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestStandinControls(t *testing.T) {
	a := New()
	srv := httptest.NewServer(a.Handler())
	defer srv.Close()

	get := func(path string) (int, string) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/api/health"); code != 200 || !strings.Contains(body, `"status":"healthy"`) {
		t.Errorf("health: %d %s", code, body)
	}
	a.SetHealthy(false)
	if code, body := get("/api/health"); code != 503 || !strings.Contains(body, `"database":{"status":"unhealthy"}`) {
		t.Errorf("unhealthy: %d %s", code, body)
	}

	a.SetErrorRate(1)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	Drive(ctx, srv.URL, 40)
	cancel()
	time.Sleep(100 * time.Millisecond)
	ok := testutil.ToFloat64(a.requests.WithLabelValues("200", "POST", "/api/v1/chat"))
	failed := testutil.ToFloat64(a.requests.WithLabelValues("500", "POST", "/api/v1/chat"))
	if ok != 0 || failed < 10 {
		t.Errorf("with error rate 1: %v ok, %v failed", ok, failed)
	}

	// CPU seconds accrue at the set utilisation.
	a.SetCPU(0.5)
	before := cpuSeconds(t, a)
	time.Sleep(400 * time.Millisecond)
	if got := cpuSeconds(t, a) - before; got < 0.15 || got > 0.3 {
		t.Errorf("0.4s at 50%% CPU accrued %vs", got)
	}
	if _, body := get("/metrics"); !strings.Contains(body, "amas_queue_depth_current 0") || !strings.Contains(body, "process_resident_memory_bytes 3e+08") {
		t.Errorf("metrics:\n%s", body)
	}
}

func cpuSeconds(t *testing.T, a *API) float64 {
	t.Helper()
	fams, err := a.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "process_cpu_seconds_total" {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no process_cpu_seconds_total")
	return 0
}
