package replay

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/storage"
	"gopkg.in/yaml.v3"

	"github.com/headroom-dev/headroom/internal/strictyaml"
)

// sample is one raw sample; t in milliseconds since the epoch.
type sample struct {
	t int64
	v float64
}

// rawSeries is one raw input series.
type rawSeries struct {
	labels  labels.Labels
	samples []sample
}

// FileSource is a file of series in promtool's input_series notation, as
// in a rule unit test: `interval:` and `input_series: [{series, values}]`,
// values expanded by promtool's own parser ('1+1x10 _ 5x3'). As in
// promtool, the first value is at the Unix epoch.
type FileSource struct {
	Path     string
	Interval time.Duration
	series   []rawSeries
	end      time.Time
}

// ReadInputFile reads and parses a series file; errors name the file, the
// line and the series.
func ReadInputFile(path string) (*FileSource, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseInput(path, data)
}

// maxInputValues bounds the values a series file may expand to, all series
// together: 40 days at a 15 s interval, or 3 days at 1 s. The notation
// expands '1x1000000000' in promtool's parser before anything could look at
// its length, so a line of a file could otherwise ask for gigabytes.
const maxInputValues = 1 << 18

// parseInput is ReadInputFile for the file's contents; path is only used in
// errors.
func parseInput(path string, data []byte) (*FileSource, error) {
	var doc struct {
		Interval    model.Duration `yaml:"interval"`
		InputSeries []yaml.Node    `yaml:"input_series"`
	}
	if err := strictyaml.Decode(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if doc.Interval <= 0 {
		return nil, fmt.Errorf("%s: interval: must be set and > 0 (the spacing of the values)", path)
	}
	if len(doc.InputSeries) == 0 {
		return nil, fmt.Errorf("%s: input_series: no series", path)
	}
	src := &FileSource{Path: path, Interval: time.Duration(doc.Interval)}
	p := parser.NewParser(parser.Options{})
	step := time.Duration(doc.Interval).Milliseconds()
	var last int64
	budget := maxInputValues
	for i, node := range doc.InputSeries {
		var in struct {
			Series string `yaml:"series"`
			Values string `yaml:"values"`
		}
		if err := strictyaml.DecodeNode(&node, fmt.Sprintf("input_series[%d]", i), &in); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, node.Line, err)
		}
		// The series alone first, so that the values cannot hide in it
		// from the count below.
		if _, err := p.ParseMetric(in.Series); err != nil {
			return nil, fmt.Errorf("%s:%d: input_series[%d] series '%s': %w", path, node.Line, i, in.Series, err)
		}
		if strings.Contains(in.Values, "{") {
			return nil, fmt.Errorf("%s:%d: input_series[%d] series '%s': native histograms are not supported", path, node.Line, i, in.Series)
		}
		n := expandedValues(in.Values)
		if n > budget {
			return nil, fmt.Errorf("%s:%d: input_series[%d] series '%s': the file's values expand to more than %d", path, node.Line, i, in.Series, maxInputValues)
		}
		budget -= n
		lbls, values, err := p.ParseSeriesDesc(in.Series + " " + in.Values)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: input_series[%d] series '%s' values '%s': %w", path, node.Line, i, in.Series, in.Values, err)
		}
		s := rawSeries{labels: lbls, samples: make([]sample, 0, len(values))}
		// Omitted values still take their time: the file spans them.
		last = max(last, int64(len(values)-1)*step)
		for k, v := range values {
			if v.Omitted {
				continue
			}
			if v.Histogram != nil {
				return nil, fmt.Errorf("%s:%d: input_series[%d] series '%s': native histograms are not supported", path, node.Line, i, in.Series)
			}
			s.samples = append(s.samples, sample{t: int64(k) * step, v: v.Value})
		}
		src.series = append(src.series, s)
	}
	src.end = time.UnixMilli(last).UTC()
	return src, nil
}

// expandedValues is at least the number of values promtool's notation
// expands values to: one per item, and n more for each 'xn' ('1x3' is four
// values, '_x3' three). It counts every x followed by digits, whatever
// precedes it, so that it errs only towards too many.
func expandedValues(values string) int {
	total := len(strings.Fields(values))
	for i := 0; i < len(values); i++ {
		if values[i] != 'x' {
			continue
		}
		j := i + 1
		for j < len(values) && (values[j] == ' ' || values[j] == '\t') {
			j++
		}
		n := 0
		for ; j < len(values) && values[j] >= '0' && values[j] <= '9'; j++ {
			n = min(n*10+int(values[j]-'0'), maxInputValues+1)
		}
		total = min(total+n, maxInputValues+1)
	}
	return total
}

// Describe names the source in a report.
func (f *FileSource) Describe() string { return f.Path }

// Span is the time the file covers: the epoch to its last value.
func (f *FileSource) Span() (time.Time, time.Time) { return time.Unix(0, 0).UTC(), f.end }

// Load appends every series of the file; a file holds what it holds, so
// the selectors are not needed.
func (f *FileSource) Load(ctx context.Context, _ []string, from, to time.Time, app storage.AppenderV2) error {
	for _, s := range f.series {
		for _, smp := range s.samples {
			if smp.t < from.UnixMilli() || smp.t > to.UnixMilli() {
				continue
			}
			if _, err := app.Append(0, s.labels, 0, smp.t, smp.v, nil, nil, storage.AOptions{}); err != nil {
				return fmt.Errorf("%s: series %s: %w", f.Path, s.labels, err)
			}
		}
	}
	return nil
}
