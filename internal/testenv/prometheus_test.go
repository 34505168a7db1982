package testenv

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// Prometheus scrapes a target and evaluates a rule file; Alertmanager starts
// with a config and answers.
func TestPrometheusAndAlertmanager(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("demo_value 42\n"))
	}))
	defer target.Close()
	rules := Dir(t, "rules") + "/rules.yaml"
	writeFile(t, rules, "groups:\n  - name: demo\n    rules:\n      - record: demo:value:doubled\n        expr: demo_value * 2\n")
	am := StartAlertmanager(t, "route:\n  receiver: none\nreceivers:\n  - name: none\n")
	p := StartPrometheus(t, PrometheusOptions{
		Targets:      []string{strings.TrimPrefix(target.URL, "http://")},
		RuleFiles:    []string{rules},
		Alertmanager: am.Addr(),
	})
	v := p.WaitFor(t, "demo:value:doubled", 20*time.Second)
	if float64(v[0].Value) != 84 {
		t.Errorf("recording rule = %v, want 84", v[0].Value)
	}
	resp, err := http.Get("http://" + am.Addr() + "/-/ready")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("alertmanager not ready: %v", err)
	}
	resp.Body.Close()
}

// An agent scrapes a target and remote-writes it, with its external label,
// into a Prometheus that receives remote write.
func TestPrometheusAgentRemoteWrite(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("demo_value 42\n"))
	}))
	defer target.Close()
	central := StartPrometheus(t, PrometheusOptions{RemoteWriteReceiver: true})
	StartPrometheus(t, PrometheusOptions{Agent: true, Config: fmt.Sprintf(`global: {scrape_interval: 1s, external_labels: {cluster: a}}
remote_write: [{url: "http://%s/api/v1/write", queue_config: {batch_send_deadline: 1s}}]
scrape_configs: [{job_name: demo, static_configs: [{targets: [%q]}]}]
`, central.Addr(), strings.TrimPrefix(target.URL, "http://"))})
	v := central.WaitFor(t, `demo_value{cluster="a", job="demo"}`, 20*time.Second)
	if float64(v[0].Value) != 42 {
		t.Errorf("remote-written demo_value = %v, want 42", v[0].Value)
	}
}
