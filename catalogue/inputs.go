package catalogue

import (
	"sort"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// ExternalInput is a series the bundle reads that headroom does not export:
// the API's own metrics, cAdvisor, kube-state-metrics, node_exporter and
// Prometheus itself. Every metric an expression selects is either exported
// by headroom (collectors.Metrics), recorded by the bundle, or listed here.
type ExternalInput struct {
	Name string
	From string
	Why  string
}

// ExternalInputs is the one place where the bundle's non-headroom inputs
// are documented.
var ExternalInputs = []ExternalInput{
	{"up", "Prometheus", "ExporterAbsent: the exporter's own scrape"},
	{"ALERTS", "Prometheus", "hysteresis of scale-down and utilisation scale-up alerts (their own firing series)"},
	{"http_requests_total", "the API (api.requests_metric)", "request rate, per-instance rate and error ratio; errors by api.error_matcher"},
	{"http_request_duration_seconds_bucket", "the API (api.duration_histogram)", "p95 latency"},
	{"amas_agent_requests_total", "AMAS (api.requests_metric)", "request rate per pod and error ratio"},
	{"amas_agent_duration_seconds_bucket", "AMAS (api.duration_histogram)", "p95 agent duration"},
	{"amas_queue_depth_current", "AMAS (api.queue_depth_metric)", "agent queue depth"},
	{"process_cpu_seconds_total", "the API's client library (resources.source process)", "CPU utilisation over resources.cpu_cores"},
	{"process_resident_memory_bytes", "the API's client library (resources.source process)", "memory utilisation over resources.memory_bytes"},
	{"container_cpu_usage_seconds_total", "cAdvisor (resources.source cadvisor)", "CPU utilisation"},
	{"container_memory_working_set_bytes", "cAdvisor (resources.source cadvisor)", "memory utilisation"},
	{"container_network_receive_bytes_total", "cAdvisor (resources.source cadvisor)", "network utilisation"},
	{"container_network_transmit_bytes_total", "cAdvisor (resources.source cadvisor)", "network utilisation"},
	{"kube_pod_container_resource_limits", "kube-state-metrics (resources.source cadvisor)", "the CPU and memory limits utilisation is measured against"},
	{"kube_horizontalpodautoscaler_spec_max_replicas", "kube-state-metrics (autoscaling)", "ScaleOutExceedsDBConnections, AutoscalerMaxedOut: the HPA's current max replicas (the configured max_replicas when absent)"},
	{"kube_horizontalpodautoscaler_status_current_replicas", "kube-state-metrics (autoscaling)", "the autoscaler alerts and the overview's DB connection headroom: the HPA's current replicas (the API instances seen, else min_replicas, when absent)"},
	{"kube_horizontalpodautoscaler_spec_min_replicas", "kube-state-metrics (autoscaling)", "AutoscalerNotScalingDown: the HPA's min replicas (the configured min_replicas when absent)"},
	{"kube_horizontalpodautoscaler_status_desired_replicas", "kube-state-metrics (autoscaling)", "the overview's autoscaler panel: desired replicas, clamped to max (why AutoscalerMaxedOut reads KEDA's values instead)"},
	{"keda_scaler_metrics_value", "KEDA v2.21 operator (autoscaling.autoscaler keda)", "AutoscalerMaxedOut, AutoscalerNotScalingDown: the replicas each Prometheus scaler asks for; KEDAScalerInputStale"},
	{"keda_scaler_active", "KEDA v2.21 operator (autoscaling.autoscaler keda)", "AutoscalerNotActive: KEDA reports the ScaledObject's scalers"},
	{"keda_scaler_detail_errors_total", "KEDA v2.21 operator (autoscaling.autoscaler keda)", "KEDAScalerErrors (keda_scaler_errors_total before v2.21)"},
	{"keda_scaler_empty_upstream_responses_total", "KEDA v2.21 operator (autoscaling.autoscaler keda)", "KEDAScalerEmptyResponses"},
	{"keda_scaled_object_paused", "KEDA v2.21 operator (autoscaling.autoscaler keda)", "AutoscalerNotActive: the ScaledObject paused"},
	{"node_cpu_seconds_total", "node_exporter (resources.source node)", "CPU utilisation (1 - idle)"},
	{"node_memory_MemAvailable_bytes", "node_exporter (resources.source node)", "memory utilisation"},
	{"node_memory_MemTotal_bytes", "node_exporter (resources.source node)", "memory utilisation"},
	{"node_network_receive_bytes_total", "node_exporter (resources.source node)", "network utilisation"},
	{"node_network_transmit_bytes_total", "node_exporter (resources.source node)", "network utilisation"},
}

// Inputs returns the external inputs a config may read: the documented
// list, plus the API metric names the config sets if they are not in it.
func Inputs(cfg *Config) []ExternalInput {
	out := append([]ExternalInput{}, ExternalInputs...)
	have := map[string]bool{}
	for _, e := range out {
		have[e.Name] = true
	}
	for _, e := range []ExternalInput{
		{cfg.API.RequestsMetric, "the API (api.requests_metric)", "request rate and error ratio"},
		{cfg.API.DurationHistogram + "_bucket", "the API (api.duration_histogram)", "p95 latency"},
		{cfg.API.QueueDepthMetric, "the API (api.queue_depth_metric)", "queue depth"},
		{cfg.Autoscaling.ColdStartMetric + "_bucket", "the API (autoscaling.cold_start_metric)", "cold-start latency p95"},
	} {
		if e.Name != "" && e.Name != "_bucket" && !have[e.Name] {
			out = append(out, e)
			have[e.Name] = true
		}
	}
	return out
}

// SelectedMetrics returns the metric names an expression selects.
func SelectedMetrics(expr string) ([]string, error) {
	e, err := ParseExpr(expr)
	if err != nil {
		return nil, err
	}
	var names []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			if name := selectorName(vs); name != "" && !contains(names, name) {
				names = append(names, name)
			}
		}
		return nil
	})
	sort.Strings(names)
	return names, nil
}

