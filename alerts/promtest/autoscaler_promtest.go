package promtest

import (
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/common/model"

	"github.com/headroom-dev/headroom/catalogue"
)

// autoscalerTests tests the alerts on the autoscaler itself from
// kube-state-metrics' and KEDA's series: each a story that fires after its
// `for` and resolves, and the stories it must stay quiet in.
func (g testGen) autoscalerTests() ([]testGroup, error) {
	a, ok := catalogue.AutoscalerOf(g.cfg)
	if !ok {
		return nil, fmt.Errorf("no autoscaler in this config")
	}
	s := autoscalerStory{testGen: g, a: a, F: steps(g.t.For, testStep)}
	switch g.t.ID {
	case catalogue.TriggerAutoscalerMaxedOut:
		return s.maxedOut()
	case catalogue.TriggerKEDAScalerErrors:
		return s.counterAlert(catalogue.MetricKEDAScalerErrors)
	case catalogue.TriggerKEDAScalerEmptyResponses:
		return s.counterAlert(catalogue.MetricKEDAEmptyResponses)
	case catalogue.TriggerKEDAScalerInputStale:
		return s.inputStale()
	case catalogue.TriggerAutoscalerNotActive:
		return s.notActive()
	case catalogue.TriggerAutoscalerThrashing:
		return s.thrashing()
	case catalogue.TriggerAutoscalerNotScalingDown:
		return s.notScalingDown()
	case catalogue.TriggerAutoscalerAbsent:
		return s.absent()
	}
	return nil, fmt.Errorf("no autoscaler test for %s", g.t.ID)
}

type autoscalerStory struct {
	testGen
	a catalogue.Autoscaler
	F int // `for` in steps
}

// cluster is the cluster label's value of every series: the one KEDA's
// selectors name when they name one.
func (s autoscalerStory) labels() map[string]string {
	l := map[string]string{}
	if c := s.cfg.ClusterLabel; c != "" {
		l[c] = clusterValue
		if s.cfg.Autoscaling.Cluster != "" {
			l[c] = s.cfg.Autoscaling.Cluster
		}
	}
	return l
}

func (s autoscalerStory) namespace() string {
	if ns := s.cfg.Autoscaling.Namespace; ns != "" {
		return ns
	}
	return "default"
}

// ksm writes one of kube-state-metrics' series of the target's HPA.
func (s autoscalerStory) ksm(f *fx, metric string, vals []float64) {
	l := with(s.labels(), "job", "kube-state-metrics", "namespace", s.namespace(), "horizontalpodautoscaler", s.cfg.HPANames()[0])
	f.gauge(metric, l, vals, 1)
}

// kedaLabels are the labels KEDA gives a scaler's series of the ScaledObject.
func (s autoscalerStory) kedaLabels(scaler string, index int) map[string]string {
	return with(s.labels(), "job", "keda-operator", "namespace", s.namespace(), "scaledObject", s.cfg.ScaledObjectName(), "type", "scaledobject",
		"scaler", scaler, "triggerIndex", fmt.Sprint(index), "metric", fmt.Sprintf("s%d-prometheus", index))
}

func (s autoscalerStory) newFx() *fx { return &fx{cfg: s.cfg, step: testStep} }

func (s autoscalerStory) fire(lbls map[string]string, v float64) ([]expAlert, error) {
	a, err := alertFor(s.t, lbls, v)
	return []expAlert{a}, err
}

func (s autoscalerStory) group(name string, series []inputSeries, tests ...alertTest) testGroup {
	return testGroup{Name: fmt.Sprintf("%s: %s", s.t.ID, name), Interval: model.Duration(testStep), InputSeries: series, AlertRuleTests: tests}
}

func (s autoscalerStory) check(step int, exp []expAlert) alertTest {
	if exp == nil {
		exp = []expAlert{}
	}
	return alertTest{EvalTime: at(step), Alertname: s.t.Alert, ExpAlerts: exp}
}

// scalers are the ScaledObject's Prometheus triggers with their index.
func (s autoscalerStory) scalers() []catalogue.KEDAScaler { return s.a.Scalers(s.cat) }

