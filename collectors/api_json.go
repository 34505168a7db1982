package collectors

// The API's JSON metrics document: the numbers the guides read from an
// application's own metrics endpoint (the DB pool's utilisation, say),
// picked out by configured paths. The health probe, the other half of the
// API target, is in api.go.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom-dev/headroom/internal/config"
)

// collectJSON reads the metrics document and emits the configured fields.
func (t *apiTarget) collectJSON(ctx context.Context, emit func(prometheus.Metric)) error {
	resp, err := t.get(ctx, t.metricsURL, t.shownMetrics, metricsBodyLimit)
	if err != nil {
		return err
	}
	if resp.status < 200 || resp.status > 299 {
		return fmt.Errorf("GET %s: answered HTTP %d", t.shownMetrics, resp.status)
	}
	if resp.truncated {
		return fmt.Errorf("GET %s: document larger than %d bytes", t.shownMetrics, metricsBodyLimit)
	}
	doc, err := decodeJSON(resp.body)
	if err != nil {
		// The decoder's message may quote the body; say only where.
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return fmt.Errorf("GET %s: not valid JSON (at byte %d)", t.shownMetrics, syn.Offset)
		}
		return fmt.Errorf("GET %s: not valid JSON", t.shownMetrics)
	}
	for _, f := range t.fields {
		v, found := lookupPath(doc, f.Path)
		problem := ""
		var x float64
		switch {
		case !found:
			problem = "missing"
		default:
			var ok bool
			if x, ok = number(v); !ok {
				problem = "not a finite number"
			}
		}
		t.noteField(f, problem)
		if problem == "" {
			emitSample(emit, apiJSONValueDesc, x, f.Name)
		}
	}
	return nil
}

// noteField logs a field's problem when it starts or changes, so that a
// field the API never reports logs once, not every scrape.
func (t *apiTarget) noteField(f config.JSONField, problem string) {
	t.mu.Lock()
	prev := t.fieldProblem[f.Name]
	if problem == "" {
		delete(t.fieldProblem, f.Name)
	} else {
		t.fieldProblem[f.Name] = problem
	}
	t.mu.Unlock()
	switch {
	case problem != "" && problem != prev:
		t.logger.Warn("json field left out", "field", f.Name, "path", f.Path, "problem", problem)
	case problem == "" && prev != "":
		t.logger.Info("json field reported again", "field", f.Name, "path", f.Path)
	}
}

// lookupPath walks a dot-separated path; a segment that is a number indexes
// an array.
func lookupPath(doc any, path string) (any, bool) {
	cur := doc
	for _, seg := range strings.Split(path, ".") {
		switch v := cur.(type) {
		case map[string]any:
			next, ok := v[seg]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			i, err := strconv.Atoi(seg)
			if err != nil || i < 0 || i >= len(v) {
				return nil, false
			}
			cur = v[i]
		default:
			return nil, false
		}
	}
	return cur, cur != nil
}

// number converts a JSON number, a boolean or a numeric string to a finite
// float64. NaN and infinities, whether spelled out or out of range, are
// refused so that no rule ever compares against them.
func number(v any) (float64, bool) {
	var f float64
	var err error
	switch x := v.(type) {
	case json.Number:
		f, err = strconv.ParseFloat(string(x), 64)
	case string:
		f, err = strconv.ParseFloat(strings.TrimSpace(x), 64)
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	default:
		return 0, false
	}
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}
