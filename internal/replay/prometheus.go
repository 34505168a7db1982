package replay

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/value"
	"github.com/prometheus/prometheus/storage"

	"github.com/headroom-dev/headroom/internal/config"
)

// maxSamplesPerQuery bounds one answer: a chunk spans this many samples
// per series at Resolution.
const maxSamplesPerQuery = 10000

// DefaultQueryTimeout bounds one query to Prometheus when the caller sets
// none: a server that accepts the connection and never answers must end the
// replay with an error, not hang it.
const DefaultQueryTimeout = 30 * time.Second

// PrometheusSource reads the raw samples a replay needs from a Prometheus
// server: instant queries of the range selector sel[chunk] of every metric
// selector in the rules and the scaler's queries, at the end of each chunk.
// Unlike query_range, which resamples to its step and carries a value over
// gaps of up to the 5-minute lookback, these are the samples as scraped,
// at their own timestamps: a gap in the server's data is a gap in the
// replay, and rate() sees what Prometheus's rules saw.
//
// A range selector never returns staleness markers, though, so a gauge
// whose series stopped would read its last value for the lookback in the
// replay while Prometheus (and so KEDA) read nothing. Load puts them back:
// see staleAfter.
type PrometheusSource struct {
	// URL is the server's address as given; errors and reports show it
	// without the password (url.URL.Redacted).
	URL string
	// Timeout bounds each query; DefaultQueryTimeout when zero.
	Timeout time.Duration
	// Resolution is the scrape interval: it sizes the chunks so that one
	// answer holds at most maxSamplesPerQuery samples per series, and is a
	// series' interval until its own samples tell (seriesInterval).
	Resolution time.Duration
	// Progress, when set, is called after each query answered: done of
	// total chunks, the selector and the chunk's time range.
	Progress func(done, total int, selector string, from, to time.Time)
	// staleGaps counts the staleness markers the last Load wrote
	// (StaleMarked).
	staleGaps int
	api       v1.API
}

// NewPrometheusSource is a source on the server at url.
func NewPrometheusSource(url string, resolution time.Duration) (*PrometheusSource, error) {
	shown := config.RedactedURL(url)
	c, err := api.NewClient(api.Config{Address: url})
	if err != nil {
		// url.Error quotes the address, password included.
		return nil, fmt.Errorf("prometheus %s: %w", shown, config.URLCause(err))
	}
	if resolution <= 0 {
		return nil, fmt.Errorf("prometheus %s: resolution must be > 0", shown)
	}
	return &PrometheusSource{URL: url, Timeout: DefaultQueryTimeout, Resolution: resolution, api: v1.NewAPI(c)}, nil
}

// Describe names the source in a report.
func (p *PrometheusSource) Describe() string { return config.RedactedURL(p.URL) }

// query runs one instant query under the source's timeout. A query that
// outlives it fails naming the endpoint and the deadline, so that a server
// that never answers is told apart from one that answered with an error.
func (p *PrometheusSource) query(ctx context.Context, q string, at time.Time) (model.Value, error) {
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = DefaultQueryTimeout
	}
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	val, _, _, err := p.api.Query(qctx, q, at)
	if err == nil {
		return val, nil
	}
	endpoint := strings.TrimSuffix(p.Describe(), "/") + "/api/v1/query"
	if ctx.Err() == nil && qctx.Err() != nil {
		return nil, fmt.Errorf("query %s (%s at %s): no answer within %s (--prometheus.timeout)", endpoint, q, at.UTC().Format(time.RFC3339), timeout)
	}
	// net/http quotes the request URL, password included.
	return nil, fmt.Errorf("query %s (%s at %s): %w", endpoint, q, at.UTC().Format(time.RFC3339), config.URLCause(err))
}

// StaleMarked is the number of gaps Load read as stale.
func (p *PrometheusSource) StaleMarked() int { return p.staleGaps }

// loadedSeries is what Load knows of one series.
type loadedSeries struct {
	labels labels.Labels
	// owner is the selector that loads it: another selector matching the
	// same series reads the same samples, already appended.
	owner string
	// last is the newest sample appended (ms); seen once there is one.
	last int64
	seen bool
	// interval is the series' scrape interval (ms): the median spacing of
	// its samples, the resolution until there are enough.
	interval int64
}

