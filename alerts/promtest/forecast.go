package promtest

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/headroom-dev/headroom/catalogue"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

// The forecasts' tests feed the signal's recorded series itself (the
// forecast rules read nothing else) at the forecast group's interval, for
// days: the stories a forecast must tell apart. Each is simulated here as
// the rules compute it (closed ranges, as promtool's Prometheus has them),
// so that the tests state when the ticket fires and with which value.

// forecastStep is the input and evaluation interval of the forecast tests.
const forecastStep = catalogue.ForecastInterval

// forecastTestFile is the test file of a group's forecasts: its own, since
// its evaluation interval is the forecast group's.
func forecastTestFile(g catalogue.Group) string { return g.Slug() + "-forecast-test.yaml" }

// daySteps is one season in forecast steps.
var daySteps = int(catalogue.ForecastSeason / forecastStep)

// forecastSim is the forecast rules over a series: per step the seconds
// to the threshold, when recorded.
type forecastSim struct {
	seconds []float64
	ok      []bool
}

// simulateForecast computes the forecast group's records over per-step
// values (NaN: no sample), as Prometheus 2 does with closed ranges.
func simulateForecast(vals []float64, thr float64, window time.Duration) forecastSim {
	n := len(vals)
	W := int(window / forecastStep)
	// A step without a sample still sees the previous one within the
	// lookback (5m, inclusive in Prometheus 2): the value record exists.
	value := make([]float64, n)
	for k := range vals {
		value[k] = vals[k]
		if math.IsNaN(value[k]) && k > 0 && !math.IsNaN(vals[k-1]) {
			value[k] = vals[k-1]
		}
	}
	inRange := func(xs []float64, k, span int) []int {
		var idx []int
		for j := max(0, k-span); j <= k; j++ {
			if !math.IsNaN(xs[j]) {
				idx = append(idx, j)
			}
		}
		return idx
	}
	need := func(d time.Duration) int { return int(math.Ceil(catalogue.ForecastCoverage * float64(d/forecastStep))) }
	peak, mean := make([]float64, n), make([]float64, n)
	for k := range vals {
		peak[k], mean[k] = math.NaN(), math.NaN()
		if math.IsNaN(value[k]) {
			continue
		}
		idx := inRange(value, k, daySteps)
		p, sum := math.Inf(-1), 0.0
		for _, j := range idx {
			p = math.Max(p, value[j])
			sum += value[j]
		}
		peak[k] = p
		if len(idx) >= need(catalogue.ForecastSeason) {
			mean[k] = sum / float64(len(idx))
		}
	}
	out := forecastSim{seconds: make([]float64, n), ok: make([]bool, n)}
	for k := range vals {
		if math.IsNaN(mean[k]) || math.IsNaN(peak[k]) {
			continue
		}
		idx := inRange(mean, k, W)
		if len(idx) < need(window) || len(idx) < 2 {
			continue
		}
		// deriv: least squares, x in seconds from the first sample.
		var sx, sy, sxy, sx2 float64
		for _, j := range idx {
			x := float64(j-idx[0]) * forecastStep.Seconds()
			sx += x
			sy += mean[j]
			sxy += x * mean[j]
			sx2 += x * x
		}
		c := float64(len(idx))
		slope := (sxy - sx*sy/c) / (sx2 - sx*sx/c)
		if !(slope > 0) {
			continue
		}
		if s := (thr - peak[k]) / slope; s > 0 {
			out.seconds[k], out.ok[k] = s, true
		}
	}
	return out
}

// seen is the seconds record the alert reads at step k: the last one of
// its freshness range, which at the forecast group's interval holds this
// step's and the one before.
func (s forecastSim) seen(k int) (float64, bool) {
	back := int((catalogue.ForecastFreshness - 1) / forecastStep)
	for j := k; j >= max(0, k-back); j-- {
		if s.ok[j] {
			return s.seconds[j], true
		}
	}
	return 0, false
}

// firing is the alert state per step of a rule
// "last_over_time(seconds[freshness]) < horizon" with its for.
func (s forecastSim) firing(horizon, forDur time.Duration) []bool {
	F := int(forDur / forecastStep)
	out := make([]bool, len(s.ok))
	active := -1
	for k := range s.ok {
		if v, ok := s.seen(k); ok && v < horizon.Seconds() {
			if active < 0 {
				active = k
			}
			out[k] = k-active >= F
		} else {
			active = -1
		}
	}
	return out
}

// forecastStory is one series a forecast's tests feed, and what the
// forecast must do over it.
type forecastStory struct {
	name string
	vals []float64
	// truth, for a story that fires the ticket, is the series continued
	// past its end: where it really crosses. The test checks the first
	// firing with the step before; a story without truth never fires.
	truth func(k int) float64
	// exact: the estimate is checked against the truth (within 10%).
	exact bool
	// thr is the threshold the story's series is held to (the trigger's
	// own when 0); labels override the series' labels, for a scope's.
	thr    float64
	labels map[string]string
}

