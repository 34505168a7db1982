package collectors

import (
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
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
	metricsMu sync.RWMutex
	metrics   = map[string]MetricInfo{}
	// described maps each descriptor headroom emits to what it describes,
	// so that a scrape builds metric families without a registry.
	described = map[*prometheus.Desc]*describedDesc{}
)

type describedDesc struct {
	info MetricInfo
	// labelled: the descriptor already carries the target label (a
	// target's own stateful metric); the others get it at gather time.
	labelled bool
	// slots are the variable labels and the target label, sorted by name
	// as the exposition wants them: each says where its value comes from.
	slots []labelSlot
}

// labelSlot is one label of a series: its name, and the index of its value
// among the label values, or targetSlot for the target label.
type labelSlot struct {
	name  string
	value int
}

const targetSlot = -1

func newDescribed(info MetricInfo) *describedDesc {
	slots := []labelSlot{{name: "target", value: targetSlot}}
	for i, l := range info.Labels {
		slots = append(slots, labelSlot{name: l, value: i})
	}
	slices.SortFunc(slots, func(a, b labelSlot) int { return strings.Compare(a.name, b.name) })
	return &describedDesc{info: info, slots: slots}
}

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
	described[d] = newDescribed(info)
	metricsMu.Unlock()
	return d
}

// registerLabelled records the descriptor of a stateful metric built per
// target with its target label already on; Close forgets it again.
func registerLabelled(d *prometheus.Desc, info MetricInfo) {
	metricsMu.Lock()
	defer metricsMu.Unlock()
	described[d] = &describedDesc{info: info, labelled: true}
}

func forget(d *prometheus.Desc) {
	metricsMu.Lock()
	defer metricsMu.Unlock()
	delete(described, d)
}

// describe is on every series' path, from every target's goroutine at
// once: readers share the lock.
func describe(d *prometheus.Desc) *describedDesc {
	metricsMu.RLock()
	defer metricsMu.RUnlock()
	return described[d]
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
