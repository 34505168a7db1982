package promtest

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/alerts"
	"github.com/headroom-dev/headroom/catalogue"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
)

// division is one `/` of a generated rule.
type division struct {
	rule     string // record or alert name
	ruleExpr string // the whole expression of the rule
	expr     *parser.BinaryExpr
}

// divisionsIn lists the divisions of every generated rule.
func divisionsIn(t *testing.T, cfg *catalogue.Config) []division {
	t.Helper()
	var out []division
	add := func(name, expr string) {
		e, err := catalogue.ParseExpr(expr)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			if b, ok := n.(*parser.BinaryExpr); ok && b.Op == parser.DIV {
				out = append(out, division{rule: name, ruleExpr: expr, expr: b})
			}
			return nil
		})
	}
	for _, g := range alerts.RecordingRules(catalogue.MustBuild(cfg)).Groups {
		if g.Name == alerts.ForecastGroupName(cfg) {
			// Its one division is by a trend recorded only where it is
			// > 0: there is no zero to divide by. The forecast stories
			// (flat, falling) are where a zero trend is fed.
			continue
		}
		for _, r := range g.Rules {
			add(r.Record, r.Expr)
		}
	}
	for _, g := range alerts.AlertingRules(catalogue.MustBuild(cfg)).Groups {
		for _, r := range g.Rules {
			add(r.Alert, r.Expr)
		}
	}
	return out
}

// TestNoDivisionYieldsInfOrNaN finds every division of every generated
// rule (both presets and the test variants, so every resource source) and
// evaluates the whole bundle with the real rule manager over series where
// the denominator's inputs are 0 (gauges at 0, counters flat) and the
// numerator's are not: the division must come out absent or finite, never
// +Inf or NaN, and no alert reading it may become pending or fire. A
// division by a number must be by a non-zero one.
func TestNoDivisionYieldsInfOrNaN(t *testing.T) {
	for _, v := range variants {
		v := v
		t.Run(v.name, func(t *testing.T) {
			cfg := v.cfg(t)
			divs := divisionsIn(t, cfg)
			if len(divs) == 0 {
				t.Fatal("no divisions found: the walk is broken")
			}
			records := recordsOf(alerts.RecordingRules(catalogue.MustBuild(cfg)))
			seen := map[string]bool{}
			for _, d := range divs {
				name := d.rule + ": " + d.expr.String()
				if seen[name] {
					continue // the same division in several SLO rules of one record
				}
				seen[name] = true
				t.Run(name, func(t *testing.T) {
					if lit, ok := unparen(d.expr.RHS).(*parser.NumberLiteral); ok {
						if lit.Val == 0 || math.IsNaN(lit.Val) {
							t.Fatalf("division by the constant %v", lit.Val)
						}
						return
					}
					zeroDenominator(t, cfg, records, d)
				})
			}
		})
	}
}

func unparen(e parser.Expr) parser.Expr {
	for {
		p, ok := e.(*parser.ParenExpr)
		if !ok {
			return e
		}
		e = p.Expr
	}
}

// rawInputs is RawInputs, failing the test on a parse error.
func rawInputs(t *testing.T, expr string, records map[string][]string) []string {
	t.Helper()
	out, err := catalogue.RawInputs(expr, records)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// selectorsOf returns every vector selector of the expression and of the
// recording rules it reads, and the metrics read through rate() and the
// like (counters).
func selectorsOf(t *testing.T, expr string, records map[string][]string, seen map[string]bool) (sels []*parser.VectorSelector, counters map[string]bool) {
	t.Helper()
	counters = map[string]bool{}
	e, err := catalogue.ParseExpr(expr)
	if err != nil {
		t.Fatal(err)
	}
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		switch n := n.(type) {
		case *parser.Call:
			switch n.Func.Name {
			case "rate", "irate", "increase":
				if ms, ok := n.Args[0].(*parser.MatrixSelector); ok {
					counters[ms.VectorSelector.(*parser.VectorSelector).Name] = true
				}
			}
		case *parser.VectorSelector:
			if defs, ok := records[n.Name]; ok {
				if !seen[n.Name] {
					seen[n.Name] = true
					for _, part := range defs {
						s, c := selectorsOf(t, part, records, seen)
						sels = append(sels, s...)
						for k := range c {
							counters[k] = true
						}
					}
				}
				return nil
			}
			sels = append(sels, n)
		}
		return nil
	})
	return sels, counters
}

