package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/internal/drill"
	"github.com/headroom-dev/headroom/internal/standin"
)

// drill's exit statuses are docs/drill.md's table: a run that meets the
// SLO passes and saves its baseline; the same API made slower fails the
// SLO (3); slower within the SLO but beyond the baseline's tolerance is a
// regression (4); a bad file or a dead target is 1, naming what is wrong.
func TestDrillExitStatuses(t *testing.T) {
	t.Parallel()
	bin := toolBinary(t)
	api := standin.New()
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	dir := t.TempDir()
	baseline := filepath.Join(dir, "baseline.json")
	file := func(name, extra string) string {
		p := filepath.Join(dir, name)
		text := "target: {url: \"" + srv.URL + "/api/v1/chat\", method: POST, body: '{\"message\": \"drill {{ .Seq }}\"}'}\n" +
			"max_rate: 50\nmax_duration: 1m\nslo: {p95: 300ms}\n" + extra +
			"drills:\n  - {name: step, pattern: step, rate: 10, to: 30, at: 1s, duration: 2s}\n"
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	plain := file("plain.yaml", "")
	compared := file("compared.yaml", "regression: {baseline: "+baseline+", p95_increase: 0.5}\n")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	deadFile := filepath.Join(dir, "dead.yaml")
	os.WriteFile(deadFile, []byte("target: {url: \"http://"+dead+"/\"}\nmax_rate: 5\nmax_duration: 1m\ndrills: [{name: a, pattern: constant, rate: 1, duration: 1s}]\n"), 0o600)
	badFile := filepath.Join(dir, "bad.yaml")
	os.WriteFile(badFile, []byte("target: {url: \"http://127.0.0.1/\"}\ndrills: [{name: a, pattern: constant, rate: 1, duration: 1s}]\n"), 0o600)
	report := filepath.Join(dir, "report.json")

	for _, tc := range []struct {
		name    string
		latency time.Duration
		args    []string
		status  int
		says    []string
	}{
		{"fast: passes, saves the baseline", 10 * time.Millisecond, []string{"--drill.file", plain, "--save-baseline", baseline, "--output.json", report},
			drill.ExitPass, []string{"SLO       met", "exit code 0"}},
		{"within the SLO, beyond the baseline's +50 %", 100 * time.Millisecond, []string{"--drill.file", compared},
			drill.ExitRegression, []string{"REGRESSED: p95"}},
		{"over the SLO's p95", 400 * time.Millisecond, []string{"--drill.file", compared},
			drill.ExitSLOFailed, []string{"FAILED: p95"}},
		{"dry run sends nothing", 0, []string{"--drill.file", plain, "--dry-run", "--dry-run.step", "1s"},
			drill.ExitPass, []string{"step", "30.00"}},
		{"dead target", 0, []string{"--drill.file", deadFile}, drill.ExitError, []string{"unreachable at " + dead}},
		{"no max_rate", 0, []string{"--drill.file", badFile}, drill.ExitError, []string{"bad.yaml", "max_rate: required", "max_duration: required"}},
	} {
		api.SetLatency(tc.latency)
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, append([]string{"drill"}, tc.args...)...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		status := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			status = exit.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if status != tc.status {
			t.Errorf("%s: exit %d, want %d\nstdout %s\nstderr %s", tc.name, status, tc.status, stdout.String(), stderr.String())
			continue
		}
		for _, s := range tc.says {
			if !strings.Contains(stdout.String()+stderr.String(), s) {
				t.Errorf("%s: output does not say %q:\n%s%s", tc.name, s, stdout.String(), stderr.String())
			}
		}
	}
	var rep drill.Report
	data, err := os.ReadFile(report)
	if err != nil || json.Unmarshal(data, &rep) != nil || rep.Schema != drill.ReportSchema || len(rep.Drills) != 1 || rep.Drills[0].Stats.Requests < 35 {
		t.Errorf("JSON report: %v, %s", err, data)
	}
}

// While it runs the drill serves the guide's series (amas_ with --preset
// amas); Ctrl-C stops it at once, requests in flight to a slow API
// included, writes the partial report and exits 130.
func TestDrillMetricsAndInterrupt(t *testing.T) {
	t.Parallel()
	bin := toolBinary(t)
	api := standin.New()
	const slow = 6 * time.Second
	api.SetLatency(slow)
	srv := httptest.NewServer(api.Handler())
	defer srv.Close()
	dir := t.TempDir()
	file := filepath.Join(dir, "long.yaml")
	os.WriteFile(file, []byte("target: {url: \""+srv.URL+"/api/v1/chat\", method: POST}\nmax_rate: 50\nmax_duration: 1h\n"+
		"drills: [{name: long, pattern: constant, rate: 20, duration: 30m}]\n"), 0o600)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := l.Addr().String()
	l.Close()
	report := filepath.Join(dir, "partial.json")
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "drill", "--drill.file", file, "--preset", "amas", "--web.listen-address", listen, "--output.json", report)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	var metrics string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		resp, err := http.Get("http://" + listen + "/metrics")
		if err != nil {
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if metrics = string(body); strings.Contains(metrics, `amas_load_test_requests_total{phase="steady",status="200",test="long"}`) {
			break
		}
	}
	for _, want := range []string{`amas_load_test_requests_total{phase="steady",status="200",test="long"}`, `amas_load_test_requests_per_second{test="long"} 20`,
		"amas_load_test_request_duration_seconds_bucket", "amas_load_test_active_users"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s:\n%s", want, metrics)
		}
	}
	began := time.Now()
	cmd.Process.Signal(os.Interrupt)
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != drill.ExitInterrupted {
		t.Fatalf("after Ctrl-C: %v, want exit %d; stderr %s", err, drill.ExitInterrupted, stderr.String())
	}
	if took := time.Since(began); took > slow/2 {
		t.Errorf("stopped %s after Ctrl-C, with requests of %s in flight", took, slow)
	}
	var rep drill.Report
	data, err := os.ReadFile(report)
	if err != nil || json.Unmarshal(data, &rep) != nil || len(rep.Drills) != 1 || !rep.Drills[0].Interrupted || rep.Drills[0].Stats.Requests == 0 {
		t.Errorf("partial report: %v, %.300s", err, data)
	}
}
