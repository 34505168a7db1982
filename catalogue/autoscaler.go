package catalogue

import (
	"fmt"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
)

// Alerts on the autoscaler itself, from kube-state-metrics' HPA series and
// KEDA's own metrics: at its maximum while the load asks for more, scaler
// errors and empty responses, stale scaler input, the ScaledObject paused
// or unknown to KEDA, thrashing, and not scaling down. They exist only
// with an autoscaler (autoscaling.autoscaler keda or hpa), like the
// database-connection guard; those reading KEDA's metrics only with keda.

// KEDA's own metrics, as KEDA v2.21 names them (pkg/metricscollector/
// prommetrics.go). The scaler label is the ScaledObject trigger's name when
// it has one (ours do: KEDAScalerRequests ...), else the scaler's Go type.
// KEDA v2.21 counts scaler errors as keda_scaler_detail_errors_total; the
// keda_scaler_errors_total of older releases is gone.
const (
	// labels namespace, scaledObject, scaler, triggerIndex, metric, type
	MetricKEDAScalerValue  = "keda_scaler_metrics_value"
	MetricKEDAScalerActive = "keda_scaler_active"
	MetricKEDAScalerErrors = "keda_scaler_detail_errors_total"
	// labels namespace, scaledResource, triggerName, metricName,
	// resourceType, ignoreNullValues
	MetricKEDAEmptyResponses = "keda_scaler_empty_upstream_responses_total"
	// labels namespace, scaledObject
	MetricKEDAPaused = "keda_scaled_object_paused"
)

// kube-state-metrics' HPA series besides the max and current replicas
// (dbguard.go); labels namespace, horizontalpodautoscaler.
const (
	MetricHPACurrentReplicas = metricHPACurrentReplicas
	MetricHPADesiredReplicas = "kube_horizontalpodautoscaler_status_desired_replicas"
	MetricHPAMinReplicas     = "kube_horizontalpodautoscaler_spec_min_replicas"
)

// The names of the ScaledObject's Prometheus triggers (package
// alerts/autoscale writes them), which KEDA reports as the scaler label.
const (
	KEDAScalerRequests = "requests-per-pod"
	KEDAScalerQueue    = "queue-depth"
	KEDAScalerLatency  = "latency-p95"
)

// The autoscaler triggers.
const (
	TriggerAutoscalerMaxedOut       TriggerID = "AutoscalerMaxedOut"
	TriggerKEDAScalerErrors         TriggerID = "KEDAScalerErrors"
	TriggerKEDAScalerEmptyResponses TriggerID = "KEDAScalerEmptyResponses"
	TriggerKEDAScalerInputStale     TriggerID = "KEDAScalerInputStale"
	TriggerAutoscalerNotActive      TriggerID = "AutoscalerNotActive"
	TriggerAutoscalerThrashing      TriggerID = "AutoscalerThrashing"
	TriggerAutoscalerNotScalingDown TriggerID = "AutoscalerNotScalingDown"
	TriggerAutoscalerAbsent         TriggerID = "AutoscalerAbsent"
)

// IsAutoscalerTrigger reports whether a trigger is one of the alerts on
// the autoscaler itself.
func IsAutoscalerTrigger(id TriggerID) bool {
	switch id {
	case TriggerAutoscalerMaxedOut, TriggerKEDAScalerErrors, TriggerKEDAScalerEmptyResponses, TriggerKEDAScalerInputStale,
		TriggerAutoscalerNotActive, TriggerAutoscalerThrashing, TriggerAutoscalerNotScalingDown, TriggerAutoscalerAbsent:
		return true
	}
	return false
}

// KEDAScaler is one Prometheus trigger of the ScaledObject: the catalogue
// trigger whose threshold it scales on, and whether KEDA's HPA divides its
// value by the replicas (AverageValue) or compares it as it is (Value).
type KEDAScaler struct {
	Name      string
	Trigger   TriggerID
	PerPod    bool
	Threshold float64
}

// kedaScalers are the ScaledObject's Prometheus triggers in its order.
var kedaScalers = []KEDAScaler{
	{Name: KEDAScalerRequests, Trigger: TriggerRequestRateHigh, PerPod: true},
	{Name: KEDAScalerQueue, Trigger: TriggerQueueDepthHigh},
	{Name: KEDAScalerLatency, Trigger: TriggerLatencyP95High},
}

