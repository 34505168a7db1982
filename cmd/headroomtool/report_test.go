package main

import (
	"bytes"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// report's exit statuses are what docs/report.md promises, so that CI can
// tell a failed item from bad input and from an unreachable Prometheus.
func TestReportExitStatuses(t *testing.T) {
	t.Parallel()
	bin := toolBinary(t)
	dir := t.TempDir()
	// A week of data no signal reads: the range has no data.
	empty := filepath.Join(dir, "empty.yaml")
	if err := os.WriteFile(empty, []byte("interval: 1h\ninput_series:\n  - series: 'unrelated_metric{job=\"x\"}'\n    values: '1x200'\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A port nobody listens on.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://user:s3cret@" + l.Addr().String()
	l.Close()
	for _, tc := range []struct {
		name   string
		args   []string
		status int
		says   []string
		hides  string
	}{
		{"no input", []string{"report"}, exitBadInput, []string{"--prometheus.url or --input"}, ""},
		{"bad range", []string{"report", "--input", empty, "--range", "soon"}, exitBadInput, []string{"--range", "soon"}, ""},
		{"step not positive", []string{"report", "--input", empty, "--step=0s"}, exitBadInput, []string{"--step", "0s"}, ""},
		{"missing file", []string{"report", "--input", filepath.Join(dir, "nope.yaml")}, exitBadInput, []string{"nope.yaml"}, ""},
		{"no data", []string{"report", "--input", empty}, exitBadInput, []string{"no data", "API CPU utilisation", "Redis memory"}, ""},
		{"unreachable", []string{"report", "--prometheus.url", dead, "--end", "2026-01-08T00:00:00Z", "--prometheus.timeout", "5s"}, exitUnreachable,
			[]string{"http://user:xxxxx@" + l.Addr().String()}, "s3cret"},
	} {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, tc.args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != tc.status {
			t.Errorf("%s: %v, want exit %d; stderr %s", tc.name, err, tc.status, stderr.String())
			continue
		}
		for _, s := range tc.says {
			if !strings.Contains(stderr.String(), s) {
				t.Errorf("%s: stderr %q does not say %q", tc.name, stderr.String(), s)
			}
		}
		if tc.hides != "" && strings.Contains(stderr.String(), tc.hides) {
			t.Errorf("%s: stderr shows the password: %s", tc.name, stderr.String())
		}
	}
}

// --format html writes the page of internal/report to stdout, with the
// exit status of the other formats: two days of a DB pool fail the 7-day
// item.
func TestReportHTMLFormat(t *testing.T) {
	t.Parallel()
	bin := toolBinary(t)
	input := filepath.Join(t.TempDir(), "pool.yaml")
	week := "interval: 5m\ninput_series:\n" +
		"  - series: 'headroom_postgres_pool_backends{job=\"headroom\", target=\"pg\", pool=\"api\", state=\"active\"}'\n    values: '5+0.01x600'\n" +
		"  - series: 'headroom_postgres_pool_size{job=\"headroom\", target=\"pg\", pool=\"api\"}'\n    values: '13x600'\n"
	if err := os.WriteFile(input, []byte(week), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "report", "--input", input, "--format", "html")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != exitReportFailed {
		t.Fatalf("%v, want exit %d; stderr %s", err, exitReportFailed, stderr.String())
	}
	page := stdout.String()
	for _, s := range []string{"<!DOCTYPE html>", "<h2>Pre-scaling checklist</h2>", "<td>fail</td><td>Metrics monitored for 7", "echarts.init"} {
		if !strings.Contains(page, s) {
			t.Errorf("stdout (%d bytes) does not hold %q", len(page), s)
		}
	}
}
