package replay

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/internal/testenv"
)

// Each test backfills a Prometheus of its own: what the server holds is the
// test's input, the same series with different gaps, so one shared server
// would need both tests' data in it, at shifted times, before either ran.

// A gap of 3 minutes in Prometheus's data, shorter than the 5-minute
// lookback over which query_range would carry the last value on, is a gap
// in the replay: the requests trigger's 2m rate has no samples in it and
// is reported missing, and only there.
func TestReplayPrometheusGapShorterThanLookback(t *testing.T) {
	const every = 15 * time.Second
	base := time.Now().Add(-50 * time.Minute).Truncate(time.Minute)
	gapFrom, gapTo := base.Add(20*time.Minute), base.Add(23*time.Minute)
	var om strings.Builder
	// Families are written one after the other, as OpenMetrics requires.
	for k, at := 0, base; at.Before(base.Add(40 * time.Minute)); k, at = k+1, at.Add(every) {
		if !at.After(gapFrom) || !at.Before(gapTo) {
			fmt.Fprintf(&om, "amas_agent_requests_total{job=\"amas-orchestrator\",status=\"ok\"} %d %d\n", 150*k, at.Unix())
		}
	}
	for at := base; at.Before(base.Add(40 * time.Minute)); at = at.Add(every) {
		fmt.Fprintf(&om, "amas_queue_depth_current{job=\"amas-orchestrator\"} 20 %d\n", at.Unix())
	}
	om.WriteString("# EOF\n")
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{Backfill: om.String()})

	src, err := NewPrometheusSource("http://"+prom.Addr(), every)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := Replay(context.Background(), catalogue.MustBuild(queueConfig(t)), src, Options{Start: base.Add(5 * time.Minute), End: base.Add(39 * time.Minute), Initial: 2})
	if err != nil {
		t.Fatal(err)
	}
	var spans []MissingSpan
	for _, m := range rep.Missing {
		if m.Trigger == "requests-per-pod" {
			spans = append(spans, m)
		}
	}
	// rate over 2m needs two samples in its window: from when the last two
	// before the gap leave it until the first one after it.
	if len(spans) != 1 || spans[0].From.Before(gapFrom.Add(2*time.Minute-every)) || spans[0].To.After(gapTo) || spans[0].To.Before(gapTo.Add(-every)) {
		t.Errorf("requests-per-pod missing %+v, want one span within %s..%s", spans, gapFrom.Add(2*time.Minute-every).Format(time.TimeOnly), gapTo.Format(time.TimeOnly))
	}
	for _, m := range rep.Missing {
		if m.Trigger != "requests-per-pod" {
			t.Errorf("%s missing %+v, it has no gap", m.Trigger, m)
		}
	}
}