// Autoscaler is what the autoscaler alerts of a config read.
type Autoscaler struct {
	cfg *Config
	p   PromQL
	// KEDA: the autoscaler is keda, and KEDA's metrics are read.
	KEDA        bool
	MinReplicas int
	MaxReplicas int
	// Window is the thrashing window: twice the longer of KEDA's cooldown
	// and the scale-down stabilisation (Kubernetes' 300s when unset), at
	// least 10m.
	Window time.Duration
	// Settle is how long every scale-down condition must hold before
	// AutoscalerNotScalingDown: the cooldown plus the scale-down
	// stabilisation, at least 5m.
	Settle time.Duration
}

// AutoscalerOf returns the autoscaler of a config, when it has one.
func AutoscalerOf(cfg *Config) (Autoscaler, bool) {
	a := cfg.Autoscaling
	if a.Autoscaler != AutoscalerKEDA && a.Autoscaler != AutoscalerHPA {
		return Autoscaler{}, false
	}
	stab := time.Duration(a.ScaleDown.StabilizationWindow)
	if a.ScaleDown.IsZero() {
		stab = 300 * time.Second
	}
	cool := time.Duration(0)
	if a.Autoscaler == AutoscalerKEDA {
		cool = time.Duration(a.CooldownPeriod)
	}
	as := Autoscaler{cfg: cfg, p: PromQL{cfg}, KEDA: a.Autoscaler == AutoscalerKEDA, MinReplicas: int(a.MinReplicas), MaxReplicas: int(a.MaxReplicas),
		Window: ceilMinutes(2 * max(stab, cool)), Settle: ceilMinutes(stab + cool)}
	as.Window = max(as.Window, 10*time.Minute)
	as.Settle = max(as.Settle, 5*time.Minute)
	return as, true
}

func ceilMinutes(d time.Duration) time.Duration {
	return (d + time.Minute - 1) / time.Minute * time.Minute
}

// Scalers are the ScaledObject's Prometheus triggers of a catalogue (the
// triggers it has, with their thresholds after overrides).
func (a Autoscaler) Scalers(cat []Trigger) []KEDAScaler {
	var out []KEDAScaler
	for _, s := range kedaScalers {
		for _, t := range cat {
			if t.ID == s.Trigger {
				s.Threshold = t.Threshold
				out = append(out, s)
			}
		}
	}
	return out
}

// hpa selects a kube-state-metrics series of the HPAs that may scale the
// target, as the DB guard does.
func (a Autoscaler) hpa(metric string) string { return ConnectionGuard{cfg: a.cfg}.hpa(metric) }

// keda selects one of KEDA's series of the ScaledObject.
func (a Autoscaler) keda(metric string, extra ...string) string {
	m := []string{}
	if ns := a.cfg.Autoscaling.Namespace; ns != "" {
		m = append(m, fmt.Sprintf("namespace=%q", ns))
	}
	obj := "scaledObject"
	if metric == MetricKEDAEmptyResponses {
		obj = "scaledResource"
	}
	m = append(m, fmt.Sprintf("%s=%q", obj, a.cfg.ScaledObjectName()))
	return Sel(metric, append(m, extra...)...)
}

// AbsentLabels are the labels absent() gives an HPA series (by
// kube-state-metrics) or a KEDA series of the ScaledObject (by KEDA):
// those its selector matches by equality.
func (a Autoscaler) AbsentLabels(byKEDA bool) map[string]string {
	sel := InCluster(a.cfg, a.hpa(metricHPACurrentReplicas))
	if byKEDA {
		sel = InCluster(a.cfg, a.keda(MetricKEDAScalerActive))
	}
	out := map[string]string{}
	ms, err := ParseMetricSelector(sel)
	if err != nil {
		return out
	}
	for _, m := range ms {
		if m.Type == labels.MatchEqual && m.Name != labels.MetricName {
			out[m.Name] = m.Value
		}
	}
	return out
}

// Current is the HPA's current replica count, one series per cluster.
func (a Autoscaler) Current() string { return a.p.Agg("max", a.hpa(metricHPACurrentReplicas)) }

