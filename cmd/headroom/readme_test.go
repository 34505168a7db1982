package main

import (
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/headroom-dev/headroom/collectors"
)

var update = flag.Bool("update", false, "rewrite generated parts of the README")

const (
	metricsBegin = "<!-- metrics:begin -->\n"
	metricsEnd   = "<!-- metrics:end -->"
)

// metricsTable renders the README's metric list from the descriptors the
// collectors really build.
func metricsTable() string {
	var b strings.Builder
	b.WriteString("| metric | type | labels | help |\n|---|---|---|---|\n")
	for _, m := range collectors.Metrics() {
		b.WriteString("| `" + m.Name + "` | " + m.Type + " | " + strings.Join(m.Labels, ", ") + " | " +
			strings.ReplaceAll(m.Help, "|", "\\|") + " |\n")
	}
	return b.String()
}

func TestREADMEListsEveryMetric(t *testing.T) {
	const path = "../../README.md"
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	begin := strings.Index(readme, metricsBegin)
	end := strings.Index(readme, metricsEnd)
	if begin < 0 || end < begin {
		t.Fatalf("README has no %q ... %q block", metricsBegin, metricsEnd)
	}
	want := readme[:begin+len(metricsBegin)] + metricsTable() + readme[end:]
	if want == readme {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("README's metric list differs from the collectors; run: go test ./cmd/headroom -run README -update")
}