// maxedOut: an AverageValue scaler asking for max + 5 fires after `for`
// (kube-state-metrics' max) and resolves at exactly max; the HPA at its
// max with the load asking for exactly max (where KubeHpaMaxedOut fires)
// stays quiet; a Value scaler at twice its threshold asks for twice the
// current replicas and fires against the configured max when
// kube-state-metrics has no max.
func (s autoscalerStory) maxedOut() ([]testGroup, error) {
	N, F := float64(s.a.MaxReplicas), s.F
	n1 := F + 3
	var groups []testGroup
	for i, sc := range s.scalers() {
		T := sc.Threshold
		if sc.PerPod {
			f := s.newFx()
			s.ksm(f, catalogue.MetricHPAMaxReplicas, constant(2*n1, N))
			s.ksm(f, catalogue.MetricHPACurrentReplicas, constant(2*n1, N))
			s.ksm(f, catalogue.MetricHPADesiredReplicas, constant(2*n1, N))
			f.gauge(catalogue.MetricKEDAScalerValue, s.kedaLabels(sc.Name, i), phases(T*(N+5)-T/2, n1, T*N-T/2, n1), 1)
			exp, err := s.fire(s.labels(), N+5)
			if err != nil {
				return nil, err
			}
			groups = append(groups, s.group(fmt.Sprintf("scaler %s asks for %v replicas against max %v: fires after %s; asking for %v resolves", sc.Name, N+5, N, catalogue.Dur(s.t.For), N),
				f.series, s.check(F-1, nil), s.check(F, exp), s.check(n1, nil), s.check(2*n1-1, nil)))
			f = s.newFx()
			s.ksm(f, catalogue.MetricHPAMaxReplicas, constant(n1, N))
			s.ksm(f, catalogue.MetricHPACurrentReplicas, constant(n1, N))
			s.ksm(f, catalogue.MetricHPADesiredReplicas, constant(n1, N))
			f.gauge(catalogue.MetricKEDAScalerValue, s.kedaLabels(sc.Name, i), constant(n1, T*N-T/2), 1)
			groups = append(groups, s.group(fmt.Sprintf("desired replicas at max %v with the load asking for exactly %v (KubeHpaMaxedOut would fire): no alert", N, N),
				f.series, s.check(F+1, nil), s.check(n1-1, nil)))
			continue
		}
		f := s.newFx()
		s.ksm(f, catalogue.MetricHPACurrentReplicas, constant(n1, N))
		f.gauge(catalogue.MetricKEDAScalerValue, s.kedaLabels(sc.Name, i), constant(n1, 2*T), 1)
		// The other scalers ask for nothing: the largest ask counts.
		for j, o := range s.scalers() {
			if j != i {
				f.gauge(catalogue.MetricKEDAScalerValue, s.kedaLabels(o.Name, j), constant(n1, 0), 1)
			}
		}
		exp, err := s.fire(s.labels(), 2*N)
		if err != nil {
			return nil, err
		}
		groups = append(groups, s.group(fmt.Sprintf("Value scaler %s at twice its threshold with %v replicas asks for %v, above the configured max %d (no kube-state-metrics max), while the other scalers read 0: fires", sc.Name, N, 2*N, s.a.MaxReplicas),
			f.series, s.check(F-1, nil), s.check(F, exp)))
	}
	return groups, nil
}

// counterAlert: a counter growing for a while fires after `for` and
// resolves once its 5m window holds no increase; a counter at 0 never fires.
func (s autoscalerStory) counterAlert(metric string) ([]testGroup, error) {
	F := s.F
	n1 := F + 3
	sc := s.scalers()
	name := catalogue.KEDAScalerRequests
	if len(sc) > 0 {
		name = sc[0].Name
	}
	var l, out map[string]string
	if metric == catalogue.MetricKEDAEmptyResponses {
		l = with(s.labels(), "job", "keda-operator", "namespace", s.namespace(), "scaledResource", s.cfg.ScaledObjectName(), "triggerName", name,
			"metricName", "s0-prometheus", "resourceType", "scaledobject", "ignoreNullValues", "false")
		out = with(s.labels(), "namespace", s.namespace(), "scaledResource", s.cfg.ScaledObjectName(), "triggerName", name)
	} else {
		l = s.kedaLabels(name, 0)
		out = with(s.labels(), "namespace", s.namespace(), "scaledObject", s.cfg.ScaledObjectName(), "scaler", name)
	}
	// 0.1 a second: the alert's value is that rate, or its increase over
	// the 5m window for empty responses.
	const perSecond = 0.1
	value := perSecond
	if metric == catalogue.MetricKEDAEmptyResponses {
		value = perSecond * (5 * time.Minute).Seconds()
	}
	exp, err := s.fire(out, value)
	if err != nil {
		return nil, err
	}
	f := s.newFx()
	f.counter(metric, l, phases(0.0, 1, perSecond, n1, 0.0, 8), 1)
	g1 := s.group(fmt.Sprintf("%s growing from step 1 to %d fires after %s and resolves 5m after it stops", metric, n1, catalogue.Dur(s.t.For)),
		f.series, s.check(0, nil), s.check(F, nil), s.check(F+1, exp), s.check(n1+6, nil))
	f = s.newFx()
	f.counter(metric, l, constant(n1, 0), 1)
	g2 := s.group(metric+" at 0 (KEDA starts it there) never fires", f.series, s.check(F+1, nil), s.check(n1-1, nil))
	return []testGroup{g1, g2}, nil
}