// Steps counts the minutes within the thrashing window in which the HPA's
// current replicas rose (up) or fell, at 1m steps.
func (a Autoscaler) Steps(up bool) string {
	op := "<"
	if up {
		op = ">"
	}
	before := a.p.Agg("max", a.hpa(metricHPACurrentReplicas)+" offset 1m")
	return fmt.Sprintf("sum_over_time((%s %s bool %s)[%s:1m])", a.Current(), op, before, Dur(a.Window))
}

// KEDAErrors is the rate of KEDA's scaler errors by scaler, over window
// (a duration or $__rate_interval).
func (a Autoscaler) KEDAErrors(window string) string {
	return a.p.Agg("sum", "rate("+a.keda(MetricKEDAScalerErrors)+"["+window+"])", "scaler")
}

// KEDAEmptyResponses is the rate of KEDA's empty upstream responses by
// trigger, over window.
func (a Autoscaler) KEDAEmptyResponses(window string) string {
	return a.p.Agg("sum", "rate("+a.keda(MetricKEDAEmptyResponses)+"["+window+"])", "triggerName")
}

// Desired is the HPA's desired replica count, clamped to its bounds.
func (a Autoscaler) Desired() string { return a.p.Agg("max", a.hpa(MetricHPADesiredReplicas)) }

// Max is the HPA's max replicas (kube-state-metrics), else the configured
// max_replicas.
func (a Autoscaler) Max() string {
	return a.orConfigured(a.p.Agg("max", a.hpa(MetricHPAMaxReplicas)), a.Current(), a.MaxReplicas)
}

// Min is the HPA's min replicas, else the configured min_replicas.
func (a Autoscaler) Min() string {
	return a.orConfigured(a.p.Agg("max", a.hpa(MetricHPAMinReplicas)), a.Current(), a.MinReplicas)
}

// orConfigured is ksm, else n: vector(n) without a cluster label; with one,
// n per cluster made from anchor (vector() has no cluster label).
func (a Autoscaler) orConfigured(ksm, anchor string, n int) string {
	if a.cfg.ClusterLabel != "" {
		return fmt.Sprintf("(%s or %s %s * 0 + %d)", ksm, a.p.On(), anchor, n)
	}
	return fmt.Sprintf("(%s or vector(%d))", ksm, n)
}

// AskedFor is the replicas the load asks for, unclamped: the largest of
// what each Prometheus scaler asks, as the HPA computes it from KEDA's
// value (ceil(value / threshold) for an AverageValue trigger,
// ceil(current x value / threshold) for a Value one). The HPA's desired
// replicas cannot tell: its status is clamped to max replicas, so a desired
// count at the max says nothing about whether the load wanted one pod more
// or fifty (kube-state-metrics' KubeHpaMaxedOut fires on every KEDA HPA
// sitting at its max, prometheus-community/helm-charts #7278). CPU and
// memory are left out: the HPA computes them itself and KEDA reports no
// value for them. Empty without KEDA or a Prometheus scaler.
func (a Autoscaler) AskedFor(cat []Trigger) string {
	if !a.KEDA {
		return ""
	}
	var terms []string
	for _, s := range a.Scalers(cat) {
		v := a.keda(MetricKEDAScalerValue, fmt.Sprintf("scaler=%q", s.Name))
		// Each term keeps its scaler label: `or` keeps only the first
		// of series with the same labels.
		if s.PerPod {
			terms = append(terms, fmt.Sprintf("ceil(%s / %s)", a.p.Agg("max", v, "scaler"), Num(s.Threshold)))
			continue
		}
		terms = append(terms, fmt.Sprintf("ceil(%s / %s * %s group_left () %s)", a.p.Agg("max", v, "scaler"), Num(s.Threshold), a.p.On(), a.Current()))
	}
	if len(terms) == 0 {
		return ""
	}
	return a.p.Agg("max", "\n  "+strings.Join(terms, "\n  or\n  ")+"\n")
}

// downAlerts are the bundle's scale-down triggers on the replica count
// (action scale_down_instances), by alertname.
func downAlerts(cat []Trigger) []string {
	var out []string
	for _, t := range cat {
		if t.Direction == Down && t.Action == "scale_down_instances" && !contains(out, t.Alert) {
			out = append(out, t.Alert)
		}
	}
	return out
}

// resolved is the config's catalogue before rendering, overrides applied:
// the thresholds the scalers take.
func resolved(cfg *Config) []Trigger { return cfg.resolvedTriggers(definitions(cfg)) }

