package exposition

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"
)

// How the text is written (doc.go says why): each part's series are
// appended, as text, to one buffer per part with a sort key beside each,
// and sorted in the part's goroutine; writeText then only interleaves the
// parts' sorted runs. The output is byte for byte what promhttp writes for
// the same series (TestTextMatchesPromhttp).

// textSeries is one series of a family as exposition text, with the key
// that orders it as promhttp orders series: its label names and values,
// alternating, sorted by name, each ended by a zero byte, so that comparing
// keys bytewise compares the labels pair by pair.
type textSeries struct {
	family    *textFamily
	key, text []byte
	// seq is the order the series came in: of two with the same labels,
	// the first is kept.
	seq int
}

type textFamily struct {
	name, help string
	typ        dto.MetricType
	series     []textSeries
	// index groups a part's series by family before they are sorted.
	index int
}

// textPart is one target's families (or the static registry's), each
// sorted, and what could not be added to them. A part is read-only once
// done, so it can be written into any number of responses until it is
// released; a cache that kept one would release it when it drops it.
type textPart struct {
	byName map[string]*textFamily
	errs   []error
	// enc holds the part's bytes; release hands them back for the next
	// scrape once the part is written.
	enc *textEncoder
}

// release hands the part's buffers back; the part must not be read
// afterwards.
func (p textPart) release() {
	if p.enc != nil {
		textEncoders.put(p.enc)
	}
}

// textEncoder appends one part's series to shared buffers: a handful of
// allocations for a target's few hundred series.
type textEncoder struct {
	part textPart
	// series are every family's, in the order they came; done sorts them
	// by family and key and gives each family its run.
	series []textSeries
	buf    []byte
	keys   []byte
	one    bytes.Buffer
}

// textEncoders keep their buffers between scrapes: a target's text is
// written into the same memory every time instead of new memory the
// garbage collector must come back for (a third of what a scrape
// allocated).
var textEncoders = newFreeList(16, func() *textEncoder {
	return &textEncoder{part: textPart{byName: make(map[string]*textFamily, 32)}}
})

// newTextEncoder returns an encoder emptied, with room for this many
// series.
func newTextEncoder(series int) *textEncoder {
	e := textEncoders.get()
	clear(e.part.byName)
	e.part.errs = nil
	e.part.enc = e
	e.series = slices.Grow(e.series[:0], series)
	e.buf = slices.Grow(e.buf[:0], 100*series)
	e.keys = slices.Grow(e.keys[:0], 40*series)
	return e
}

func (e *textEncoder) appendKey(name, value string) {
	e.keys = append(append(append(append(e.keys, name...), 0), value...), 0)
}

// sourceText encodes one target's metrics, each series labelled with the
// target.
func sourceText(target *dto.LabelPair, metrics []prometheus.Metric) textPart {
	e := newTextEncoder(len(metrics))
	for _, m := range metrics {
		if err := e.add(m, target); err != nil {
			e.part.errs = append(e.part.errs, err)
		}
	}
	return e.done()
}

// staticText encodes families gathered from a registry, as they are.
func staticText(fams []*dto.MetricFamily) textPart {
	e := newTextEncoder(64)
	for _, f := range fams {
		for _, m := range f.Metric {
			if err := e.addMessage(f.GetName(), f.GetHelp(), f.GetType(), m); err != nil {
				e.part.errs = append(e.part.errs, err)
			}
		}
	}
	return e.done()
}

func (e *textEncoder) done() textPart {
	slices.SortFunc(e.series, func(a, b textSeries) int {
		if a.family != b.family {
			return a.family.index - b.family.index
		}
		if c := bytes.Compare(a.key, b.key); c != 0 {
			return c
		}
		return a.seq - b.seq
	})
	for i := 0; i < len(e.series); {
		f := e.series[i].family
		j := i + 1
		for j < len(e.series) && e.series[j].family == f {
			j++
		}
		f.series = e.series[i:j:j]
		i = j
	}
	return e.part
}

