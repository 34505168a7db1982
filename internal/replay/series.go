package replay

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"gopkg.in/yaml.v3"

	"github.com/headroom-dev/headroom/alerts"
	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/internal/config"
)

// Range is the values of some expressions at each step of a range: what
// `headroom report` reads of the history. Values[i][k] is expression i at
// Start + k×Step, NaN where it had no value; an expression that returns
// several series reads as their maximum.
type Range struct {
	Start, End time.Time
	Step       time.Duration
	Source     string
	Values     [][]float64
}

// Len is the number of steps.
func (r *Range) Len() int { return int(r.End.Sub(r.Start)/r.Step) + 1 }

// EvaluateRange evaluates exprs at each step of [opts.Start, opts.End]. From
// Prometheus the bundle's records are already there: one range query per
// expression. From a file, the bundle's recording rules run first over the
// raw series on a local TSDB, step by step as in Replay, so the
// expressions read the same records Prometheus would hold.
func EvaluateRange(ctx context.Context, bundle *catalogue.Bundle, src Source, opts Options, exprs []string) (*Range, error) {
	step := opts.Step
	if step == 0 {
		step = 5 * time.Minute
	}
	if p, ok := src.(*PrometheusSource); ok {
		return p.evaluateRange(ctx, opts.Start, opts.End, step, exprs)
	}
	all := alerts.RecordingRules(bundle)
	dir, err := os.MkdirTemp("", "headroom-report-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// Only the records the expressions read, through the records those
	// read: the SLO rules' windows of days cost minutes over a week.
	rgs, err := neededRecords(all, exprs)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, alerts.FileRules)
	data, err := yaml.Marshal(rgs)
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return nil, err
	}
	var groupKeys, ruleExprs []string
	recorded := map[string]string{}
	for _, g := range rgs.Groups {
		groupKeys = append(groupKeys, rules.GroupKey(path, g.Name))
		for _, r := range g.Rules {
			ruleExprs = append(ruleExprs, r.Expr)
			if r.Record != "" {
				recorded[r.Record] = r.Expr
			}
		}
	}
	selectors, lookback, _, _, err := inputSelectors(append(ruleExprs, exprs...), nil, recorded)
	if err != nil {
		return nil, err
	}
	start, end := opts.Start, opts.End
	if s, ok := src.(spanned); ok && (start.IsZero() || end.IsZero()) {
		fs, fe := s.Span()
		if start.IsZero() {
			start = fs
		}
		if end.IsZero() {
			end = fe
		}
	}
	if start.IsZero() || end.IsZero() {
		return nil, errors.New("a start and an end are needed for " + src.Describe())
	}
	if !end.After(start) {
		return nil, fmt.Errorf("the end %s is not after the start %s", end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	from := start.Add(-lookback - step)
	db, err := loadTSDB(ctx, dir, src, selectors, from, end)
	if err != nil {
		return nil, err
	}
	defer db.Close()
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
	groupsMap, errs := manager.LoadGroups(step, labels.EmptyLabels(), "", nil, false, path)
	if len(errs) > 0 {
		return nil, fmt.Errorf("loading the generated rules: %w", errors.Join(errs...))
	}
	rng := &Range{Start: start, End: end, Step: step, Source: src.Describe(), Values: make([][]float64, len(exprs))}
	n := rng.Len()
	for i := range exprs {
		rng.Values[i] = make([]float64, n)
	}
	for k := range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ts := start.Add(time.Duration(k) * step)
		for _, key := range groupKeys {
			g := groupsMap[key]
			g.Eval(ctx, ts)
			for _, r := range g.Rules() {
				if err := r.LastError(); err != nil {
					return nil, fmt.Errorf("rule %s at %s: %w", r.Name(), ts.Format(time.RFC3339), err)
				}
			}
		}
		for i, e := range exprs {
			v, err := maxValue(ctx, engine, db, e, ts)
			if err != nil {
				return nil, fmt.Errorf("query %s at %s: %w", e, ts.Format(time.RFC3339), err)
			}
			rng.Values[i][k] = v
		}
	}
	return rng, nil
}

