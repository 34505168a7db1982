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
	if a.KEDA {
		g.kedaPanel(bd, a, links)
	} else {
		// Keeps the row's 24 columns: the KEDA panel's place.
		g.scalingEventsPanel(bd, links, 6)
	}
	g.scalingPanels(bd, links, !a.KEDA)
}

// scalingEventsPanel is the scaling group's events per hour.
func (g *gen) scalingEventsPanel(bd *board, links func(ids ...catalogue.TriggerID) []link, w uint32) {
	p := g.cfg().PromQL()
	bd.ts(spec{
		Title: "Scaling events per hour",
		Desc: "`" + catalogue.RecordScalingEvents + "`: changes of the replica count in the last hour (kube-state-metrics). " +
			"Many events, up and down, is the guide's thrashing (**AutoscalerThrashing**): lengthen the scale-down stabilisation or the cooldown.",
		Unit: "short", Queries: []query{{Expr: g.scopeDeployment(p.Service(catalogue.RecordScalingEvents)), Legend: "events in the last hour"}},
		W: w, H: 6, Decimals: ptr(0.0),
		Links: links(catalogue.TriggerAutoscalerThrashing, catalogue.TriggerAutoscalerNotScalingDown),
	})
}

// scalingPanels show what the scaling records hold besides the events
// (eventsDone when scalingEventsPanel was drawn already): requests per
// replica, cost per request, and cold-start latency when the app exposes it.
func (g *gen) scalingPanels(bd *board, links func(ids ...catalogue.TriggerID) []link, eventsDone bool) {
	cfg := g.cfg()
	p := cfg.PromQL()
	recs := map[string]catalogue.ScalingRecord{}
	for _, r := range catalogue.ScalingRecords(g.bundle) {
		recs[r.Record] = r
	}
	if !eventsDone {
		g.scalingEventsPanel(bd, links, 6)
	}
	if r, ok := recs[cfg.RecordRequestsPerReplica()]; ok {
		bd.ts(spec{
			Title: "Requests per second per replica",
			Desc: "`" + r.Record + "`: " + r.Help + " Compare with the requests-per-pod trigger's threshold: well below it while " +
				"the replicas stay high is **AutoscalerNotScalingDown** territory.",
			Unit: "reqps", Queries: []query{{Expr: g.scopeDeployment(p.Service(r.Record)), Legend: "per replica"}},
			W: 6, H: 6,
			Links: links(catalogue.TriggerRequestRateHigh, catalogue.TriggerAutoscalerNotScalingDown),
		})
	}
	if r, ok := recs[cfg.RecordCostPerRequest()]; ok {
		bd.ts(spec{
			// Per 1,000 requests: a request costs millionths of a dollar,
			// which the currency unit would show as $0.
			Title: "Cost per 1,000 requests",
			Desc:  "`" + r.Record + "` x 1000: " + r.Help,
			Unit:  "currencyUSD", Queries: []query{{Expr: g.scopeDeployment(p.Service(r.Record)) + " * 1000", Legend: "dollars per 1,000 requests"}},
			W: 6, H: 6,
		})
	}
	if r, ok := recs[catalogue.RecordColdStartP95]; ok {
		bd.ts(spec{
			Title: "Cold-start latency p95",
			Desc: "`" + r.Record + "`: " + r.Help + " Against the warm p95 (**LatencyP95High**): the gap is what scaling from " +
				"idle (autoscaling.idle_replicas: 0) costs the first requests.",
			Unit: "s", Queries: []query{{Expr: g.scopeDeployment(p.Service(r.Record)), Legend: "cold start p95"}},
			W: 6, H: 6,
			Links: links(catalogue.TriggerLatencyP95High),
		})
	}
}

// kedaPanel is KEDA's scaler errors and empty responses.
func (g *gen) kedaPanel(bd *board, a catalogue.Autoscaler, links func(ids ...catalogue.TriggerID) []link) {
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
