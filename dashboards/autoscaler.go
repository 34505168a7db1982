package dashboards

import (
	"fmt"
	"strings"

	"github.com/headroom-dev/headroom/catalogue"
)

// autoscalerPanels show the autoscaler the alerts on it read: the replicas
// the load asks for against desired, current and max (desired is clamped
// to max, so only the asked-for line shows a limited scale-out), the
// replica count's rises and falls within the thrashing window, and with
// KEDA its scalers' errors and empty responses.
func (g *gen) autoscalerPanels(bd *board) {
	a, ok := catalogue.AutoscalerOf(g.cfg())
	if !ok {
		return
	}
	bd.row("Autoscaler: replicas, thrashing, KEDA's scalers", false)
	links := func(ids ...catalogue.TriggerID) []link {
		var out []link
		for _, t := range g.triggers(ids...) {
			out = append(out, g.triggerLinks(t)...)
		}
		return out
	}
	replicas := []query{
		{Expr: g.scopeDeployment(a.Current()), Legend: "current"},
		{Expr: g.scopeDeployment(a.Desired()), Legend: "desired (clamped to max)"},
		{Expr: g.scopeDeployment(a.Max()), Legend: "max"},
		{Expr: g.scopeDeployment(a.Min()), Legend: "min"},
	}
	asked := "KEDA reports no value for a plain HPA, so there is no asked-for line: desired is clamped to max and cannot show a limited scale-out."
	if e := a.AskedFor(g.bundle.Triggers); e != "" {
		replicas = append(replicas, query{Expr: g.scopeDeployment(e), Legend: "asked for by the load (KEDA's scalers)"})
		asked = "The asked-for line is what KEDA's Prometheus scalers ask for, unclamped: above max for 15m is **AutoscalerMaxedOut**."
	}
	bd.ts(spec{
		Title: "Autoscaler replicas: current, desired, max, asked for",
		Desc: fmt.Sprintf("kube-state-metrics' HPA series of %s (max and min fall back to the configured %d and %d). %s "+
			"Current above what the load asks for and above min for long is **AutoscalerNotScalingDown**.", g.cfg().HPANames(), a.MaxReplicas, a.MinReplicas, asked),
		Unit: "short", Queries: replicas, W: 12, H: 6, Decimals: ptr(0.0),
		Links: links(catalogue.TriggerAutoscalerMaxedOut, catalogue.TriggerAutoscalerNotScalingDown, catalogue.TriggerAutoscalerAbsent),
	})
	thr := 2.0
	if t, ok := g.trigger(catalogue.TriggerAutoscalerThrashing); ok {
		thr = t.Threshold
	}
	bd.ts(spec{
		Title: fmt.Sprintf("Autoscaler thrashing: minutes rising and falling within %s", catalogue.Dur(a.Window)),
		Desc: fmt.Sprintf("How many 1m steps of the last %s the current replicas rose, and fell. Both at %s or more is **AutoscalerThrashing**.",
			catalogue.Dur(a.Window), catalogue.Num(thr)),
		Unit: "short",
		Queries: []query{
			{Expr: g.scopeDeployment(a.Steps(true)), Legend: "rises"},
			{Expr: g.scopeDeployment(a.Steps(false)), Legend: "falls"},
		},
		Steps: stepsAt(colorOK, int(thr), colorInfo),
		Lines: true, W: 6, H: 6, Decimals: ptr(0.0),
		Links: links(catalogue.TriggerAutoscalerThrashing),
	})
	if !a.KEDA {
		return
	}
	bd.ts(spec{
		Title: "KEDA scaler errors and empty responses",
		Desc: "keda_scaler_detail_errors_total and keda_scaler_empty_upstream_responses_total of ScaledObject " + g.cfg().ScaledObjectName() +
			", per second over 5m. Any error for 5m is **KEDAScalerErrors**, any empty response **KEDAScalerEmptyResponses**; " +
			"after fallback.failure_threshold failures KEDA holds the fallback replicas.",
		Unit: "reqps",
		Queries: []query{
			{Expr: overRateInterval(g.scopeDeployment(a.KEDAErrors("5m"))), Legend: "errors {{scaler}}"},
			{Expr: overRateInterval(g.scopeDeployment(a.KEDAEmptyResponses("5m"))), Legend: "empty {{triggerName}}"},
		},
		W: 6, H: 6,
		Links: links(catalogue.TriggerKEDAScalerErrors, catalogue.TriggerKEDAScalerEmptyResponses, catalogue.TriggerKEDAScalerInputStale, catalogue.TriggerAutoscalerNotActive),
	})
}

// overRateInterval puts $__rate_interval in place of a scoped query's 5m
// range: the scoping parses the query, which $__rate_interval is not.
func overRateInterval(q string) string { return strings.ReplaceAll(q, "[5m]", "["+RateInterval+"]") }
