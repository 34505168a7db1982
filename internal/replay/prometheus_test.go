package replay

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/internal/testenv"
)

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
	rep, err := Replay(context.Background(), queueConfig(t), src, Options{Start: base.Add(5 * time.Minute), End: base.Add(39 * time.Minute), Initial: 2})
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