// maxValue is the largest value an instant query returns, NaN for none.
func maxValue(ctx context.Context, engine *promql.Engine, db storage.Queryable, expr string, ts time.Time) (float64, error) {
	q, err := engine.NewInstantQuery(ctx, db, nil, expr, ts)
	if err != nil {
		return 0, err
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return 0, res.Err
	}
	out := math.NaN()
	switch val := res.Value.(type) {
	case promql.Vector:
		for _, s := range val {
			if math.IsNaN(out) || s.F > out {
				out = s.F
			}
		}
	case promql.Scalar:
		out = val.V
	}
	if math.IsInf(out, 0) {
		return math.NaN(), nil
	}
	return out, nil
}

// evaluateRange runs one range query per expression, under the source's
// timeout and with its password hidden in errors, as its instant queries.
func (p *PrometheusSource) evaluateRange(ctx context.Context, start, end time.Time, step time.Duration, exprs []string) (*Range, error) {
	if start.IsZero() || end.IsZero() || !end.After(start) {
		return nil, errors.New("a start before the end is needed for " + p.Describe())
	}
	rng := &Range{Start: start, End: end, Step: step, Source: p.Describe(), Values: make([][]float64, len(exprs))}
	n := rng.Len()
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultQueryTimeout
	}
	endpoint := strings.TrimSuffix(p.Describe(), "/") + "/api/v1/query_range"
	for i, e := range exprs {
		qctx, cancel := context.WithTimeout(ctx, timeout)
		val, _, _, err := p.api.QueryRange(qctx, e, v1.Range{Start: start, End: end, Step: step})
		timedOut := ctx.Err() == nil && qctx.Err() != nil
		cancel()
		if err != nil {
			if timedOut {
				return nil, fmt.Errorf("query %s (%s): no answer within %s (--prometheus.timeout)", endpoint, e, timeout)
			}
			return nil, fmt.Errorf("query %s (%s): %w", endpoint, e, config.URLCause(err))
		}
		row := make([]float64, n)
		for k := range row {
			row[k] = math.NaN()
		}
		if m, ok := val.(model.Matrix); ok {
			for _, ss := range m {
				for _, v := range ss.Values {
					k := int(v.Timestamp.Time().Sub(start) / step)
					f := float64(v.Value)
					if k < 0 || k >= n || math.IsInf(f, 0) {
						continue
					}
					if math.IsNaN(row[k]) || f > row[k] {
						row[k] = f
					}
				}
			}
		}
		rng.Values[i] = row
		if p.Progress != nil {
			p.Progress(i+1, len(exprs), e, start, end)
		}
	}
	return rng, nil
}

// neededRecords keeps the recording rules that exprs read, directly or
// through other records, in their groups and order.
func neededRecords(all rulefmt.RuleGroups, exprs []string) (rulefmt.RuleGroups, error) {
	byName := map[string][]string{}
	for _, g := range all.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				byName[r.Record] = append(byName[r.Record], r.Expr)
			}
		}
	}
	need := map[string]bool{}
	p := parser.NewParser(parser.Options{})
	var visit func(e string) error
	visit = func(e string) error {
		expr, err := p.ParseExpr(e)
		if err != nil {
			return fmt.Errorf("query %q: %w", e, err)
		}
		var names []string
		parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
			if vs, ok := node.(*parser.VectorSelector); ok {
				if _, rec := byName[vs.Name]; rec && !need[vs.Name] {
					need[vs.Name] = true
					names = append(names, vs.Name)
				}
			}
			return nil
		})
		for _, n := range names {
			for _, e := range byName[n] {
				if err := visit(e); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, e := range exprs {
		if err := visit(e); err != nil {
			return rulefmt.RuleGroups{}, err
		}
	}
	var out rulefmt.RuleGroups
	for _, g := range all.Groups {
		kept := g
		kept.Rules = nil
		for _, r := range g.Rules {
			if r.Record != "" && need[r.Record] {
				kept.Rules = append(kept.Rules, r)
			}
		}
		if len(kept.Rules) > 0 {
			out.Groups = append(out.Groups, kept)
		}
	}
	return out, nil
}