// autoscaler defines the autoscaler alerts.
func (d *defs) autoscaler() {
	cfg, p, add := d.cfg, d.p, d.add
	a, ok := AutoscalerOf(cfg)
	if !ok {
		return
	}
	min := time.Minute
	replicas := Signal{ID: SignalAutoscalerReplicas, Unit: UnitCount, Group: GroupCapacity, Title: "Autoscaler replicas"}
	so := cfg.ScaledObjectName()
	hpaNames := strings.Join(cfg.HPANames(), " or ")
	if a.KEDA {
		add(Trigger{ID: TriggerAutoscalerMaxedOut, Set: SetHealth, Source: "headroom", Group: GroupCapacity, Direction: None, Signal: replicas,
			Comparison: Custom, For: 15 * min, Action: "raise_max_replicas_or_add_capacity", Urgency: UrgencyHigh, Severity: SeverityWarning,
			When: fmt.Sprintf("the replicas KEDA's Prometheus scalers ask for (ceil(keda_scaler_metrics_value / threshold), x current replicas for Value triggers) > the HPA's max replicas (kube-state-metrics, else %d)", a.MaxReplicas),
			expr: func(Trigger) string {
				asked := a.AskedFor(resolved(cfg))
				if asked == "" {
					return ""
				}
				return fmt.Sprintf("%s\n> %s %s", asked, p.On(), a.Max())
			},
			Summary: "{{ service }} is at its max replicas while the load asks for more",
			Description: fmt.Sprintf("KEDA's scalers of %s ask for {{ $value }} replicas, more than the HPA's max replicas (kube-state-metrics, else the configured %d), for 15m: "+
				"the autoscaler cannot add the capacity the load needs.", so, a.MaxReplicas) + ActionSentence("raise_max_replicas_or_add_capacity"),
			Runbook: Runbook{Meaning: "The load asks for more replicas than the autoscaler may run: each Prometheus scaler's value over its threshold, as the HPA computes it " +
				"(KEDA's keda_scaler_metrics_value), stayed above the HPA's max replicas for 15m. The HPA's desired replicas cannot tell this, as its status is clamped " +
				"to the max, which is why kube-state-metrics' KubeHpaMaxedOut fires on every KEDA HPA sitting at its max (prometheus-community/helm-charts #7278). " +
				"CPU and memory are not counted (KEDA reports no value for them).",
				Steps: []string{"Check `kubectl describe hpa keda-hpa-" + so + "`: the current metrics against their targets, and the ScalingLimited condition.",
					"Raise max_replicas (maxReplicaCount) only after checking that max replicas x the DB pool size per pod fits the database (ScaleOutExceedsDBConnections).",
					"Otherwise add capacity per pod (vertical scaling) or shed load; the latency and error alerts show what users see meanwhile."}}})
		add(Trigger{ID: TriggerKEDAScalerErrors, Set: SetHealth, Source: "headroom", Group: GroupCapacity, Direction: None,
			Signal:     Signal{ID: SignalKEDAScalerErrors, Unit: UnitPerSecond, Group: GroupCapacity, Title: "KEDA scaler errors"},
			Comparison: Custom, For: 5 * min, Action: "fix_scaler", Urgency: UrgencyMedium,
			When: "rate(" + MetricKEDAScalerErrors + "[5m]) > 0 for a scaler of " + so,
			expr: func(Trigger) string {
				return p.Agg("sum", "rate("+a.keda(MetricKEDAScalerErrors)+"[5m])", "namespace", "scaledObject", "scaler") + " > 0"
			},
			Summary: "KEDA scaler {{ $labels.scaler }} of {{ $labels.scaledObject }} fails",
			Description: "KEDA's scaler {{ $labels.scaler }} of ScaledObject {{ $labels.scaledObject }} has failed {{ $value | humanize }} times a second for 5m " +
				"(keda_scaler_detail_errors_total): it does not see the load, and after fallback.failure_threshold failures KEDA holds the fallback replicas." + ActionSentence("fix_scaler"),
			Runbook: Runbook{Meaning: "A KEDA scaler fails to read its metric (kedacore/charts #297 asks for this alert). With the fallback set, KEDA holds fallback.replicas " +
				"or the current count, whichever is higher, so the workload no longer follows its load.",
				Steps: []string{"Read the KEDA operator's log for the ScaledObject and `kubectl describe scaledobject " + so + "` (conditions, events).",
					"Prometheus triggers: check serverAddress and the TriggerAuthentication, run the trigger's query in Prometheus; an empty result is an error here (ignoreNullValues false), see KEDAScalerEmptyResponses."}}})
		add(Trigger{ID: TriggerKEDAScalerEmptyResponses, Set: SetHealth, Source: "headroom", Group: GroupCapacity, Direction: None,
			Signal:     Signal{ID: SignalKEDAEmptyResponses, Unit: UnitCount, Group: GroupCapacity, Title: "KEDA empty upstream responses"},
			Comparison: Custom, For: 5 * min, Action: "fix_scaler_query", Urgency: UrgencyMedium,
			When: "increase(" + MetricKEDAEmptyResponses + "[5m]) > 0 for a trigger of " + so,
			expr: func(Trigger) string {
				return p.Agg("sum", "increase("+a.keda(MetricKEDAEmptyResponses)+"[5m])", "namespace", "scaledResource", "triggerName") + " > 0"
			},
			Summary: "KEDA trigger {{ $labels.triggerName }} of {{ $labels.scaledResource }} gets empty results",
			Description: "The Prometheus query of KEDA trigger {{ $labels.triggerName }} ({{ $labels.scaledResource }}) has returned nothing {{ $value | humanize }} times in 5m, for 5m " +
				"(keda_scaler_empty_upstream_responses_total): its inputs are not scraped or its selectors match nothing." + ActionSentence("fix_scaler_query"),
			Runbook: Runbook{Meaning: "A KEDA Prometheus trigger's query returns an empty result (kedacore/charts #297). headroom's queries read 0 when the service is merely idle, " +
				"so an empty result means their inputs are missing; with ignoreNullValues false KEDA counts it as an error and, after the failure threshold, holds the fallback.",
				Steps: []string{"Run the trigger's query (scaledobject.yaml) in the Prometheus KEDA reads; find the missing input as for SignalAbsent.",
					"Check that autoscaling.cluster matches the cluster label's value, when there is one."}}})
		add(Trigger{ID: TriggerKEDAScalerInputStale, Set: SetHealth, Source: "headroom", Group: GroupCapacity, Direction: None,
			Signal:     Signal{ID: SignalKEDAScalerValue, Unit: UnitSeconds, Group: GroupCapacity, Title: "Age of an unchanged KEDA scaler value"},
			Comparison: Custom, Threshold: 1800, For: 5 * min, Action: "fix_scaler", Urgency: UrgencyMedium,
			When: "keda_scaler_metrics_value of a scaler of " + so + " unchanged and not 0 for longer than the threshold (seconds)",
			expr: func(t Trigger) string {
				v := a.keda(MetricKEDAScalerValue)
				age := Dur(time.Duration(t.Threshold) * time.Second)
				// The value must have been there a whole age ago: a series
				// younger than the age has not had the time to change.
				return fmt.Sprintf("%s != 0\nand\nchanges(%s[%s]) == 0\nand\n%s offset %s", v, v, age, v, age)
			},
			Summary: "KEDA scaler {{ $labels.scaler }} of {{ $labels.scaledObject }} reports a stale value",
			Description: "The value KEDA reports for scaler {{ $labels.scaler }} of {{ $labels.scaledObject }} (keda_scaler_metrics_value) has stayed at {{ $value }} for more than {{ threshold }}: " +
				"the scaler is not being polled, or its query returns a frozen series." + ActionSentence("fix_scaler"),
			Runbook: Runbook{Meaning: "The scaler's input is stale: a request rate, queue depth or latency that is not 0 and does not move for the configured age " +
				"(triggers.KEDAScalerInputStale.threshold, seconds) is not live load. KEDA keeps the last value of a scaler it no longer polls. " +
				"A value of 0 is left out: an idle service reads 0 for hours. A query returning nothing is KEDAScalerEmptyResponses.",
				Steps: []string{"Check the KEDA operator is running and polls the ScaledObject (its log, keda_scaler_metrics_latency_seconds).",
					"Run the trigger's query: a series frozen by a stuck exporter or a recording rule that stopped updating reads the same value forever."}}})
		add(Trigger{ID: TriggerAutoscalerNotActive, Set: SetHealth, Source: "headroom", Group: GroupCapacity, Direction: None,
			Signal:     Signal{ID: SignalKEDAPaused, Unit: UnitBool, Group: GroupCapacity, Title: "KEDA ScaledObject paused"},
			Comparison: Custom, For: 10 * min, Action: "resume_autoscaler", Urgency: UrgencyMedium,
			When: "keda_scaled_object_paused of " + so + " == 1, or KEDA reports no keda_scaler_active for it",
			expr: func(Trigger) string {
				// absent() reads 1, like a pause: x 0 tells them apart.
				return fmt.Sprintf("%s == 1\nor\nabsent(%s) * 0", a.p.Agg("max", a.keda(MetricKEDAPaused), "namespace", "scaledObject"), InCluster(cfg, a.keda(MetricKEDAScalerActive)))
			},
			Summary: "The autoscaler of {{ service }} is not active",
			Description: "ScaledObject " + so + " {{ if eq $value 1.0 }}is paused (keda_scaled_object_paused = 1){{ else }}has no scaler KEDA reports on (no keda_scaler_active series){{ end }} for 10m: " +
				"{{ service }} keeps its replica count whatever the load." + ActionSentence("resume_autoscaler"),
			Runbook: Runbook{Meaning: "KEDA does not scale the workload: the ScaledObject is paused (autoscaling.keda.sh/paused-replicas or paused annotation), " +
				"or KEDA reports no scaler of it (the ScaledObject is missing or not ready, or the operator is down or not scraped). " +
				"keda_scaler_active = 0 alone is not this: with min_replicas >= 1 a scaler is inactive whenever the load is below its activation threshold.",
				Steps: []string{"`kubectl get scaledobject " + so + "`: READY and ACTIVE columns, PAUSED; remove the pause annotation when the pause is over.",
					"If it is missing or not ready, re-apply scaledobject.yaml and read the KEDA operator's log; check that Prometheus scrapes the operator's metrics."}}})
	}
	add(Trigger{ID: TriggerAutoscalerAbsent, Set: SetHealth, Source: "headroom", Group: GroupCapacity, Direction: None, Signal: replicas,
		Comparison: Custom, For: 10 * min, Action: "restore_autoscaler", Urgency: UrgencyMedium,
		When: "no kube_horizontalpodautoscaler_status_current_replicas of " + hpaNames,
		expr: func(Trigger) string {
			return fmt.Sprintf("absent(%s)", InCluster(cfg, a.hpa(metricHPACurrentReplicas)))
		},
		Summary: "No HPA of {{ service }} in kube-state-metrics",
		Description: "kube-state-metrics reports no HPA " + hpaNames + " for 10m (absent = {{ $value }}): the autoscaler does not exist, or kube-state-metrics is not scraped, " +
			"and the alerts on the autoscaler cannot fire." + ActionSentence("restore_autoscaler"),
		Runbook: Runbook{Meaning: "The autoscaler alerts read the HPA's replica counts from kube-state-metrics; without them the HPA is missing " +
			"(not applied, deleted, or KEDA has not made keda-hpa-<scaledobject>) or kube-state-metrics is not scraped.",
			Steps: []string{"`kubectl get hpa -n <namespace>`: apply the autoscaler manifests (--k8s-out) if it is missing; with KEDA see AutoscalerNotActive.",
				"Check that Prometheus scrapes kube-state-metrics and that its HPA collector is enabled."}}})
	add(Trigger{ID: TriggerAutoscalerThrashing, Set: SetHealth, Source: "headroom", Group: GroupCapacity, Direction: None, Signal: replicas,
		Comparison: Custom, Threshold: 2, Action: "widen_stabilisation", Urgency: UrgencyMedium,
		When: fmt.Sprintf("the HPA's current replicas rose at least threshold times and fell at least threshold times within %s (1m steps)", Dur(a.Window)),
		expr: func(t Trigger) string {
			return fmt.Sprintf("%s >= %s\nand %s\n%s >= %s", a.Steps(true), Num(t.Threshold), p.On(), a.Steps(false), Num(t.Threshold))
		},
		Summary: "The autoscaler of {{ service }} is thrashing",
		Description: fmt.Sprintf("The replica count of %s rose {{ $value }} times and fell at least {{ threshold }} times within %s (kube-state-metrics, current replicas): "+
			"the autoscaler reverses itself faster than its stabilisation should allow.", hpaNames, Dur(a.Window)) + ActionSentence("widen_stabilisation"),
		Runbook: Runbook{Meaning: fmt.Sprintf("The replica count goes up and down within %s (twice the longer of the cooldown and the scale-down stabilisation). "+
			"Counted at 1m steps from kube-state-metrics' current replicas: direction changes within a minute are not seen, and rising twice then falling twice "+
			"counts as thrashing although it reverses once.", Dur(a.Window)),
			Steps: []string{"Compare the scalers' values with their thresholds and activation thresholds: a load hovering around a threshold flips the count.",
				"Lengthen autoscaling.scale_down.stabilization_window (and the cooldown), or lower the scale-down rate (percent/pods per period).",
				"Check that the triggers do not contradict each other (one asks up while another asks down, e.g. latency rising as pods are added)."}}})
	down := downAlerts(d.out)
	if !a.KEDA && len(down) == 0 {
		return
	}
	// The scale-down alerts the config keeps (overrides may disable some).
	kept := func() []string { return downAlerts(resolved(cfg)) }
	when := fmt.Sprintf("every Prometheus scaler asks for fewer replicas than the current count, which is above min replicas and has not fallen for 5m, for %s, and no scale-up alert fires", Dur(a.Settle))
	if !a.KEDA {
		when = fmt.Sprintf("every scale-down alert (%s) fires while the current replicas are above min replicas and have not fallen for 5m, for %s", strings.Join(down, ", "), Dur(a.Settle))
	}
	add(Trigger{ID: TriggerAutoscalerNotScalingDown, Set: SetHealth, Source: "headroom", Group: GroupCapacity, Direction: None, Signal: replicas,
		Comparison: Custom, For: a.Settle, Action: "check_scale_down", Urgency: UrgencyMedium,
		When: when,
		expr: func(Trigger) string {
			cur := a.Current()
			held := fmt.Sprintf("%s\n> %s %s\nand %s\n%s >= %s", cur, p.On(), a.Min(), p.On(), cur, p.Agg("max", "max_over_time("+a.hpa(metricHPACurrentReplicas)+"[5m])"))
			if !a.KEDA {
				down := kept()
				if len(down) == 0 {
					return ""
				}
				name := fmt.Sprintf("alertname=%q", down[0])
				if len(down) > 1 {
					name = fmt.Sprintf("alertname=~%q", strings.Join(down, "|"))
				}
				firing := Sel("ALERTS", `alertstate="firing"`, name, fmt.Sprintf("service=%q", cfg.Service))
				// Counted per cluster: another cluster's scale-down alerts
				// say nothing of this one's.
				return fmt.Sprintf("%s\nand %s\n%s == %d", held, p.On(), p.Agg("count", p.Agg("count", firing, "alertname")), len(down))
			}
			asked := a.AskedFor(resolved(cfg))
			if asked == "" {
				return ""
			}
			up := Sel("ALERTS", `alertstate="firing"`, `direction="up"`, fmt.Sprintf("service=%q", cfg.Service))
			return fmt.Sprintf("%s\nand %s\n%s > %s %s\nunless %s\n%s", held, p.On(), cur, p.On(), asked, p.On(), up)
		},
		Summary: "The autoscaler of {{ service }} does not scale down",
		Description: fmt.Sprintf("%s has held {{ $value }} replicas, above its min replicas, for %s while every scale-down condition held: "+
			"capacity is paid for and not used.", hpaNames, Dur(a.Settle)) + ActionSentence("check_scale_down"),
		Runbook: Runbook{Meaning: "Every condition for a scale-down held for longer than the cooldown plus the scale-down stabilisation, and the replica count stayed put. " +
			"With KEDA: each Prometheus scaler asks for fewer replicas than are running (its value over its threshold), and no scale-up alert fires; " +
			"CPU and memory, which the HPA computes itself, are judged by the ResourcePressure alerts only, so a CPU just under its target can hold the count legitimately. " +
			"With a plain HPA: every scale-down alert on the replica count fires.",
			Steps: []string{"`kubectl describe hpa`: the ScalingActive and AbleToScale conditions, the metrics that hold the count, the scale-down policies.",
				"A scale-down policy of 0 pods, select_policy Disabled, or min_replicas raised out of band (kubectl scale, a paused ScaledObject) all hold the count.",
				"Check that KEDA's fallback is not active (KEDAScalerErrors): fallback currentReplicasIfHigher never scales down."}}})
}
