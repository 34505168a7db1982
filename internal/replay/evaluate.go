package replay

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb"
	"gopkg.in/yaml.v3"

	"github.com/headroom-dev/headroom/alerts"
	"github.com/headroom-dev/headroom/catalogue"
)

// Source supplies the raw series a replay evaluates.
type Source interface {
	// Describe names the source in the report.
	Describe() string
	// Load appends the samples in [from, to] of the series the selectors
	// select (a source may load more) to app.
	Load(ctx context.Context, selectors []string, from, to time.Time, app storage.AppenderV2) error
}

// staleMarker is a source that writes staleness markers where its series
// stopped (a Prometheus server, whose range queries drop its own).
type staleMarker interface {
	StaleMarked() int
}

// spanned is a source with a time range of its own (a file).
type spanned interface {
	Span() (time.Time, time.Time)
}

// Options of a replay.
type Options struct {
	// Start and End of the replay; zero takes the source's own span (a
	// file's), and is an error for a source without one.
	Start, End time.Time
	// Step is both the rule evaluation interval and the HPA's sync period
	// (0 takes 15s, Kubernetes' default).
	Step time.Duration
	// Initial replicas (0 takes the autoscaler's minimum).
	Initial int32
	// Progress, when set, is called after each evaluated step.
	Progress func(done, total int)
}

