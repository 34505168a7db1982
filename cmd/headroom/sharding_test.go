package main

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/headroom-dev/headroom/collectors"
	"github.com/headroom-dev/headroom/internal/testenv"
)

// docs/sharding.md's scrape config, as written, against two replicas of
// the exporter behind basic auth and a real Prometheus: each replica lists
// every target on /targets (by name, no credentials), and Prometheus
// scrapes every target exactly once, through the replica its hashmod names.
func TestShardedScrape(t *testing.T) {
	t.Parallel()
	bin := headroomBinary(t)
	dir := t.TempDir()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) }))
	defer api.Close()

	names := []string{"checkout", "search", "billing", "accounts", "catalogue", "auth"}
	var cfg strings.Builder
	cfg.WriteString("api:\n")
	for _, n := range names {
		fmt.Fprintf(&cfg, "  - {name: %s, health_url: %q}\n", n, api.URL+"/health/"+n)
	}
	// A target whose DSN carries a password: discovery names it and
	// nothing more. Nothing listens there; its probe reads up 0.
	const secret = "sd-must-not-show-this"
	cfg.WriteString("postgres:\n  - {name: orders, dsn: 'postgres://monitor:" + secret + "@127.0.0.1:1/orders'}\n")
	// /targets lists kind by kind, as the exporter builds its targets.
	names = append([]string{"orders"}, names...)
	kinds := map[string]string{"orders": "postgres"}

	const scrapePassword = "scrape-pw"
	hash, err := bcrypt.GenerateFromPassword([]byte(scrapePassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	webCfg := filepath.Join(dir, "web.yml")
	cfgFile := filepath.Join(dir, "headroom.yml")
	for path, content := range map[string]string{webCfg: fmt.Sprintf("basic_auth_users:\n  prometheus: %s\n", hash), cfgFile: cfg.String()} {
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	replicas := make([]string, 2)
	for i := range replicas {
		replicas[i] = fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
		cmd := exec.Command(bin, "serve", "--config.file="+cfgFile, "--web.listen-address="+replicas[i], "--web.config.file="+webCfg)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		waitListening(t, replicas[i])
	}

	t.Run("targets lists every target by name behind the web config", func(t *testing.T) {
		if code, _ := get(t, "http://"+replicas[0]+"/targets", ""); code != http.StatusUnauthorized {
			t.Errorf("/targets without credentials: %d, want 401", code)
		}
		code, body := get(t, "http://"+replicas[0]+"/targets", scrapePassword)
		if code != 200 || strings.Contains(body, secret) || strings.Contains(body, "127.0.0.1:1") {
			t.Fatalf("/targets: %d, and must not show the DSN:\n%s", code, body)
		}
		var groups []collectors.TargetGroup
		if err := json.Unmarshal([]byte(body), &groups); err != nil {
			t.Fatalf("/targets is not http_sd JSON: %v\n%s", err, body)
		}
		var listed []string
		for _, g := range groups {
			name := g.Labels[collectors.SDTargetParam]
			listed = append(listed, name)
			want := kinds[name]
			if want == "" {
				want = "api"
			}
			if !slices.Equal(g.Targets, []string{replicas[0]}) || g.Labels["__metrics_path__"] != "/probe" || g.Labels[collectors.SDKindLabel] != want {
				t.Errorf("group for %s: %+v, want targets [%s], path /probe, kind %s", name, g, replicas[0], want)
			}
		}
		if !slices.Equal(listed, names) {
			t.Errorf("/targets lists %v, want %v (postgres first, then the file's order)", listed, names)
		}
	})

	scrapeConfig := shardingDocConfig(t)
	scrapeConfig = strings.NewReplacer(
		"headroom-0.headroom:9630", replicas[0],
		"headroom-1.headroom:9630", replicas[1],
		"password_file: /etc/prometheus/headroom-password", "password: "+scrapePassword,
	).Replace(scrapeConfig)
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{ScrapeConfigs: strings.TrimPrefix(scrapeConfig, "scrape_configs:\n")})

	// Every target answers once, as job headroom with its name as instance.
	prom.WaitFor(t, fmt.Sprintf(`count(headroom_target_up{job="headroom"}) == %d`, len(names)), 30*time.Second)
	for _, s := range prom.Query(t, `count by (target, instance) (headroom_target_up{job="headroom"})`) {
		if s.Value != 1 || s.Metric["target"] != s.Metric["instance"] {
			t.Errorf("target %s: %v series with instance %s, want one with the target's name", s.Metric["target"], s.Value, s.Metric["instance"])
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := prom.API.Targets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	scrapedVia := map[string]string{}
	for _, a := range res.Active {
		u, err := url.Parse(a.ScrapeURL)
		if err != nil {
			t.Fatal(err)
		}
		target := u.Query().Get("target")
		if prev, dup := scrapedVia[target]; dup {
			t.Errorf("%s scraped through %s and %s", target, prev, u.Host)
		}
		scrapedVia[target] = u.Host
		if u.Path != "/probe" {
			t.Errorf("%s scraped at %s, want /probe", target, a.ScrapeURL)
		}
	}
	shards := map[string]bool{}
	for _, name := range names {
		want := replicas[prometheusHashmod(name, 2)]
		if scrapedVia[name] != want {
			t.Errorf("%s scraped through %q, want %s (its hashmod shard)", name, scrapedVia[name], want)
		}
		shards[want] = true
	}
	if len(shards) != 2 {
		t.Errorf("every target fell to one replica (%v): the test shows no sharing; rename one", shards)
	}
}

// prometheusHashmod is relabel's hashmod over one label value: the md5
// sum's last eight bytes, big-endian, modulo the modulus.
func prometheusHashmod(value string, modulus uint64) int {
	sum := md5.Sum([]byte(value))
	return int(binary.BigEndian.Uint64(sum[8:]) % modulus)
}

// shardingDocConfig is docs/sharding.md's scrape config, the one YAML block
// that starts with scrape_configs.
func shardingDocConfig(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/sharding.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(scrape_configs:\n.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/sharding.md has no ```yaml block starting with scrape_configs")
	}
	return string(m[1])
}
