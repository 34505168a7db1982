package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/internal/charts/chartstest"
	"github.com/headroom-dev/headroom/internal/testenv"
)

// headroomtool replay as users run it: a config on a preset and a series file,
// text and JSON, progress on request, and errors that name what is wrong.
func TestReplayBinary(t *testing.T) {
	bin := toolBinary(t)
	// From the repository root, as docs/autoscaling.md runs it.
	const data = "internal/replay/testdata/"
	base := []string{"replay", "--preset", "amas", "--config", data + "amas-queue.yaml"}
	run := func(args ...string) (string, string, error) {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, append(append([]string{}, base...), args...)...)
		cmd.Dir = "../.."
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}

	out, errOut, err := run("--input", data+"step-up.yaml")
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, errOut)
	}
	for _, want := range []string{"KEDA ScaledObject amas-orchestrator-scaler", "peak 50", "2 -> 7   queue-depth", "QueueDepthHigh {severity=\"critical\"} until", "timeline:"} {
		if !strings.Contains(out, want) {
			t.Errorf("text output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(errOut, "replay: 100%") {
		t.Errorf("progress without --progress and without a terminal: %s", errOut)
	}
	// docs/autoscaling.md shows this run's output as it is.
	doc, err := os.ReadFile("../../docs/autoscaling.md")
	if err != nil {
		t.Fatal(err)
	}
	const shown = "$ headroom replay --preset amas --config internal/replay/testdata/amas-queue.yaml --input internal/replay/testdata/step-up.yaml\n"
	if i := strings.Index(string(doc), shown); i < 0 || !strings.HasPrefix(string(doc)[i+len(shown):], out+"```") {
		t.Errorf("docs/autoscaling.md's replay example differs from the output; paste:\n%s", out)
	}

	out, errOut, err = run("--input", data+"step-up.yaml", "--format", "json", "--progress")
	if err != nil {
		t.Fatalf("replay --format json: %v\n%s", err, errOut)
	}
	var rep struct {
		Peak   int32 `json:"peak_replicas"`
		Events []struct {
			From, To int32
			Trigger  string
		} `json:"events"`
		Alerts []struct {
			Alert string     `json:"alert"`
			Start time.Time  `json:"start"`
			End   *time.Time `json:"end"`
		} `json:"alerts"`
		Steps []json.RawMessage `json:"steps"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if rep.Peak != 50 || len(rep.Events) == 0 || rep.Events[0].Trigger != "queue-depth" || len(rep.Steps) == 0 {
		t.Errorf("json report: peak %d, events %+v, %d steps", rep.Peak, rep.Events, len(rep.Steps))
	}
	if !strings.Contains(errOut, "replay: 50%") || !strings.Contains(errOut, "replay: 100%") {
		t.Errorf("--progress printed %q", errOut)
	}

	// The page opens in a real chromium, offline, every chart drawn: the
	// replicas, each trigger, the alerts.
	out, errOut, err = run("--input", data+"step-up.yaml", "--format", "html")
	if err != nil {
		t.Fatalf("replay --format html: %v\n%s", err, errOut)
	}
	for _, want := range []string{"<!DOCTYPE html>", "2 → 7 queue-depth", `QueueDepthHigh {severity=\"critical\"}`, "queue-depth (Value)"} {
		if !strings.Contains(out, want) {
			t.Errorf("html output lacks %q", want)
		}
	}
	page := chartstest.OpenHTML(t, "replay.html", []byte(out))
	// Replicas, requests-per-pod, queue-depth, alerts.
	if len(page.Charts) != 4 {
		t.Errorf("%d charts, want 4: %+v", len(page.Charts), page.Charts)
	}
	for _, p := range page.Problems() {
		t.Errorf("replay --format html in chromium: %s", p)
	}

	for _, c := range []struct {
		name string
		args []string
		want []string
	}{
		{"bad series line", []string{"--input", data + "bad-series.yaml"}, []string{"bad-series.yaml:5", "input_series[1]"}},
		{"unreachable Prometheus", []string{"--prometheus.url", "http://127.0.0.1:1", "--start=-1h"}, []string{"http://127.0.0.1:1"}},
		{"bad start", []string{"--prometheus.url", "http://127.0.0.1:1", "--start", "yesterday"}, []string{"--start", `"yesterday"`}},
		{"no input", nil, []string{"--input", "--prometheus.url"}},
	} {
		_, errOut, err := run(c.args...)
		if err == nil {
			t.Errorf("%s: succeeded", c.name)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%s: stderr %q does not say %q", c.name, errOut, w)
			}
		}
	}
}

// headroomtool replay --prometheus.url --progress: a line on stderr for every
// chunk loaded (the slow part of a long range) before the evaluation's
// percentages, and the series that stopped counted in the report.
func TestReplayBinaryFromPrometheus(t *testing.T) {
	bin := toolBinary(t)
	const every = 15 * time.Second
	base := time.Now().Add(-50 * time.Minute).Truncate(time.Minute)
	var om strings.Builder
	for k, at := 0, base; at.Before(base.Add(40 * time.Minute)); k, at = k+1, at.Add(every) {
		fmt.Fprintf(&om, "amas_agent_requests_total{job=\"amas-orchestrator\",status=\"ok\"} %d %d\n", 150*k, at.Unix())
	}
	// The queue's only series stops at +20m.
	for at := base; !at.After(base.Add(20 * time.Minute)); at = at.Add(every) {
		fmt.Fprintf(&om, "amas_queue_depth_current{job=\"amas-orchestrator\"} 20 %d\n", at.Unix())
	}
	om.WriteString("# EOF\n")
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{Backfill: om.String()})

	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "replay", "--preset", "amas", "--config", "internal/replay/testdata/amas-queue.yaml",
		"--prometheus.url", "http://"+prom.Addr(), "--resolution", "15s", "--progress",
		"--start", base.Add(5*time.Minute).Format(time.RFC3339), "--end", base.Add(39*time.Minute).Format(time.RFC3339))
	cmd.Dir = "../.."
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("replay: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	var chunks, total int
	for i, l := range lines {
		var sel string
		if _, err := fmt.Sscanf(l, "replay: loaded chunk %d of %d from Prometheus (%s", &chunks, &total, &sel); err != nil {
			if chunks == 0 || !strings.HasPrefix(l, "replay: 10%") {
				t.Fatalf("stderr line %d %q: want the chunks loaded, then the steps' progress\n%s", i, l, stderr.String())
			}
			break
		}
		if chunks != i+1 {
			t.Errorf("stderr line %d: chunk %d", i, chunks)
		}
	}
	if chunks == 0 || chunks != total {
		t.Errorf("loaded %d chunks of %d\n%s", chunks, total, stderr.String())
	}
	if !strings.Contains(stderr.String(), "replay: 100%") {
		t.Errorf("no evaluation progress:\n%s", stderr.String())
	}
	if !strings.Contains(stdout.String(), "series stopped, read as stale from one scrape interval after their last sample: 1\n") {
		t.Errorf("the report does not count the queue series that stopped:\n%s", stdout.String())
	}
	if !strings.Contains(stdout.String(), "queue-depth        +15m15s to +34m0s") {
		t.Errorf("the queue trigger is not missing from one scrape after its series stopped:\n%s", stdout.String())
	}
}

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "now", want: now},
		{in: "-1h", want: now.Add(-time.Hour)},
		{in: "-90m", want: now.Add(-90 * time.Minute)},
		{in: "2026-11-23T10:30:00Z", want: time.Date(2026, 11, 23, 10, 30, 0, 0, time.UTC)},
		{in: "1h", bad: true},
		{in: "", bad: true},
	} {
		got, err := parseTime(c.in, now)
		if c.bad != (err != nil) || (!c.bad && !got.Equal(c.want)) {
			t.Errorf("parseTime(%q) = %s, %v", c.in, got, err)
		}
	}
}

