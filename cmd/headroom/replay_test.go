//go:build !exporteronly

package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// headroom replay as users run it: a config on a preset and a series file,
// text and JSON, progress on request, and errors that name what is wrong.
func TestReplayBinary(t *testing.T) {
	bin := headroomBinary(t)
	// From the repository root, as the README runs it.
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
	// The README shows this run's output as it is.
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const shown = "$ headroom replay --preset amas --config internal/replay/testdata/amas-queue.yaml --input internal/replay/testdata/step-up.yaml\n"
	if i := strings.Index(string(readme), shown); i < 0 || !strings.HasPrefix(string(readme)[i+len(shown):], out+"```") {
		t.Errorf("README's replay example differs from the output; paste:\n%s", out)
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
