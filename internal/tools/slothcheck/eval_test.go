package slothcheck

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"go.yaml.in/yaml/v3"
)

// scrapeInterval is the raw series' resolution: sparse enough that four
// days of 3d windows evaluate in seconds, dense enough for a 5m rate.
const scrapeInterval = 2 * time.Minute

// scenario is a story of the API's traffic that both rule sets read.
type scenario struct {
	span time.Duration
	// traffic is the API's requests a second at t after the start.
	traffic func(t time.Duration) float64
	// bad is the share of requests that fail (slo availability) or are
	// slower than the target (slo latency) at t.
	bad func(slo string, t time.Duration) float64
	// lazyErrors: the failed requests' series appears with the first
	// failure, as client libraries create a label value's series, rather
	// than at 0 from the start.
	lazyErrors bool
}

// inputSeries is one raw counter series, one sample a scrape.
type inputSeries struct {
	labels  labels.Labels
	samples []float64 // at start + i*scrapeInterval; NaN where absent
}

// inputs are the raw counters the SLIs of defs read, over the scenario.
func inputs(defs []sloDef, sc scenario) ([]inputSeries, error) {
	n := int(sc.span/scrapeInterval) + 1
	var out []inputSeries
	for _, d := range defs {
		partLabels, err := inputLabels(d.input.part, labelCandidates)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.name, err)
		}
		otherLabels := partLabels
		if d.input.countsFailed {
			// The successful requests: the failed ones' labels with the
			// label that tells them apart set to a success.
			if otherLabels, err = successLabels(d.input, partLabels); err != nil {
				return nil, fmt.Errorf("%s: %w", d.name, err)
			}
		} else if otherLabels, err = inputLabels(d.input.total, labelCandidates); err != nil {
			return nil, fmt.Errorf("%s: %w", d.name, err)
		}
		for _, ls := range []labels.Labels{partLabels, otherLabels} {
			if !selects(d.input.total, ls) && !selects(d.input.part, ls) {
				return nil, fmt.Errorf("%s: the input %s is selected by neither %s nor %s", d.name, ls, d.input.total, d.input.part)
			}
		}
		part, other := make([]float64, n), make([]float64, n)
		var cumPart, cumOther float64
		seen := !(sc.lazyErrors && d.input.countsFailed)
		for i := range n {
			t := time.Duration(i) * scrapeInterval
			if i > 0 {
				reqs := sc.traffic(t) * scrapeInterval.Seconds()
				bad := sc.bad(d.name, t)
				if d.input.countsFailed {
					cumPart += bad * reqs
					cumOther += (1 - bad) * reqs
				} else {
					cumPart += (1 - bad) * reqs // the fast bucket
					cumOther += reqs            // le="+Inf": all of them
				}
			}
			// Counters count whole requests.
			part[i], other[i] = math.Round(cumPart), math.Round(cumOther)
			if part[i] > 0 {
				seen = true
			}
			if !seen {
				part[i] = math.NaN()
			}
		}
		out = append(out, inputSeries{partLabels, part}, inputSeries{otherLabels, other})
	}
	return out, nil
}

// successLabels are the failed requests' labels with their failure label
// (the matcher of in.part that in.total lacks) set to a success.
func successLabels(in sliInput, failed labels.Labels) (labels.Labels, error) {
	for _, m := range in.part.LabelMatchers {
		if hasMatcher(in.total, m.Name) {
			continue
		}
		for _, c := range []string{"200", "ok", "success"} {
			if !m.Matches(c) {
				return labels.NewBuilder(failed).Set(m.Name, c).Labels(), nil
			}
		}
	}
	return labels.EmptyLabels(), fmt.Errorf("no label of %s tells failures apart from %s", in.part, in.total)
}

func hasMatcher(vs *parser.VectorSelector, name string) bool {
	for _, m := range vs.LabelMatchers {
		if m.Name == name {
			return true
		}
	}
	return false
}

func selects(vs *parser.VectorSelector, ls labels.Labels) bool {
	for _, m := range vs.LabelMatchers {
		if !m.Matches(ls.Get(m.Name)) {
			return false
		}
	}
	return true
}

// alertsSeries is the series Prometheus writes an alert's state to.
const alertsSeries = "ALERTS"

// recording is what one rule set recorded: series name, then the series'
// labels (without the name), then its samples by millisecond timestamp.
type recording map[string]map[string]recordedSeries

type recordedSeries struct {
	labels  labels.Labels // without __name__
	samples map[int64]float64
}

