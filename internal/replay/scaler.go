package replay

import (
	"fmt"
	"time"

	"github.com/headroom-dev/headroom/alerts/autoscale"
	"github.com/headroom-dev/headroom/catalogue"
)

// Scaler is the autoscaler a config deploys, with the PromQL that gives
// each trigger's value as the autoscaler would read it.
type Scaler struct {
	// Kind and Name of the manifest replayed.
	Kind, Name string
	Spec       Spec
	// Queries[i] is Spec.Triggers[i]'s value.
	Queries []string
	// Notes say how triggers without a query of their own were read.
	Notes []string
}

// ScalerOf is the autoscaler of a config: the KEDA ScaledObject for
// autoscaler keda, the HPA for hpa. CPU and memory resource metrics have no
// PromQL in the manifest (the metrics server reads them), so they are
// mapped onto the catalogue's per-instance CPU and memory utilisation
// signals, averaged over the instances as the HPA averages over pods.
func ScalerOf(bundle *catalogue.Bundle) (Scaler, error) {
	cfg := bundle.Config
	var sc Scaler
	var err error
	switch cfg.Autoscaling.Autoscaler {
	case catalogue.AutoscalerKEDA:
		so, err2 := autoscale.ScaledObject(bundle)
		if err2 != nil {
			return Scaler{}, err2
		}
		sc.Kind, sc.Name = "KEDA ScaledObject", so.Name
		if sc.Spec, err = FromScaledObject(so); err != nil {
			return Scaler{}, fmt.Errorf("ScaledObject %s: %w", so.Name, err)
		}
		byName := map[string]string{}
		for _, t := range so.Spec.Triggers {
			byName[t.Name] = t.Metadata["query"]
		}
		for _, t := range sc.Spec.Triggers {
			sc.Queries = append(sc.Queries, byName[t.Name])
		}
	case catalogue.AutoscalerHPA:
		h := autoscale.HPA(bundle)
		sc.Kind, sc.Name = "HorizontalPodAutoscaler", h.Name
		if sc.Spec, err = FromHPA(h); err != nil {
			return Scaler{}, fmt.Errorf("HPA %s: %w", h.Name, err)
		}
		sc.Queries = make([]string, len(sc.Spec.Triggers))
	default:
		return Scaler{}, fmt.Errorf("autoscaling.autoscaler is %q: there is no autoscaler to replay (want keda or hpa)", cfg.Autoscaling.Autoscaler)
	}
	for i, t := range sc.Spec.Triggers {
		if sc.Queries[i] != "" {
			continue
		}
		id, ok := map[string]catalogue.SignalID{"cpu": catalogue.SignalAPICPUInstance, "memory": catalogue.SignalAPIMemoryInstance}[t.Name]
		var s catalogue.Signal
		if ok {
			s, ok = bundle.Signal(id)
		}
		if t.Type != Utilization || !ok {
			return Scaler{}, fmt.Errorf("trigger %s: no catalogue signal to read it from", t.Name)
		}
		// The same cluster as the KEDA triggers: the HPA reads its own pods only.
		sc.Queries[i] = fmt.Sprintf("100 * avg(%s)", catalogue.InCluster(cfg, s.Query))
		sc.Notes = append(sc.Notes, fmt.Sprintf("resource metric %s (target %g %%) is read from the catalogue signal %s (%s), averaged over "+
			"instances, in percent; headroom measures against the %s source's capacity, the HPA against the pods' requests",
			t.Name, t.Target, s.ID, s.Record, cfg.Resources.Source))
	}
	return sc, nil
}

// withSync is the spec evaluated every step.
func (sc Scaler) withSync(step time.Duration) Spec {
	s := sc.Spec
	s.SyncPeriod = step
	return s
}
