package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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

func waitListening(t testing.TB, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/-/healthy")
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("headroom not listening on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
