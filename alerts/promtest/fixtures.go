package promtest

import (
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"sort"
	"strings"
	"time"

	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/internal/kind"

	"github.com/prometheus/prometheus/model/labels"
)

// fx collects the input series of one promtool test group. Series carry the
// labels the config's selectors demand, so the generated rules select them.
type fx struct {
	cfg    *catalogue.Config
	step   time.Duration
	series []inputSeries
	err    error
	// relabel sets labels the series already carry to other values: the
	// same fixture then feeds another target, pool or cluster.
	relabel map[string]string
	// names are the label names the input series carry: a relabeling can
	// set only those.
	names map[string]bool
}

type inputSeries struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

// clusterValue is the cluster label's value in tests.
const clusterValue = "test-cluster"

func (f *fx) fail(err error) {
	if f.err == nil {
		f.err = err
	}
}

// base returns labels that satisfy a list of matchers, plus the cluster label.
func (f *fx) base(matchers string) map[string]string {
	l := map[string]string{}
	if f.cfg.ClusterLabel != "" {
		l[f.cfg.ClusterLabel] = clusterValue
	}
	if strings.TrimSpace(matchers) == "" {
		return l
	}
	ms, err := catalogue.ParseMetricSelector("{" + matchers + "}")
	if err != nil {
		f.fail(err)
		return l
	}
	for _, m := range ms {
		switch m.Type {
		case labels.MatchEqual:
			if m.Value != "" {
				l[m.Name] = m.Value
			}
		case labels.MatchRegexp:
			l[m.Name] = f.sample(m.Value, "")
		}
	}
	return l
}

// check fails the fixture when its labels do not satisfy the matchers:
// a test that feeds series the rules cannot select proves nothing.
func (f *fx) check(l map[string]string, matchers string) {
	if strings.TrimSpace(matchers) == "" {
		return
	}
	ms, err := catalogue.ParseMetricSelector("{" + matchers + "}")
	if err != nil {
		f.fail(err)
		return
	}
	for _, m := range ms {
		if !m.Matches(l[m.Name]) {
			f.fail(fmt.Errorf("test labels %v do not satisfy %s", l, m))
		}
	}
}

// sample returns preferred if it matches the regular expression, else a
// string the expression matches.
func (f *fx) sample(re, preferred string) string {
	if re == "" {
		return preferred
	}
	full, err := regexp.Compile("^(?:" + re + ")$")
	if err != nil {
		f.fail(err)
		return preferred
	}
	if preferred != "" && full.MatchString(preferred) {
		return preferred
	}
	parsed, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		f.fail(err)
		return preferred
	}
	var b strings.Builder
	generate(&b, parsed.Simplify())
	if !full.MatchString(b.String()) {
		f.fail(fmt.Errorf("cannot make a test value for the regular expression %q", re))
	}
	return b.String()
}

// generate writes a shortest-ish string a regular expression matches.
func generate(b *strings.Builder, re *syntax.Regexp) {
	switch re.Op {
	case syntax.OpLiteral:
		b.WriteString(string(re.Rune))
	case syntax.OpCharClass:
		if len(re.Rune) > 0 {
			b.WriteRune(re.Rune[0])
		}
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		b.WriteByte('x')
	case syntax.OpCapture, syntax.OpPlus:
		generate(b, re.Sub[0])
	case syntax.OpRepeat:
		for i := 0; i < re.Min; i++ {
			generate(b, re.Sub[0])
		}
	case syntax.OpConcat:
		for _, s := range re.Sub {
			generate(b, s)
		}
	case syntax.OpAlternate:
		generate(b, re.Sub[0])
	}
}

// headroomTarget labels a series of the exporter's target of a kind.
func (f *fx) headroomTarget(k kind.Kind, name string) map[string]string {
	l := f.base(f.cfg.Selectors.Headroom)
	l["target"] = f.sample(f.cfg.TargetRegex(k), name)
	return l
}

// apiInstance labels a series of one API instance.
func (f *fx) apiInstance() map[string]string {
	l := f.base(f.cfg.Selectors.API)
	for _, n := range f.cfg.API.InstanceLabels {
		if _, ok := l[n]; !ok {
			l[n] = "api-0"
		}
	}
	return l
}

// okLabels and errLabels are label pairs for a successful and a failed
// request under api.error_matcher.
func (f *fx) okLabels() []string  { return f.status(false) }
func (f *fx) errLabels() []string { return f.status(true) }

func (f *fx) status(failed bool) []string {
	ms, err := catalogue.ParseMetricSelector("{" + f.cfg.API.ErrorMatcher + "}")
	if err != nil || len(ms) == 0 {
		f.fail(fmt.Errorf("api.error_matcher: %v", err))
		return nil
	}
	m := ms[0]
	candidates := []string{"200", "success", "ok"}
	if failed {
		candidates = []string{"500", "error", "failure", "failed"}
	}
	for _, c := range candidates {
		if m.Matches(c) == failed {
			return []string{m.Name, c}
		}
	}
	if failed && m.Type == labels.MatchRegexp {
		return []string{m.Name, f.sample(m.Value, "")}
	}
	f.fail(fmt.Errorf("cannot make a test value for %s", m))
	return nil
}

// k8sIDs are the namespace and pod of the API's test pod.
func (f *fx) k8sIDs() (string, string) {
	l := f.base(f.cfg.Selectors.Cadvisor)
	ns, pod := l["namespace"], l["pod"]
	if ns == "" {
		ns = "default"
	}
	if pod == "" {
		pod = "api-0"
	}
	return ns, pod
}

