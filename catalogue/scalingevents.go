package catalogue

import (
	"fmt"
	"strings"
	"time"
)

// What the autoscaler does, recorded (the AMAS guide's "monitor scaling
// effectiveness"): scaling events per hour, requests per replica, cost per
// request, and the app's cold-start latency when it exposes one. They exist
// only with an autoscaler, like the alerts on it (autoscaler.go), and end
// the signals' recording group, after the signals they read (pint's
// rule/dependency: a rule reading another group's series sees it one
// evaluation late).

// ScalingRecord is one recording rule of the scaling group.
type ScalingRecord struct {
	Record, Expr string
	// Unit is how the runbook and the panels read it: count, per_second,
	// dollars, seconds.
	Unit, Title, Help string
}

// The scaling records' names; the requests-per-replica and cost records
// end in the API's rate window (rate2m).
const (
	RecordScalingEvents      = "workload:autoscaler_scaling_events:changes1h"
	recordRequestsPerReplica = "workload:api_requests_per_replica:rate"
	recordCostPerRequest     = "workload:api_cost_per_request_dollars:rate"
	RecordColdStartP95       = "workload:api_cold_start_seconds:p95_rate5m"
)

// RecordRequestsPerReplica is the requests-per-replica record of a config.
func (c *Config) RecordRequestsPerReplica() string {
	return recordRequestsPerReplica + Dur(time.Duration(c.API.RateWindow))
}

// RecordCostPerRequest is the cost-per-request record of a config.
func (c *Config) RecordCostPerRequest() string {
	return recordCostPerRequest + Dur(time.Duration(c.API.RateWindow))
}

// secondsPerMonth is the report's month (docs/report.md: the mean request
// rate x 30 days), so that the two cost per request agree.
const secondsPerMonth = 30 * 24 * 3600

// ReplicaMonthlyPrice is what one replica of the scaled workload costs a
// month, from the report's price table (report.prices): the "API Server"
// line's monthly price over its count, of the largest tier that has one
// (the guide's t3.medium, $30, in every tier). from says which line; ok is
// false when no tier prices an API server.
func (c *Config) ReplicaMonthlyPrice() (price float64, from string, ok bool) {
	for i := len(c.Report.Prices) - 1; i >= 0; i-- {
		t := c.Report.Prices[i]
		for _, it := range t.Items {
			if it.Service == apiServerService && it.Count > 0 {
				return it.Monthly / float64(it.Count), fmt.Sprintf("report.prices tier of %d users: %s %s, $%s for %d",
					t.Users, it.Service, it.Size, Num(it.Monthly), it.Count), true
			}
		}
	}
	return 0, "", false
}

// apiServerService is the price table's line for the API's instances.
const apiServerService = "API Server"

// ScalingRecords are the scaling group's records of a bundle; none without
// an autoscaler.
func ScalingRecords(b *Bundle) []ScalingRecord {
	cfg := b.Config
	a, ok := AutoscalerOf(cfg)
	if !ok {
		return nil
	}
	p := cfg.PromQL()
	out := []ScalingRecord{{
		Record: RecordScalingEvents,
		// changes() of the current replicas: a step of 2 -> 7 is one event,
		// as `kubectl describe hpa` lists one SuccessfulRescale.
		Expr:  p.Agg("max", fmt.Sprintf("changes(%s[1h])", a.hpa(metricHPACurrentReplicas))),
		Unit:  "count",
		Title: "Scaling events per hour",
		Help: fmt.Sprintf("Changes of the replica count of %s (kube-state-metrics) in the last hour; the guide's "+
			"thrashing shows as many events (AutoscalerThrashing).", strings.Join(cfg.HPANames(), " or ")),
	}}
	if req, ok := b.Signal(SignalAPIRequests); ok && req.Record != "" {
		perReplica := fmt.Sprintf("%s\n/ %s\n(%s > 0)", p.Service(req.Record), p.On(), a.Current())
		out = append(out, ScalingRecord{
			Record: cfg.RecordRequestsPerReplica(), Expr: perReplica, Unit: "per_second",
			Title: "Requests per second per replica",
			Help:  "The API's requests per second over the autoscaler's current replicas: falling while the replicas rise is capacity that does not serve load.",
		})
		if price, from, ok := cfg.ReplicaMonthlyPrice(); ok {
			out = append(out, ScalingRecord{
				Record: cfg.RecordCostPerRequest(),
				Expr:   fmt.Sprintf("%s * %s / %d\n/ %s\n(%s > 0)", a.Current(), Num(price), secondsPerMonth, p.On(), p.Service(req.Record)),
				Unit:   "dollars",
				Title:  "Cost per request",
				Help: fmt.Sprintf("Dollars per request: the current replicas x $%s a replica a month (%s) over the requests of a 30-day month; "+
					"absent while there are no requests.", Num(price), from),
			})
		}
	}
	if m := cfg.Autoscaling.ColdStartMetric; m != "" {
		sel := Sel(m+"_bucket", cfg.Selectors.API)
		out = append(out, ScalingRecord{
			Record: RecordColdStartP95,
			// ">= 0" drops the NaN of a window without a cold start, as the
			// latency signal does: cold starts are rare.
			Expr: fmt.Sprintf("histogram_quantile(0.95, %s) >= 0", p.Agg("sum", "rate("+sel+"[5m])", "le")),
			Unit: "seconds", Title: "Cold-start latency p95",
			Help: fmt.Sprintf("95th percentile of the app's cold-start latency (%s, autoscaling.cold_start_metric) over 5m: "+
				"what the first requests after an idle spell wait, apart from warm latency; absent in a 5m without a cold start.", m),
		})
	}
	return out
}
