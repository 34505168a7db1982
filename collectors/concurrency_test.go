package collectors

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/testenv"
)

// slowHealth is a real health endpoint that answers after hold, and
// counts its requests and the most it held at once.
type slowHealth struct {
	hold     time.Duration
	srv      *httptest.Server
	mu       sync.Mutex
	inFlight int
	peak     int
	requests int
}

func (h *slowHealth) enter() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.requests++
	h.inFlight++
	h.peak = max(h.peak, h.inFlight)
}

func (h *slowHealth) leave() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.inFlight--
}

func (h *slowHealth) asked() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.requests
}

func (h *slowHealth) peakSeen() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.peak
}

func newSlowHealth(t *testing.T, hold time.Duration) *slowHealth {
	h := &slowHealth{hold: hold}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.enter()
		defer h.leave()
		select {
		case <-time.After(h.hold):
		case <-r.Context().Done():
		}
		w.Write([]byte(`{"status":"ok"}`))
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// TestScrapeConcurrencyCap: targets are scraped in parallel, at most the
// cap at once, and a target still waiting for a slot at the scrape's
// deadline is down with reason timeout while the others answer.
func TestScrapeConcurrencyCap(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		cap      int // 0: the default
		targets  int
		hold     time.Duration
		timeout  string // X-Prometheus-Scrape-Timeout-Seconds
		wantPeak int
		// wantAsked targets reach the endpoint; the others wait for a
		// slot until the deadline and are down with reason timeout.
		wantAsked int
	}{
		{name: "default cap: all at once", targets: 6, hold: 200 * time.Millisecond, timeout: "10", wantPeak: 6, wantAsked: 6},
		{name: "cap 2", cap: 2, targets: 6, hold: 100 * time.Millisecond, timeout: "10", wantPeak: 2, wantAsked: 6},
		// Budget 750ms (1s less a quarter): the first target answers at
		// 400ms, the second's GET is cut at 750ms, the third never gets
		// a slot.
		{name: "cap 1 past the deadline", cap: 1, targets: 3, hold: 400 * time.Millisecond, timeout: "1", wantPeak: 1, wantAsked: 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newSlowHealth(t, tc.hold)
			var yaml strings.Builder
			yaml.WriteString("api:\n")
			for i := range tc.targets {
				fmt.Fprintf(&yaml, "  - {name: api%d, health_url: '%s/health'}\n", i, h.srv.URL)
			}
			cfg, err := config.Parse("test.yml", []byte(yaml.String()))
			if err != nil {
				t.Fatal(err)
			}
			e, err := New(cfg, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(e.Close)
			if tc.cap > 0 {
				if err := e.SetScrapeConcurrency(tc.cap); err != nil {
					t.Fatal(err)
				}
			}
			srv := httptest.NewServer(e.MetricsHandler())
			t.Cleanup(srv.Close)

			_, fams, _ := fetchMetrics(t, srv.URL, http.Header{"X-Prometheus-Scrape-Timeout-Seconds": {tc.timeout}})
			if got := h.peakSeen(); got != tc.wantPeak {
				t.Errorf("%d health requests at once at most, want %d", got, tc.wantPeak)
			}
			if got := h.asked(); got != tc.wantAsked {
				t.Errorf("%d health requests, want %d", got, tc.wantAsked)
			}
			// A target refused a slot is down with reason timeout. (The
			// one whose GET was cut may be either: an API target reports
			// a failed probe with up 1, unless its answer came after the
			// caller stopped waiting.)
			down := 0
			for _, m := range fams["headroom_target_up"].GetMetric() {
				if m.GetGauge().GetValue() == 0 {
					down++
				}
			}
			timeouts := 0
			for _, m := range fams["headroom_target_scrape_errors_total"].GetMetric() {
				for _, lp := range m.GetLabel() {
					if lp.GetName() == "reason" && lp.GetValue() == "timeout" && m.GetCounter().GetValue() > 0 {
						timeouts++
					}
				}
			}
			refused := tc.targets - tc.wantAsked
			if down < refused || timeouts < refused || (refused == 0 && down+timeouts > 0) {
				t.Errorf("%d targets down and %d with a timeout; %d were refused a slot", down, timeouts, refused)
			}
		})
	}
}

func TestSetScrapeConcurrencyRefusesZero(t *testing.T) {
	e := &Exporter{}
	for _, n := range []int{0, -1} {
		if err := e.SetScrapeConcurrency(n); err == nil {
			t.Errorf("SetScrapeConcurrency(%d) accepted", n)
		}
	}
}

// TestConnectionsHeldPerPostgresTarget: after scrapes of /metrics and of
// every target's /probe at once, round after round, each PostgreSQL
// target holds one connection: a target's concurrent scrapes share one
// round of queries on one connection, so the pool never grows past it,
// whatever its max_connections (5 here). The goal is at most 2 a target.
func TestConnectionsHeldPerPostgresTarget(t *testing.T) {
	t.Parallel()
	// Its own server: the count is of every connection named headroom,
	// and other tests' would be counted on a shared one.
	pg := testenv.StartPostgres(t, testenv.PostgresOptions{})
	const targets, rounds, concurrentScrapes = 8, 5, 3
	var yaml strings.Builder
	yaml.WriteString("postgres:\n")
	for i := range targets {
		fmt.Fprintf(&yaml, "  - {name: pg%d, dsn: '%s', max_connections: 5}\n", i, pg.DSN("postgres", "postgres"))
	}
	e, srv := startTestExporter(t, yaml.String())

	for range rounds {
		var wg sync.WaitGroup
		urls := []string{}
		for range concurrentScrapes {
			urls = append(urls, srv.URL+"/metrics")
		}
		for i := range targets {
			urls = append(urls, fmt.Sprintf("%s/probe?target=pg%d", srv.URL, i))
		}
		for _, u := range urls {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := http.Get(u)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}()
		}
		wg.Wait()
	}

	for _, r := range e.Runners() {
		if held := r.target.(*postgresTarget).PoolStats().TotalConns(); held != 1 {
			t.Errorf("%s holds %d connections, want 1", r.Name(), held)
		}
	}
	held := pg.QueryInt(t, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'headroom'")
	if held != targets {
		t.Errorf("the server sees %d connections from headroom for %d targets, want one each", held, targets)
	}
}
