package promtest

import (
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/headroom-dev/headroom/alerts"
	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/internal/kind"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// promtool unit-test files (promtool test rules), derived from the
// catalogue: for every trigger, a group where the signal crosses the
// threshold (not firing one step before `for` has passed, firing when it
// has, resolved after recovery), a group just on the safe side of the
// threshold (never firing), and for triggers with hysteresis (scale-down and
// utilisation scale-up) a group that oscillates inside the margin (one
// alert, firing throughout) and then leaves it (resolved).

type testFile struct {
	RuleFiles          []string       `yaml:"rule_files"`
	EvaluationInterval model.Duration `yaml:"evaluation_interval"`
	// GroupEvalOrder makes promtool evaluate recording groups before the
	// groups that read them, as a steady-state Prometheus effectively does.
	GroupEvalOrder []string    `yaml:"group_eval_order"`
	Tests          []testGroup `yaml:"tests"`
}

type testGroup struct {
	Name           string         `yaml:"name"`
	Interval       model.Duration `yaml:"interval"`
	InputSeries    []inputSeries  `yaml:"input_series"`
	AlertRuleTests []alertTest    `yaml:"alert_rule_test,omitempty"`
	PromQLTests    []exprTest     `yaml:"promql_expr_test,omitempty"`
}

type alertTest struct {
	EvalTime  model.Duration `yaml:"eval_time"`
	Alertname string         `yaml:"alertname"`
	ExpAlerts []expAlert     `yaml:"exp_alerts"`
}

type expAlert struct {
	ExpLabels      map[string]string `yaml:"exp_labels"`
	ExpAnnotations map[string]string `yaml:"exp_annotations"`
}

type exprTest struct {
	Expr       string         `yaml:"expr"`
	EvalTime   model.Duration `yaml:"eval_time"`
	ExpSamples []expSample    `yaml:"exp_samples"`
}

type expSample struct {
	Labels string  `yaml:"labels"`
	Value  float64 `yaml:"value"`
}

// testStep is the scrape and evaluation interval of generated tests.
const testStep = time.Minute

// probeStep is the interval of the APIDown tests: 3 probes in 30s need a
// 10s scrape interval.
const probeStep = 10 * time.Second

// testKind is how a trigger's promtool tests are derived.
type testKind int

const (
	testThreshold    testKind = iota // from its threshold: crossing, clearing, scopes
	testProbe                        // APIDown's failed probes at a 10s interval
	testAbsentJob                    // the exporter's job down or gone
	testAbsentSignal                 // a signal's inputs missing
	testAbsentBucket                 // the latency SLO's bucket missing
	testDBGuard                      // the HPA's max replicas against the DB's connections
	testForecast                     // a forecast's stories over days (forecast.go)
	testAutoscaler                   // the autoscaler's own alerts (autoscaler_promtest.go)
)

// testKinds are the triggers whose tests are not derived from their
// threshold, by trigger id; every SignalAbsent rule but the SLO bucket's
// is testAbsentSignal, every other trigger testThreshold.
var testKinds = map[catalogue.TriggerID]testKind{
	catalogue.TriggerAPIDown:                                   testProbe,
	catalogue.TriggerExporterAbsent:                            testAbsentJob,
	catalogue.SignalAbsentID(catalogue.SignalSLOLatencyBucket): testAbsentBucket,
	catalogue.TriggerScaleOutExceedsDBConnections:              testDBGuard,
	catalogue.TriggerAutoscalerMaxedOut:                        testAutoscaler,
	catalogue.TriggerKEDAScalerErrors:                          testAutoscaler,
	catalogue.TriggerKEDAScalerEmptyResponses:                  testAutoscaler,
	catalogue.TriggerKEDAScalerInputStale:                      testAutoscaler,
	catalogue.TriggerAutoscalerNotActive:                       testAutoscaler,
	catalogue.TriggerAutoscalerThrashing:                       testAutoscaler,
	catalogue.TriggerAutoscalerNotScalingDown:                  testAutoscaler,
	catalogue.TriggerAutoscalerAbsent:                          testAutoscaler,
}

// testKindOf says how a trigger's tests are derived.
func testKindOf(t catalogue.Trigger) testKind {
	if k, ok := testKinds[t.ID]; ok {
		return k
	}
	if t.Alert == "SignalAbsent" {
		return testAbsentSignal
	}
	if t.IsForecast() {
		return testForecast
	}
	return testThreshold
}

// promtoolTests returns the test files of a bundle, by file name under tests/.
func promtoolTests(cfg *catalogue.Config, cat []catalogue.Trigger, ruleFiles []string, groupOrder []string) (map[string]testFile, error) {
	files := map[string]testFile{}
	addGroup := func(name string, step time.Duration, g testGroup) {
		f, ok := files[name]
		if !ok {
			f = testFile{RuleFiles: ruleFiles, EvaluationInterval: model.Duration(step), GroupEvalOrder: groupOrder}
		}
		f.Tests = append(f.Tests, g)
		files[name] = f
	}
	for _, t := range cat {
		gen := testGen{cfg: cfg, t: t, cat: cat}
		var groups []testGroup
		var err error
		step := testStep
		switch testKindOf(t) {
		case testThreshold:
			groups, err = gen.threshold()
		case testProbe:
			step = probeStep
			groups, err = gen.probe()
		case testAbsentJob:
			groups, err = gen.absentJob()
		case testAbsentSignal:
			groups, err = gen.absentSignal()
		case testAbsentBucket:
			groups, err = gen.absentBucket()
		case testDBGuard:
			groups, err = gen.dbGuard()
		case testAutoscaler:
			groups, err = gen.autoscalerTests()
		case testForecast:
			step = forecastStep
			groups, err = gen.forecastTests()
		}
		if err != nil {
			return nil, fmt.Errorf("tests of %s: %w", t.ID, err)
		}
		name := t.Group.Slug() + "-test.yaml"
		switch step {
		case probeStep:
			name = t.Group.Slug() + "-probe-test.yaml"
		case forecastStep:
			name = forecastTestFile(t.Group)
		}
		for _, g := range groups {
			addGroup(name, step, g)
		}
	}
	return files, nil
}

type testGen struct {
	cfg *catalogue.Config
	t   catalogue.Trigger
	cat []catalogue.Trigger
	// rl relabels the fixture's series into a scope of t (which is then
	// the scope's rule); nil for a trigger's default rule.
	rl map[string]string
}

func holds(c catalogue.Comparison, v, thr float64) bool {
	switch c {
	case catalogue.Above:
		return v > thr
	case catalogue.AtLeast:
		return v >= thr
	case catalogue.Below:
		return v < thr
	case catalogue.Equal:
		return v == thr
	}
	return false
}

func steps(d time.Duration, step time.Duration) int {
	return int((d + step - 1) / step)
}

// simValue is a signal's value at one step: present, and exact when the
// window holds one value only (where every Prometheus version agrees).
type simValue struct {
	v       float64
	present bool
	exact   bool
}

func simulate(s catalogue.Signal, vals []float64) []simValue {
	W := steps(s.Window, testStep)
	out := make([]simValue, len(vals))
	for k := range vals {
		if s.Shape == catalogue.ShapeGauge {
			out[k] = simValue{v: vals[k], present: !math.IsNaN(vals[k]), exact: true}
			continue
		}
		if k == 0 {
			continue // one sample: no rate yet
		}
		from := k - W + 1
		if from < 1 {
			from = 1
		}
		sum, pure := 0.0, true
		for j := from; j <= k; j++ {
			sum += vals[j]
			pure = pure && vals[j] == vals[k]
		}
		n := float64(k - from + 1)
		v := 0.0
		switch s.Shape {
		case catalogue.ShapeRate:
			v = sum / float64(W)
		case catalogue.ShapeRatio, catalogue.ShapeQuantile:
			v = sum / n
		case catalogue.ShapeIdle:
			v = 1 - (n-sum)/float64(W)
		}
		out[k] = simValue{v: catalogue.Round(v), present: true, exact: pure}
	}
	return out
}

// alertState is one trigger's alert after the evaluation at a step.
type alertState struct {
	firing bool
	value  simValue // the value of the last evaluation that matched
}

// simulateAlert runs a trigger's alerting rule over the signal's values the
// way the rule manager does: pending, firing after `for`, hysteresis
// through its own ALERTS series, keep_firing_for.
func simulateAlert(t catalogue.Trigger, sim []simValue) []alertState {
	F := steps(t.For, testStep)
	K := steps(t.KeepFiringFor, testStep)
	out := make([]alertState, len(sim))
	pending, firing := false, false
	activeAt, keepSince := 0, -1
	var last simValue
	for k, sv := range sim {
		cond := sv.present && holds(t.Comparison, sv.v, t.Threshold)
		if !cond && sv.present && t.Hysteresis() && firing {
			cond = holds(t.Comparison, sv.v, t.ClearLevel())
		}
		if cond {
			last = sv
			keepSince = -1
			if !pending && !firing {
				pending, activeAt = true, k
			}
			if pending && k-activeAt >= F {
				pending, firing = false, true
			}
		} else {
			pending = false
			if firing && K > 0 {
				if keepSince < 0 {
					keepSince = k
				}
				if k-keepSince >= K {
					firing = false
				}
			} else {
				firing = false
			}
		}
		out[k] = alertState{firing: firing, value: last}
	}
	return out
}

// scenario is one test group's values and what the family does over them.
type scenario struct {
	g      testGen
	vals   []float64
	sim    []simValue
	states map[catalogue.TriggerID][]alertState
}

func (g testGen) scenario(vals []float64, series map[string]string) scenario {
	sc := scenario{g: g, vals: vals, sim: simulate(g.t.Signal, vals), states: map[catalogue.TriggerID][]alertState{}}
	for _, m := range g.family() {
		sc.states[m.ID] = simulateAlert(ruleFor(m, series), sc.sim)
	}
	return sc
}

// expect returns the alerts of the family firing at step k, or an error
// when one of them carries a value that is not exact there.
func (sc scenario) expect(series map[string]string, k int) ([]expAlert, error) {
	out := []expAlert{}
	for _, m := range sc.g.family() {
		st := sc.states[m.ID][k]
		if !st.firing {
			continue
		}
		if !st.value.exact {
			return nil, fmt.Errorf("step %d: %s fires with a value that depends on the Prometheus version", k, m.ID)
		}
		a, err := alertFor(ruleFor(m, series), series, st.value.v)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// firstFiring is the first step at which the trigger under test fires.
func (sc scenario) firstFiring() int {
	for k, st := range sc.states[sc.g.t.ID] {
		if st.firing {
			return k
		}
	}
	return -1
}

// resolvedFrom is the first step from which the trigger stays resolved and
// the signal's window holds one value again.
func (sc scenario) resolvedFrom(after int) int {
	st := sc.states[sc.g.t.ID]
	for k := len(st) - 1; k >= after; k-- {
		if st[k].firing || !sc.sim[k].exact {
			if k+1 < len(st) {
				return k + 1
			}
			return -1
		}
	}
	return after
}

// alertFor is the alert promtool reports: the expression's labels plus the
// rule's, and the rendered annotations.
func alertFor(t catalogue.Trigger, series map[string]string, v float64) (expAlert, error) {
	lbls := with(series)
	rule := alerts.AlertRule(t)
	for k, val := range rule.Labels {
		lbls[k] = val
	}
	ann := map[string]string{}
	for k, text := range rule.Annotations {
		out, err := expandTemplate(text, series, v)
		if err != nil {
			return expAlert{}, fmt.Errorf("%s annotation %s: %w", t.ID, k, err)
		}
		ann[k] = out
	}
	return expAlert{ExpLabels: lbls, ExpAnnotations: ann}, nil
}

// seriesLabels are the labels of the signal's series in a test: a recorded
// signal carries service (and the cluster label); a raw one its inputs'.
func (g testGen) seriesLabels(out map[string]string) map[string]string {
	l := with(out)
	if g.t.Signal.Record != "" {
		l["service"] = g.cfg.Service
		if g.cfg.ClusterLabel != "" {
			l[g.cfg.ClusterLabel] = clusterValue
		}
	}
	return l
}

// run builds a group's input series from per-step values.
func (g testGen) run(vals []float64, step time.Duration) (*fx, map[string]string, error) {
	return g.runRelabeled(vals, step, g.rl)
}

// runRelabeled builds the input series of another series of the signal:
// the fixture's, with the labels of rl set to its values.
func (g testGen) runRelabeled(vals []float64, step time.Duration, rl map[string]string) (*fx, map[string]string, error) {
	f := &fx{cfg: g.cfg, step: step, relabel: rl}
	out := f.feed(g.t.Signal, vals)
	if f.err != nil {
		return nil, nil, f.err
	}
	return f, relabeled(g.seriesLabels(out), rl), nil
}

// ruleRelabel returns the relabeling that makes the fixture feed rule want
// of the trigger (a scope's index, or -1 for its default rule): nil when the
// fixture's own series is already that rule's. The new values are ones the
// scopes' matchers name or match (ProbeSpace), set only on labels the
// fixture's input series carry, and still admitted by the config's
// selectors and target regular expressions. ok is false when the fixture
// can make no series of the rule.
func (g testGen) ruleRelabel(want int) (map[string]string, bool, error) {
	t := g.t
	if len(t.Scopes) == 0 {
		return nil, true, nil
	}
	fire, _, _ := g.values()
	f, sl, err := g.runRelabeled(constant(1, fire), testStep, nil)
	if err != nil {
		return nil, false, err
	}
	scopes := make([][]*labels.Matcher, len(t.Scopes))
	for i, s := range t.Scopes {
		scopes[i] = s.Matchers
	}
	keep := g.selectorMatchers()
	sp := catalogue.ProbeSpace{Base: sl, Allowed: func(name, v string) bool {
		orig := sl[name]
		if v == orig {
			return true
		}
		if orig == "" || v == "" || !f.names[name] || slices.Contains(t.Signal.Computed, name) {
			return false
		}
		for _, m := range keep {
			if m.Name == name && m.Matches(orig) && !m.Matches(v) {
				return false
			}
		}
		return true
	}}
	found, ok := sp.RuleLabels(scopes, want)
	if !ok {
		return nil, false, nil
	}
	var rl map[string]string
	for k, v := range found {
		if v != sl[k] {
			if rl == nil {
				rl = map[string]string{}
			}
			rl[k] = v
		}
	}
	if _, l, err := g.runRelabeled(constant(1, fire), testStep, rl); err != nil || ruleOf(t, l) != want {
		return nil, false, err
	}
	return rl, true, nil
}

// selectorMatchers are the matchers of the config's selectors, its target
// regular expressions and the signal's own selectors: a relabeled test series must still satisfy
// those its fixture's series did.
func (g testGen) selectorMatchers() []*labels.Matcher {
	s := g.cfg.Selectors
	var out []*labels.Matcher
	for _, sel := range []string{s.Headroom, s.API, s.Cadvisor, s.KubeStateMetrics, s.Node} {
		if strings.TrimSpace(sel) == "" {
			continue
		}
		if ms, err := catalogue.ParseMetricSelector("{" + sel + "}"); err == nil {
			out = append(out, ms...)
		}
	}
	// The signal's own selectors (kind="postgres" of headroom_target_up).
	if expr, err := catalogue.ParseExpr(g.t.Signal.Expr); err == nil {
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok {
				for _, m := range vs.LabelMatchers {
					if m.Name != labels.MetricName {
						out = append(out, m)
					}
				}
			}
			return nil
		})
	}
	for _, k := range kind.All() {
		if re := g.cfg.TargetRegex(k); re != "" {
			if m, err := labels.NewMatcher(labels.MatchRegexp, "target", re); err == nil {
				out = append(out, m)
			}
		}
	}
	return out
}

// disjoint reports whether two fixtures' input series are all different
// series: a relabeling that left some unchanged would feed both signals
// from one input.
func disjoint(a, b *fx) bool {
	seen := map[string]bool{}
	for _, s := range a.series {
		seen[s.Series] = true
	}
	for _, s := range b.series {
		if seen[s.Series] {
			return false
		}
	}
	return true
}

// sibling is another series of the signal beside one of the test's (series:
// its labels): the first of the signal's labels the fixture carries, set to
// another value that the config's target selection still admits. ok is
// false for signals with one series per service.
func (g testGen) sibling(series map[string]string) (map[string]string, bool) {
	for _, l := range g.t.Signal.Labels {
		v, ok := series[l]
		if !ok || v == "" {
			continue
		}
		other := v + "-b"
		if l == "target" {
			for _, k := range kind.All() {
				re := g.cfg.TargetRegex(k)
				if re == "" {
					continue
				}
				full := regexp.MustCompile("^(?:" + re + ")$")
				if full.MatchString(v) && !full.MatchString(other) {
					return nil, false
				}
			}
		}
		return map[string]string{l: other}, true
	}
	return nil, false
}

func phases(parts ...any) []float64 {
	var out []float64
	for i := 0; i+1 < len(parts); i += 2 {
		v, n := parts[i].(float64), parts[i+1].(int)
		for j := 0; j < n; j++ {
			out = append(out, v)
		}
	}
	return out
}

func at(step int) model.Duration { return model.Duration(time.Duration(step) * testStep) }

// threshold tests a signal-versus-threshold trigger: its default rule over
// a series no scope takes (when one can exist), then its scopes.
func (g testGen) threshold() ([]testGroup, error) {
	t := g.t
	rl, fed, err := g.ruleRelabel(-1)
	if err != nil {
		return nil, err
	}
	var groups []testGroup
	if fed {
		d := g
		d.rl = rl
		if groups, err = d.crossing(); err != nil {
			return nil, err
		}
		if t.Hysteresis() {
			osc, err := d.oscillation()
			if err != nil {
				return nil, err
			}
			groups = append(groups, osc)
		}
	}
	if len(t.Scopes) > 0 {
		sg, err := g.scopes(rl, fed)
		if err != nil {
			return nil, err
		}
		groups = append(groups, sg...)
	}
	return groups, nil
}

// crossing tests one rule (the trigger's default rule, or a scope's with
// g.rl feeding it) crossing its threshold and staying just on its safe side.
func (g testGen) crossing() ([]testGroup, error) {
	t := g.t
	fire, safe, recover := g.values()
	F := steps(t.For, testStep)
	W := steps(t.Signal.Window, testStep)
	K := steps(t.KeepFiringFor, testStep)
	u := t.Signal.Unit
	var groups []testGroup
	check := func(sc scenario, series map[string]string, k int) (alertTest, error) {
		exp, err := sc.expect(series, k)
		return alertTest{EvalTime: at(k), Alertname: t.Alert, ExpAlerts: exp}, err
	}

	// Crossing the threshold: not firing one step before `for` has passed,
	// firing when it has, resolved after recovery.
	n1 := W + F + 2
	vals := phases(fire, n1, recover, W+K+3)
	f, series, err := g.run(vals, testStep)
	if err != nil {
		return nil, err
	}
	sc := g.scenario(vals, series)
	first := sc.firstFiring()
	if first < 0 || first >= n1 {
		return nil, fmt.Errorf("%v does not fire within %d steps", fire, n1)
	}
	var checks []alertTest
	if F > 0 {
		c, err := check(sc, series, first-1)
		if err != nil {
			return nil, err
		}
		if len(c.ExpAlerts) > 0 && sc.states[t.ID][first-1].firing {
			return nil, fmt.Errorf("fires before its for")
		}
		checks = append(checks, c)
	}
	for _, k := range []int{first} {
		c, err := check(sc, series, k)
		if err != nil {
			return nil, err
		}
		checks = append(checks, c)
	}
	res := sc.resolvedFrom(n1)
	if res < 0 {
		return nil, fmt.Errorf("does not resolve after recovery to %v", recover)
	}
	c, err := check(sc, series, res)
	if err != nil {
		return nil, err
	}
	checks = append(checks, c)
	groups = append(groups, testGroup{
		Name: fmt.Sprintf("%s: %s at %s fires after %s, resolves on recovery to %s", g.ruleID(), t.Signal.Title, u.Format(fire),
			catalogue.Dur(t.For), u.Format(recover)),
		Interval: model.Duration(testStep), InputSeries: f.series, AlertRuleTests: checks,
	})

	// Just on the safe side of the threshold, for long: never fires.
	n := W + F + 3
	vals = phases(safe, n)
	f, series, err = g.run(vals, testStep)
	if err != nil {
		return nil, err
	}
	sc = g.scenario(vals, series)
	for k, st := range sc.states[t.ID] {
		if st.firing {
			return nil, fmt.Errorf("safe value %v fires at step %d", safe, k)
		}
	}
	var safeChecks []alertTest
	for _, k := range []int{F, n - 1} {
		c, err := check(sc, series, k)
		if err != nil {
			return nil, err
		}
		safeChecks = append(safeChecks, c)
	}
	groups = append(groups, testGroup{
		Name: fmt.Sprintf("%s: %s at %s (threshold %s) does not fire", g.ruleID(), t.Signal.Title, u.Format(safe),
			t.Target()),
		Interval: model.Duration(testStep), InputSeries: f.series, AlertRuleTests: safeChecks,
	})
	return groups, nil
}

// oscillation tests hysteresis: after firing, oscillating inside the
// margin keeps the one alert firing; leaving it resolves. For a scope
// (g.rl set) the series is relabeled into it, so that the scope's rule
// must find its own ALERTS series, scope label and all, to hold.
func (g testGen) oscillation() (testGroup, error) {
	t := g.t
	fire, _, recover := g.values()
	W := steps(t.Signal.Window, testStep)
	K := steps(t.KeepFiringFor, testStep)
	F := steps(t.For, testStep)
	n1 := W + F + 2
	u := t.Signal.Unit
	check := func(sc scenario, series map[string]string, k int) (alertTest, error) {
		exp, err := sc.expect(series, k)
		return alertTest{EvalTime: at(k), Alertname: t.Alert, ExpAlerts: exp}, err
	}
	bands := g.marginBands()
	B := W + 2
	vals := phases(fire, n1)
	for i := 0; i < 4; i++ {
		vals = append(vals, phases(bands[i%2], B)...)
	}
	end := len(vals)
	vals = append(vals, phases(recover, W+K+3)...)
	f, series, err := g.run(vals, testStep)
	if err != nil {
		return testGroup{}, err
	}
	// Another target, pool or resource of the signal sits inside the
	// margin throughout without ever crossing the threshold: it must
	// never fire, so the ALERTS join holds each series by its own labels.
	neighbour := ""
	// Only the default rule's: a scope's series is relabeled into the
	// scope, which the neighbour's relabeling could undo. The neighbour
	// must be the default rule's too, or another threshold would judge it.
	if rl, ok := g.sibling(series); ok && g.t.Match == "" {
		both := with(g.rl)
		for k, v := range rl {
			both[k] = v
		}
		sf, nl, err := g.runRelabeled(constant(len(vals), bands[0]), testStep, both)
		if err != nil {
			return testGroup{}, err
		}
		if disjoint(f, sf) && ruleOf(g.t, nl) == -1 {
			f.series = append(f.series, sf.series...)
			neighbour = fmt.Sprintf("; %s at %s inside the margin all along does not fire", labelText(rl), u.Format(bands[0]))
		}
	}
	sc := g.scenario(vals, series)
	var checks []alertTest
	for k := n1; k < end; k++ {
		if !sc.states[t.ID][k].firing {
			return testGroup{}, fmt.Errorf("hysteresis: resolved at step %d inside the margin", k)
		}
	}
	for i := 0; i < 4; i++ {
		c, err := check(sc, series, n1+B*(i+1)-1)
		if err != nil {
			return testGroup{}, err
		}
		checks = append(checks, c)
	}
	res := sc.resolvedFrom(end)
	if res < 0 {
		return testGroup{}, fmt.Errorf("hysteresis: does not resolve after recovery")
	}
	if res > end+W {
		// Still firing after the window has cleared: keep_firing_for.
		c, err := check(sc, series, res-1)
		if err == nil {
			checks = append(checks, c)
		}
	}
	c, err := check(sc, series, res)
	if err != nil {
		return testGroup{}, err
	}
	checks = append(checks, c)
	held, err := g.firingThroughout(series, n1, end)
	if err != nil {
		return testGroup{}, err
	}
	return testGroup{
		PromQLTests: []exprTest{held},
		Name: fmt.Sprintf("%s: hysteresis: oscillating between %s and %s (inside the margin, clears %s) keeps one alert firing; %s resolves it%s", g.ruleID(),
			u.Format(bands[0]), u.Format(bands[1]), t.ClearText(), u.Format(recover), neighbour),
		Interval: model.Duration(testStep), InputSeries: f.series, AlertRuleTests: checks,
	}, nil
}

// ruleID names the rule a group tests: the trigger's id, with
// "where MATCH" for a scope.
func (g testGen) ruleID() string {
	if g.t.Match == "" {
		return string(g.t.ID)
	}
	return string(g.t.ID) + " where " + g.t.Match
}

// ruleOf is the index of the scope whose rule covers a series (the first
// whose matchers all match its labels), or -1 for the default rule.
func ruleOf(t catalogue.Trigger, l map[string]string) int {
	for i, s := range t.Scopes {
		all := true
		for _, m := range s.Matchers {
			all = all && m.Matches(l[m.Name])
		}
		if all {
			return i
		}
	}
	return -1
}

// ruleFor is the rule of a trigger that covers a series.
func ruleFor(t catalogue.Trigger, l map[string]string) catalogue.Trigger {
	if i := ruleOf(t, l); i >= 0 {
		return t.Scopes[i]
	}
	return t
}

// scopes tests a scoped trigger: for each scope the fixture can feed (its
// series relabeled to values the scope matches and no earlier scope does),
// its oscillation group when it has hysteresis, and a series of the scope
// and a series of the default rule (relabeled by dflt) side by side at one
// value between their thresholds (or past both, when only `for` differs):
// the alert fires for the series whose threshold the value crosses and not
// for the other. When no series is the default rule's (fed false: a scope
// takes every series the fixture can make), each scope gets the crossing
// groups the default rule would have had.
func (g testGen) scopes(dflt map[string]string, fed bool) ([]testGroup, error) {
	t := g.t
	W := steps(t.Signal.Window, testStep)
	u := t.Signal.Unit
	var groups []testGroup
	for i, s := range t.Scopes {
		rl, ok, err := g.ruleRelabel(i)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue // the fixture cannot make a series of this scope
		}
		sg := testGen{cfg: g.cfg, t: s, cat: g.cat, rl: rl}
		if !fed {
			cg, err := sg.crossing()
			if err != nil {
				return nil, fmt.Errorf("scope %d (%s): %w", i, s.Match, err)
			}
			groups = append(groups, cg...)
		}
		if s.Hysteresis() {
			// The scope's rule must hold through its own ALERTS series,
			// scope label and all.
			osc, err := sg.oscillation()
			if err != nil {
				return nil, fmt.Errorf("scope %d (%s): %w", i, s.Match, err)
			}
			groups = append(groups, osc)
		}
		if !fed {
			continue
		}
		v, _, _ := g.values()
		if s.Threshold != t.Threshold && t.Comparison != catalogue.Equal {
			v = catalogue.Round((s.Threshold + t.Threshold) / 2)
		} else if s.For == t.For {
			continue // only margin or keep_firing_for differ: one value cannot tell them apart
		}
		n := W + steps(max(t.For, s.For), testStep) + 3
		vals := constant(n, v)
		fd, dl, err := g.runRelabeled(vals, testStep, dflt)
		if err != nil {
			return nil, err
		}
		fs, sl, err := g.runRelabeled(vals, testStep, rl)
		if err != nil {
			return nil, err
		}
		if !disjoint(fd, fs) || ruleOf(t, dl) != -1 || ruleOf(t, sl) != i {
			continue // the fixture cannot feed this scope and the default apart
		}
		sim := simulate(t.Signal, vals)
		type run struct {
			rule   catalogue.Trigger
			labels map[string]string
			states []alertState
		}
		var runs []run
		for _, m := range g.family() {
			for _, l := range []map[string]string{dl, sl} {
				r := ruleFor(m, l)
				runs = append(runs, run{r, l, simulateAlert(r, sim)})
			}
		}
		var checks []alertTest
		told, prev := false, ""
		for k := W; k < n; k++ {
			exp := []expAlert{}
			key := ""
			var ours []bool
			for _, r := range runs {
				st := r.states[k]
				if r.rule.ID == t.ID {
					ours = append(ours, st.firing)
				}
				if !st.firing {
					key += "0"
					continue
				}
				key += "1"
				if !st.value.exact {
					return nil, fmt.Errorf("scope %d: step %d: %s fires with a value that depends on the Prometheus version", i, k, r.rule.ID)
				}
				a, err := alertFor(r.rule, r.labels, st.value.v)
				if err != nil {
					return nil, err
				}
				exp = append(exp, a)
			}
			if key == prev && k < n-1 {
				continue
			}
			prev = key
			told = told || (len(ours) == 2 && ours[0] != ours[1])
			checks = append(checks, alertTest{EvalTime: at(k), Alertname: t.Alert, ExpAlerts: exp})
		}
		if !told {
			return nil, fmt.Errorf("scope %d (%s): %v fires for both the scope and the default, or for neither", i, s.Match, v)
		}
		groups = append(groups, testGroup{
			Name: fmt.Sprintf("%s: where %s (%s for %s) beside the default (%s for %s): %s at %s fires for one only", t.ID, s.Match,
				s.Target(), catalogue.Dur(s.For), t.Target(), catalogue.Dur(t.For), t.Signal.Title, u.Format(v)),
			Interval: model.Duration(testStep), InputSeries: append(fd.series, fs.series...), AlertRuleTests: checks,
		})
	}
	return groups, nil
}

