package collectors

import (
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom-dev/headroom/internal/exposition"
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
)

// newDesc builds a descriptor and records it in the list Metrics returns.
// Every collector's descriptors are made through it.
func newDesc(subsystem, name, help string, labels ...string) *exposition.Desc {
	fq := prometheus.BuildFQName(namespace, subsystem, name)
	typ := exposition.Gauge
	if strings.HasSuffix(fq, "_total") {
		typ = exposition.Counter
	}
	return listed(exposition.NewDesc(fq, help, typ, labels...))
}

// listed records d in the list Metrics returns.
func listed(d *exposition.Desc) *exposition.Desc {
	metricsMu.Lock()
	defer metricsMu.Unlock()
	metrics[d.Name()] = MetricInfo{Name: d.Name(), Help: d.Help(), Type: d.Type().String(), Labels: d.Labels()}
	return d
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
