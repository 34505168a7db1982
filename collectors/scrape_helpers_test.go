package collectors

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"math"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// The helpers every collector's tests share: gather a scrape, look up its
// series by name and labels, and capture what a runner logs.
//
// Labels are always given as key-value pairs: value(name, "k1", "v1",
// "k2", "v2"). A series is identified by seriesKey(name, pairs...), which
// spells it as the exposition format does, name{k1="v1",k2="v2"} (labels
// sorted, no braces without labels, the target label left out), so that
// tables of expectations can be written as keys too.

// sample is one gathered series.
type sample struct {
	name   string
	labels map[string]string // without target
	value  float64           // of a gauge, counter or untyped series; 0 for a histogram
	kind   dto.MetricType
	metric *dto.Metric // the series as gathered, for histograms
}

// series is one scrape flattened to seriesKey → sample.
type series map[string]sample

// seriesKey names one series as name{k="v",...}, labels sorted, from
// key-value pairs.
func seriesKey(name string, labels ...string) string {
	if len(labels)%2 != 0 {
		panic(fmt.Sprintf("seriesKey(%s, %q): labels are not key-value pairs", name, labels))
	}
	pairs := make([]string, 0, len(labels)/2)
	for i := 0; i+1 < len(labels); i += 2 {
		pairs = append(pairs, fmt.Sprintf("%s=%q", labels[i], labels[i+1]))
	}
	return keyOf(name, pairs)
}

func keyOf(name string, pairs []string) string {
	if len(pairs) == 0 {
		return name
	}
	sort.Strings(pairs)
	return name + "{" + strings.Join(pairs, ",") + "}"
}

// gather scrapes one runner under a deadline, as /probe would. The target
// label is left out of the keys, so every series must carry the runner's.
func gather(t testing.TB, r *Runner, timeout time.Duration) series {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	fams, err := Gatherer(ctx, r).Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			target := ""
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "target" {
					target = lp.GetValue()
				}
			}
			if target != r.Name() {
				t.Errorf("%s%v: target %q, want %q", f.GetName(), m.GetLabel(), target, r.Name())
			}
		}
	}
	return flatten(t, fams)
}

// flatten indexes gathered families by series key.
func flatten(t testing.TB, fams []*dto.MetricFamily) series {
	t.Helper()
	out := series{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			s := sample{name: f.GetName(), labels: map[string]string{}, kind: f.GetType(), metric: m}
			var pairs []string
			for _, lp := range m.GetLabel() {
				if lp.GetName() != "target" {
					s.labels[lp.GetName()] = lp.GetValue()
					pairs = append(pairs, fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()))
				}
			}
			switch {
			case m.Gauge != nil:
				s.value = m.GetGauge().GetValue()
			case m.Counter != nil:
				s.value = m.GetCounter().GetValue()
			case m.Untyped != nil:
				s.value = m.GetUntyped().GetValue()
			}
			key := keyOf(f.GetName(), pairs)
			if _, dup := out[key]; dup {
				t.Fatalf("two series are %s", key)
			}
			out[key] = s
		}
	}
	return out
}

// value returns the value of the series with exactly these labels (besides
// target), and whether it exists.
func (s series) value(name string, labels ...string) (float64, bool) {
	v, ok := s[seriesKey(name, labels...)]
	return v.value, ok
}

// must is value that fails the test at once when the series is missing.
func (s series) must(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	key := seriesKey(name, labels...)
	v, ok := s[key]
	if !ok {
		t.Fatalf("no series %s; have:\n%s", key, s.with("headroom_"))
	}
	return v.value
}

// want checks the value of one series, and lets the test go on.
func (s series) want(t testing.TB, name string, want float64, labels ...string) {
	t.Helper()
	key := seriesKey(name, labels...)
	got, ok := s[key]
	switch {
	case !ok:
		t.Errorf("%s: no such series; the family has:\n%s", key, s.with(name))
	case got.value != want:
		t.Errorf("%s = %v, want %v", key, got.value, want)
	}
}

// absent checks that the series with these labels is not there; with no
// labels, that the family has no series at all.
func (s series) absent(t testing.TB, name string, labels ...string) {
	t.Helper()
	s.absentKey(t, seriesKey(name, labels...))
}

func (s series) absentKey(t testing.TB, key string) {
	t.Helper()
	for k, v := range s {
		if k == key || strings.HasPrefix(k, key+"{") {
			t.Errorf("%s should be absent, got %s = %v", key, k, v.value)
		}
	}
}

// expect checks a table of series by key and exact value, and that the
// series or families named in absent are not there.
func (s series) expect(t testing.TB, want map[string]float64, absent []string) {
	t.Helper()
	for k, v := range want {
		got, ok := s[k]
		if !ok {
			family, _, _ := strings.Cut(k, "{")
			t.Errorf("missing %s; the family has:\n%s", k, s.with(family))
			continue
		}
		if got.value != v {
			t.Errorf("%s = %v, want %v", k, got.value, v)
		}
	}
	for _, a := range absent {
		s.absentKey(t, a)
	}
}

// family returns the series of one family, in key order.
func (s series) family(name string) []sample {
	var keys []string
	for k := range s {
		if k == name || strings.HasPrefix(k, name+"{") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	out := make([]sample, 0, len(keys))
	for _, k := range keys {
		out = append(out, s[k])
	}
	return out
}

// count is the number of series of a family.
func (s series) count(name string) int { return len(s.family(name)) }

// with lists the series whose key starts with prefix, one per line (empty
// when there are none): a family by its name, or the series of a family
// with given leading labels.
func (s series) with(prefix string) string {
	var out []string
	for k, v := range s {
		if strings.HasPrefix(k, prefix) {
			out = append(out, fmt.Sprintf("%s %g", k, v.value))
		}
	}
	sort.Strings(out)
	return strings.Join(out, "\n")
}

// finite checks that no series has a NaN or infinite value.
func (s series) finite(t testing.TB) {
	t.Helper()
	for k, v := range s {
		if math.IsNaN(v.value) || math.IsInf(v.value, 0) {
			t.Errorf("%s: non-finite value %v", k, v.value)
		}
	}
}

// gatherUntil scrapes r until ok holds, and fails the test with the last
// scrape when within has passed.
func gatherUntil(t testing.TB, r *Runner, within time.Duration, what string, ok func(series) bool) series {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		s := gather(t, r, 3*time.Second)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached in %v; last scrape:\n%s", what, within, s.with("headroom_"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// logSink is a log destination a test can read back. Runners log from
// their scrapes' goroutines, so writes and reads are locked.
type logSink struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// testLogger is a debug-level logger whose output a test can read back.
func testLogger() (*slog.Logger, *logSink) {
	logs := &logSink{}
	return slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), logs
}
