package replay

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// maxSamplesPerQuery bounds one answer: a chunk spans this many samples
// per series at Resolution.
const maxSamplesPerQuery = 10000

// PrometheusSource reads the raw samples a replay needs from a Prometheus
// server: instant queries of the range selector sel[chunk] of every metric
// selector in the rules and the scaler's queries, at the end of each chunk.
// Unlike query_range, which resamples to its step and carries a value over
// gaps of up to the 5-minute lookback, these are the samples as scraped,
// at their own timestamps: a gap in the server's data is a gap in the
// replay, and rate() sees what Prometheus's rules saw.
type PrometheusSource struct {
	URL string
	// Resolution is the scrape interval: it sizes the chunks so that one
	// answer holds at most maxSamplesPerQuery samples per series.
	Resolution time.Duration
	api        v1.API
}

// NewPrometheusSource is a source on the server at url.
func NewPrometheusSource(url string, resolution time.Duration) (*PrometheusSource, error) {
	c, err := api.NewClient(api.Config{Address: url})
	if err != nil {
		return nil, fmt.Errorf("prometheus %s: %w", url, err)
	}
	if resolution <= 0 {
		return nil, fmt.Errorf("prometheus %s: resolution must be > 0", url)
	}
	return &PrometheusSource{URL: url, Resolution: resolution, api: v1.NewAPI(c)}, nil
}

// Describe names the source in a report.
func (p *PrometheusSource) Describe() string { return p.URL }

// Load appends the raw samples of every selector in [from, to].
func (p *PrometheusSource) Load(ctx context.Context, selectors []string, from, to time.Time, app storage.AppenderV2) error {
	chunk := (p.Resolution * maxSamplesPerQuery).Truncate(time.Millisecond)
	// last is the newest sample appended per series: chunks share their
	// boundary, and two selectors can select the same series.
	last := map[string]int64{}
	for _, sel := range selectors {
		for begin := from; begin.Before(to); begin = begin.Add(chunk) {
			end := begin.Add(chunk)
			if end.After(to) {
				end = to
			}
			// The range selector includes its start in Prometheus 2, not in
			// 3; a millisecond more reads the sample at from either way.
			window := end.Sub(begin).Truncate(time.Millisecond) + time.Millisecond
			q := fmt.Sprintf("%s[%s]", sel, model.Duration(window))
			val, _, _, err := p.api.Query(ctx, q, end)
			if err != nil {
				return fmt.Errorf("prometheus %s: query %s at %s: %w", p.URL, q, end.Format(time.RFC3339), err)
			}
			matrix, ok := val.(model.Matrix)
			if !ok {
				return fmt.Errorf("prometheus %s: query %s: got a %s, want a matrix", p.URL, q, val.Type())
			}
			for _, ss := range matrix {
				lbls := labelsOf(ss.Metric)
				if len(ss.Histograms) > 0 {
					return fmt.Errorf("prometheus %s: series %s has native histogram samples, which replay does not read", p.URL, lbls)
				}
				key := lbls.String()
				newest, seen := last[key]
				for _, v := range ss.Values {
					ts := int64(v.Timestamp)
					if seen && ts <= newest {
						continue
					}
					if _, err := app.Append(0, lbls, 0, ts, float64(v.Value), nil, nil, storage.AOptions{}); err != nil {
						return fmt.Errorf("prometheus %s: series %s: %w", p.URL, lbls, err)
					}
					newest, seen = ts, true
				}
				if seen {
					last[key] = newest
				}
			}
		}
	}
	return nil
}

func labelsOf(m model.Metric) labels.Labels {
	b := labels.NewScratchBuilder(len(m))
	for k, v := range m {
		b.Add(string(k), string(v))
	}
	b.Sort()
	return b.Labels()
}
