package collectors

import (
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// MetricInfo describes one metric family headroom can export, so that
// rules, dashboards and the README can be checked against what really
// exists rather than against memory.
type MetricInfo struct {
	Name   string
	Help   string
	Type   string // gauge, counter or histogram
	Labels []string
}

var (
	metricsMu sync.Mutex
	metrics   = map[string]MetricInfo{}
	// templates maps each descriptor newDesc made to what it describes, so
	// that a runner can make the same descriptor with its target label.
	templates = map[*prometheus.Desc]MetricInfo{}
)

// newDesc builds a descriptor and records it in the list Metrics returns.
// Every collector's descriptors are made through it.
func newDesc(subsystem, name, help string, labels ...string) *prometheus.Desc {
	fq := prometheus.BuildFQName(namespace, subsystem, name)
	typ := "gauge"
	if strings.HasSuffix(fq, "_total") {
		typ = "counter"
	}
	info := MetricInfo{Name: fq, Help: help, Type: typ, Labels: labels}
	register(info)
	d := prometheus.NewDesc(fq, help, labels, nil)
	metricsMu.Lock()
	templates[d] = info
	metricsMu.Unlock()
	return d
}

// targetDescs makes, once per target and template, the descriptor with the
// target label: the registry then checks and encodes metrics without
// rebuilding a descriptor for every series of every scrape.
type targetDescs struct {
	label *dto.LabelPair
	mu    sync.Mutex
	descs map[*prometheus.Desc]*prometheus.Desc
}

func newTargetDescs(target string) *targetDescs {
	return &targetDescs{
		label: &dto.LabelPair{Name: proto.String("target"), Value: proto.String(target)},
		descs: map[*prometheus.Desc]*prometheus.Desc{},
	}
}

// wrap labels one metric with the target. Metrics whose descriptor is not a
// template (a target's own histogram) already carry the label.
func (t *targetDescs) wrap(m prometheus.Metric) prometheus.Metric {
	template := m.Desc()
	t.mu.Lock()
	d, ok := t.descs[template]
	if !ok {
		metricsMu.Lock()
		info, known := templates[template]
		metricsMu.Unlock()
		if known {
			d = prometheus.NewDesc(info.Name, info.Help, info.Labels, prometheus.Labels{"target": t.label.GetValue()})
		}
		t.descs[template] = d
	}
	t.mu.Unlock()
	if d == nil {
		return m
	}
	return targetMetric{Metric: m, desc: d, label: t.label}
}

type targetMetric struct {
	prometheus.Metric
	desc  *prometheus.Desc
	label *dto.LabelPair
}

func (m targetMetric) Desc() *prometheus.Desc { return m.desc }

func (m targetMetric) Write(out *dto.Metric) error {
	if err := m.Metric.Write(out); err != nil {
		return err
	}
	out.Label = append(out.Label, m.label)
	sort.Slice(out.Label, func(i, j int) bool { return out.Label[i].GetName() < out.Label[j].GetName() })
	return nil
}

func register(m MetricInfo) {
	metricsMu.Lock()
	defer metricsMu.Unlock()
	metrics[m.Name] = m
}

// Metrics lists every metric family the exporter can export (besides the
// target label, which every series carries), sorted by name.
func Metrics() []MetricInfo {
	metricsMu.Lock()
	defer metricsMu.Unlock()
	out := make([]MetricInfo, 0, len(metrics))
	for _, m := range metrics {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func init() {
	// Histograms are stateful and built per target; list them here.
	register(MetricInfo{Name: namespace + "_api_probe_duration_seconds", Help: apiProbeDurationHelp, Type: "histogram"})
}