// threshold is the threshold the story's series is forecast against.
func (st forecastStory) threshold(own float64) float64 {
	if st.thr != 0 {
		return st.thr
	}
	return own
}

// forecastTests are the forecast tests of a trigger's ticket forecast
// (the page's share its alertname, and are checked with it).
func (g testGen) forecastTests() ([]testGroup, error) {
	t := g.t
	_, level, _ := catalogue.ForecastOf(t.ID)
	if level != catalogue.ForecastTicket {
		return nil, nil
	}
	f := t.Forecast()
	thr := t.Threshold
	// The guides' story is told around a threshold of 80 %: levels scale
	// with the threshold, so that every forecast gets the same geometry.
	lv := func(x float64) float64 { return x * thr / 0.8 }
	history := int(f.History() / forecastStep)
	forSteps := int(f.For / forecastStep)
	day := float64(daySteps)

	// A linear rise that reaches the threshold half-way between the page
	// and ticket horizons after the first forecast can be made.
	cross := history + forSteps + int((f.PageHorizon+f.TicketHorizon)/2/forecastStep)
	start := lv(0.25)
	slope := (thr - start) / float64(cross)
	linear := func(k int) float64 { return start + slope*float64(k) }
	rise := func(n int) []float64 {
		out := make([]float64, n)
		for k := range out {
			out[k] = linear(k)
		}
		return out
	}
	sim := simulateForecast(rise(cross), thr, f.Window)
	first := firstTrue(sim.firing(f.TicketHorizon, f.For))
	if first < 0 {
		return nil, fmt.Errorf("a linear rise to %v at step %d never fires the ticket", thr, cross)
	}
	n := first + 2
	long := history + forSteps + daySteps/2

	cycle := func(k int, centre, growth float64) float64 {
		// Peak at 15:00 every day; growth per day.
		return lv(centre) + lv(growth)*float64(k)/day + lv(0.25)*math.Cos(2*math.Pi*(float64(k)/day-15.0/24))
	}
	series := func(n int, v func(k int) float64) []float64 {
		out := make([]float64, n)
		for k := range out {
			out[k] = v(k)
		}
		return out
	}
	young := rise(n)
	for k := 0; k < n-int(20*time.Hour/forecastStep); k++ {
		young[k] = math.NaN()
	}
	gap := rise(n)
	for k := first - daySteps/3; k < first-daySteps/3+int(3*time.Hour/forecastStep); k++ {
		gap[k] = math.NaN()
	}
	// The growing cycle reaches the threshold (its peak) 4 days in.
	growth := 0.03
	growing := func(k int) float64 { return cycle(k, 0.8-0.25-4*growth, growth) }
	stories := []forecastStory{
		{name: "a steady linear rise fires the ticket, its estimate within 10% of the true time to the crossing", vals: rise(n), truth: linear, exact: true},
		{name: "flat never fires", vals: series(long, func(int) float64 { return lv(0.6) })},
		{name: "falling never fires", vals: series(long, func(k int) float64 { return lv(0.75) - lv(0.5)*float64(k)/float64(long) })},
		{name: "noisy but flat never fires", vals: series(long, func(k int) float64 { return lv(0.6) + lv(0.1)*noise(k) })},
		{name: "a daily cycle of ±25 points around 50% (peak at 15:00) never fires on its morning ramps", vals: series(long, func(k int) float64 { return cycle(k, 0.5, 0) })},
		{name: "the same cycle growing 3 points a day fires the ticket, days before its peak crosses", vals: series(long, growing), truth: growing},
		{name: "a series already above the threshold leaves it to the threshold alert", vals: series(long, func(k int) float64 { return lv(0.82) + lv(0.01)*float64(k)/day })},
		{name: "a series 20h old does not fire where the full history would", vals: young},
		{name: "a 3h gap (an exporter restart) in the window does not fire where the full history would", vals: gap},
	}
	if !g.fullForecast() {
		// The stories are the method's, the same for every signal: the
		// bundle's first forecast tells them all, the others the rise.
		stories = stories[:1]
	}
	stories = append(stories, g.scopeStories(cross, n)...)
	// One group holds every story, each its own series (label story):
	// promtool's cost is per evaluation, so days of evaluations are paid
	// once.
	steps := 0
	for _, st := range stories {
		steps = max(steps, len(st.vals))
	}
	type run struct {
		st            forecastStory
		labels        map[string]string
		sim           forecastSim
		ticket, page_ []bool
	}
	var runs []run
	grp := testGroup{Name: t.Alert + ": " + stories[0].name, Interval: model.Duration(forecastStep)}
	if len(stories) > 1 {
		grp.Name = t.Alert + ": the stories of a forecast, one series each (label story)"
	}
	var quiet []string
	for i, st := range stories {
		vals := append(append([]float64{}, st.vals...), constant(steps-len(st.vals), math.NaN())...)
		l := g.forecastSeriesLabels()
		maps.Copy(l, st.labels)
		l["story"] = fmt.Sprintf("s%d", i+1)
		sim := simulateForecast(vals, st.threshold(thr), f.Window)
		r := run{st: st, labels: l, sim: sim, ticket: sim.firing(f.TicketHorizon, f.For), page_: sim.firing(f.PageHorizon, f.For)}
		runs = append(runs, r)
		grp.InputSeries = append(grp.InputSeries, inputSeries{Series: seriesString(t.Signal.Record, l), Values: valuesText(vals)})
		if len(stories) > 1 {
			grp.Name += fmt.Sprintf("; %s: %s", l["story"], st.name)
		}
		if st.truth == nil {
			if k := firstTrue(r.ticket); k >= 0 {
				return nil, fmt.Errorf("%s: fires at step %d", st.name, k)
			}
			quiet = append(quiet, l["story"])
		}
	}
	// The alerts firing at a step, over every story.
	firingAt := func(k int) ([]expAlert, error) {
		out := []expAlert{}
		for _, r := range runs {
			for _, lv := range []struct {
				on    []bool
				level catalogue.ForecastLevel
			}{{r.ticket, catalogue.ForecastTicket}, {r.page_, catalogue.ForecastPage}} {
				if !lv.on[k] {
					continue
				}
				v, _ := r.sim.seen(k)
				if frac := v - math.Floor(v); frac < 1e-3 || frac > 1-1e-3 {
					return nil, fmt.Errorf("%s: the forecast %v s at step %d is too close to a whole second for humanizeDuration to render the same everywhere", r.st.name, v, k)
				}
				rule := t
				if lv.level == catalogue.ForecastPage {
					var ok bool
					if rule, ok = findForecast(g.cat, baseOf(t), catalogue.ForecastPage); !ok {
						return nil, fmt.Errorf("%s without its page", t.ID)
					}
				}
				a, err := alertFor(rule, r.labels, v)
				if err != nil {
					return nil, err
				}
				out = append(out, a)
			}
		}
		return out, nil
	}
	for _, r := range runs {
		st := r.st
		if st.truth == nil {
			continue
		}
		k := firstTrue(r.ticket)
		if k < 1 {
			return nil, fmt.Errorf("%s: the ticket does not fire", st.name)
		}
		if r.page_[k] {
			return nil, fmt.Errorf("%s: the page fires with the ticket at step %d", st.name, k)
		}
		// The true time to the crossing: the first step the series,
		// continued, is at the threshold.
		crossing := -1
		for j := k; j < k+2*int(f.TicketHorizon/forecastStep); j++ {
			if st.truth(j) >= st.threshold(thr) {
				crossing = j
				break
			}
		}
		trueSecs := float64(crossing-k) * forecastStep.Seconds()
		if crossing < 0 || time.Duration(trueSecs)*time.Second > f.TicketHorizon {
			return nil, fmt.Errorf("%s: the series does not cross within the ticket horizon of its first firing", st.name)
		}
		for _, at := range []int{k - 1, k} {
			exp, err := firingAt(at)
			if err != nil {
				return nil, err
			}
			grp.AlertRuleTests = append(grp.AlertRuleTests, alertTest{EvalTime: model.Duration(time.Duration(at) * forecastStep), Alertname: t.Alert, ExpAlerts: exp})
		}
		if st.exact {
			v := r.sim.seconds[k]
			if math.Abs(v-trueSecs) > 0.1*trueSecs {
				return nil, fmt.Errorf("%s: predicts %v s where the crossing is %v s away", st.name, v, trueSecs)
			}
			// Prometheus's own estimate, against the true time.
			sel := catalogue.Sel(catalogue.ForecastSecondsRecord(t.Signal), fmt.Sprintf("trigger=%q", baseOf(t)), fmt.Sprintf("story=%q", r.labels["story"]))
			rec := with(r.labels, "trigger", string(baseOf(t)))
			grp.PromQLTests = append(grp.PromQLTests, exprTest{
				Expr:       fmt.Sprintf("abs(%s - %s) <= bool %s", sel, strconv.FormatFloat(trueSecs, 'f', -1, 64), strconv.FormatFloat(0.1*trueSecs, 'f', -1, 64)),
				EvalTime:   model.Duration(time.Duration(k) * forecastStep),
				ExpSamples: []expSample{{Labels: seriesString("", rec), Value: 1}},
			})
		}
	}
	if len(quiet) > 0 {
		// Not even pending, at any step.
		end := steps - 1
		grp.PromQLTests = append(grp.PromQLTests, exprTest{
			Expr: fmt.Sprintf("count_over_time(%s[%s])", catalogue.Sel("ALERTS", fmt.Sprintf("alertname=%q", t.Alert), fmt.Sprintf("story=~%q", strings.Join(quiet, "|"))),
				catalogue.Dur(time.Duration(end)*forecastStep)),
			EvalTime:   model.Duration(time.Duration(end) * forecastStep),
			ExpSamples: []expSample{},
		})
	}
	return []testGroup{grp}, nil
}