// evaluate loads each rule set into a TSDB of its own holding the same
// input series, and evaluates them all with one PromQL engine, group after
// group in file order at each step from start+step to the end (as
// Prometheus would on one evaluation interval, and as promtool's unit tests
// do). Two TSDBs, since both rule sets write the same series names.
func evaluate(ctx context.Context, dir string, sets map[string]rulesFile, in []inputSeries, span, step time.Duration) (map[string]recording, error) {
	start := origin
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 50_000_000, Timeout: time.Minute})
	defer engine.Close()

	type loaded struct {
		db     *tsdb.DB
		groups []*rules.Group
	}
	all := map[string]loaded{}
	for name, f := range sets {
		db, err := openTSDB(ctx, filepath.Join(dir, name), start, span, in)
		if err != nil {
			return nil, err
		}
		defer db.Close()
		path := filepath.Join(dir, name+".rules.yaml")
		data, err := yaml.Marshal(f)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, err
		}
		manager := rules.NewManager(&rules.ManagerOptions{
			QueryFunc:  rules.EngineQueryFunc(engine, db),
			Appendable: db,
			Queryable:  db,
			Context:    ctx,
			NotifyFunc: func(context.Context, string, ...*rules.Alert) {},
			Logger:     promslog.NewNopLogger(),
		})
		byKey, errs := manager.LoadGroups(step, labels.EmptyLabels(), "", nil, false, path)
		if len(errs) > 0 {
			return nil, fmt.Errorf("%s's rules: %w", name, errors.Join(errs...))
		}
		l := loaded{db: db}
		for _, g := range f.Groups {
			group := byKey[rules.GroupKey(path, g.Name)]
			for _, r := range group.Rules() {
				if ar, ok := r.(*rules.AlertingRule); ok {
					// As promtool does: no earlier state to restore, and
					// only a restored rule writes its ALERTS series.
					ar.SetRestored(true)
				}
			}
			l.groups = append(l.groups, group)
		}
		all[name] = l
	}

	for ts := start.Add(step); !ts.After(start.Add(span)); ts = ts.Add(step) {
		for name, l := range all {
			for _, g := range l.groups {
				g.Eval(ctx, ts)
				for _, r := range g.Rules() {
					if err := r.LastError(); err != nil {
						return nil, fmt.Errorf("%s's rule %s at %s: %w", name, r.Name(), ts.Format(time.RFC3339), err)
					}
				}
			}
		}
	}

	out := map[string]recording{}
	for name, l := range all {
		names := map[string]bool{}
		for _, g := range sets[name].Groups {
			for _, r := range g.Rules {
				if r.Alert != "" {
					names[alertsSeries] = true
				}
				names[r.Record] = true
			}
		}
		rec, err := read(ctx, l.db, names)
		if err != nil {
			return nil, err
		}
		out[name] = rec
	}
	return out, nil
}

// openTSDB is a TSDB holding the input series, with one head block longer
// than twice the span so that the rules' results, written later at earlier
// times than the inputs' last, are in bounds.
func openTSDB(ctx context.Context, dir string, start time.Time, span time.Duration, in []inputSeries) (*tsdb.DB, error) {
	opts := tsdb.DefaultOptions()
	block := (2*span + 2*time.Hour).Round(time.Hour)
	opts.MinBlockDuration, opts.MaxBlockDuration = block.Milliseconds(), block.Milliseconds()
	opts.RetentionDuration = 0
	db, err := tsdb.Open(dir, promslog.NewNopLogger(), nil, opts, tsdb.NewDBStats())
	if err != nil {
		return nil, err
	}
	db.DisableCompactions()
	app := db.Appender(ctx)
	for _, s := range in {
		for i, v := range s.samples {
			if math.IsNaN(v) {
				continue
			}
			ts := start.Add(time.Duration(i) * scrapeInterval).UnixMilli()
			if _, err := app.Append(0, s.labels, ts, v); err != nil {
				db.Close()
				return nil, fmt.Errorf("input %s: %w", s.labels, err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// read is every sample of the named series in db; a staleness marker is
// no sample (the series ended).
func read(ctx context.Context, db *tsdb.DB, names map[string]bool) (recording, error) {
	q, err := db.Querier(math.MinInt64, math.MaxInt64)
	if err != nil {
		return nil, err
	}
	defer q.Close()
	rec := recording{}
	set := q.Select(ctx, false, nil, labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".+"))
	for set.Next() {
		s := set.At()
		name := s.Labels().Get(labels.MetricName)
		if !names[name] {
			continue
		}
		ls := labels.NewBuilder(s.Labels()).Del(labels.MetricName).Labels()
		rs := recordedSeries{labels: ls, samples: map[int64]float64{}}
		it := s.Iterator(nil)
		for it.Next() == chunkenc.ValFloat {
			t, v := it.At()
			if !value.IsStaleNaN(v) {
				rs.samples[t] = v
			}
		}
		if err := it.Err(); err != nil {
			return nil, err
		}
		if rec[name] == nil {
			rec[name] = map[string]recordedSeries{}
		}
		rec[name][ls.String()] = rs
	}
	return rec, set.Err()
}
