package endpoints

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom-dev/headroom/collectors"
	"github.com/headroom-dev/headroom/internal/config"
)

// Every link the landing page shows answers 200, with profiling off and on;
// the pprof links appear, and pprof is mounted, only when it is asked for.
func TestLandingPageLinksAnswer(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}`))
	}))
	t.Cleanup(api.Close)
	cfg, err := config.Parse("test.yml", []byte("api:\n  - {name: chat, health_url: '"+api.URL+"/health'}\n"))
	if err != nil {
		t.Fatal(err)
	}
	exporter, err := collectors.New(cfg, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(exporter.Close)

	for _, profiling := range []bool{false, true} {
		site, err := New(exporter, Options{Profiling: profiling})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(site)
		code, page := fetch(t, srv.URL+"/")
		if code != 200 {
			t.Fatalf("profiling %v: landing page %d", profiling, code)
		}
		links := hrefs(page)
		for _, want := range []string{"/metrics", "/probe?target=chat", "/-/healthy", "/-/ready"} {
			if !slices.Contains(links, want) {
				t.Errorf("profiling %v: landing page lacks a link to %s: %v", profiling, want, links)
			}
		}
		if hasPprof := slices.ContainsFunc(links, func(l string) bool { return strings.Contains(l, "debug/pprof") }); hasPprof != profiling {
			t.Errorf("profiling %v: landing page links pprof: %v (%v)", profiling, hasPprof, links)
		}
		for _, link := range links {
			if strings.HasPrefix(link, "http") {
				continue // off-site links (pprof.me) are not ours to serve
			}
			if strings.Contains(link, "profile?seconds=") {
				link = strings.Replace(link, "seconds=60", "seconds=1", 1) // the link itself takes a minute
			}
			if code, _ := fetch(t, srv.URL+"/"+strings.TrimPrefix(link, "/")); code != 200 {
				t.Errorf("profiling %v: link %s answers %d", profiling, link, code)
			}
		}
		if code, _ := fetch(t, srv.URL+"/debug/pprof/heap"); (code == 200) != profiling {
			t.Errorf("profiling %v: /debug/pprof/heap answers %d", profiling, code)
		}
		srv.Close()
	}
}

// Drain turns readiness off and leaves health on.
func TestDrain(t *testing.T) {
	exporter, err := collectors.New(&config.Config{}, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	site, err := New(exporter, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(site)
	defer srv.Close()
	for _, step := range []struct {
		drain          bool
		ready, healthy int
	}{{false, 200, 200}, {true, 503, 200}} {
		if step.drain {
			site.Drain()
		}
		if code, _ := fetch(t, srv.URL+"/-/ready"); code != step.ready {
			t.Errorf("drained %v: /-/ready %d, want %d", step.drain, code, step.ready)
		}
		if code, _ := fetch(t, srv.URL+"/-/healthy"); code != step.healthy {
			t.Errorf("drained %v: /-/healthy %d, want %d", step.drain, code, step.healthy)
		}
	}
}

func fetch(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func hrefs(page string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`href="([^"]+)"`).FindAllStringSubmatch(page, -1) {
		if !strings.HasSuffix(m[1], ".css") {
			out = append(out, strings.ReplaceAll(m[1], "&amp;", "&"))
		}
	}
	return out
}

// A telemetry path another endpoint holds is refused by name, where the
// mux would have panicked at start-up.
func TestTelemetryPathTaken(t *testing.T) {
	cfg, err := config.Parse("test.yml", []byte("api:\n  - {name: chat, health_url: 'http://127.0.0.1:1/health'}\n"))
	if err != nil {
		t.Fatal(err)
	}
	exporter, err := collectors.New(cfg, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(exporter.Close)
	for _, path := range []string{"/probe", TargetsPath, "/-/ready"} {
		if _, err := New(exporter, Options{MetricsPath: path}); err == nil || !strings.Contains(err.Error(), "--web.telemetry-path "+path) {
			t.Errorf("telemetry path %s: %v, want it refused by name", path, err)
		}
	}
	if _, err := New(exporter, Options{MetricsPath: "/stats"}); err != nil {
		t.Errorf("telemetry path /stats: %v", err)
	}
}