func (e *textEncoder) family(name, help string, typ dto.MetricType) (*textFamily, error) {
	f, ok := e.part.byName[name]
	if !ok {
		f = &textFamily{name: name, help: help, typ: typ, index: len(e.part.byName)}
		e.part.byName[name] = f
	} else if f.typ != typ {
		return nil, fmt.Errorf("metric %s is a %s here and a %s elsewhere", name, typ, f.typ)
	}
	return f, nil
}

func (e *textEncoder) add(m prometheus.Metric, target *dto.LabelPair) error {
	s, ok := m.(*sample)
	if !ok || s.err != nil {
		pb, d, err := message(m, target)
		if err != nil {
			return err
		}
		return e.addMessage(d.name, d.help, d.typ.dto(), pb)
	}

	d := s.desc
	f, err := e.family(d.name, d.help, d.typ.dto())
	if err != nil {
		return err
	}
	start, keyStart := len(e.buf), len(e.keys)
	e.buf = append(e.buf, f.name...)
	sep := byte('{')
	for i := range d.slots {
		slot := &d.slots[i]
		value := target.GetValue()
		if slot.value != targetSlot {
			value = s.labels[slot.value]
		}
		e.appendKey(slot.name, value)
		e.buf = append(e.buf, sep)
		e.buf = append(e.buf, slot.name...)
		e.buf = append(e.buf, `="`...)
		e.buf = appendEscaped(e.buf, value, true)
		e.buf = append(e.buf, '"')
		sep = ','
	}
	e.buf = append(e.buf, "} "...)
	e.buf = appendFloat(e.buf, s.value)
	e.buf = append(e.buf, '\n')
	e.addSeries(f, keyStart, start)
	return nil
}

// addSeries records the series whose key and text were appended from
// these offsets on.
func (e *textEncoder) addSeries(f *textFamily, keyStart, textStart int) {
	e.series = append(e.series, textSeries{
		seq:    len(e.series),
		family: f,
		key:    e.keys[keyStart:len(e.keys):len(e.keys)],
		text:   e.buf[textStart:len(e.buf):len(e.buf)],
	})
}

// addMessage encodes a series that is a protobuf message (a histogram, a
// registry's series) through expfmt, as promhttp would, without the
// family's header.
func (e *textEncoder) addMessage(name, help string, typ dto.MetricType, m *dto.Metric) error {
	f, err := e.family(name, help, typ)
	if err != nil {
		return err
	}
	e.one.Reset()
	one := &dto.MetricFamily{Name: proto.String(name), Type: typ.Enum(), Metric: []*dto.Metric{m}}
	if _, err := expfmt.MetricFamilyToText(&e.one, one); err != nil {
		return fmt.Errorf("metric %s: %w", name, err)
	}
	text := e.one.Bytes()
	for bytes.HasPrefix(text, []byte("# ")) {
		_, text, _ = bytes.Cut(text, []byte("\n"))
	}
	keyStart := len(e.keys)
	for _, lp := range m.Label {
		e.appendKey(lp.GetName(), lp.GetValue())
	}
	start := len(e.buf)
	e.buf = append(e.buf, text...)
	e.addSeries(f, keyStart, start)
	return nil
}

