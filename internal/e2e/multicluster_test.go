package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom-dev/headroom/alerts"
	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/collectors"
	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/standin"
	"github.com/headroom-dev/headroom/internal/testenv"
)

// clusterLabel is the external label each cluster's agent adds, and the
// bundle's cluster_label.
const clusterLabel = "cluster"

// TestMultiCluster runs the path of Thanos and Mimir users: a Prometheus
// agent per cluster, each with its cluster external label, remote-writes
// into one central Prometheus that evaluates the bundle generated with
// cluster_label, with Alertmanager behind it. A scale-up induced in
// cluster a pages for a only, in a group of its own, and does not inhibit
// the same service's scale-down in cluster b.
func TestMultiCluster(t *testing.T) {
	began := time.Now()
	hook := &webhook{}
	hookSrv := httptest.NewServer(hook)
	t.Cleanup(hookSrv.Close)

	cfg := e2eConfig(t)
	cfg.ClusterLabel = clusterLabel
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	files, err := alerts.Generate(catalogue.MustBuild(cfg))
	if err != nil {
		t.Fatal(err)
	}
	am := testenv.StartAlertmanager(t, webhookRouting(t, files[alerts.FileAlertmanager], hookSrv.URL))
	central := testenv.StartPrometheus(t, testenv.PrometheusOptions{
		RuleFiles:           writeRuleFiles(t, files),
		Alertmanager:        am.Addr(),
		RemoteWriteReceiver: true,
	})
	write := "http://" + central.Addr() + "/api/v1/write"
	apis := map[string]*standin.API{}
	for _, c := range []string{"a", "b"} {
		apis[c] = startCluster(t, c, write)
	}
	central.WaitFor(t, fmt.Sprintf(`count(count by (%s) (up{job="headroom"} == 1)) == 2`, clusterLabel), 30*time.Second)
	t.Logf("two agents writing into the central Prometheus after %s", time.Since(began).Round(100*time.Millisecond))

	// Both clusters idle: each cluster's scale-down ticket, on its own.
	for _, c := range []string{"a", "b"} {
		n := hook.wait(t, time.Time{}, 60*time.Second, "MemoryLow", "firing", clusterLabel, c)
		if n.receiver != "ticket" {
			t.Errorf("MemoryLow of cluster %s went to %s, want ticket", c, n.receiver)
		}
	}

	cause := time.Now()
	apis["a"].SetCPU(0.95)
	n := hook.wait(t, cause, 60*time.Second, "CPUHigh", "firing", clusterLabel, "a")
	if n.receiver != "pager" {
		t.Errorf("CPUHigh of cluster a went to %s, want pager", n.receiver)
	}
	t.Logf("cluster a's CPUHigh paged %.1fs after the cause", n.at.Sub(cause).Seconds())
	// Inhibition holds within cluster a, and only there.
	suppressed := waitAlertState(t, am.Addr(), "suppressed", "MemoryLow", clusterLabel, "a")
	active := waitAlertState(t, am.Addr(), "active", "MemoryLow", clusterLabel, "b")
	// A notification cycle of cluster b's group runs after the page.
	time.Sleep(2 * time.Second)
	if got := alertStates(t, am.Addr(), "MemoryLow", clusterLabel, "b"); len(got) != 1 || got[0].Status.State != "active" {
		t.Errorf("cluster b's MemoryLow after cluster a's CPUHigh paged: %+v, want one, active", got)
	}
	for _, p := range hook.since(cause) {
		if p.receiver == "pager" && p.labels[clusterLabel] != "a" {
			t.Errorf("a page for cluster %q after the cause in cluster a: %v", p.labels[clusterLabel], p.labels)
		}
		if p.labels["alertname"] == "CPUHigh" && p.labels[clusterLabel] != "a" {
			t.Errorf("CPUHigh notified for cluster %q: %v", p.labels[clusterLabel], p.labels)
		}
		if p.labels["alertname"] == "MemoryLow" && p.labels[clusterLabel] == "b" && p.status == "resolved" {
			t.Errorf("cluster b's MemoryLow resolved while cluster a scaled up: %v", p.labels)
		}
	}
	// Every notification of a cluster's alert is grouped by that cluster:
	// group_by [service, alertname] would send a's and b's MemoryLow as one.
	for _, p := range hook.since(time.Time{}) {
		if c, ok := p.labels[clusterLabel]; ok && p.group[clusterLabel] != c {
			t.Errorf("%s of cluster %s notified in a group %v, without its cluster", p.labels["alertname"], c, p.group)
		}
	}

	// The scale-up that inhibits a's MemoryLow, and b's MemoryLow, under
	// the bundle generated without cluster_label: there the scale-up
	// inhibits b's too. The check above is one that fails on a config that
	// ignores clusters.
	plain, err := alerts.Generate(catalogue.MustBuild(e2eConfig(t)))
	if err != nil {
		t.Fatal(err)
	}
	controlHook := httptest.NewServer(&webhook{})
	t.Cleanup(controlHook.Close)
	control := testenv.StartAlertmanager(t, webhookRouting(t, plain[alerts.FileAlertmanager], controlHook.URL))
	postAlerts(t, control.Addr(), suppressed.inhibitor(t, am.Addr()), active.Labels)
	waitAlertState(t, control.Addr(), "suppressed", "MemoryLow", clusterLabel, "b")

	apis["a"].SetCPU(0.2)
	hook.wait(t, cause, 60*time.Second, "CPUHigh", "resolved", clusterLabel, "a")
	waitAlertState(t, am.Addr(), "active", "MemoryLow", clusterLabel, "a")
	t.Logf("TestMultiCluster took %s", time.Since(began).Round(100*time.Millisecond))
}