// Load appends the raw samples of every selector in [from, to], and a
// staleness marker where a series stopped (staleAfter).
func (p *PrometheusSource) Load(ctx context.Context, selectors []string, from, to time.Time, app storage.AppenderV2) error {
	chunk := (p.Resolution * maxSamplesPerQuery).Truncate(time.Millisecond)
	perSelector := int((to.Sub(from) + chunk - 1) / chunk)
	total, done := perSelector*len(selectors), 0
	p.staleGaps = 0
	series := map[string]*loadedSeries{}
	var order []string
	stale := math.Float64frombits(value.StaleNaN)
	appendOne := func(s *loadedSeries, ts int64, v float64) error {
		if _, err := app.Append(0, s.labels, 0, ts, v, nil, nil, storage.AOptions{}); err != nil {
			return fmt.Errorf("prometheus %s: series %s: %w", p.Describe(), s.labels, err)
		}
		return nil
	}
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
			val, err := p.query(ctx, q, end)
			if err != nil {
				return err
			}
			matrix, ok := val.(model.Matrix)
			if !ok {
				return fmt.Errorf("prometheus %s: query %s: got a %s, want a matrix", p.Describe(), q, val.Type())
			}
			for _, ss := range matrix {
				lbls := labelsOf(ss.Metric)
				if len(ss.Histograms) > 0 {
					return fmt.Errorf("prometheus %s: series %s has native histogram samples, which replay does not read", p.Describe(), lbls)
				}
				key := lbls.String()
				s := series[key]
				if s == nil {
					s = &loadedSeries{labels: lbls, owner: sel, interval: p.Resolution.Milliseconds()}
					series[key] = s
					order = append(order, key)
				}
				if s.owner != sel {
					continue
				}
				// Chunks share their boundary: keep what is newer than
				// what the previous chunk appended.
				var ts []int64
				var vs []float64
				for _, v := range ss.Values {
					if t := int64(v.Timestamp); !s.seen || t > s.last {
						ts, vs = append(ts, t), append(vs, float64(v.Value))
					}
				}
				s.interval = seriesInterval(s, ts)
				for i, t := range ts {
					if at, ok := staleAfter(s, t); ok {
						if err := appendOne(s, at, stale); err != nil {
							return err
						}
						p.staleGaps++
					}
					if err := appendOne(s, t, vs[i]); err != nil {
						return err
					}
					s.last, s.seen = t, true
				}
			}
			done++
			if p.Progress != nil {
				p.Progress(done, total, sel, begin, end)
			}
		}
	}
	// A series that stopped before the end: stale after its last sample.
	for _, key := range order {
		s := series[key]
		if at, ok := staleAfter(s, to.UnixMilli()); ok {
			if err := appendOne(s, at, stale); err != nil {
				return err
			}
			p.staleGaps++
		}
	}
	return nil
}

// staleAfter says whether a series whose next sample (or the end of the
// range) is at next stopped after its last one, and where to put the
// staleness marker. A series whose samples stop for more than 1.5 scrape
// intervals missed a scrape, and Prometheus writes a staleness marker at
// the first scrape that misses it (the target down, or the series gone from
// its answer), after which an instant query, KEDA's among them, returns
// nothing for it until it comes back. Where Prometheus itself was down
// there is no marker, but KEDA then got no answer at all, which is missing
// too. So the marker goes one interval after the last sample, where the
// first missed scrape was. Only data written without markers (backfilled
// blocks) reads differently on the server, which carries the value over
// its lookback; no scaler read those.
func staleAfter(s *loadedSeries, next int64) (int64, bool) {
	if !s.seen || next-s.last <= s.interval*3/2 {
		return 0, false
	}
	return s.last + s.interval, true
}

// seriesInterval is the scrape interval of a series: the median spacing of
// its samples (those of this chunk, from the last one appended), which a
// missed scrape here and there does not move, so that a job with a
// scrape_interval of its own is judged by it; a chunk with fewer than
// three spacings keeps what was known (at first the resolution).
func seriesInterval(s *loadedSeries, ts []int64) int64 {
	var spacing []int64
	prev, ok := s.last, s.seen
	for _, t := range ts {
		if ok {
			spacing = append(spacing, t-prev)
		}
		prev, ok = t, true
	}
	if len(spacing) < 3 {
		return s.interval
	}
	slices.Sort(spacing)
	return spacing[len(spacing)/2]
}

func labelsOf(m model.Metric) labels.Labels {
	b := labels.NewScratchBuilder(len(m))
	for k, v := range m {
		b.Add(string(k), string(v))
	}
	b.Sort()
	return b.Labels()
}