// firingThroughout checks that the trigger's alert for the series was
// firing at every evaluation of steps from..to-1: a resolve and re-fire in
// between would leave at least one evaluation without a firing sample,
// which checks of the alert at a few instants could miss. It counts the
// ALERTS samples half a step after the last, so that the range holds the
// same evaluations whether its start is open or closed.
func (g testGen) firingThroughout(series map[string]string, from, to int) (exprTest, error) {
	t := g.t
	a, err := alertFor(t, series, 0)
	if err != nil {
		return exprTest{}, err
	}
	l := with(a.ExpLabels, "alertname", t.Alert, "alertstate", "firing")
	n := to - from
	return exprTest{
		Expr:       fmt.Sprintf("count_over_time(%s[%s])", catalogue.Sel("ALERTS", fmt.Sprintf("alertname=%q", t.Alert), `alertstate="firing"`), catalogue.Dur(time.Duration(n)*testStep)),
		EvalTime:   model.Duration(time.Duration(to-1)*testStep + testStep/2),
		ExpSamples: []expSample{{Labels: seriesString("", l), Value: float64(n)}},
	}, nil
}

// probe tests APIDown's "3 failures within 30s" at a 10s scrape interval.
func (g testGen) probe() ([]testGroup, error) {
	t := g.t
	run := func(vals []float64) (*fx, map[string]string, error) {
		f := &fx{cfg: g.cfg, step: probeStep}
		out := f.feed(t.Signal, vals)
		return f, out, f.err
	}
	at10 := func(step int) model.Duration { return model.Duration(time.Duration(step) * probeStep) }
	// Healthy for 30s, failing from 30s to 80s, healthy again.
	vals := phases(1.0, 3, 0.0, 6, 1.0, 8)
	f, series, err := run(vals)
	if err != nil {
		return nil, err
	}
	a, err := alertFor(t, series, 3)
	if err != nil {
		return nil, err
	}
	groups := []testGroup{{
		Name:     "APIDown: three failed probes within 30s fire; two do not; recovery resolves",
		Interval: model.Duration(probeStep), InputSeries: f.series,
		AlertRuleTests: []alertTest{
			{EvalTime: at10(4), Alertname: t.Alert, ExpAlerts: []expAlert{}},
			{EvalTime: at10(5), Alertname: t.Alert, ExpAlerts: []expAlert{a}},
			{EvalTime: at10(12), Alertname: t.Alert, ExpAlerts: []expAlert{}},
		},
	}}
	// Two failures, a success, two failures ...: never three in 30s.
	var flap []float64
	for i := 0; i < 5; i++ {
		flap = append(flap, 1, 1, 0, 0)
	}
	f, _, err = run(flap)
	if err != nil {
		return nil, err
	}
	var checks []alertTest
	for _, s := range []int{3, 7, 11, 15, 19} {
		checks = append(checks, alertTest{EvalTime: at10(s), Alertname: t.Alert, ExpAlerts: []expAlert{}})
	}
	groups = append(groups, testGroup{
		Name:     "APIDown: two failures at a time, with successes between, do not fire",
		Interval: model.Duration(probeStep), InputSeries: f.series, AlertRuleTests: checks,
	})
	// Probes every 30s (a slow scrape interval): a minute of failures fires.
	f, series, err = run(phases(1.0, 2, 0.0, 4))
	if err != nil {
		return nil, err
	}
	slow := f.series[0]
	vs := strings.Fields(slow.Values)
	for i := range vs {
		if i%3 != 0 {
			vs[i] = "_"
		}
	}
	slow.Values = strings.Join(vs, " ")
	a0, err := alertFor(t, series, 0)
	if err != nil {
		return nil, err
	}
	groups = append(groups, testGroup{
		Name:     "APIDown: at a 30s scrape interval, every probe failing for a minute fires",
		Interval: model.Duration(probeStep), InputSeries: []inputSeries{slow},
		AlertRuleTests: []alertTest{
			{EvalTime: at10(3), Alertname: t.Alert, ExpAlerts: []expAlert{}},
			{EvalTime: at10(9), Alertname: t.Alert, ExpAlerts: []expAlert{a0}},
		},
	})
	return groups, nil
}