// A gauge whose series stops is stale one scrape interval after its last
// sample, as Prometheus's staleness marker makes it (and KEDA's query then
// reads nothing), not carried over the 5-minute lookback as the raw samples
// alone would have it. The backfilled server has no markers (the range
// queries would drop them anyway): the replay must find the stops itself.
// Pod b's queue series goes away for good at +10m while pod a's goes on, so
// the queue trigger's sum drops to pod a's alone at once; pod a's stops for
// 3 minutes at +20m, so the trigger has no value from +20m15s until it is
// back at +23m. The requests counter never stops and is never missing.
func TestReplayPrometheusGaugeGap(t *testing.T) {
	const every = 15 * time.Second
	base := time.Now().Add(-50 * time.Minute).Truncate(time.Minute)
	podGone := base.Add(10 * time.Minute)
	gapFrom, gapTo := base.Add(20*time.Minute), base.Add(23*time.Minute)
	var om strings.Builder
	for k, at := 0, base; at.Before(base.Add(40 * time.Minute)); k, at = k+1, at.Add(every) {
		fmt.Fprintf(&om, "amas_agent_requests_total{job=\"amas-orchestrator\",status=\"ok\"} %d %d\n", 150*k, at.Unix())
	}
	for at := base; at.Before(base.Add(40 * time.Minute)); at = at.Add(every) {
		if !at.After(gapFrom) || !at.Before(gapTo) {
			fmt.Fprintf(&om, "amas_queue_depth_current{job=\"amas-orchestrator\",pod=\"a\"} 20 %d\n", at.Unix())
		}
	}
	for at := base; !at.After(podGone); at = at.Add(every) {
		fmt.Fprintf(&om, "amas_queue_depth_current{job=\"amas-orchestrator\",pod=\"b\"} 5 %d\n", at.Unix())
	}
	om.WriteString("# EOF\n")
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{Backfill: om.String()})

	src, err := NewPrometheusSource("http://"+prom.Addr(), every)
	if err != nil {
		t.Fatal(err)
	}
	type call struct {
		done, total int
		sel         string
	}
	var calls []call
	src.Progress = func(done, total int, sel string, _, _ time.Time) { calls = append(calls, call{done, total, sel}) }
	rep, err := Replay(context.Background(), catalogue.MustBuild(queueConfig(t)), src, Options{Start: base.Add(5 * time.Minute), End: base.Add(39 * time.Minute), Initial: 2})
	if err != nil {
		t.Fatal(err)
	}

	queue := -1
	for i, tr := range rep.Triggers {
		if tr.Name == "queue-depth" {
			queue = i
		}
	}
	if queue < 0 {
		t.Fatalf("no queue-depth trigger in %+v", rep.Triggers)
	}
	for _, st := range rep.Steps {
		var want *float64
		switch at := st.At; {
		case !at.After(podGone):
			want = new(25.0)
		case at.After(gapFrom) && at.Before(gapTo):
			want = nil
		default:
			want = new(20.0)
		}
		got := st.Values[queue]
		if (got == nil) != (want == nil) || (got != nil && *got != *want) {
			t.Errorf("queue-depth at +%s: %s, want %s", st.At.Sub(base), show(got), show(want))
		}
	}
	var spans []string
	for _, m := range rep.Missing {
		spans = append(spans, fmt.Sprintf("%s +%s..+%s", m.Trigger, m.From.Sub(base), m.To.Sub(base)))
	}
	if want := fmt.Sprintf("queue-depth +%s..+%s", gapFrom.Add(every).Sub(base), gapTo.Add(-every).Sub(base)); strings.Join(spans, ", ") != want {
		t.Errorf("missing %v, want %s", spans, want)
	}
	if rep.StaleGaps == nil || *rep.StaleGaps != 2 {
		t.Errorf("stale gaps %s, want 2 (pod b gone, pod a's gap)", show(rep.StaleGaps))
	}

	// Progress: one call per chunk query, counting up to the total.
	if len(calls) == 0 {
		t.Fatal("no load progress reported")
	}
	sels := map[string]bool{}
	for i, c := range calls {
		if c.done != i+1 || c.total != len(calls) {
			t.Errorf("progress call %d: %d of %d, want %d of %d", i, c.done, c.total, i+1, len(calls))
		}
		sels[c.sel] = true
	}
	for _, want := range []string{`amas_queue_depth_current{job="amas-orchestrator"}`, `amas_agent_requests_total{job="amas-orchestrator"}`} {
		if !sels[want] {
			t.Errorf("no progress for the selector %s (got %v)", want, sels)
		}
	}
}

func show[T int | float64](p *T) string {
	if p == nil {
		return "nothing"
	}
	return fmt.Sprint(*p)
}

// A series scraped less often than the resolution (a job with its own
// scrape_interval) is judged by its own interval: its every sample is not a
// gap, but a scrape it missed is.
func TestStaleAfterOwnInterval(t *testing.T) {
	const res = 15_000
	s := &loadedSeries{interval: res}
	var ts []int64
	for k := range 10 {
		if k != 6 { // the scrape at 6m missed
			ts = append(ts, int64(k)*60_000)
		}
	}
	s.interval = seriesInterval(s, ts)
	if s.interval != 60_000 {
		t.Fatalf("interval %d ms, want 60000", s.interval)
	}
	var marks []int64
	for _, at := range ts {
		if m, ok := staleAfter(s, at); ok {
			marks = append(marks, m)
		}
		s.last, s.seen = at, true
	}
	if len(marks) != 1 || marks[0] != 6*60_000 {
		t.Errorf("staleness markers at %v ms, want one at 360000 (the missed scrape)", marks)
	}
	// The end of the range an interval after the last sample is no gap;
	// more than 1.5 intervals is.
	if _, ok := staleAfter(s, 9*60_000+60_000); ok {
		t.Error("the range's end one interval after the last sample read as a gap")
	}
	if m, ok := staleAfter(s, 9*60_000+91_000); !ok || m != 10*60_000 {
		t.Errorf("a series stopped 91s before the end: marker %d, %v", m, ok)
	}
}
