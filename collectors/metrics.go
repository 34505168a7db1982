package collectors

import (
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom-dev/headroom/internal/exposition"
)

// MetricInfo describes one metric family headroom can export, so that
// rules, dashboards and docs/metrics.md can be checked against what really
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
)

// newDesc builds a descriptor of the declared type and records it in the
// list Metrics returns. Every collector's descriptors are made through it.
func newDesc(subsystem, name string, typ exposition.Type, help string, labels ...string) *exposition.Desc {
	fq := prometheus.BuildFQName(namespace, subsystem, name)
	metricsMu.Lock()
	defer metricsMu.Unlock()
	metrics[fq] = MetricInfo{Name: fq, Help: help, Type: typ.String(), Labels: labels}
	return exposition.NewDesc(fq, help, typ, labels...)
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