// A Prometheus that accepts the connection and never answers ends the
// replay within --prometheus.timeout, with an error that names the query
// URL (password hidden) and the deadline, --progress or not.
func TestReplayBinaryPrometheusNeverAnswers(t *testing.T) {
	t.Parallel()
	bin := toolBinary(t)
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	for _, progress := range []bool{false, true} {
		args := []string{"replay", "--preset", "amas", "--prometheus.url", "http://reader:replay-pw-42@" + silent.Addr().String(),
			"--prometheus.timeout", "300ms", "--start=-1h"}
		if progress {
			args = append(args, "--progress")
		}
		var stderr bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stderr = &stderr
		start := time.Now()
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case err = <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Fatalf("progress=%v: replay still running after 10s against a server that never answers\n%s", progress, stderr.String())
		}
		took := time.Since(start)
		if err == nil {
			t.Errorf("progress=%v: replay succeeded against a server that never answers", progress)
		}
		want := "query http://reader:xxxxx@" + silent.Addr().String() + "/api/v1/query ("
		for _, w := range []string{want, "no answer within 300ms"} {
			if !strings.Contains(stderr.String(), w) {
				t.Errorf("progress=%v: stderr does not say %q:\n%s", progress, w, stderr.String())
			}
		}
		if strings.Contains(stderr.String(), "replay-pw-42") {
			t.Errorf("progress=%v: stderr shows the URL's password:\n%s", progress, stderr.String())
		}
		if took > 5*time.Second {
			t.Errorf("progress=%v: took %s to give up with a 300ms timeout", progress, took)
		}
	}

	// An address that does not parse is refused without being quoted: its
	// password may be where the parse failed.
	out, err := exec.Command(bin, "replay", "--preset", "amas", "--prometheus.url", "http://reader:replay-pw-42%zz@"+silent.Addr().String(), "--start=-1h").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "invalid URL escape") || strings.Contains(string(out), "replay-pw-42") {
		t.Errorf("a --prometheus.url that does not parse: %v, want an invalid escape named and no password:\n%s", err, out)
	}
}
