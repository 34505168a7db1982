package promtest

import (
	"fmt"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/headroom-dev/headroom/catalogue"
)

// bucketGaps counts, by the value of the cluster label ("" without one),
// the series of b's histogram among input series that have le="+Inf" and
// no b bucket beside them: what the SignalAbsent rule of a bucket reads.
func bucketGaps(series []inputSeries, b catalogue.BucketInput, clusterLabel string) (map[string]int, error) {
	type hist struct {
		inf, bucket bool
		cluster     string
	}
	byKey := map[string]*hist{}
	var keys []string
	for _, s := range series {
		if metricOf(s.Series) != b.Metric {
			continue
		}
		ls, err := catalogue.ParseMetric(s.Series)
		if err != nil {
			return nil, fmt.Errorf("input series %s: %w", s.Series, err)
		}
		le := ls.Get("le")
		key := labels.NewBuilder(ls).Del("le").Labels().String()
		h, ok := byKey[key]
		if !ok {
			h = &hist{}
			if clusterLabel != "" {
				h.cluster = ls.Get(clusterLabel)
			}
			byKey[key] = h
			keys = append(keys, key)
		}
		h.inf = h.inf || le == "+Inf"
		h.bucket = h.bucket || b.LE.Matches(le)
	}
	out := map[string]int{}
	for _, k := range keys {
		if h := byKey[k]; h.inf && !h.bucket {
			out[h.cluster]++
		}
	}
	return out, nil
}

// withoutBucket drops b's bucket from input series.
func withoutBucket(series []inputSeries, b catalogue.BucketInput) ([]inputSeries, error) {
	var out []inputSeries
	for _, s := range series {
		if metricOf(s.Series) == b.Metric {
			ls, err := catalogue.ParseMetric(s.Series)
			if err != nil {
				return nil, fmt.Errorf("input series %s: %w", s.Series, err)
			}
			if b.LE.Matches(ls.Get("le")) {
				continue
			}
		}
		out = append(out, s)
	}
	return out, nil
}
