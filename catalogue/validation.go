package catalogue

import (
	"strings"
	"time"

	"github.com/headroom-dev/headroom/internal/kind"
)

// validation defines the post-scaling validation targets: info alerts for
// capacity review.
func (d *defs) validation() {
	sig, add := d.sig, d.add
	min := time.Minute
	// Post-scaling validation targets: info alerts for capacity review.
	type check struct {
		id     TriggerID
		signal SignalID
		cmp    Comparison
		thr    float64
	}
	for _, c := range []check{
		{TriggerCapacityTargetMissedLatency, SignalAPILatencyP95, Above, 3},
		{TriggerCapacityTargetMissedErrors, SignalAPIErrorRatio, Above, 0.01},
		{TriggerCapacityTargetMissedDBPool, SignalDBPool, Above, 0.8},
		{TriggerCapacityTargetMissedCacheHit, SignalRedisHitRatio, Below, 0.6},
		{TriggerCapacityTargetMissedCPU, SignalAPICPU, Above, 0.7},
		{TriggerCapacityTargetMissedMemory, SignalAPIMemory, Above, 0.8},
	} {
		s := sig(c.signal)
		var k kind.Kind
		switch s.Group {
		case GroupDBPool:
			k = kind.Postgres
		case GroupRedis:
			k = kind.Redis
		}
		add(Trigger{ID: c.id, Alert: AlertCapacityTargetMissed, Set: SetValidation, Source: "HA", Direction: None, Signal: s, Comparison: c.cmp,
			Threshold: c.thr, For: 60 * min, Action: "review_capacity", Urgency: UrgencyLow, Severity: SeverityInfo, Kind: k,
			Labels: map[string]string{"check": strings.TrimPrefix(string(c.id), "CapacityTargetMissed")},
			Runbook: Runbook{Meaning: "The service has been outside one of its post-scaling validation targets for an hour (label check says which). These are the targets a scaling step must reach; missing one for long is a capacity-review item, not a page.",
				Steps: []string{"Review at the next capacity review: the last scaling step did not reach its target, or load has grown since.",
					"Find the bottleneck (CPU, memory, DB, cache) before adding capacity; utilisation should be above 70% before scaling."}}})
	}
}