// inputStale: a value that is not 0 and holds for the age fires after
// `for` and resolves when it moves; a moving value and a value of 0 held
// as long never fire.
func (s autoscalerStory) inputStale() ([]testGroup, error) {
	age := int(time.Duration(s.t.Threshold) * time.Second / testStep)
	if time.Duration(age)*testStep != time.Duration(s.t.Threshold)*time.Second {
		return nil, fmt.Errorf("age %ss is not a whole number of test steps", catalogue.Num(s.t.Threshold))
	}
	F := s.F
	sc := s.scalers()
	name := catalogue.KEDAScalerRequests
	if len(sc) > 0 {
		name = sc[0].Name
	}
	l := s.kedaLabels(name, 0)
	exp, err := s.fire(l, 7)
	if err != nil {
		return nil, err
	}
	end := age + F + 3
	f := s.newFx()
	f.gauge(catalogue.MetricKEDAScalerValue, l, phases(7.0, end, 8.0, 3), 1)
	g1 := s.group(fmt.Sprintf("a value of 7 unchanged for %s fires after %s more and resolves when it moves", catalogue.Dur(time.Duration(age)*testStep), catalogue.Dur(s.t.For)),
		f.series, s.check(age, nil), s.check(age+F-1, nil), s.check(age+F, exp), s.check(end, nil))
	moving := make([]float64, end)
	for i := range moving {
		moving[i] = float64(7 + i%2)
	}
	f = s.newFx()
	f.gauge(catalogue.MetricKEDAScalerValue, l, moving, 1)
	g2 := s.group("a moving value never fires", f.series, s.check(age+F, nil), s.check(end-1, nil))
	f = s.newFx()
	f.gauge(catalogue.MetricKEDAScalerValue, l, constant(end, 0), 1)
	g3 := s.group("0 held as long (an idle service) never fires", f.series, s.check(age+F, nil), s.check(end-1, nil))
	return []testGroup{g1, g2, g3}, nil
}

// notActive: a paused ScaledObject fires after `for` and resolves when
// resumed; no keda_scaler_active series at all fires; an unpaused
// ScaledObject with inactive scalers (load below activation) does not.
func (s autoscalerStory) notActive() ([]testGroup, error) {
	F := s.F
	n1 := F + 3
	paused := with(s.labels(), "job", "keda-operator", "namespace", s.namespace(), "scaledObject", s.cfg.ScaledObjectName())
	out := with(s.labels(), "namespace", s.namespace(), "scaledObject", s.cfg.ScaledObjectName())
	exp, err := s.fire(out, 1)
	if err != nil {
		return nil, err
	}
	f := s.newFx()
	f.gauge(catalogue.MetricKEDAPaused, paused, phases(1.0, n1, 0.0, n1), 1)
	f.gauge(catalogue.MetricKEDAScalerActive, s.kedaLabels(catalogue.KEDAScalerRequests, 0), constant(2*n1, 0), 1)
	g1 := s.group("paused fires after "+catalogue.Dur(s.t.For)+" and resolves when resumed", f.series, s.check(F-1, nil), s.check(F, exp), s.check(n1, nil))
	absent := s.labels()
	absent["scaledObject"] = s.cfg.ScaledObjectName()
	if ns := s.cfg.Autoscaling.Namespace; ns != "" {
		absent["namespace"] = ns
	}
	exp, err = s.fire(absent, 0)
	if err != nil {
		return nil, err
	}
	f = s.newFx()
	f.gauge(catalogue.MetricKEDAPaused, paused, constant(n1, 0), 1)
	g2 := s.group("no keda_scaler_active series for the ScaledObject fires after "+catalogue.Dur(s.t.For), f.series, s.check(F-1, nil), s.check(F, exp))
	f = s.newFx()
	f.gauge(catalogue.MetricKEDAPaused, paused, constant(n1, 0), 1)
	f.gauge(catalogue.MetricKEDAScalerActive, s.kedaLabels(catalogue.KEDAScalerRequests, 0), constant(n1, 0), 1)
	g3 := s.group("not paused, scalers inactive (load below activation): no alert", f.series, s.check(F+1, nil))
	return []testGroup{g1, g2, g3}, nil
}