// fullForecast reports whether the trigger is the bundle's first ticket
// forecast, which gets every story.
func (g testGen) fullForecast() bool {
	for _, t := range g.cat {
		if _, level, ok := catalogue.ForecastOf(t.ID); ok && level == catalogue.ForecastTicket {
			return t.ID == g.t.ID
		}
	}
	return false
}

// maxScopeStories bounds the scopes a forecast's tests tell a rise of:
// every scope is one more term of the same "or", and each story's firing
// lists every other's, so stories for all scopes would grow the file with
// the square of their number.
const maxScopeStories = 2

// scopeStories are, for a trigger with `where` scopes, a linear rise per
// scope to the scope's own threshold, on a series only that scope takes:
// the forecast must predict the crossing that fires the scope's rule, not
// the default's. The rise has the geometry of the default's (start and
// slope scale with the threshold), so it first fires at the same step; a
// forecast against the default threshold would fire elsewhere and miss the
// 10% bound. Scopes whose matchers are not all equalities on the labels a
// story's series carries are left to the threshold alerts' scope tests,
// and so are those past the first maxScopeStories.
func (g testGen) scopeStories(cross, n int) []forecastStory {
	i := slices.IndexFunc(g.cat, func(t catalogue.Trigger) bool { return t.ID == baseOf(g.t) })
	if i < 0 {
		return nil
	}
	base := g.cat[i]
	carried := g.forecastSeriesLabels()
	var out []forecastStory
	for i, sc := range base.Scopes {
		l := map[string]string{}
		for _, m := range sc.Matchers {
			if _, has := carried[m.Name]; m.Type != labels.MatchEqual || !has || m.Name == "service" {
				l = nil
				break
			}
			l[m.Name] = m.Value
		}
		if l == nil {
			continue
		}
		probe := maps.Clone(carried)
		maps.Copy(probe, l)
		if ruleOf(base, probe) != i {
			continue // an earlier scope takes this series
		}
		if len(out) == maxScopeStories {
			break
		}
		thr := sc.Threshold
		start := 0.25 * thr / 0.8
		slope := (thr - start) / float64(cross)
		linear := func(k int) float64 { return start + slope*float64(k) }
		vals := make([]float64, n)
		for k := range vals {
			vals[k] = linear(k)
		}
		out = append(out, forecastStory{
			name: fmt.Sprintf("a steady linear rise where %s fires against that scope's threshold %s, its estimate within 10%%", sc.Match, g.t.Signal.Unit.Format(thr)),
			vals: vals, truth: linear, exact: true, thr: thr, labels: l,
		})
	}
	return out
}