// absentJob tests ExporterAbsent: the job gone, the job down, the job up.
func (g testGen) absentJob() ([]testGroup, error) {
	t := g.t
	F := steps(t.For, testStep)
	job := map[string]string{"job": g.cfg.ExporterJob}
	gone, err := alertFor(t, job, 1)
	if err != nil {
		return nil, err
	}
	inst := with(job, "instance", "headroom:9630")
	down, err := alertFor(t, inst, 0)
	if err != nil {
		return nil, err
	}
	upSeries := func(v float64) []inputSeries {
		f := &fx{cfg: g.cfg, step: testStep}
		f.gauge("up", inst, constant(F+3, v), 1)
		return f.series
	}
	other := &fx{cfg: g.cfg, step: testStep}
	other.gauge("up", map[string]string{"job": "something-else", "instance": "x:1"}, constant(F+3, 1), 1)
	return []testGroup{
		{Name: "ExporterAbsent: no target of the job at all fires", Interval: model.Duration(testStep), InputSeries: other.series,
			AlertRuleTests: beforeAndAt(t.Alert, F, []expAlert{gone})},
		{Name: "ExporterAbsent: the exporter's scrape failing fires", Interval: model.Duration(testStep), InputSeries: upSeries(0),
			AlertRuleTests: beforeAndAt(t.Alert, F, []expAlert{down})},
		{Name: "ExporterAbsent: the exporter up does not fire", Interval: model.Duration(testStep), InputSeries: upSeries(1),
			AlertRuleTests: []alertTest{{EvalTime: at(F + 2), Alertname: t.Alert, ExpAlerts: []expAlert{}}}},
	}, nil
}