// thrashing: replicas flipping up and down fire once they rose and fell
// threshold times each within the window, and resolve once the window has
// passed; a steady scale-out and one reversal never fire.
func (s autoscalerStory) thrashing() ([]testGroup, error) {
	n := int(s.t.Threshold)
	if float64(n) != s.t.Threshold || n < 1 {
		return nil, fmt.Errorf("threshold %s is not a whole number of steps", catalogue.Num(s.t.Threshold))
	}
	W := steps(s.a.Window, testStep)
	if 2*n > W {
		return nil, fmt.Errorf("threshold %d: %d rises and falls do not fit the %s window", n, n, catalogue.Dur(s.a.Window))
	}
	start := W + 2
	vals := constant(start, 3)
	for i := 0; i < 2*n; i++ {
		vals = append(vals, float64(4-i%2))
	}
	flipped := len(vals) - 1
	vals = append(vals, constant(W+2, 3)...)
	exp, err := s.fire(s.labels(), float64(n))
	if err != nil {
		return nil, err
	}
	f := s.newFx()
	s.ksm(f, catalogue.MetricHPACurrentReplicas, vals)
	g1 := s.group(fmt.Sprintf("replicas 3, then up and down %d times each: fires at the %d-th fall and resolves %s later", n, n, catalogue.Dur(s.a.Window)),
		f.series, s.check(start, nil), s.check(flipped-1, nil), s.check(flipped, exp), s.check(flipped+W, nil))
	steady := constant(2, 3)
	for i := 1; i <= W; i++ {
		steady = append(steady, float64(3+i))
	}
	steady = append(steady, constant(W, float64(3+W))...)
	f = s.newFx()
	s.ksm(f, catalogue.MetricHPACurrentReplicas, steady)
	g2 := s.group("a steady scale-out, then holding: never fires", f.series, s.check(W, nil), s.check(W+2, nil), s.check(len(steady)-1, nil))
	once := phases(3.0, 3, 4.0, 2, 3.0, W)
	f = s.newFx()
	s.ksm(f, catalogue.MetricHPACurrentReplicas, once)
	g3 := s.group("up once and down once: never fires", f.series, s.check(5, nil), s.check(6, nil), s.check(len(once)-1, nil))
	return []testGroup{g1, g2, g3}, nil
}

