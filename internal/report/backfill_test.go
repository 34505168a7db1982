package report_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"gopkg.in/yaml.v3"

	"github.com/headroom-dev/headroom/alerts"
	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/internal/replay"
	"github.com/headroom-dev/headroom/internal/report"
	"github.com/headroom-dev/headroom/internal/testenv"
)

// backfillEnd is where a backfilled week ends: on a whole hour, so that
// every step of the report's grid (which --end truncates to the step) falls
// on a sample, and 3 hours or more before now, since promtool writes
// blocks that Prometheus's head would otherwise overlap.
func backfillEnd() time.Time { return time.Now().Add(-3 * time.Hour).Truncate(time.Hour).UTC() }

// storyOpenMetrics is the story's week with a sample every interval, as
// OpenMetrics text for promtool tsdb create-blocks-from openmetrics, moved
// to end at end. Prometheus would hold the bundle's records beside the raw
// series, and the report reads those: they are evaluated here every
// evalEvery from the report's start, by Prometheus's own rule engine over
// the same raw samples, as a server evaluating the bundle's rules would
// have (promtool tsdb create-blocks-from rules cannot stand in: it
// evaluates at its group's hashed offset, off the report's grid). No type
// is declared, so that promtool applies no counter suffix rules.
func storyOpenMetrics(t testing.TB, b *catalogue.Bundle, interval, evalEvery time.Duration, end time.Time) string {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	path, err := writeStoryEvery(dir, interval)
	if err != nil {
		t.Fatal(err)
	}
	src, err := replay.ReadInputFile(path)
	if err != nil {
		t.Fatal(err)
	}
	first, last := src.Span()
	opts := tsdb.DefaultOptions()
	// A head that takes the whole week out of order with the rules'
	// results: one block longer than twice the span.
	block := (2*storySpan + 2*time.Hour).Round(time.Hour)
	opts.MinBlockDuration, opts.MaxBlockDuration = block.Milliseconds(), block.Milliseconds()
	opts.RetentionDuration = 0
	db, err := tsdb.Open(filepath.Join(dir, "tsdb"), promslog.NewNopLogger(), nil, opts, tsdb.NewDBStats())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.DisableCompactions()
	app := db.AppenderV2(ctx)
	if err := src.Load(ctx, nil, first, last, app); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}

	rulesPath := filepath.Join(dir, "rules.yaml")
	if err := writeReadRules(b, rulesPath); err != nil {
		t.Fatal(err)
	}
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 50_000_000, Timeout: 2 * time.Minute})
	defer engine.Close()
	manager := rules.NewManager(&rules.ManagerOptions{
		QueryFunc:    rules.EngineQueryFunc(engine, db),
		AppendableV2: db,
		Queryable:    db,
		Context:      ctx,
		NotifyFunc:   func(context.Context, string, ...*rules.Alert) {},
		Logger:       promslog.NewNopLogger(),
	})
	groups, errs := manager.LoadGroups(evalEvery, labels.EmptyLabels(), "", nil, false, rulesPath)
	if len(errs) > 0 {
		t.Fatalf("loading the rules: %v", errs)
	}
	for ts := last.Add(-7 * day); !ts.After(last); ts = ts.Add(evalEvery) {
		for _, g := range groups {
			g.Eval(ctx, ts)
			for _, r := range g.Rules() {
				if err := r.LastError(); err != nil {
					t.Fatalf("rule %s at %s: %v", r.Name(), ts, err)
				}
			}
		}
	}

	q, err := db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	shift := end.Sub(last).Milliseconds()
	var om strings.Builder
	// Sorted by their labels, __name__ first: each metric's series
	// together, as OpenMetrics wants its families.
	set := q.Select(ctx, true, nil, labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".+"))
	for set.Next() {
		s := set.At()
		var pairs []string
		s.Labels().Range(func(l labels.Label) {
			if l.Name != labels.MetricName {
				pairs = append(pairs, l.Name+"="+strconv.Quote(l.Value))
			}
		})
		head := s.Labels().Get(labels.MetricName) + "{" + strings.Join(pairs, ",") + "} "
		it := s.Iterator(nil)
		for it.Next() == chunkenc.ValFloat {
			ms, v := it.At()
			// A staleness marker has no OpenMetrics spelling; the story's
			// series only start, never stop, so the report reads none.
			if value.IsStaleNaN(v) {
				continue
			}
			om.WriteString(head + strconv.FormatFloat(v, 'g', -1, 64) + " " +
				strconv.FormatFloat(float64(ms+shift)/1000, 'f', 3, 64) + "\n")
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
	}
	if err := set.Err(); err != nil {
		t.Fatal(err)
	}
	om.WriteString("# EOF\n")
	return om.String()
}

// writeReadRules writes the bundle's recording rule groups that hold a
// record the report reads: the others (SLO windows of 30 days, the
// forecasts) cost time and are not read.
func writeReadRules(b *catalogue.Bundle, path string) error {
	exprs := strings.Join(report.Exprs(report.Inputs(b)), "\n")
	var kept rulefmt.RuleGroups
	for _, g := range alerts.RecordingRules(b).Groups {
		for _, r := range g.Rules {
			if r.Record != "" && strings.Contains(exprs, r.Record+"{") {
				kept.Groups = append(kept.Groups, g)
				break
			}
		}
	}
	if len(kept.Groups) == 0 {
		return fmt.Errorf("no recording rule group holds a record of %s", exprs)
	}
	data, err := yaml.Marshal(kept)
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}

