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

// maxPointsPerQuery stays below Prometheus's limit of 11,000 points per
// series in one query_range.
const maxPointsPerQuery = 10000

// PrometheusSource reads the raw series a replay needs from a Prometheus
// server: a query_range of every metric selector in the rules and the
// scaler's queries, at Resolution (the scrape interval, so that rate()
// windows see as many samples as the server has).
type PrometheusSource struct {
	URL        string
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

// Load appends the series of every selector over [from, to].
func (p *PrometheusSource) Load(ctx context.Context, selectors []string, from, to time.Time, app storage.AppenderV2) error {
	chunk := p.Resolution * maxPointsPerQuery
	seen := map[string]bool{}
	for _, sel := range selectors {
		for start := from; !start.After(to); start = start.Add(chunk + p.Resolution) {
			end := start.Add(chunk)
			if end.After(to) {
				end = to
			}
			val, _, _, err := p.api.QueryRange(ctx, sel, v1.Range{Start: start, End: end, Step: p.Resolution})
			if err != nil {
				return fmt.Errorf("prometheus %s: query_range %s: %w", p.URL, sel, err)
			}
			matrix, ok := val.(model.Matrix)
			if !ok {
				return fmt.Errorf("prometheus %s: query_range %s: got a %s, want a matrix", p.URL, sel, val.Type())
			}
			for _, ss := range matrix {
				lbls := labelsOf(ss.Metric)
				// Two selectors can select the same series; it is loaded once.
				key := lbls.String() + "@" + start.String()
				if seen[key] {
					continue
				}
				seen[key] = true
				for _, v := range ss.Values {
					if _, err := app.Append(0, lbls, 0, int64(v.Timestamp), float64(v.Value), nil, nil, storage.AOptions{}); err != nil {
						return fmt.Errorf("prometheus %s: series %s: %w", p.URL, lbls, err)
					}
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
