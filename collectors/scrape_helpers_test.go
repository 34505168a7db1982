package collectors

import (
	"bytes"
	"context"
	"log/slog"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// scraped is one gathered scrape, indexed for assertions.
type scraped []*dto.MetricFamily

// gatherRunner scrapes one runner under a deadline, as /probe would.
func gatherRunner(t testing.TB, r *Runner, timeout time.Duration) scraped {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	fams, err := Gatherer(ctx, r).Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	return fams
}

// value returns the value of the series with exactly these labels (besides
// target), and whether it exists.
func (s scraped) value(name string, labels ...string) (float64, bool) {
	want := map[string]string{}
	for i := 0; i+1 < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	for _, f := range s {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, lp := range m.GetLabel() {
				if lp.GetName() != "target" {
					got[lp.GetName()] = lp.GetValue()
				}
			}
			if len(got) != len(want) {
				continue
			}
			for k, v := range want {
				if got[k] != v {
					continue metrics
				}
			}
			switch {
			case m.Gauge != nil:
				return m.GetGauge().GetValue(), true
			case m.Counter != nil:
				return m.GetCounter().GetValue(), true
			case m.Untyped != nil:
				return m.GetUntyped().GetValue(), true
			}
		}
	}
	return 0, false
}

// must is value that fails the test when the series is missing.
func (s scraped) must(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	v, ok := s.value(name, labels...)
	if !ok {
		t.Fatalf("no series %s%v in scrape; have:\n%s", name, labels, s.names())
	}
	return v
}

// sum adds every series of a family whose labels include these.
func (s scraped) sum(name string, labels ...string) float64 {
	total := 0.0
	for _, f := range s {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range m.GetLabel() {
					if lp.GetName() == labels[i] && lp.GetValue() == labels[i+1] {
						found = true
					}
				}
				if !found {
					continue metrics
				}
			}
			total += m.GetGauge().GetValue() + m.GetCounter().GetValue()
		}
	}
	return total
}

func (s scraped) names() string {
	var out []string
	for _, f := range s {
		out = append(out, f.GetName())
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// logBuffer is a logger whose output a test can read back.
func logBuffer() (*slog.Logger, *bytes.Buffer) {
	var buf bytes.Buffer
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}
