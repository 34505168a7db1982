package replay

import (
	"sort"
	"time"

	"github.com/prometheus/prometheus/rules"
)

// AlertSpan is one alert instance firing from Start to End (nil: still
// firing at the end of the replay).
type AlertSpan struct {
	Alert  string            `json:"alert"`
	Labels map[string]string `json:"labels"`
	// Annotations as they were expanded when it started firing.
	Annotations map[string]string `json:"annotations"`
	Start       time.Time         `json:"start"`
	End         *time.Time        `json:"end"`
	// WindowLongerThanHistory is the alert's longest window when that is
	// longer than the history replayed (Report.History), else 0.
	WindowLongerThanHistory Duration `json:"window_longer_than_history,omitempty"`
}

// alertTracker turns the rules' firing alerts at each step into spans.
type alertTracker struct {
	open  map[string]*AlertSpan
	spans []*AlertSpan
}

func newAlertTracker() *alertTracker { return &alertTracker{open: map[string]*AlertSpan{}} }

// observe records which alerts fire at ts: a span starts at the first step
// an alert fires and ends at the first step it no longer does.
func (a *alertTracker) observe(ts time.Time, groups []*rules.Group) {
	firing := map[string]bool{}
	for _, g := range groups {
		for _, r := range g.Rules() {
			ar, ok := r.(*rules.AlertingRule)
			if !ok {
				continue
			}
			for _, al := range ar.ActiveAlerts() {
				if al.State != rules.StateFiring {
					continue
				}
				key := al.Labels.String()
				firing[key] = true
				if _, ok := a.open[key]; ok {
					continue
				}
				span := &AlertSpan{Alert: ar.Name(), Labels: al.Labels.Map(), Annotations: al.Annotations.Map(), Start: ts}
				delete(span.Labels, "alertname")
				a.open[key] = span
				a.spans = append(a.spans, span)
			}
		}
	}
	for key, span := range a.open {
		if !firing[key] {
			end := ts
			span.End = &end
			delete(a.open, key)
		}
	}
}

// result is every span in start order; those still firing have no end.
func (a *alertTracker) result() []AlertSpan {
	sort.SliceStable(a.spans, func(i, j int) bool { return a.spans[i].Start.Before(a.spans[j].Start) })
	out := make([]AlertSpan, len(a.spans))
	for i, s := range a.spans {
		out[i] = *s
	}
	return out
}