// startCluster starts one cluster: a stand-in API under load, an exporter
// watching it, and a Prometheus agent with docs/alerts.md's config,
// scraping both and remote-writing to write with the cluster's external
// label.
func startCluster(t *testing.T, cluster, write string) *standin.API {
	t.Helper()
	api := standin.New()
	apiSrv := httptest.NewServer(api.Handler())
	t.Cleanup(apiSrv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go standin.Drive(ctx, apiSrv.URL, 5)

	cfg, err := config.Parse("cluster-"+cluster, []byte(fmt.Sprintf(`api:
  - {name: health-agent-api, health_url: '%[1]s/api/health', metrics_url: '%[1]s/api/v1/metrics', timeout: 500ms}
`, apiSrv.URL)))
	if err != nil {
		t.Fatal(err)
	}
	exporterSrv := serveExporter(t, cfg)

	agent := strings.NewReplacer(
		"scrape_interval: 15s", "scrape_interval: 1s",
		"cluster: a", clusterLabel+": "+cluster,
		// The default deadline, 5s, would add up to that to every alert.
		"- url: http://central-prometheus:9090/api/v1/write", "- url: "+write+"\n    queue_config: {batch_send_deadline: 1s}",
		"headroom:9630", strings.TrimPrefix(exporterSrv.URL, "http://"),
		"health-agent-api:8080", strings.TrimPrefix(apiSrv.URL, "http://"),
	).Replace(agentDocConfig(t))
	testenv.StartPrometheus(t, testenv.PrometheusOptions{Agent: true, Config: agent})
	return api
}

// agentDocConfig is docs/alerts.md's agent config, the one YAML block with
// remote_write.
func agentDocConfig(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/alerts.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n([^`]*remote_write:.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/alerts.md has no ```yaml block with remote_write")
	}
	return string(m[1])
}

// serveExporter runs an exporter of cfg behind a throwaway HTTP server.
func serveExporter(t *testing.T, cfg *config.Config) *httptest.Server {
	t.Helper()
	exporter, err := collectors.New(cfg, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(exporter.Close)
	srv := httptest.NewServer(exporter.MetricsHandler())
	t.Cleanup(srv.Close)
	return srv
}

// writeRuleFiles writes a bundle's rule files where Prometheus can read
// them.
func writeRuleFiles(t *testing.T, files alerts.Files) []string {
	t.Helper()
	dir := t.TempDir()
	var paths []string
	for _, name := range []string{alerts.FileRules, alerts.FileAlerts} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, path)
	}
	return paths
}

// since lists the notifications received since t.
func (w *webhook) since(t time.Time) []notification {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []notification
	for _, n := range w.seen {
		if !n.at.Before(t) {
			out = append(out, n)
		}
	}
	return out
}

// amAlert is an alert as Alertmanager's API lists it.
type amAlert struct {
	Labels map[string]string `json:"labels"`
	Status struct {
		State       string   `json:"state"`
		InhibitedBy []string `json:"inhibitedBy"`
	} `json:"status"`
}

// alertStates lists Alertmanager's alerts of a name and label value.
func alertStates(t *testing.T, addr, alertname, label, value string) []amAlert {
	t.Helper()
	q := url.Values{"filter": {fmt.Sprintf("alertname=%q", alertname), fmt.Sprintf("%s=%q", label, value)}}
	resp, err := http.Get("http://" + addr + "/api/v2/alerts?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []amAlert
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatalf("alerts of %s: %v", addr, err)
	}
	return list
}

// waitAlertState polls Alertmanager until the alert of that name and label
// value is in the state; suppressed means inhibited by another alert.
func waitAlertState(t *testing.T, addr, state, alertname, label, value string) amAlert {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		list := alertStates(t, addr, alertname, label, value)
		for _, a := range list {
			if a.Status.State == state && (state == "suppressed") == (len(a.Status.InhibitedBy) > 0) {
				return a
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s{%s=%q} not %s in Alertmanager %s within 30s: %+v", alertname, label, value, state, addr, list)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// inhibitor returns the labels of the first alert that inhibits a.
func (a amAlert) inhibitor(t *testing.T, addr string) map[string]string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/api/v2/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list []struct {
		amAlert
		Fingerprint string `json:"fingerprint"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	for _, l := range list {
		if len(a.Status.InhibitedBy) > 0 && l.Fingerprint == a.Status.InhibitedBy[0] {
			return l.Labels
		}
	}
	t.Fatalf("no alert of fingerprint %v in %s", a.Status.InhibitedBy, addr)
	return nil
}

// postAlerts sends alerts to Alertmanager as Prometheus does, firing for
// the next minute.
func postAlerts(t *testing.T, addr string, labels ...map[string]string) {
	t.Helper()
	var body []map[string]any
	for _, l := range labels {
		body = append(body, map[string]any{"labels": l, "startsAt": time.Now().Format(time.RFC3339), "endsAt": time.Now().Add(time.Minute).Format(time.RFC3339)})
	}
	raw, _ := json.Marshal(body)
	resp, err := http.Post("http://"+addr+"/api/v2/alerts", "application/json", bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("posting alerts to %s: %s", addr, resp.Status)
	}
}
