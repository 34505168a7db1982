package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// headroomtool generate --k8s-out: the manifests of the config's autoscaler and
// its PrometheusRule,
// --check catching edits and left-over files, and a switch from keda to hpa
// removing the ScaledObject rather than leaving it next to the HPA.
func TestGenerateK8sOut(t *testing.T) {
	bin := toolBinary(t)
	dir := t.TempDir()
	run := func(args ...string) (string, error) {
		out, err := exec.Command(bin, append([]string{"generate", "--out", filepath.Join(dir, "bundle")}, args...)...).CombinedOutput()
		return string(out), err
	}
	k8s := filepath.Join(dir, "k8s")
	if msg, err := run("--preset", "amas", "--k8s-out", k8s); err != nil {
		t.Fatalf("generate: %v\n%s", err, msg)
	}
	for _, f := range []string{"scaledobject.yaml", "no-keda/hpa.yaml", "prometheusrule.yaml", "pdb.yaml", "triggerauthentication.yaml", "vpa/vpa.yaml"} {
		if _, err := os.Stat(filepath.Join(k8s, f)); err != nil {
			t.Errorf("%s not written: %v", f, err)
		}
	}
	// The k8s directory's PrometheusRule is the bundle's.
	inK8s, _ := os.ReadFile(filepath.Join(k8s, "prometheusrule.yaml"))
	inBundle, _ := os.ReadFile(filepath.Join(dir, "bundle", "prometheusrule.yaml"))
	if len(inK8s) == 0 || !bytes.Equal(inK8s, inBundle) {
		t.Errorf("k8s/prometheusrule.yaml (%d bytes) differs from the bundle's (%d bytes)", len(inK8s), len(inBundle))
	}
	if msg, err := run("--preset", "amas", "--k8s-out", k8s, "--check"); err != nil {
		t.Errorf("--check on fresh manifests: %v\n%s", err, msg)
	}
	if err := os.WriteFile(filepath.Join(k8s, "scaledobject.yaml"), []byte("edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg, err := run("--preset", "amas", "--k8s-out", k8s, "--check"); err == nil || !strings.Contains(msg, "scaledobject.yaml") {
		t.Errorf("--check after an edit: %v\n%s", err, msg)
	}

	cfg := filepath.Join(dir, "plain.yaml")
	if err := os.WriteFile(cfg, []byte("preset: amas\nautoscaling: {autoscaler: hpa}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// The bundle of a plain HPA differs from KEDA's (no alerts on KEDA's
	// metrics): brought up to date first, so that --check has only the
	// manifests to find out of date.
	if msg, err := run("--config", cfg); err != nil {
		t.Fatalf("generate --config: %v\n%s", err, msg)
	}
	if msg, err := run("--config", cfg, "--k8s-out", k8s, "--check"); err == nil || !strings.Contains(msg, "scaledobject.yaml") {
		t.Errorf("--check with a left-over ScaledObject: %v\n%s", err, msg)
	}
	if msg, err := run("--config", cfg, "--k8s-out", k8s); err != nil {
		t.Fatalf("generate --config: %v\n%s", err, msg)
	}
	if _, err := os.Stat(filepath.Join(k8s, "hpa.yaml")); err != nil {
		t.Errorf("hpa.yaml not written: %v", err)
	}
	for _, f := range []string{"scaledobject.yaml", "no-keda/hpa.yaml", "triggerauthentication.yaml"} {
		if _, err := os.Stat(filepath.Join(k8s, f)); !os.IsNotExist(err) {
			t.Errorf("%s left behind after switching to hpa: %v", f, err)
		}
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("preset: amas\nautoscaling:\n  prometheus: {server_address: 'http://u:p@prom:9090'}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg, err := run("--config", bad, "--k8s-out", k8s); err == nil || !strings.Contains(msg, "autoscaling.prometheus.server_address") {
		t.Errorf("credentials in the server address: %v\n%s", err, msg)
	}
}

// headroomtool generate refuses a max replica count whose database pools exceed
// the usable connections, naming both numbers, unless told to allow it.
func TestGenerateDBConnectionGuard(t *testing.T) {
	bin := toolBinary(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "direct.yaml")
	if err := os.WriteFile(cfg, []byte("autoscaling:\n  db: {usable_connections: 97}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "generate", "--config", cfg, "--out", filepath.Join(dir, "b"), "--k8s-out", filepath.Join(dir, "k")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "= 260 connections, more than the 97 usable") {
		t.Errorf("20 replicas x 13 over 97 connections: %v\n%s", err, out)
	}
	if err := os.WriteFile(cfg, []byte("autoscaling:\n  db: {usable_connections: 97, allow_exceeding_connections: true}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(bin, "generate", "--config", cfg, "--out", filepath.Join(dir, "b"), "--k8s-out", filepath.Join(dir, "k")).CombinedOutput(); err != nil {
		t.Errorf("allowed: %v\n%s", err, out)
	}
}

// headroomtool generate warns on stderr, and still writes the bundle, when a
// config scales out with no pool size per pod to guard the database with
// (the amas preset: the AMAS guide gives none), naming the field to set;
// setting it silences the warning and brings the alert.
func TestGenerateWarnsWithoutDBGuard(t *testing.T) {
	bin := toolBinary(t)
	dir := t.TempDir()
	run := func(args ...string) (string, string, error) {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, append([]string{"generate", "--out", filepath.Join(dir, "b"), "--k8s-out", filepath.Join(dir, "k")}, args...)...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}
	out, errOut, err := run("--preset", "amas")
	if err != nil {
		t.Fatalf("amas: %v\n%s", err, errOut)
	}
	for _, want := range []string{"warning:", "amas-orchestrator to 50 replicas", "ScaleOutExceedsDBConnections", "autoscaling.db.pool_size_per_pod"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("amas: stderr %q does not say %q", errOut, want)
		}
	}
	if out != "" {
		t.Errorf("amas: the warning went to stdout: %q", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "k", "scaledobject.yaml")); err != nil {
		t.Errorf("amas: the manifests were not written: %v", err)
	}

	cfg := filepath.Join(dir, "pool.yaml")
	if err := os.WriteFile(cfg, []byte("preset: amas\nautoscaling:\n  db: {pool_size_per_pod: 10}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := run("--config", cfg); err != nil || errOut != "" {
		t.Errorf("amas with a pool size: %v, stderr %q, want no warning", err, errOut)
	}
	rules, _ := os.ReadFile(filepath.Join(dir, "b", "prometheus_alerts.yaml"))
	if !strings.Contains(string(rules), "alert: ScaleOutExceedsDBConnections") {
		t.Error("amas with a pool size: no ScaleOutExceedsDBConnections alert")
	}
	if _, errOut, err := run("--preset", "health-agent"); err != nil || errOut != "" {
		t.Errorf("health-agent (13 per pod from 4 cores): %v, stderr %q, want no warning", err, errOut)
	}
}

// headroomtool generate --exporter-out: the exporter's own manifests,
// byte for byte what make generate committed for the same preset, and
// --check catching an edit.
func TestGenerateExporterOut(t *testing.T) {
	bin := toolBinary(t)
	dir := t.TempDir()
	exp := filepath.Join(dir, "exporter")
	run := func(args ...string) (string, error) {
		out, err := exec.Command(bin, append([]string{"generate", "--preset", "health-agent", "--out", filepath.Join(dir, "bundle"), "--exporter-out", exp}, args...)...).CombinedOutput()
		return string(out), err
	}
	if msg, err := run(); err != nil {
		t.Fatalf("generate: %v\n%s", err, msg)
	}
	for _, f := range []string{"kustomization.yaml", "deployment.yaml", "service.yaml", "servicemonitor.yaml", "secret.yaml"} {
		have, err := os.ReadFile(filepath.Join(exp, f))
		if err != nil {
			t.Errorf("%s not written: %v", f, err)
			continue
		}
		committed, _ := os.ReadFile(filepath.Join("..", "..", "mixin", "k8s", "exporter", f))
		if !bytes.Equal(have, committed) {
			t.Errorf("%s differs from mixin/k8s/exporter/%s", f, f)
		}
	}
	if msg, err := run("--check"); err != nil {
		t.Errorf("--check on fresh manifests: %v\n%s", err, msg)
	}
	if err := os.WriteFile(filepath.Join(exp, "secret.yaml"), []byte("edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if msg, err := run("--check"); err == nil || !strings.Contains(msg, "secret.yaml") {
		t.Errorf("--check after an edit: %v\n%s", err, msg)
	}
}