// container labels a cAdvisor series of the API's container.
func (f *fx) container() map[string]string {
	ns, pod := f.k8sIDs()
	l := with(f.base(f.cfg.Selectors.Cadvisor), "namespace", ns, "pod", pod)
	if _, ok := l["container"]; !ok {
		l["container"] = "api"
	}
	f.check(l, f.cfg.Selectors.Cadvisor)
	return l
}

// pod labels a cAdvisor per-pod (network) series.
func (f *fx) pod() map[string]string {
	ns, pod := f.k8sIDs()
	return with(f.base(f.cfg.PromQL().PodSelector()), "namespace", ns, "pod", pod)
}

// limit labels kube-state-metrics' limit of the API's container.
func (f *fx) limit(resource, unit string) map[string]string {
	ns, pod := f.k8sIDs()
	l := with(f.base(f.cfg.Selectors.KubeStateMetrics), "namespace", ns, "pod", pod, "resource", resource, "unit", unit)
	if _, ok := l["container"]; !ok {
		l["container"] = "api"
	}
	f.check(l, f.cfg.Selectors.KubeStateMetrics)
	return l
}

// node labels a node_exporter series.
func (f *fx) node() map[string]string {
	l := f.base(f.cfg.Selectors.Node)
	if _, ok := l["instance"]; !ok {
		l["instance"] = "node-0:9100"
	}
	return l
}

// poolState is a backend state that counts as in use.
func (f *fx) poolState() string {
	if f.cfg.Postgres.PoolStates == "" {
		return "active"
	}
	return f.sample(f.cfg.Postgres.PoolStates, "active")
}

// pick returns the named labels of l.
func (f *fx) pick(l map[string]string, names []string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		out[n] = l[n]
	}
	return out
}

// gauge writes vals[k]*scale at step k; NaN leaves the step empty.
func (f *fx) gauge(name string, l map[string]string, vals []float64, scale float64) {
	out := make([]string, len(vals))
	for i, v := range vals {
		if math.IsNaN(v) {
			out[i] = "_"
			continue
		}
		out[i] = catalogue.Num(catalogue.Round(v * scale))
	}
	f.add(name, l, out)
}

// counter writes a counter whose rate from step k-1 to k is vals[k]*scale
// per second. It starts at 0, so rate() needs no extrapolation and reads
// exactly from the second sample on.
func (f *fx) counter(name string, l map[string]string, vals []float64, scale float64) {
	out := make([]string, len(vals))
	c := 0.0
	for i, v := range vals {
		if math.IsNaN(v) {
			out[i] = "_"
			continue
		}
		if i > 0 {
			c += v * scale * f.step.Seconds()
		}
		out[i] = catalogue.Num(catalogue.Round(c))
	}
	f.add(name, l, out)
}

// histogram writes the buckets of a duration histogram whose 0.95 quantile
// reads vals[k]: in each step all observations fall into one bucket, whose
// bounds are chosen so that linear interpolation lands on the value.
func (f *fx) histogram(name string, l map[string]string, vals []float64) {
	bounds, distinct, ok := catalogue.HistogramBounds(vals)
	if !ok {
		f.fail(fmt.Errorf("histogram fixture: values %v too close together", distinct))
		return
	}
	counts := make([][]float64, len(bounds)+1) // the last is +Inf
	for b := range counts {
		counts[b] = make([]float64, len(vals))
	}
	for k, v := range vals {
		for b := range counts {
			if k > 0 {
				counts[b][k] = counts[b][k-1]
			}
		}
		if k == 0 || math.IsNaN(v) {
			continue
		}
		add := histogramRate * f.step.Seconds()
		for b := range counts {
			if b == len(bounds) || bounds[b] >= v {
				counts[b][k] += add
			}
		}
	}
	for b := range counts {
		le := "+Inf"
		if b < len(bounds) {
			le = catalogue.Num(bounds[b])
		}
		out := make([]string, len(vals))
		for k := range vals {
			out[k] = catalogue.Num(counts[b][k])
		}
		f.add(name, with(l, "le", le), out)
	}
}

// histogramRate is the requests per second a histogram fixture observes.
const histogramRate = 10

func (f *fx) add(name string, l map[string]string, values []string) {
	l = relabeled(l, f.relabel)
	if f.names == nil {
		f.names = map[string]bool{}
	}
	for k := range l {
		f.names[k] = true
	}
	f.series = append(f.series, inputSeries{Series: seriesString(name, l), Values: strings.Join(values, " ")})
}

// seriesString writes name{a="x", b="y"} with sorted label names.
func seriesString(name string, l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%q", k, l[k])
	}
	return name + "{" + strings.Join(parts, ", ") + "}"
}

// relabeled returns a copy of l with the labels it carries of rl set to
// rl's values.
func relabeled(l, rl map[string]string) map[string]string {
	out := with(l)
	for k, v := range rl {
		if _, ok := out[k]; ok {
			out[k] = v
		}
	}
	return out
}

// with returns a copy of l with the pairs set.
func with(l map[string]string, kv ...string) map[string]string {
	out := make(map[string]string, len(l)+len(kv)/2)
	for k, v := range l {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// complement is 1 − v at every step: the misses of a hit ratio, the idle
// CPU of a busy one, the good requests of an error ratio.
func complement(vals []float64) []float64 {
	out := make([]float64, len(vals))
	for i, v := range vals {
		out[i] = 1 - v
	}
	return out
}

func constant(n int, v float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}