// zeroDenominator runs the bundle over a world where the division's
// denominator is 0 and checks what comes out.
func zeroDenominator(t *testing.T, cfg *catalogue.Config, records map[string][]string, d division) {
	const steps = 15
	zero := map[string]bool{}
	for _, m := range rawInputs(t, d.expr.RHS.String(), records) {
		zero[m] = true
	}
	if len(zero) == 0 {
		t.Fatalf("denominator %s reads no series and is not a number", d.expr.RHS)
	}
	// The rule's whole expression is fed, so that the other side of an
	// `or` or `and` around the division is there too.
	sels, counters := selectorsOf(t, d.ruleExpr, records, map[string]bool{})

	// One series per distinct selector, labelled to satisfy it and to join
	// with the others: the same value of every identifying label.
	f := &fx{cfg: cfg, step: time.Minute}
	ids := map[string]string{"target": "t1", "pool": "api", "database": "app", "user": "app", "instance": "i1",
		"namespace": "ns", "pod": "p1", "container": "api", "source": "maxmemory"}
	load := map[string]string{}
	for _, vs := range sels {
		l := f.base("")
		for k, v := range ids {
			l[k] = v
		}
		for _, m := range vs.LabelMatchers {
			switch {
			case m.Name == labels.MetricName:
			case m.Type == labels.MatchEqual:
				l[m.Name] = m.Value
			case m.Type == labels.MatchRegexp:
				l[m.Name] = f.sample(m.Value, l[m.Name])
			case !m.Matches(l[m.Name]):
				delete(l, m.Name)
			}
		}
		var values string
		switch {
		case zero[vs.Name] && counters[vs.Name]:
			values = fmt.Sprintf("100+0x%d", steps) // flat: rate 0
		case zero[vs.Name]:
			values = fmt.Sprintf("0x%d", steps)
		case counters[vs.Name]:
			values = fmt.Sprintf("0+60x%d", steps) // 1/s
		default:
			values = fmt.Sprintf("5x%d", steps)
		}
		load[seriesString(vs.Name, l)] = values
	}
	if f.err != nil {
		t.Fatal(f.err)
	}
	var b strings.Builder
	b.WriteString("load 1m\n")
	keys := make([]string, 0, len(load))
	for k := range load {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "  %s %s\n", k, load[k])
	}
	storage := promqltest.LoadedStorage(t, b.String())
	t.Cleanup(func() { storage.Close() })
	engine := promqltest.NewTestEngine(t, false, 5*time.Minute, 50000000)

	// The alerts that read the division: its own rule, or any rule reading
	// the record, directly or through other records.
	dependent := map[string]bool{d.rule: true}
	for changed := true; changed; {
		changed = false
		for rec, defs := range records {
			for _, def := range defs {
				if !dependent[rec] && readsAny(t, def, dependent) {
					dependent[rec], changed = true, true
				}
			}
		}
	}

	query := func(expr string, ts time.Time) promql.Vector {
		q, err := engine.NewInstantQuery(context.Background(), storage, nil, expr, ts)
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		defer q.Close()
		res := q.Exec(context.Background())
		if res.Err != nil {
			t.Fatalf("%s: %v", expr, res.Err)
		}
		vec, err := res.Vector()
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return vec
	}
	finite := func(what string, vec promql.Vector, ts time.Time) {
		for _, s := range vec {
			if math.IsNaN(s.F) || math.IsInf(s.F, 0) {
				t.Errorf("at %s %s is %v for %s", ts.Format("15:04"), what, s.F, s.Metric)
			}
		}
	}

	// The rules as the rule manager evaluates them, group after group:
	// recorded samples are appended for the rules that read them; an alert
	// whose expression returns anything is pending or firing.
	rec, alerting := alerts.RecordingRules(catalogue.MustBuild(cfg)), alerts.AlertingRules(catalogue.MustBuild(cfg))
	start := time.Unix(0, 0).UTC()
	for k := 0; k <= steps; k++ {
		ts := start.Add(time.Duration(k) * time.Minute)
		for _, g := range rec.Groups {
			for _, r := range g.Rules {
				app := storage.Appender(context.Background())
				for _, s := range query(r.Expr, ts) {
					b := labels.NewBuilder(s.Metric).Set(labels.MetricName, r.Record)
					for n, v := range r.Labels {
						b.Set(n, v)
					}
					if _, err := app.Append(0, b.Labels(), ts.UnixMilli(), s.F); err != nil {
						t.Fatalf("%s: %v", r.Record, err)
					}
				}
				if err := app.Commit(); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, g := range alerting.Groups {
			for _, r := range g.Rules {
				// absent() companions fire on a missing series by design.
				if r.Alert != d.rule && !readsAny(t, r.Expr, dependent) || isAbsentCompanion(t, r.Expr) {
					continue
				}
				if vec := query(r.Expr, ts); len(vec) > 0 {
					t.Errorf("at %s %s would be pending on a zero denominator: %v = %v", ts.Format("15:04"), r.Alert, vec[0].Metric, vec[0].F)
				}
			}
		}
		if k < 2 {
			continue // rate() needs two samples
		}
		finite(d.expr.String(), query(d.expr.String(), ts), ts)
		if _, ok := records[d.rule]; ok {
			finite(d.rule, query(d.rule, ts), ts)
		}
		// The world is the one meant: something to divide, and a
		// denominator that is 0 (or guarded away), never a positive one.
		if len(query(d.expr.LHS.String(), ts)) == 0 {
			t.Fatalf("at %s the numerator %s is absent: the test feeds the wrong series\n%s", ts.Format("15:04"), d.expr.LHS, b.String())
		}
		for _, vs := range selectorsIn(d.expr.RHS) {
			if _, recorded := records[vs.Name]; !recorded && len(query(vs.String(), ts)) == 0 {
				t.Fatalf("at %s the denominator's input %s is absent: the test feeds the wrong series\n%s", ts.Format("15:04"), vs, b.String())
			}
		}
		for _, s := range query(d.expr.RHS.String(), ts) {
			if s.F != 0 {
				t.Fatalf("at %s the denominator is %v, not 0: the test feeds the wrong series\n%s", ts.Format("15:04"), s.F, b.String())
			}
		}
	}
}

// readsAny says whether an expression selects one of the names.
func readsAny(t *testing.T, expr string, names map[string]bool) bool {
	t.Helper()
	sel, err := catalogue.SelectedMetrics(expr)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range sel {
		if names[n] {
			return true
		}
	}
	return false
}

// isAbsentCompanion says whether an alert fires on a series being absent.
func isAbsentCompanion(t *testing.T, expr string) bool {
	e, err := catalogue.ParseExpr(expr)
	if err != nil {
		t.Fatal(err)
	}
	c, ok := unparen(e).(*parser.Call)
	return ok && (c.Func.Name == "absent" || c.Func.Name == "absent_over_time")
}