// beforeAndAt checks that nothing fires one step before `for` has passed
// and that exp fires when it has.
func beforeAndAt(alert string, F int, exp []expAlert) []alertTest {
	var out []alertTest
	if F > 0 {
		out = append(out, alertTest{EvalTime: at(F - 1), Alertname: alert, ExpAlerts: []expAlert{}})
	}
	return append(out, alertTest{EvalTime: at(F), Alertname: alert, ExpAlerts: exp})
}

// absentSignal tests SignalAbsent for one signal: inputs present, none.
func (g testGen) absentSignal() ([]testGroup, error) {
	t := g.t
	F := steps(t.For, testStep)
	n := F + steps(t.Signal.Window, testStep) + 2
	f := &fx{cfg: g.cfg, step: testStep}
	f.feed(t.Signal, constant(n, 0.5))
	if f.err != nil {
		return nil, f.err
	}
	lbls := map[string]string{"service": g.cfg.Service}
	a, err := alertFor(t, lbls, 1)
	if err != nil {
		return nil, err
	}
	// Promtool needs at least one series in a group; an unrelated one.
	other := &fx{cfg: g.cfg, step: testStep}
	other.gauge("unrelated_metric", map[string]string{"job": "other"}, constant(n, 1), 1)
	present, err := g.siblingsAbsent(lbls, t.Signal.ID, f.series, n-1)
	if err != nil {
		return nil, err
	}
	absent, err := g.siblingsAbsent(lbls, "", other.series, F, a)
	if err != nil {
		return nil, err
	}
	return []testGroup{
		{Name: string(t.ID) + ": inputs scraped, signal present, no alert", Interval: model.Duration(testStep), InputSeries: f.series,
			AlertRuleTests: []alertTest{{EvalTime: at(n - 1), Alertname: t.Alert, ExpAlerts: present}}},
		{Name: string(t.ID) + ": no inputs, signal absent, fires after " + catalogue.Dur(t.For), Interval: model.Duration(testStep), InputSeries: other.series,
			AlertRuleTests: beforeAndAt(t.Alert, F, absent)},
	}, nil
}