// Replay evaluates the bundle a config generates, and its autoscaler, over
// the series of src: the recording and alerting rules with Prometheus's own
// rule manager and the scaler's trigger queries with Prometheus's engine,
// step by step on a local TSDB holding the raw series (as promtool's rule
// unit tests do, so for, keep_firing_for and the ALERTS-based hysteresis
// behave as in Prometheus), then the HPA algorithm on the trigger values.
// Nothing is read as 0 that was not there: a trigger query with no result
// is missing, and the autoscaler handles it as KEDA and the HPA would.
func Replay(ctx context.Context, bundle *catalogue.Bundle, src Source, opts Options) (*Report, error) {
	cfg := bundle.Config
	sc, err := ScalerOf(bundle)
	if err != nil {
		return nil, err
	}
	files, err := alerts.Generate(bundle)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "headroom-replay-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var ruleFiles, groupKeys []string
	var exprs []string
	// alertOf[i] names the alert of exprs[i] ("" for a record).
	var alertOf []string
	// Series the rules write, by name, with the expression of a record.
	recorded := map[string]string{"ALERTS": "", "ALERTS_FOR_STATE": ""}
	for _, name := range []string{alerts.FileRules, alerts.FileAlerts} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, files[name], 0o600); err != nil {
			return nil, err
		}
		ruleFiles = append(ruleFiles, path)
		var rgs rulefmt.RuleGroups
		if err := yaml.Unmarshal(files[name], &rgs); err != nil {
			return nil, fmt.Errorf("generated %s: %w", name, err)
		}
		for _, g := range rgs.Groups {
			groupKeys = append(groupKeys, rules.GroupKey(path, g.Name))
			for _, r := range g.Rules {
				exprs = append(exprs, r.Expr)
				alertOf = append(alertOf, r.Alert)
				if r.Record != "" {
					recorded[r.Record] = r.Expr
				}
			}
		}
	}
	// The guard prefers the usable connections the exporter measured, as
	// the alert and the dashboard do.
	usableExpr := ""
	if h, ok := catalogue.DBConnectionHeadroom(cfg); ok {
		usableExpr = catalogue.InCluster(cfg, h.UsableExpr)
		exprs, alertOf = append(exprs, usableExpr), append(alertOf, "")
	}
	selectors, lookback, warmup, windows, err := inputSelectors(exprs, sc.Queries, recorded)
	if err != nil {
		return nil, err
	}
	step := opts.Step
	if step == 0 {
		step = 15 * time.Second
	}
	start, end := opts.Start, opts.End
	origin := start
	if s, ok := src.(spanned); ok {
		origin, _ = s.Span()
	}
	if start.IsZero() || end.IsZero() {
		s, ok := src.(spanned)
		if !ok {
			return nil, errors.New("a start and an end are needed for " + src.Describe())
		}
		fs, fe := s.Span()
		if start.IsZero() {
			// A file has nothing before its first value: the replay starts
			// once the scaler's queries have their windows of samples, so
			// that a rate is not reported missing at the first step.
			start = fs.Add(warmup)
		}
		if end.IsZero() {
			end = fe
		}
	}
	if !end.After(start) {
		return nil, fmt.Errorf("the end %s is not after the start %s", end.Format(time.RFC3339), start.Format(time.RFC3339))
	}
	// Rates at the first step need their window of samples before it.
	from := start.Add(-lookback - step)

	db, err := loadTSDB(ctx, dir, src, selectors, from, end)
	if err != nil {
		return nil, err
	}
	defer db.Close()

	engine := promql.NewEngine(promql.EngineOpts{
		MaxSamples:               50_000_000,
		Timeout:                  2 * time.Minute,
		NoStepSubqueryIntervalFn: func(int64) int64 { return step.Milliseconds() },
		EnableAtModifier:         true,
		EnableNegativeOffset:     true,
	})
	defer engine.Close()
	manager := rules.NewManager(&rules.ManagerOptions{
		QueryFunc:    rules.EngineQueryFunc(engine, db),
		AppendableV2: db,
		Queryable:    db,
		Context:      ctx,
		NotifyFunc:   func(context.Context, string, ...*rules.Alert) {},
		Logger:       promslog.NewNopLogger(),
	})
	groupsMap, errs := manager.LoadGroups(step, labels.EmptyLabels(), "", nil, false, ruleFiles...)
	if len(errs) > 0 {
		return nil, fmt.Errorf("loading the generated rules: %w", errors.Join(errs...))
	}
	// Recording rules first, in file order, so that the alerts of a step
	// read the records of the same step.
	var groups []*rules.Group
	for _, k := range groupKeys {
		g := groupsMap[k]
		for _, r := range g.Rules() {
			if ar, ok := r.(*rules.AlertingRule); ok {
				// As promtool does: there is no earlier state to restore,
				// and ALERTS series are only written by restored rules.
				ar.SetRestored(true)
			}
		}
		groups = append(groups, g)
	}

	n := int(end.Sub(start)/step) + 1
	values := make([][]float64, n)
	measured := make([]float64, n)
	tracker := newAlertTracker()
	var queryErrs []string
	for k := range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ts := start.Add(time.Duration(k) * step)
		for _, g := range groups {
			g.Eval(ctx, ts)
			for _, r := range g.Rules() {
				if err := r.LastError(); err != nil {
					return nil, fmt.Errorf("rule %s at %s: %w", r.Name(), ts.Format(time.RFC3339), err)
				}
			}
		}
		tracker.observe(ts, groups)
		row := make([]float64, len(sc.Queries))
		for i, q := range sc.Queries {
			v, problem, err := triggerValue(ctx, engine, db, q, ts)
			if err != nil {
				return nil, fmt.Errorf("trigger %s at %s: %w", sc.Spec.Triggers[i].Name, ts.Format(time.RFC3339), err)
			}
			if msg := sc.Spec.Triggers[i].Name + ": " + problem; problem != "" && !slices.Contains(queryErrs, msg) {
				queryErrs = append(queryErrs, msg)
			}
			row[i] = v
		}
		values[k] = row
		measured[k] = math.NaN()
		if usableExpr != "" {
			// Several series (or none) leave the configured number in use.
			if measured[k], _, err = triggerValue(ctx, engine, db, usableExpr, ts); err != nil {
				return nil, fmt.Errorf("usable connections at %s: %w", ts.Format(time.RFC3339), err)
			}
		}
		if opts.Progress != nil {
			opts.Progress(k+1, n)
		}
	}

	initial := opts.Initial
	if initial == 0 {
		initial = max(sc.Spec.MinReplicas, 1)
	}
	res, err := Run(sc.withSync(step), start, initial, values)
	if err != nil {
		return nil, err
	}
	rep := newReport(cfg, sc, src.Describe(), start, end, step, initial, values, measured, res, tracker.result())
	rep.QueryProblems = queryErrs
	if s, ok := src.(staleMarker); ok {
		n := s.StaleMarked()
		rep.StaleGaps = &n
	}
	// A file holds nothing before its first value, however far back the
	// rules would read.
	histFrom := from
	if s, ok := src.(spanned); ok {
		if fs, _ := s.Span(); fs.After(from) {
			histFrom = fs
		}
	}
	rep.History = Duration(end.Sub(histFrom))
	rep.markShortHistory(alertOf, windows)
	rep.Origin = origin
	return rep, nil
}

// triggerValue is a trigger's value as KEDA's Prometheus scaler reads it
// with ignoreNullValues false: an empty result, several series, NaN or Inf
// are errors (NaN here, with the problem said), never 0.
func triggerValue(ctx context.Context, engine *promql.Engine, q storage.Queryable, expr string, ts time.Time) (float64, string, error) {
	query, err := engine.NewInstantQuery(ctx, q, nil, expr, ts)
	if err != nil {
		return 0, "", err
	}
	defer query.Close()
	res := query.Exec(ctx)
	if res.Err != nil {
		return 0, "", res.Err
	}
	var v float64
	switch val := res.Value.(type) {
	case promql.Vector:
		switch len(val) {
		case 0:
			return math.NaN(), "", nil
		case 1:
			v = val[0].F
		default:
			return math.NaN(), fmt.Sprintf("the query returned %d series, KEDA needs one", len(val)), nil
		}
	case promql.Scalar:
		v = val.V
	default:
		return 0, "", fmt.Errorf("the query returned a %s", res.Value.Type())
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return math.NaN(), "", nil
	}
	return v, "", nil
}

