package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// headroomtool generate as users run it: a preset, a config on top of it,
// --check for CI, and errors that name the file and field.
func TestGenerateBinary(t *testing.T) {
	bin := toolBinary(t)
	dir := t.TempDir()
	run := func(args ...string) (string, error) {
		out, err := exec.Command(bin, append([]string{"generate"}, args...)...).CombinedOutput()
		return string(out), err
	}

	out := filepath.Join(dir, "amas")
	if msg, err := run("--preset", "amas", "--out", out); err != nil {
		t.Fatalf("generate: %v\n%s", err, msg)
	}
	for _, f := range []string{"prometheus_rules.yaml", "prometheus_alerts.yaml", "prometheusrule.yaml", "alertmanager.yml", "RUNBOOK.md", "tests/api-test.yaml"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	if msg, err := run("--preset", "amas", "--out", out, "--check"); err != nil {
		t.Errorf("--check on a fresh bundle: %v\n%s", err, msg)
	}
	if err := os.WriteFile(filepath.Join(out, "alertmanager.yml"), []byte("edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg, err := run("--preset", "amas", "--out", out, "--check"); err == nil || !strings.Contains(msg, "alertmanager.yml") {
		t.Errorf("--check after an edit: %v\n%s", err, msg)
	}

	cfg := filepath.Join(dir, "checkout.yaml")
	if err := os.WriteFile(cfg, []byte("preset: amas\nservice: checkout\ntriggers:\n  RequestRateHigh: {threshold: 40}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	own := filepath.Join(dir, "checkout")
	if msg, err := run("--config", cfg, "--out", own); err != nil {
		t.Fatalf("generate --config: %v\n%s", err, msg)
	}
	alerts, err := os.ReadFile(filepath.Join(own, "prometheus_alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(alerts), `service:api_requests_per_instance:rate2m{service="checkout"} > 40`) {
		t.Errorf("the config's service and threshold are not in the rules:\n%s", alerts)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("resources:\n  source: docker\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	msg, err := run("--config", bad, "--out", filepath.Join(dir, "bad"))
	if err == nil || !strings.Contains(msg, bad) || !strings.Contains(msg, "resources.source") {
		t.Errorf("a bad config: %v\n%s", err, msg)
	}
}
