package exposition

import (
	"fmt"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Type is a family's metric type, declared with its descriptor.
type Type int

// The types headroom exports.
const (
	Gauge Type = iota
	Counter
	Histogram
)

// String is the type as the text format's TYPE line spells it.
func (t Type) String() string {
	switch t {
	case Counter:
		return "counter"
	case Histogram:
		return "histogram"
	}
	return "gauge"
}

func (t Type) dto() dto.MetricType {
	switch t {
	case Counter:
		return dto.MetricType_COUNTER
	case Histogram:
		return dto.MetricType_HISTOGRAM
	}
	return dto.MetricType_GAUGE
}

// TargetLabel is the label every series of a source carries, its value
// the source's name.
const TargetLabel = "target"

// Desc describes one metric family: everything the encoder needs to write
// its series without looking anything up, and a prometheus.Desc for the
// registries that tests and linters put samples through.
type Desc struct {
	name, help string
	typ        Type
	labels     []string
	prom       *prometheus.Desc
	// slots are the variable labels and the target label, sorted by name
	// as the exposition wants them: each says where its value comes from.
	slots []labelSlot
	// err is what is wrong with the descriptor (a bad name, a label
	// twice): its samples carry it to the gatherer, which drops them.
	err error
}

// labelSlot is one label of a series: its name, and the index of its value
// among the label values, or targetSlot for the target label.
type labelSlot struct {
	name  string
	value int
}

const targetSlot = -1

// NewDesc describes a family of the declared type with these variable
// labels (the target label comes on top of them). Descriptors are built
// once, when their package is initialised, and shared by every scrape.
func NewDesc(name, help string, typ Type, labels ...string) *Desc {
	slots := []labelSlot{{name: TargetLabel, value: targetSlot}}
	for i, l := range labels {
		slots = append(slots, labelSlot{name: l, value: i})
	}
	slices.SortFunc(slots, func(a, b labelSlot) int { return strings.Compare(a.name, b.name) })
	d := &Desc{
		name: name, help: help, typ: typ, labels: slices.Clip(labels),
		prom:  prometheus.NewDesc(name, help, labels, nil),
		slots: slots,
	}
	switch {
	case d.prom.Err() != nil:
		d.err = fmt.Errorf("metric %s: %w", name, d.prom.Err())
	case slices.Contains(labels, TargetLabel):
		d.err = fmt.Errorf("metric %s: label %q is the gatherer's to add", name, TargetLabel)
	}
	return d
}

// Type is the family's declared type.
func (d *Desc) Type() Type { return d.typ }

// Labels are the family's variable labels, in the order samples give
// their values (the target label is not among them).
func (d *Desc) Labels() []string { return slices.Clone(d.labels) }

// String names the family, for errors.
func (d *Desc) String() string { return d.name }