// maxLookback caps the history loaded before the start: SLO burn rates
// over days would otherwise pull days of series for an hour's replay
// (those alerts then see only the replay's range and the hour before, and
// the report says so).
const maxLookback = time.Hour

// inputSelectors are the metric selectors of the rules' and the scaler's
// queries that read raw series (not the rules' records, nor ALERTS); the
// history to load before the start (the longest window, capped); the
// warm-up the scaler's queries need, through the records they read; and
// each rule's longest window through the records it reads.
func inputSelectors(ruleExprs, scalerQueries []string, recorded map[string]string) (selectors []string, lookback, warmup time.Duration,
	windows []time.Duration, err error) {
	p := parser.NewParser(parser.Options{})
	seen := map[string]bool{}
	// window and reads of each expression: its longest range or subquery
	// window (with offset) and the records it reads.
	type info struct {
		window time.Duration
		reads  []string
	}
	inspect := func(e string) (info, error) {
		var in info
		expr, err := p.ParseExpr(e)
		if err != nil {
			return in, fmt.Errorf("query %q: %w", e, err)
		}
		parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
			switch n := node.(type) {
			case *parser.MatrixSelector:
				off := time.Duration(0)
				if vs, ok := n.VectorSelector.(*parser.VectorSelector); ok {
					off = vs.OriginalOffset
				}
				in.window = max(in.window, n.Range+off)
			case *parser.SubqueryExpr:
				in.window = max(in.window, n.Range+n.OriginalOffset)
			case *parser.VectorSelector:
				if _, ok := recorded[n.Name]; ok {
					in.reads = append(in.reads, n.Name)
					return nil
				}
				sel := (&parser.VectorSelector{Name: n.Name, LabelMatchers: n.LabelMatchers}).String()
				if !seen[sel] {
					seen[sel] = true
					selectors = append(selectors, sel)
				}
			}
			return nil
		})
		return in, nil
	}
	records := map[string]info{}
	rules := make([]info, len(ruleExprs))
	for i, e := range ruleExprs {
		if rules[i], err = inspect(e); err != nil {
			return nil, 0, 0, nil, err
		}
		lookback = max(lookback, min(rules[i].window, maxLookback))
	}
	for name, e := range recorded {
		if e == "" {
			continue
		}
		if records[name], err = inspect(e); err != nil {
			return nil, 0, 0, nil, err
		}
	}
	// windowOf follows the records an expression reads (their windows add up).
	var windowOf func(in info, depth int) time.Duration
	windowOf = func(in info, depth int) time.Duration {
		longest := time.Duration(0)
		if depth < 10 {
			for _, r := range in.reads {
				longest = max(longest, windowOf(records[r], depth+1))
			}
		}
		return in.window + longest
	}
	for _, q := range scalerQueries {
		in, err := inspect(q)
		if err != nil {
			return nil, 0, 0, nil, err
		}
		warmup = max(warmup, windowOf(in, 0))
	}
	lookback = max(lookback, warmup)
	for _, in := range rules {
		windows = append(windows, windowOf(in, 0))
	}
	sort.Strings(selectors)
	return selectors, lookback, warmup, windows, nil
}

// loadTSDB opens a TSDB in dir and loads the source's samples of the
// selectors in [from, end] into it: what replay and report both evaluate.
func loadTSDB(ctx context.Context, dir string, src Source, selectors []string, from, end time.Time) (*tsdb.DB, error) {
	db, err := openTSDB(filepath.Join(dir, "tsdb"), end.Sub(from))
	if err != nil {
		return nil, err
	}
	app := db.AppenderV2(ctx)
	if err := src.Load(ctx, selectors, from, end, app); err != nil {
		app.Rollback()
		db.Close()
		return nil, err
	}
	if err := app.Commit(); err != nil {
		db.Close()
		return nil, fmt.Errorf("loading %s: %w", src.Describe(), err)
	}
	return db, nil
}

// openTSDB opens a TSDB whose head takes samples anywhere in span: the
// raw series are loaded first, the rules then append their results from
// the start on.
func openTSDB(dir string, span time.Duration) (*tsdb.DB, error) {
	opts := tsdb.DefaultOptions()
	block := max(2*span+2*time.Hour, 24*time.Hour).Round(time.Hour)
	opts.MinBlockDuration = block.Milliseconds()
	opts.MaxBlockDuration = block.Milliseconds()
	opts.RetentionDuration = 0
	db, err := tsdb.Open(dir, promslog.NewNopLogger(), nil, opts, tsdb.NewDBStats())
	if err != nil {
		return nil, fmt.Errorf("local storage: %w", err)
	}
	db.DisableCompactions()
	return db, nil
}
