package exposition

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// metric is what the gatherer encodes: a sample or a histogram, each
// knowing its descriptor, so that no series is looked up in a table on
// the scrape's path.
type metric interface {
	prometheus.Metric
	described() *Desc
}

// sample is a gauge or counter value: a const metric, as
// prometheus.NewConstMetric would make it, that the encoder writes as text
// directly and that writes its series with the target label in a few
// allocations instead of a dozen. Half of what a scrape allocated went to
// the label pairs of const metrics and to the copy that inserted the
// target label, and at headroom's small heap that made a garbage
// collection every scrape or two.
type sample struct {
	desc   *Desc
	value  float64
	labels []string
	// err is why the sample could not be made; the gatherer reports it
	// and drops the series, as a registry drops an invalid metric.
	err error
}

// NewSample is a value of d, a gauge or a counter as d declares, with
// one value per label of d, in d's order. The label values are kept, not
// copied: the caller must not change them afterwards.
//
// It never fails on what a server returns: a database name in a SQL_ASCII
// cluster may not be UTF-8, which client_golang refuses (and
// MustNewConstMetric panics on); the series keeps its place with the bad
// bytes replaced. Anything else wrong (a histogram's descriptor, a wrong
// number of labels) is a bug, and the gatherer reports the sample as an
// invalid metric.
func NewSample(d *Desc, v float64, labels ...string) prometheus.Metric {
	s := &sample{desc: d, value: v, labels: labels}
	switch {
	case d.err != nil:
		s.err = d.err
	case d.typ != Gauge && d.typ != Counter:
		s.err = fmt.Errorf("metric %s is a %s: a sample is a gauge's or a counter's", d.name, d.typ)
	case len(labels) != len(d.labels):
		s.err = fmt.Errorf("metric %s: %d label values for %d labels %v", d.name, len(labels), len(d.labels), d.labels)
	}
	if s.err != nil {
		s.labels = nil
		return s
	}
	for i, l := range labels {
		if !utf8.ValidString(l) {
			s.labels = validUTF8(labels, i)
			break
		}
	}
	return s
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

func (s *sample) Desc() *prometheus.Desc { return s.desc.prom }

func (s *sample) described() *Desc { return s.desc }

// Write writes the series without the target label, as a const metric
// would (tests and registries see it through this).
func (s *sample) Write(out *dto.Metric) error {
	if s.err != nil {
		return s.err
	}
	s.write(out, nil)
	return nil
}

// write fills out with the series' labels, sorted by name, and with target
// when it is given.
func (s *sample) write(out *dto.Metric, target *dto.LabelPair) {
	n := len(s.labels)
	if target != nil {
		n++
	}
	pairs := make([]dto.LabelPair, len(s.labels))
	out.Label = make([]*dto.LabelPair, 0, n)
	next := 0
	slots := s.desc.slots
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
	switch s.desc.typ {
	case Counter:
		out.Counter = &dto.Counter{Value: &s.value}
	default:
		out.Gauge = &dto.Gauge{Value: &s.value}
	}
}

// HistogramOpts are a histogram's buckets; its name and help come from its
// descriptor.
type HistogramOpts struct {
	Buckets                         []float64
	NativeHistogramBucketFactor     float64
	NativeHistogramMaxBucketNumber  uint32
	NativeHistogramMinResetDuration time.Duration
}

// HistogramMetric is a histogram of one source: stateful, so each source
// keeps its own, and emits it as it is every scrape. It carries no target
// label; the gatherer adds it as to any sample.
type HistogramMetric struct {
	prometheus.Histogram
	desc *Desc
}

// NewHistogram builds a histogram of d, which must declare one without
// variable labels.
func NewHistogram(d *Desc, opts HistogramOpts) (*HistogramMetric, error) {
	if d.typ != Histogram {
		return nil, fmt.Errorf("metric %s is a %s, not a histogram", d.name, d.typ)
	}
	if len(d.labels) > 0 {
		return nil, fmt.Errorf("metric %s: a histogram has no labels but the target's, not %v", d.name, d.labels)
	}
	if d.err != nil {
		return nil, d.err
	}
	h := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:                            d.name,
		Help:                            d.help,
		Buckets:                         opts.Buckets,
		NativeHistogramBucketFactor:     opts.NativeHistogramBucketFactor,
		NativeHistogramMaxBucketNumber:  opts.NativeHistogramMaxBucketNumber,
		NativeHistogramMinResetDuration: opts.NativeHistogramMinResetDuration,
	})
	return &HistogramMetric{Histogram: h, desc: d}, nil
}

func (h *HistogramMetric) described() *Desc { return h.desc }
