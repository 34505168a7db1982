package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/headroom-dev/headroom/internal/testenv"
)

// The binary as users run it: the web config of exporter-toolkit guards
// every endpoint, a bad config stops start-up naming the file and field,
// and --version answers.
func TestServeBinary(t *testing.T) {
	bin := headroomBinary(t)
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}

	t.Run("version", func(t *testing.T) {
		out, err := exec.Command(bin, "--version").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "headroom, version") {
			t.Errorf("--version: %v\n%s", err, out)
		}
	})

	t.Run("bad config stops start-up naming file and field", func(t *testing.T) {
		cfg := write("bad.yml", "redis:\n  - name: cache\n    address: no-port-here\n")
		out, err := exec.Command(bin, "serve", "--config.file="+cfg, "--web.listen-address=127.0.0.1:0").CombinedOutput()
		if err == nil {
			t.Fatalf("started with a bad config:\n%s", out)
		}
		for _, want := range []string{cfg, "redis[0] (cache)", "field address"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("error does not name %q:\n%s", want, out)
			}
		}
	})

	t.Run("config.check counts the targets of every kind", func(t *testing.T) {
		cfg := write("check.yml", "redis:\n  - {name: cache, address: '127.0.0.1:1'}\n  - {name: sessions, address: '127.0.0.1:2'}\n"+
			"api:\n  - {name: web, health_url: 'http://127.0.0.1:1/health'}\n")
		out, err := exec.Command(bin, "serve", "--config.file="+cfg, "--config.check").CombinedOutput()
		if err != nil {
			t.Fatalf("--config.check: %v\n%s", err, out)
		}
		want := `msg="config is valid" file=` + cfg + ` postgres=0 pgbouncer=0 redis=2 api=1`
		if !strings.Contains(string(out), want) {
			t.Errorf("--config.check logs\n%s\nwant a line with %s", out, want)
		}
	})

	t.Run("basic auth from the web config guards every endpoint", func(t *testing.T) {
		r := testenv.StartRedis(t, testenv.RedisOptions{})
		hash, err := bcrypt.GenerateFromPassword([]byte("scrape-pw"), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		webCfg := write("web.yml", fmt.Sprintf("basic_auth_users:\n  prometheus: %s\n", hash))
		cfg := write("ok.yml", fmt.Sprintf("redis:\n  - name: cache\n    address: %s\n", r.Addr()))
		addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
		cmd := exec.Command(bin, "serve", "--config.file="+cfg, "--web.listen-address="+addr, "--web.config.file="+webCfg)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		waitListening(t, addr)

		for _, path := range []string{"/metrics", "/probe?target=cache", "/-/healthy", "/"} {
			if code, _ := get(t, "http://"+addr+path, ""); code != http.StatusUnauthorized {
				t.Errorf("%s without credentials: %d, want 401", path, code)
			}
		}
		code, body := get(t, "http://"+addr+"/metrics", "scrape-pw")
		if code != 200 || !strings.Contains(body, `headroom_target_up{kind="redis",target="cache"} 1`) || !strings.Contains(body, "headroom_build_info") {
			t.Errorf("/metrics with credentials: %d\n%.400s", code, body)
		}
		if code, _ := get(t, "http://"+addr+"/probe?target=nowhere", "scrape-pw"); code != http.StatusBadRequest {
			t.Errorf("unknown probe target: %d, want 400", code)
		}
	})
}

// SIGTERM while a scrape waits for a hung target: readiness turns 503 at
// once, the scrape is answered at the end of the grace period with what
// answered and reason shutdown for the rest, and the process exits 0.
func TestServeSIGTERMDuringScrape(t *testing.T) {
	t.Parallel()
	bin := headroomBinary(t)
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }))
	defer healthy.Close()
	cfg := filepath.Join(t.TempDir(), "headroom.yml")
	yaml := fmt.Sprintf("api:\n  - {name: healthy, health_url: %q}\n  - {name: hung, health_url: %q, timeout: 60s}\n",
		healthy.URL, "http://"+testenv.StartHung(t)+"/health")
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	const grace = 400 * time.Millisecond
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cmd := exec.Command(bin, "serve", "--config.file="+cfg, "--web.listen-address="+addr, "--shutdown.grace-period="+grace.String())
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var exitErr error
	go func() { exitErr = cmd.Wait(); close(exited) }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	waitListening(t, addr)
	if code, _ := get(t, "http://"+addr+"/-/ready", ""); code != http.StatusOK {
		t.Fatalf("/-/ready before SIGTERM: %d", code)
	}

	type answer struct {
		code int
		body string
		at   time.Time
		err  error
	}
	scraped := make(chan answer, 1)
	go func() {
		req, _ := http.NewRequest("GET", "http://"+addr+"/metrics", nil)
		// A 10s scrape timeout: its own deadline is 9.5s away.
		req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", "10")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			scraped <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		scraped <- answer{code: resp.StatusCode, body: string(body), at: time.Now(), err: err}
	}()
	time.Sleep(200 * time.Millisecond)
	signalled := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// Well inside the grace period, but long enough for a loaded machine
	// to have delivered the signal (50ms was not, once, in CI).
	time.Sleep(150 * time.Millisecond)
	if code, body := get(t, "http://"+addr+"/-/ready", ""); code != http.StatusServiceUnavailable {
		t.Errorf("/-/ready after SIGTERM: %d %q, want 503", code, body)
	}

	var got answer
	select {
	case got = <-scraped:
	case <-time.After(5 * time.Second):
		t.Fatalf("scrape in flight not answered 5s after SIGTERM\n%s", logs.String())
	}
	if got.err != nil || got.code != 200 {
		t.Fatalf("scrape in flight at SIGTERM: %d %v\n%s", got.code, got.err, logs.String())
	}
	if took := got.at.Sub(signalled); took < grace || took > grace+50*time.Millisecond {
		t.Errorf("scrape answered %v after SIGTERM, want within the %v grace period (+50ms)", took, grace)
	}
	for _, want := range []string{
		`headroom_target_up{kind="api",target="healthy"} 1`,
		`headroom_api_probe_success{target="healthy"} 1`,
		`headroom_target_up{kind="api",target="hung"} 0`,
	} {
		if !strings.Contains(got.body, want) {
			t.Errorf("scrape in flight at SIGTERM lacks %s\n%s", want, got.body)
		}
	}
	// At least once: the target and the collector that were cut short
	// each count, as for a timeout.
	shutdowns := regexp.MustCompile(`(?m)^headroom_target_scrape_errors_total\{kind="api",reason="shutdown",target="hung"\} [1-9]`)
	if !shutdowns.MatchString(got.body) {
		t.Errorf("hung target's scrape not counted with reason shutdown\n%s", got.body)
	}
	select {
	case <-exited:
		if exitErr != nil {
			t.Errorf("exit after SIGTERM: %v\n%s", exitErr, logs.String())
		}
	case <-time.After(3 * time.Second):
		t.Errorf("still running 3s after SIGTERM\n%s", logs.String())
	}
}

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func get(t *testing.T, url, password string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if password != "" {
		req.SetBasicAuth("prometheus", password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func waitListening(t testing.TB, addr string) { waitServing(t, addr, nil, nil) }

// waitServing waits until serve answers on addr, failing at once when it
// exits instead (exited may be nil when the caller does not watch that).
func waitServing(t testing.TB, addr string, exited <-chan error, stderr *bytes.Buffer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case err := <-exited:
			t.Fatalf("serve exited: %v\n%s", err, stderr.String())
		default:
		}
		resp, err := http.Get("http://" + addr + "/-/healthy")
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not listening on %s: %v", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