// notScalingDown: replicas held above min while every scale-down condition
// holds fire after `for` and resolve when the load asks for more; replicas
// falling step by step, replicas at min, and (KEDA) a scale-up alert firing
// stay quiet.
func (s autoscalerStory) notScalingDown() ([]testGroup, error) {
	F := s.F
	n1 := F + 3
	cur := float64(s.a.MinReplicas + 8)
	exp, err := s.fire(s.labels(), cur)
	if err != nil {
		return nil, err
	}
	// conditions writes the scale-down conditions per step (true: hold).
	conditions := func(f *fx, hold []bool) {
		if !s.a.KEDA {
			// A resolved alert's series ends with a staleness marker, as
			// the rule manager writes it.
			vals := make([]string, len(hold))
			for i, h := range hold {
				switch {
				case h:
					vals[i] = "1"
				case i > 0 && hold[i-1]:
					vals[i] = "stale"
				default:
					vals[i] = "_"
				}
			}
			for _, t := range s.cat {
				if t.Direction == catalogue.Down && t.Action == "scale_down_instances" {
					f.add("ALERTS", with(s.labels(), "alertname", t.Alert, "alertstate", "firing", "service", s.cfg.Service, "direction", "down"), vals)
				}
			}
			return
		}
		for i, sc := range s.scalers() {
			T := sc.Threshold
			vals := make([]float64, len(hold))
			for k, h := range hold {
				switch {
				case !h && sc.PerPod:
					vals[k] = T * (cur + 2)
				case sc.PerPod:
					vals[k] = T * (float64(s.a.MinReplicas) - 0.5)
				}
			}
			f.gauge(catalogue.MetricKEDAScalerValue, s.kedaLabels(sc.Name, i), vals, 1)
		}
	}
	hold := func(n int, v bool) []bool {
		out := make([]bool, n)
		for i := range out {
			out[i] = v
		}
		return out
	}
	f := s.newFx()
	s.ksm(f, catalogue.MetricHPACurrentReplicas, constant(2*n1, cur))
	conditions(f, append(hold(n1, true), hold(n1, false)...))
	g1 := s.group(fmt.Sprintf("%v replicas held above min %d while every scale-down condition holds: fires after %s, resolves when they stop", cur, s.a.MinReplicas, catalogue.Dur(s.t.For)),
		f.series, s.check(F-1, nil), s.check(F, exp), s.check(n1, nil), s.check(2*n1-1, nil))

	falling := make([]float64, n1)
	for i := range falling {
		falling[i] = cur - float64(i/2)
	}
	f = s.newFx()
	s.ksm(f, catalogue.MetricHPACurrentReplicas, falling)
	conditions(f, hold(n1, true))
	groups := []testGroup{g1, s.group("replicas falling one every 2m: no alert", f.series, s.check(F, nil), s.check(n1-1, nil))}

	f = s.newFx()
	s.ksm(f, catalogue.MetricHPACurrentReplicas, constant(n1, float64(s.a.MinReplicas)))
	conditions(f, hold(n1, true))
	groups = append(groups, s.group(fmt.Sprintf("replicas at min %d: no alert", s.a.MinReplicas), f.series, s.check(F, nil), s.check(n1-1, nil)))
	if s.a.KEDA {
		f = s.newFx()
		s.ksm(f, catalogue.MetricHPACurrentReplicas, constant(n1, cur))
		conditions(f, hold(n1, true))
		f.gauge("ALERTS", with(s.labels(), "alertname", "ResourcePressure", "alertstate", "firing", "service", s.cfg.Service, "direction", "up", "resource", "cpu"), constant(n1, 1), 1)
		groups = append(groups, s.group("a scale-up alert firing (CPU, which KEDA reports no value for): no alert", f.series, s.check(F, nil), s.check(n1-1, nil)))
	}
	return groups, nil
}

// absent: no HPA series fires after `for`; the HPA's series keep it quiet.
func (s autoscalerStory) absent() ([]testGroup, error) {
	F := s.F
	exp, err := s.fire(s.a.AbsentLabels(false), 1)
	if err != nil {
		return nil, err
	}
	f := s.newFx()
	f.gauge("unrelated_metric", map[string]string{"job": "other"}, constant(F+2, 1), 1)
	g1 := s.group("no HPA series fires after "+catalogue.Dur(s.t.For), f.series, s.check(F-1, nil), s.check(F, exp))
	f = s.newFx()
	s.ksm(f, catalogue.MetricHPACurrentReplicas, constant(F+2, 3))
	g2 := s.group("the HPA's current replicas: no alert", f.series, s.check(F+1, nil))
	return []testGroup{g1, g2}, nil
}

// autoscalerCompanions are the alerts that fire when the autoscaler's
// inputs are missing: one missing series of kube-state-metrics' HPA or of
// KEDA means its exporter is gone, and with it every series of the kind.
func autoscalerCompanions(cfg *catalogue.Config, byAlert map[string][]catalogue.Trigger, in map[string]bool) ([]alertTest, []string, error) {
	a, ok := catalogue.AutoscalerOf(cfg)
	if !ok {
		return nil, nil, nil
	}
	var checks []alertTest
	var fired []string
	gone := func(prefix string, id catalogue.TriggerID, byKEDA bool, v float64) error {
		any := false
		for m := range in {
			any = any || strings.HasPrefix(m, prefix)
		}
		if !any {
			return nil
		}
		for _, t := range byAlert[string(id)] {
			e, err := alertFor(t, a.AbsentLabels(byKEDA), v)
			if err != nil {
				return err
			}
			checks = append(checks, alertTest{EvalTime: at(steps(t.For, testStep)), Alertname: t.Alert, ExpAlerts: []expAlert{e}})
			fired = append(fired, t.Alert)
		}
		return nil
	}
	if err := gone("kube_horizontalpodautoscaler_", catalogue.TriggerAutoscalerAbsent, false, 1); err != nil {
		return nil, nil, err
	}
	if err := gone("keda_", catalogue.TriggerAutoscalerNotActive, true, 0); err != nil {
		return nil, nil, err
	}
	return checks, fired, nil
}