// absentBucket tests the SignalAbsent rule of the latency SLO's bucket: the
// histogram with the bucket, the histogram scraped without it (the SLI is
// gone, this fires), and no histogram at all (this stays silent: the p95
// signal's SignalAbsent reports it, once).
func (g testGen) absentBucket() ([]testGroup, error) {
	t := g.t
	b, ok := g.cfg.SLOBucket()
	if !ok {
		return nil, fmt.Errorf("%s without a latency SLO", t.ID)
	}
	F := steps(t.For, testStep)
	n := F + 2
	full := &fx{cfg: g.cfg, step: testStep}
	full.feed(t.Signal, constant(n, 0.5))
	if full.err != nil {
		return nil, full.err
	}
	without, err := withoutBucket(full.series, b)
	if err != nil {
		return nil, err
	}
	other := &fx{cfg: g.cfg, step: testStep}
	other.gauge("unrelated_metric", map[string]string{"job": "other"}, constant(n, 1), 1)
	lbls := map[string]string{"service": g.cfg.Service}
	var groups []testGroup
	for _, c := range []struct {
		name    string
		series  []inputSeries
		present catalogue.SignalID // the signal whose inputs are scraped, if any
		step    int
		fires   bool
	}{
		{fmt.Sprintf("histogram with its %s bucket, no alert", b.LE), full.series, t.Signal.ID, n - 1, false},
		{fmt.Sprintf(`le="+Inf" scraped without the %s bucket, fires after %s`, b.LE, catalogue.Dur(t.For)), without, t.Signal.ID, F, true},
		{"no histogram at all, silent: the p95 signal's SignalAbsent fires instead", other.series, "", F, false},
	} {
		own, err := bucketAbsentAlerts(g.cfg, t, c.series)
		if err != nil {
			return nil, err
		}
		if (len(own) > 0) != c.fires {
			return nil, fmt.Errorf("%s: %d alerts of its own over its fixture", c.name, len(own))
		}
		exp, err := g.siblingsAbsent(lbls, c.present, c.series, c.step, own...)
		if err != nil {
			return nil, err
		}
		tests := []alertTest{{EvalTime: at(c.step), Alertname: t.Alert, ExpAlerts: exp}}
		if c.step == F {
			tests = beforeAndAt(t.Alert, F, exp)
		}
		groups = append(groups, testGroup{Name: string(t.ID) + ": " + c.name, Interval: model.Duration(testStep), InputSeries: c.series, AlertRuleTests: tests})
	}
	return groups, nil
}

