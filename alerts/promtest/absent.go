package promtest

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/internal/kind"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
)

// FileInputsAbsentTests holds, for every alert of the bundle, the promtool
// test of its inputs gone: an alert that reads nothing says nothing, so
// something else must fire instead of silence.
const FileInputsAbsentTests = "inputs-absent-test.yaml"

// inputsAbsentName starts the name of an alert's inputs-absent test group;
// TestEveryAlertHasAnInputsAbsentCase finds the groups by it.
func inputsAbsentName(alert string) string { return alert + ": inputs absent" }

// exporterAlways are the exporter's series that are there whenever it is
// scraped (a down target reads 0, not nothing): they are absent only when
// the exporter itself is, which ExporterAbsent reports.
var exporterAlways = []string{"up", "headroom_target_up", "headroom_api_probe_success"}

// inputsAbsentTests makes one test group per alertname: every series the
// alert's rules read (through recording rules) is missing, everything else
// of the bundle is scraped, and the test states what fires instead: the
// exporter's absence, the down alert of the target whose data is missing,
// or SignalAbsent for the missing signals. The alert itself stays silent.
func inputsAbsentTests(cfg *catalogue.Config, cat []catalogue.Trigger, rec, alerting rulefmt.RuleGroups) ([]testGroup, error) {
	records := recordsOf(rec)
	var names []string
	exprs := map[string][]string{}
	for _, g := range alerting.Groups {
		for _, r := range g.Rules {
			if _, ok := exprs[r.Alert]; !ok {
				names = append(names, r.Alert)
			}
			exprs[r.Alert] = append(exprs[r.Alert], r.Expr)
		}
	}
	byAlert := map[string][]catalogue.Trigger{}
	for _, t := range cat {
		byAlert[t.Alert] = append(byAlert[t.Alert], t)
	}
	var out []testGroup
	for _, name := range names {
		in := map[string]bool{}
		var buckets []catalogue.BucketInput
		// The alert's rules share records (a scoped alert's rules its scope
		// record): each is followed once, for the union of their inputs.
		inputs, bucketWalk := catalogue.NewInputWalk(records), catalogue.NewInputWalk(records)
		for _, e := range exprs[name] {
			raw, err := catalogue.RawInputsOf(inputs, e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			for _, m := range raw {
				in[m] = true
			}
			bs, err := catalogue.BucketsOf(bucketWalk, e)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			for _, b := range bs {
				if !containsBucket(buckets, b) {
					buckets = append(buckets, b)
				}
			}
		}
		g, err := inputsAbsentGroup(cfg, cat, byAlert, name, in, nil)
		if err != nil {
			return nil, fmt.Errorf("inputs-absent test of %s: %w", name, err)
		}
		out = append(out, g)
		// A bucket read by its le is absent while the rest of its
		// histogram is scraped when the histogram's client has other
		// buckets: a case of its own.
		for _, b := range buckets {
			b := b
			g, err := inputsAbsentGroup(cfg, cat, byAlert, name, map[string]bool{}, &b)
			if err != nil {
				return nil, fmt.Errorf("inputs-absent test of %s without %s: %w", name, b, err)
			}
			out = append(out, g)
		}
	}
	return out, nil
}

func containsBucket(list []catalogue.BucketInput, b catalogue.BucketInput) bool {
	for _, x := range list {
		if x.String() == b.String() {
			return true
		}
	}
	return false
}

// inputsAbsentGroup is the inputs-absent case of an alert: the metrics in
// `in` are missing; or, with bucket set, every metric is scraped and only
// that bucket of its histogram is missing.
func inputsAbsentGroup(cfg *catalogue.Config, cat []catalogue.Trigger, byAlert map[string][]catalogue.Trigger, name string, in map[string]bool, bucket *catalogue.BucketInput) (testGroup, error) {
	exporterGone := false
	for _, m := range exporterAlways {
		exporterGone = exporterGone || in[m]
	}
	down := map[kind.Kind]bool{}
	for m := range in {
		for _, k := range catalogue.TargetDownTriggers {
			if strings.HasPrefix(m, k.Kind.MetricPrefix()) {
				down[k.Kind] = true
			}
		}
	}
	// scrapable says whether a series is there in this world.
	scrapable := func(metric string) bool {
		if in[metric] || exporterGone && strings.HasPrefix(metric, "headroom_") {
			return false
		}
		for _, k := range catalogue.TargetDownTriggers {
			if down[k.Kind] && strings.HasPrefix(metric, k.Kind.MetricPrefix()) {
				return false
			}
		}
		return true
	}

	// SignalAbsent's for is the longest wait; two steps more show the
	// alert under test silent after every companion has fired.
	n := 2
	for _, t := range cat {
		if t.Alert == "SignalAbsent" || t.Alert == "ExporterAbsent" {
			n = max(n, steps(t.For, testStep)+2)
		}
	}
	f := &fx{cfg: cfg, step: testStep}
	var checks []alertTest
	var fired []string
	if exporterGone {
		other := &fx{cfg: cfg, step: testStep}
		other.gauge("unrelated_metric", map[string]string{"job": "other"}, constant(n, 1), 1)
		f.series = append(f.series, other.series...)
		for _, t := range byAlert["ExporterAbsent"] {
			a, err := alertFor(t, map[string]string{"job": cfg.ExporterJob}, 1)
			if err != nil {
				return testGroup{}, err
			}
			checks = append(checks, alertTest{EvalTime: at(steps(t.For, testStep)), Alertname: t.Alert, ExpAlerts: []expAlert{a}})
			fired = append(fired, t.Alert)
		}
	} else {
		f.gauge("up", with(f.base(""), "job", cfg.ExporterJob, "instance", "headroom:9630"), constant(n, 1), 1)
		for _, k := range catalogue.TargetDownTriggers {
			if !down[k.Kind] {
				continue
			}
			for _, t := range byAlert[string(k.ID)] {
				l := f.feed(t.Signal, constant(n, 0))
				a, err := alertFor(t, l, 0)
				if err != nil {
					return testGroup{}, err
				}
				checks = append(checks, alertTest{EvalTime: at(steps(t.For, testStep)), Alertname: t.Alert, ExpAlerts: []expAlert{a}})
				fired = append(fired, t.Alert)
			}
		}
	}

	ac, af, err := autoscalerCompanions(cfg, byAlert, in)
	if err != nil {
		return testGroup{}, err
	}
	checks, fired = append(checks, ac...), append(fired, af...)

	// Every signal SignalAbsent watches is scraped unless one of its
	// inputs is missing here; those that are missing fire.
	var absentAlerts []expAlert
	var absentFor time.Duration
	var bucketRules []catalogue.Trigger
	for _, t := range byAlert["SignalAbsent"] {
		probe := &fx{cfg: cfg, step: testStep}
		probe.feed(t.Signal, constant(n, 0.5))
		if probe.err != nil {
			return testGroup{}, probe.err
		}
		present := true
		for _, s := range probe.series {
			present = present && scrapable(metricOf(s.Series))
		}
		absentFor = t.For
		if testKindOf(t) == testAbsentBucket {
			// It reads the series as scraped: judged once they are all in.
			bucketRules = append(bucketRules, t)
		}
		if testKindOf(t) == testAbsentBucket {
			if present {
				f.feed(t.Signal, constant(n, 0.5))
			}
			continue
		}
		if present {
			// Its series are fed; it still fires when what it watches is
			// the very bucket this case leaves out (the p95's finite
			// buckets).
			f.feed(t.Signal, constant(n, 0.5))
			if bucket == nil || t.Signal.Scraped == "" {
				continue
			}
			watched, err := catalogue.RawBuckets(t.Signal.Scraped, nil)
			if err != nil {
				return testGroup{}, err
			}
			if !containsBucket(watched, *bucket) {
				continue
			}
		}
		a, err := alertFor(t, map[string]string{"service": cfg.Service}, 1)
		if err != nil {
			return testGroup{}, err
		}
		absentAlerts = append(absentAlerts, a)
	}
	f.series = dedupeSeries(f.series)
	if bucket != nil {
		var err error
		if f.series, err = withoutBucket(f.series, *bucket); err != nil {
			return testGroup{}, err
		}
		gaps, err := bucketGaps(f.series, *bucket, "")
		if err != nil {
			return testGroup{}, err
		}
		if gaps[""] == 0 {
			return testGroup{}, fmt.Errorf(`no fixture scrapes %s{le="+Inf"}: the case would not show the bucket missing from a scraped histogram`, bucket.Metric)
		}
	}
	for _, t := range bucketRules {
		as, err := bucketAbsentAlerts(cfg, t, f.series)
		if err != nil {
			return testGroup{}, err
		}
		absentAlerts = append(absentAlerts, as...)
	}
	if len(byAlert["SignalAbsent"]) > 0 {
		sort.Slice(absentAlerts, func(i, j int) bool { return absentAlerts[i].ExpLabels["signal"] < absentAlerts[j].ExpLabels["signal"] })
		checks = append(checks, alertTest{EvalTime: at(steps(absentFor, testStep)), Alertname: "SignalAbsent", ExpAlerts: absentAlerts})
		if len(absentAlerts) > 0 {
			fired = append(fired, "SignalAbsent")
		}
	}
	if f.err != nil {
		return testGroup{}, f.err
	}
	var missing []string
	for m := range in {
		missing = append(missing, m)
	}
	sort.Strings(missing)
	if bucket != nil {
		missing = []string{fmt.Sprintf(`%s while le="+Inf" is scraped`, bucket)}
	}
	if len(fired) == 0 {
		return testGroup{}, fmt.Errorf("nothing fires when %v are absent: give them an absent() companion (a MustExist signal)", missing)
	}
	if !slices.Contains(fired, name) {
		checks = append(checks, alertTest{EvalTime: at(n - 1), Alertname: name, ExpAlerts: []expAlert{}})
	}
	verb := "fires"
	if fired = dedupe(fired); len(fired) > 1 {
		verb = "fire"
	}
	return testGroup{
		Name:     fmt.Sprintf("%s (%s): %s %s, never silence", inputsAbsentName(name), strings.Join(missing, ", "), strings.Join(fired, " and "), verb),
		Interval: model.Duration(testStep), InputSeries: f.series, AlertRuleTests: checks,
	}, nil
}

// metricOf is the metric name of a series string name{...}.
func metricOf(series string) string {
	if i := strings.IndexByte(series, '{'); i >= 0 {
		return series[:i]
	}
	return series
}

func dedupe(list []string) []string {
	var out []string
	for _, s := range list {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// dedupeSeries drops a series written twice by two fixtures (the same API
// instance's counter for two signals); promtool rejects duplicates.
func dedupeSeries(in []inputSeries) []inputSeries {
	seen := map[string]bool{}
	var out []inputSeries
	for _, s := range in {
		if seen[s.Series] {
			continue
		}
		seen[s.Series] = true
		out = append(out, s)
	}
	return out
}
