package alerts

import (
	"fmt"
	"slices"
	"strings"

	"github.com/headroom-dev/headroom/catalogue"
)

// scalingRunbook is the runbook's section on the autoscaler: the AMAS
// guide's troubleshooting cases (not scaling up, thrashing, not scaling
// down, high latency despite scaling), each with the overview panel and the
// query to look at and the alerts on the autoscaler that cover it, then
// the guide's advice on the PodDisruptionBudget, the VPA and cold starts,
// and the network policy headroom does not write. Empty without an
// autoscaler.
func scalingRunbook(bundle *catalogue.Bundle) string {
	cfg := bundle.Config
	a, ok := catalogue.AutoscalerOf(cfg)
	if !ok {
		return ""
	}
	p := cfg.PromQL()
	alertLinks := func(ids ...catalogue.TriggerID) string {
		var out []string
		for _, id := range ids {
			if t, ok := bundle.Trigger(id); ok && !slices.Contains(out, "["+t.Alert+"](#"+strings.ToLower(t.Alert)+")") {
				out = append(out, "["+t.Alert+"](#"+strings.ToLower(t.Alert)+")")
			}
		}
		if len(out) == 0 {
			return "none in this bundle"
		}
		return strings.Join(out, ", ")
	}
	latency := "the API's p95 latency panel"
	latencyAlert := "none in this bundle"
	for _, t := range bundle.Triggers {
		if t.Signal.ID == catalogue.SignalAPILatencyP95 && t.Direction == catalogue.Up {
			latency = fmt.Sprintf("**%s** (API row)", t.ID)
			latencyAlert = fmt.Sprintf("[%s](#%s)", t.Alert, strings.ToLower(t.Alert))
			break
		}
	}
	perReplica := "`" + p.Service(cfg.RecordRequestsPerReplica()) + "`"
	if _, ok := bundle.Signal(catalogue.SignalAPIRequests); !ok {
		perReplica = "`" + a.Current() + "`"
	}
	upQuery := "`" + a.Current() + "`"
	if e := a.AskedFor(bundle.Triggers); e != "" {
		upQuery = "`keda_scaler_metrics_value` over each trigger's threshold (the panel's asked-for line)"
	}
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("\n## Autoscaling troubleshooting\n\n")
	w("The AMAS guide's cases, each with the overview's autoscaler row panel and the query to read, and the alerts on the\n")
	w("autoscaler that fire for it. `kubectl describe scaledobject` / `kubectl describe hpa` show the conditions behind each.\n\n")
	w("| case | panel | query | alerts |\n|---|---|---|---|\n")
	w("| not scaling up | **Autoscaler replicas: current, desired, max, asked for** | %s against max | %s |\n", mdEscape(upQuery),
		alertLinks(catalogue.TriggerAutoscalerMaxedOut, catalogue.TriggerKEDAScalerErrors, catalogue.TriggerKEDAScalerEmptyResponses,
			catalogue.TriggerAutoscalerNotActive, catalogue.TriggerAutoscalerAbsent))
	w("| thrashing (scaling up and down rapidly) | **Scaling events per hour**, **Autoscaler thrashing** | `%s` | %s |\n",
		p.Service(catalogue.RecordScalingEvents), alertLinks(catalogue.TriggerAutoscalerThrashing))
	w("| not scaling down | **Requests per second per replica** | %s | %s |\n", mdEscape(perReplica),
		alertLinks(catalogue.TriggerAutoscalerNotScalingDown, catalogue.TriggerKEDAScalerInputStale))
	latencyQuery := "the API's p95 latency"
	if s, ok := bundle.Signal(catalogue.SignalAPILatencyP95); ok && s.Record != "" {
		latencyQuery = "`" + p.Service(s.Record) + "`"
	}
	w("| high latency despite scaling | %s, **Requests per second per replica** | %s beside %s | %s, %s |\n", latency,
		latencyQuery, mdEscape(perReplica), latencyAlert, alertLinks(catalogue.TriggerAutoscalerMaxedOut))
	w("\nNot scaling up: check that KEDA reaches Prometheus (the TriggerAuthentication and its Secret, the operator's log)\n")
	w("and that each trigger's query returns data. Thrashing: lengthen `autoscaling.scale_down.stabilization_window` and the\n")
	w("cooldown, or make the thresholds less sensitive. Not scaling down: look for stuck or stale metrics and the scale-down\n")
	w("policies. High latency while the replicas rise: the pods are too small or a dependency is the bottleneck; read the\n")
	if cfg.Autoscaling.VPA.Enabled {
		w("VPA's recommendations (`kubectl describe vpa %s`) before raising requests.\n\n", cfg.VPAName())
	} else {
		w("recommendations of a VPA in Off mode (`autoscaling.vpa: {enabled: true}`) before raising requests.\n\n")
	}
	if cfg.Autoscaling.PDB.Enabled {
		w("**PodDisruptionBudget** (`pdb.yaml`): maxUnavailable 1 by default. The guide's `minAvailable` equal to the min replicas\n")
		w("would block every node drain while the workload sits at its minimum; use a count below it or a percentage\n")
		w("(`autoscaling.pdb`), a percentage for stateless services as the guide advises.\n\n")
	}
	if cfg.Autoscaling.VPA.Enabled {
		w("**VPA** (`vpa/vpa.yaml`): Off mode only, recommendations; never Auto beside KEDA or an HPA on the same pods.\n\n")
	}
	if cfg.ScalesToIdle() {
		w("**Cold start**: `idle_replicas: 0` lets KEDA scale to zero; the first requests after an idle spell wait for a pod.\n")
		w("Warm dependencies in the start-up path (connection pools, caches) and track cold-start latency apart from warm.\n\n")
	}
	if a.KEDA {
		w("**Network policy**: headroom writes none, because it does not know the Prometheus namespace and labels, and a\n")
		w("policy that selects Prometheus cuts off every client it does not list. If the cluster denies by default, allow\n")
		w("ingress to Prometheus's pods on its port (9090) from the `keda` namespace's operator pods\n")
		w("(`app.kubernetes.io/name: keda-operator`), beside the rules its other clients (Grafana, rulers) already need.\n")
	}
	return b.String()
}