// bucketAbsentAlerts are the alerts of a bucket's SignalAbsent rule over
// input series: one per cluster, its value the number of histogram series
// without the bucket.
func bucketAbsentAlerts(cfg *catalogue.Config, t catalogue.Trigger, series []inputSeries) ([]expAlert, error) {
	b, ok := cfg.SLOBucket()
	if !ok {
		return nil, fmt.Errorf("%s without a latency SLO", t.ID)
	}
	gaps, err := bucketGaps(series, b, cfg.ClusterLabel)
	if err != nil {
		return nil, err
	}
	var out []expAlert
	for _, c := range slices.Sorted(maps.Keys(gaps)) {
		l := map[string]string{}
		if cfg.ClusterLabel != "" {
			l[cfg.ClusterLabel] = c
		}
		a, err := alertFor(t, l, float64(gaps[c]))
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

// siblingsAbsent lists the other SignalAbsent alerts firing at a step when
// only `present` (a signal id, or none) has inputs, the input series; extra
// are added. A bucket's rule is evaluated over the series themselves: it
// fires only where the histogram is scraped without the bucket.
func (g testGen) siblingsAbsent(lbls map[string]string, present catalogue.SignalID, series []inputSeries, step int, extra ...expAlert) ([]expAlert, error) {
	out := append([]expAlert{}, extra...)
	for _, m := range g.cat {
		if m.Alert != g.t.Alert || m.ID == g.t.ID || step < steps(m.For, testStep) {
			continue
		}
		if testKindOf(m) == testAbsentBucket {
			as, err := bucketAbsentAlerts(g.cfg, m, series)
			if err != nil {
				return nil, err
			}
			out = append(out, as...)
			continue
		}
		if present != "" && sharesInputs(m.Signal.ID, present) {
			continue
		}
		a, err := alertFor(m, lbls, 1)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ExpLabels["signal"] < out[j].ExpLabels["signal"] })
	return out, nil
}

// sharesInputs says whether feeding one signal's fixture makes the other
// present too (they are computed from the same series).
func sharesInputs(a, b catalogue.SignalID) bool {
	if a == b {
		return true
	}
	same := [][]catalogue.SignalID{{catalogue.SignalAPIRequests, catalogue.SignalAPIRequestsPerInstance}, {catalogue.SignalAPILatencyP95, catalogue.SignalSLOLatencyBucket}}
	for _, s := range same {
		if slices.Contains(s, a) && slices.Contains(s, b) {
			return true
		}
	}
	return false
}

// values returns a value that fires, one just on the safe side of the
// threshold, and one well clear of it for every trigger of the family.
func (g testGen) values() (fire, safe, recover float64) { return catalogue.TestLevels(g.t, g.cat) }

// family is the triggers that share the alertname and the signal.
func (g testGen) family() []catalogue.Trigger { return catalogue.Family(g.t, g.cat) }

// marginBands are the two levels the oscillation test holds inside the
// margin.
func (g testGen) marginBands() []float64 { return catalogue.MarginBands(g.t) }

// labelText is a scope's labels in a test group's name, as the runbook
// writes them.
func labelText(l map[string]string) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		parts = append(parts, k+"="+l[k])
	}
	return strings.Join(parts, ", ")
}