// selectorName is the metric a selector reads, by name or by an equality
// matcher on __name__; empty when it matches on neither.
func selectorName(vs *parser.VectorSelector) string {
	if vs.Name != "" {
		return vs.Name
	}
	name := ""
	for _, m := range vs.LabelMatchers {
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
			name = m.Value
		}
	}
	return name
}

// walkInputs calls visit for every selector an expression reads that no
// rule of the bundle records: recorded series are followed down to their
// inputs (records maps a record to every expression recorded under its
// name), each record once.
func walkInputs(expr string, records map[string][]string, visit func(name string, vs *parser.VectorSelector)) error {
	return NewInputWalk(records).walk(expr, visit)
}

// InputWalk follows recorded series down to their inputs, each record once
// over every expression it walks: the rules of one scoped alert all read
// its scope record, which is as long as its scopes, and following it once
// for each of them would grow with the square of the scopes.
type InputWalk struct {
	records  map[string][]string
	followed map[string]bool
}

func NewInputWalk(records map[string][]string) *InputWalk {
	return &InputWalk{records: records, followed: map[string]bool{}}
}

// walk calls visit for every selector expr reads that no rule records,
// and for none of the inputs of the records an earlier walk followed.
func (w *InputWalk) walk(expr string, visit func(name string, vs *parser.VectorSelector)) error {
	e, err := ParseExpr(expr)
	if err != nil {
		return err
	}
	var next []string
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := selectorName(vs)
		if defs, recorded := w.records[name]; recorded {
			if !w.followed[name] {
				w.followed[name] = true
				next = append(next, defs...)
			}
			return nil
		}
		visit(name, vs)
		return nil
	})
	for _, d := range next {
		if err := w.walk(d, visit); err != nil {
			return err
		}
	}
	return nil
}

// UsedExternals lists the non-headroom, non-recorded metrics the bundle reads.
func (b *Bundle) UsedExternals() []string {
	cfg := b.Config
	recorded := map[string]bool{}
	var exprs []string
	for _, s := range b.Signals {
		if s.Record != "" {
			recorded[s.Record] = true
			exprs = append(exprs, s.Expr)
		}
	}
	cat := b.Triggers
	for _, r := range ScopeRecords(cfg, cat) {
		recorded[r.Record] = true
	}
	for _, t := range cat {
		exprs = append(exprs, t.Expr)
	}
	for _, r := range ScalingRecords(b) {
		recorded[r.Record] = true
		exprs = append(exprs, r.Expr)
	}
	var out []string
	for _, e := range exprs {
		names, err := SelectedMetrics(e)
		if err != nil {
			continue
		}
		for _, n := range names {
			if !recorded[n] && !strings.HasPrefix(n, "headroom_") && !contains(out, n) {
				out = append(out, n)
			}
		}
	}
	sort.Strings(out)
	return out
}

// RawInputs returns the metrics an expression reads that no rule of the
// bundle records: recorded series are followed down to their inputs
// (records maps a record to every expression recorded under its name), and
// ALERTS, the rule manager's own series, is left out.
func RawInputs(expr string, records map[string][]string) ([]string, error) {
	return RawInputsOf(NewInputWalk(records), expr)
}

// RawInputsOf is RawInputs through a walk that may have followed some
// records already; their inputs are left out.
func RawInputsOf(w *InputWalk, expr string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	err := w.walk(expr, func(name string, _ *parser.VectorSelector) {
		if name != "" && name != "ALERTS" && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

// BucketInput is a histogram bucket an expression reads by its le label.
// Whether a histogram has that bucket is up to its client's configuration:
// the series can be scraped, le="+Inf" and all, without it.
type BucketInput struct {
	Metric string
	LE     *labels.Matcher
}

func (b BucketInput) String() string { return b.Metric + "{" + b.LE.String() + "}" }

// RawBuckets returns the buckets an expression reads (through recording
// rules, as RawInputs) by an le matcher other than le="+Inf", which every
// histogram has.
func RawBuckets(expr string, records map[string][]string) ([]BucketInput, error) {
	return BucketsOf(NewInputWalk(records), expr)
}

// BucketsOf is rawBuckets through a walk that may have followed some
// records already; their buckets are left out.
func BucketsOf(w *InputWalk, expr string) ([]BucketInput, error) {
	var out []BucketInput
	seen := map[string]bool{}
	err := w.walk(expr, func(name string, vs *parser.VectorSelector) {
		if !strings.HasSuffix(name, "_bucket") {
			return
		}
		for _, m := range vs.LabelMatchers {
			if m.Name != "le" || (m.Type == labels.MatchEqual && m.Value == "+Inf") {
				continue
			}
			b := BucketInput{Metric: name, LE: m}
			if !seen[b.String()] {
				seen[b.String()] = true
				out = append(out, b)
			}
		}
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out, nil
}