// The story backfilled into a real Prometheus gives the report of the
// file: the same checklist, decisions, cost and forecasts; only the
// source and the range's times (the week moved to end 3 hours ago) differ.
func TestTheStoryFromPrometheus(t *testing.T) {
	started := time.Now()
	b := storyConfig(t)
	end := backfillEnd()
	step := 5 * time.Minute
	om := storyOpenMetrics(t, b, storyInterval, step, end)
	written := time.Now()
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{Backfill: om})
	t.Logf("%d bytes of OpenMetrics written in %s, backfilled and served in %s", len(om),
		written.Sub(started).Round(time.Millisecond), time.Since(written).Round(time.Millisecond))
	src, err := replay.NewPrometheusSource("http://"+prom.Addr(), time.Duration(b.Config.ScrapeInterval))
	if err != nil {
		t.Fatal(err)
	}
	in := report.Inputs(b)
	rng, err := replay.EvaluateRange(testenv.Context(t), b, src, replay.Options{Start: end.Add(-7 * day), End: end, Step: step}, report.Exprs(in))
	if err != nil {
		t.Fatal(err)
	}
	got, err := report.Build(b, in, rng)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Checklist) == 0 || len(got.Saturation) == 0 {
		t.Fatalf("the report from Prometheus is empty: %+v", got)
	}
	for _, d := range reportDiff(storyReport(t), got) {
		t.Error(d)
	}
	t.Logf("the week from Prometheus in %s", time.Since(started).Round(time.Millisecond))
}

// reportDiff lists where two reports of the same history differ, beyond
// their source and their range's times: the JSON documents compared
// field by field, numbers within a relative 1e-9, times of the range
// (the validation's) as offsets from its start.
func reportDiff(want, got *report.Report) []string {
	doc := func(r *report.Report) map[string]any {
		var buf bytes.Buffer
		if err := r.WriteJSON(&buf); err != nil {
			return map[string]any{"error": err.Error()}
		}
		var m map[string]any
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			return map[string]any{"error": err.Error()}
		}
		delete(m, "source")
		delete(m, "start")
		delete(m, "end")
		if v, ok := m["validation"].(map[string]any); ok {
			if at, err := time.Parse(time.RFC3339Nano, fmt.Sprint(v["at"])); err == nil {
				v["at"] = at.Sub(r.Start).String() + " after the start"
			}
		}
		return m
	}
	var diffs []string
	var walk func(path string, a, b any)
	walk = func(path string, a, b any) {
		switch a := a.(type) {
		case map[string]any:
			bm, ok := b.(map[string]any)
			if !ok {
				diffs = append(diffs, fmt.Sprintf("%s: %v, want %v", path, b, a))
				return
			}
			for k := range bm {
				if _, ok := a[k]; !ok {
					diffs = append(diffs, fmt.Sprintf("%s.%s: %v, want none", path, k, bm[k]))
				}
			}
			for k, v := range a {
				walk(path+"."+k, v, bm[k])
			}
		case []any:
			bs, ok := b.([]any)
			if !ok || len(bs) != len(a) {
				diffs = append(diffs, fmt.Sprintf("%s: %v, want %v", path, b, a))
				return
			}
			for i := range a {
				walk(fmt.Sprintf("%s[%d]", path, i), a[i], bs[i])
			}
		case float64:
			bf, ok := b.(float64)
			if !ok || math.Abs(a-bf) > 1e-9*math.Max(1, math.Abs(a)) {
				diffs = append(diffs, fmt.Sprintf("%s: %v, want %v", path, b, a))
			}
		default:
			if fmt.Sprint(a) != fmt.Sprint(b) {
				diffs = append(diffs, fmt.Sprintf("%s: %v, want %v", path, b, a))
			}
		}
	}
	walk("report", doc(want), doc(got))
	return diffs
}

// reportDiff sees a number that moved and nothing in a report moved only
// in time: TestTheStoryFromPrometheus's "the same report" holds no more
// than it does.
func TestReportDiff(t *testing.T) {
	want := storyReport(t)
	moved := *want
	moved.Source = "elsewhere"
	moved.Start, moved.End = want.Start.Add(time.Hour), want.End.Add(time.Hour)
	if moved.Validation != nil {
		v := *want.Validation
		v.At = v.At.Add(time.Hour)
		moved.Validation = &v
	}
	if d := reportDiff(want, &moved); len(d) != 0 {
		t.Errorf("the same report an hour later differs: %q", d)
	}
	users := *want.Cost.Users * (1 + 1e-6)
	moved.Cost.Users = &users
	if d := reportDiff(want, &moved); len(d) != 1 || !strings.Contains(d[0], "report.cost.users") {
		t.Errorf("users moved by a millionth: %q, want report.cost.users alone", d)
	}
}
