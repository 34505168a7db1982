package report_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/internal/testenv"
)

// The goals of `headroom report` over a week from Prometheus on the
// project's 2-core machine (issue 16).
const (
	reportTimeGoal = 10 * time.Second
	reportRSSGoal  = 200 << 20
)

// exitReportFailed is headroomtool report's status when an item fails, as
// the story's cache hit target does.
const exitReportFailed = 3

// BenchmarkReport is `headroomtool report` as a child process over 7 days
// of 30 s samples of every series the health-agent report reads, raw and
// recorded (recorded every 30 s as a server evaluating the bundle's rules
// at the scrape interval holds them), from a real Prometheus: its wall time
// and its peak RSS, in seconds and MiB and as ratios of the goals (under 1
// meets them). Setting up (the week, its backfill, the build) is not timed.
func BenchmarkReport(b *testing.B) {
	const interval = 30 * time.Second
	bundle := storyConfig(b)
	end := backfillEnd()
	started := time.Now()
	om := storyOpenMetrics(b, bundle, interval, interval, end)
	written := time.Now()
	prom := testenv.StartPrometheus(b, testenv.PrometheusOptions{Backfill: om})
	b.Logf("%d MiB of OpenMetrics written in %s, backfilled and served in %s", len(om)>>20,
		written.Sub(started).Round(time.Second), time.Since(written).Round(time.Second))
	om = ""

	dir := b.TempDir()
	tool := filepath.Join(dir, "headroomtool")
	build := exec.Command("go", "build", "-o", tool, "github.com/headroom-dev/headroom/cmd/headroomtool")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	config := filepath.Join(dir, "headroom.yml")
	if err := os.WriteFile(config, []byte("report:\n  users_metric: app_active_users\n"), 0o600); err != nil {
		b.Fatal(err)
	}

	// The child's own peak RSS is GNU time's to tell: Go starts children
	// with vfork, and Linux then counts the parent's peak (this benchmark's,
	// a few hundred MiB after the backfill) into the child's ru_maxrss
	// at exec. GNU time forks a copy of its own small self instead.
	if _, err := os.Stat(gnuTime); err != nil {
		b.Fatalf("the child's peak RSS is read with GNU time (Debian package time): %v", err)
	}
	maxrss := filepath.Join(dir, "maxrss")
	var took time.Duration
	var rss, inherited int64
	b.ResetTimer()
	for range b.N {
		cmd := exec.Command(gnuTime, "-f", "%M", "-o", maxrss, tool, "report", "--config", config,
			"--prometheus.url", "http://"+prom.Addr(), "--end", end.Format(time.RFC3339), "--format", "json")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		began := time.Now()
		err := cmd.Run()
		took += time.Since(began)
		if exit := (*exec.ExitError)(nil); err != nil && (!errors.As(err, &exit) || exit.ExitCode() != exitReportFailed) {
			b.Fatalf("headroomtool report: %v\n%s", err, stderr.Bytes())
		}
		kib, err := lastNumber(maxrss)
		if err != nil {
			b.Fatal(err)
		}
		rss = max(rss, kib<<10)
		// Maxrss is in KiB on Linux.
		inherited = max(inherited, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss<<10)
		var doc struct {
			Checklist  []json.RawMessage `json:"checklist"`
			Saturation []json.RawMessage `json:"saturation"`
		}
		if err := json.Unmarshal(stdout.Bytes(), &doc); err != nil || len(doc.Checklist) == 0 || len(doc.Saturation) == 0 {
			b.Fatalf("headroomtool report wrote no report (%v):\n%.2000s\n%s", err, stdout.Bytes(), stderr.Bytes())
		}
	}
	b.StopTimer()
	secs := took.Seconds() / float64(b.N)
	b.ReportMetric(secs, "s/report")
	b.ReportMetric(float64(rss)/(1<<20), "MiB-peak-rss")
	b.ReportMetric(secs/reportTimeGoal.Seconds(), "time/goal")
	b.ReportMetric(float64(rss)/reportRSSGoal, "rss/goal")
	b.Logf("ru_maxrss of GNU time, Go's vforked child, is %d MiB: this benchmark's own peak, not the report's", inherited>>20)
}

const gnuTime = "/usr/bin/time"

// lastNumber is the number on the last line of GNU time's -o file (a line
// before it says when the command exited non-zero).
func lastNumber(path string) (int64, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	n, err := strconv.ParseInt(strings.TrimSpace(lines[len(lines)-1]), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not GNU time's %%M: %w", path, raw, err)
	}
	return n, nil
}