// writeText writes the parts' families sorted by name, each family's series
// interleaved from the parts in label order; a series that repeats another
// one's labels is dropped with an error, as a registry would refuse it.
// Given names (promhttp's name[] parameter), only those families are
// written.
func writeText(w io.Writer, parts []textPart, only ...string) error {
	var errs []error
	var names []string
	for _, p := range parts {
		errs = append(errs, p.errs...)
		for name := range p.byName {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	names = slices.Compact(names)
	if len(only) > 0 {
		names = slices.DeleteFunc(names, func(name string) bool { return !slices.Contains(only, name) })
	}

	var header []byte
	var runs mergeHeap
	var fams []*textFamily
	for _, name := range names {
		fams = fams[:0]
		for _, p := range parts {
			f := p.byName[name]
			switch {
			case f == nil:
			case len(fams) > 0 && fams[0].typ != f.typ:
				errs = append(errs, fmt.Errorf("metric %s is a %s here and a %s elsewhere", name, f.typ, fams[0].typ))
			default:
				fams = append(fams, f)
			}
		}
		header = append(header[:0], "# HELP "...)
		header = append(header, name...)
		header = append(header, ' ')
		header = appendEscaped(header, fams[0].help, false)
		header = append(header, "\n# TYPE "...)
		header = append(header, name...)
		header = append(header, ' ')
		header = append(header, typeName(fams[0].typ)...)
		header = append(header, '\n')
		if _, err := w.Write(header); err != nil {
			return err
		}
		// The parts' sorted runs are interleaved as they are written: the
		// smallest next key goes first, the earlier part's on a tie. A
		// heap of the parts' next series, not a scan of every part for
		// each series: at 120 targets the scan's comparisons were half
		// the exporter's CPU (BenchmarkManyTargets).
		runs = runs[:0]
		for i, f := range fams {
			if len(f.series) > 0 {
				runs = append(runs, mergeRun{series: f.series, part: i})
			}
		}
		runs.init()
		var last []byte
		var dups int
		for written := 0; len(runs) > 0; written++ {
			s := runs.pop()
			if written > 0 && bytes.Equal(s.key, last) {
				dups++
				continue
			}
			last = s.key
			if _, err := w.Write(s.text); err != nil {
				return err
			}
		}
		if dups > 0 {
			errs = append(errs, fmt.Errorf("metric %s: %d duplicate series dropped", name, dups))
		}
	}
	return errors.Join(errs...)
}

// mergeRun is what is left of one part's sorted series of a family.
type mergeRun struct {
	series []textSeries
	part   int
}

// mergeHeap holds the runs of one family with series left, the run
// whose next series goes first at the top.
type mergeHeap []mergeRun

func (h mergeHeap) less(i, j int) bool {
	if c := bytes.Compare(h[i].series[0].key, h[j].series[0].key); c != 0 {
		return c < 0
	}
	return h[i].part < h[j].part
}

func (h mergeHeap) init() {
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
}

// pop takes the next series to write and moves its run on.
func (h *mergeHeap) pop() textSeries {
	top := &(*h)[0]
	s := top.series[0]
	top.series = top.series[1:]
	if len(top.series) == 0 {
		last := len(*h) - 1
		(*h)[0] = (*h)[last]
		*h = (*h)[:last]
	}
	h.down(0)
	return s
}

func (h mergeHeap) down(i int) {
	for {
		first := i
		if l := 2*i + 1; l < len(h) && h.less(l, first) {
			first = l
		}
		if r := 2*i + 2; r < len(h) && h.less(r, first) {
			first = r
		}
		if first == i {
			return
		}
		h[i], h[first] = h[first], h[i]
		i = first
	}
}

func typeName(t dto.MetricType) string {
	switch t {
	case dto.MetricType_COUNTER:
		return "counter"
	case dto.MetricType_GAUGE:
		return "gauge"
	case dto.MetricType_SUMMARY:
		return "summary"
	case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
		return "histogram"
	}
	return "untyped"
}

// appendEscaped escapes as the text format wants: backslash and newline
// always, double quotes in label values.
func appendEscaped(b []byte, s string, quote bool) []byte {
	clean := true
	for i := 0; i < len(s) && clean; i++ {
		clean = s[i] != '\\' && s[i] != '\n' && s[i] != '"'
	}
	if clean {
		return append(b, s...)
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

func appendFloat(b []byte, f float64) []byte {
	switch {
	case f == 0: // -0 too, as expfmt writes it
		return append(b, '0')
	case math.IsNaN(f):
		return append(b, "NaN"...)
	case math.IsInf(f, +1):
		return append(b, "+Inf"...)
	case math.IsInf(f, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, f, 'g', -1, 64)
}
