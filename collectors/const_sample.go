package collectors

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// constSample is what gauge and counter emit: a const metric, as
// prometheus.NewConstMetric would make it, that writes its series with the
// target label in a few allocations instead of a dozen. Half of what a
// scrape allocated went to the label pairs of const metrics and to the copy
// that inserted the target label, and at headroom's small heap that made a
// garbage collection every scrape or two.
type constSample struct {
	desc   *prometheus.Desc
	meta   *describedDesc
	typ    prometheus.ValueType
	value  float64
	labels []string
}

// newConstSample checks what prometheus.NewConstMetric checks. It never fails on
// what a server returns: a database name in a SQL_ASCII cluster may not be
// UTF-8, which client_golang refuses (and MustNewConstMetric panics on); the
// series keeps its place with the bad bytes replaced. Anything else wrong
// (a descriptor not made by newDesc, a wrong number of labels) is a bug,
// left for the gatherer to report as an invalid metric.
func newConstSample(d *prometheus.Desc, typ prometheus.ValueType, v float64, labels []string) prometheus.Metric {
	meta := describe(d)
	if meta == nil || meta.labelled {
		return prometheus.NewInvalidMetric(d, fmt.Errorf("metric %s was not made by newDesc", d))
	}
	if len(labels) != len(meta.info.Labels) {
		return prometheus.NewInvalidMetric(d, fmt.Errorf("metric %s: %d label values for %d labels %v",
			meta.info.Name, len(labels), len(meta.info.Labels), meta.info.Labels))
	}
	for i, l := range labels {
		if !utf8.ValidString(l) {
			labels = validUTF8(labels, i)
			break
		}
	}
	return &constSample{desc: d, meta: meta, typ: typ, value: v, labels: labels}
}

// validUTF8 returns a copy of labels with the bytes that are not UTF-8
// replaced, from index i on: the caller's slice is left as it was.
func validUTF8(labels []string, i int) []string {
	valid := append([]string(nil), labels...)
	for ; i < len(valid); i++ {
		valid[i] = strings.ToValidUTF8(valid[i], "\uFFFD")
	}
	return valid
}

func (s *constSample) Desc() *prometheus.Desc { return s.desc }

// Write writes the series without the target label, as a const metric
// would (tests and registries see it through this).
func (s *constSample) Write(out *dto.Metric) error {
	s.write(out, nil)
	return nil
}

// write fills out with the series' labels, sorted by name, and with target
// when it is given.
func (s *constSample) write(out *dto.Metric, target *dto.LabelPair) {
	n := len(s.labels)
	if target != nil {
		n++
	}
	pairs := make([]dto.LabelPair, len(s.labels))
	out.Label = make([]*dto.LabelPair, 0, n)
	next := 0
	slots := s.meta.slots
	for i := range slots {
		if slots[i].value == targetSlot {
			if target != nil {
				out.Label = append(out.Label, target)
			}
			continue
		}
		p := &pairs[next]
		next++
		p.Name, p.Value = &slots[i].name, &s.labels[slots[i].value]
		out.Label = append(out.Label, p)
	}
	switch s.typ {
	case prometheus.CounterValue:
		out.Counter = &dto.Counter{Value: &s.value}
	default:
		out.Gauge = &dto.Gauge{Value: &s.value}
	}
}