// forecastSeriesLabels are the labels of the recorded signal in a
// forecast test: service, the cluster label and one value of each label
// the signal keeps.
func (g testGen) forecastSeriesLabels() map[string]string {
	l := map[string]string{"service": g.cfg.Service}
	if g.cfg.ClusterLabel != "" {
		l[g.cfg.ClusterLabel] = clusterValue
	}
	for _, name := range g.t.Signal.Labels {
		l[name] = name + "-1"
	}
	return l
}

// noise is deterministic pseudo-noise in [-1, 1].
func noise(k int) float64 {
	x := uint32(k)*2654435761 + 12345
	x ^= x >> 13
	x *= 1274126177
	x ^= x >> 16
	return float64(x)/float64(math.MaxUint32)*2 - 1
}

func firstTrue(b []bool) int {
	for k, v := range b {
		if v {
			return k
		}
	}
	return -1
}

// valuesText writes per-step values in promtool's notation, "_" for a
// missing sample, each exactly (shortest round-trip form).
func valuesText(vals []float64) string {
	parts := make([]string, len(vals))
	for i, v := range vals {
		if math.IsNaN(v) {
			parts[i] = "_"
			continue
		}
		parts[i] = strconv.FormatFloat(v, 'g', -1, 64)
	}
	return strings.Join(parts, " ")
}

func findForecast(cat []catalogue.Trigger, base catalogue.TriggerID, level catalogue.ForecastLevel) (catalogue.Trigger, bool) {
	for _, t := range cat {
		if t.ID == catalogue.ForecastID(base, level) {
			return t, true
		}
	}
	return catalogue.Trigger{}, false
}

func baseOf(t catalogue.Trigger) catalogue.TriggerID {
	b, _, _ := catalogue.ForecastOf(t.ID)
	return b
}
