package drill

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"

	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/replay"
)

// Reaction is what one scaling trigger did during a drill, read from the
// Prometheus that evaluates the bundle.
type Reaction struct {
	Alert     string            `json:"alert"`
	Labels    map[string]string `json:"labels,omitempty"`
	Severity  string            `json:"severity"`
	Direction string            `json:"direction"`
	// LoadChanged is when the drill's load changed (the step, the spike,
	// the start of a ramp); Crossed the first rule evaluation after it at
	// which the trigger's expression held.
	LoadChanged time.Time  `json:"load_changed"`
	Crossed     *time.Time `json:"crossed,omitempty"`
	Pending     *time.Time `json:"pending,omitempty"`
	Fired       *time.Time `json:"fired,omitempty"`
	Resolved    *time.Time `json:"resolved,omitempty"`
	For         Seconds    `json:"for_seconds"`
	// Expected is the longest a firing may take after the crossing:
	// for + 2 x the evaluation interval + the scrape interval.
	Expected Seconds `json:"expected_seconds"`
	// InTime says the alert fired within Expected of the crossing;
	// Missed that the expression held for Expected or longer and the alert
	// did not fire in that time.
	InTime bool `json:"in_time"`
	Missed bool `json:"missed,omitempty"`
}

// Seconds is a duration written as seconds in JSON.
type Seconds time.Duration

// MarshalJSON writes seconds.
func (s Seconds) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprint(time.Duration(s).Seconds())), nil
}

// Unexpected is an alert that fired and should not have: on a spike
// shorter than its `for`, or a scale-down while the drill was loading.
type Unexpected struct {
	Alert  string    `json:"alert"`
	Fired  time.Time `json:"fired"`
	Reason string    `json:"reason"`
}

// DrillReaction is the reaction check of one drill.
type DrillReaction struct {
	Reactions  []Reaction   `json:"reactions"`
	Unexpected []Unexpected `json:"unexpected"`
	// Replicas the generated autoscaler asks for when the load changed and
	// the most it asked for after, from replay's KEDA or HPA evaluation
	// over the same series; 0 when the bundle has no autoscaler.
	DesiredBefore int32  `json:"desired_before"`
	DesiredAfter  int32  `json:"desired_after"`
	Scaler        string `json:"scaler,omitempty"`
	// ReplayError says why the autoscaler could not be evaluated.
	ReplayError string `json:"replay_error,omitempty"`
	// Error says why the reaction could not be read at all.
	Error string `json:"error,omitempty"`
}

// OK says the reaction was read, nothing fired late or was missed, and
// nothing fired that should not have.
func (r DrillReaction) OK() bool {
	if r.Error != "" {
		return false
	}
	for _, re := range r.Reactions {
		if re.Missed || (re.Fired != nil && re.Crossed != nil && !re.InTime) {
			return false
		}
	}
	return len(r.Unexpected) == 0
}

// Checker reads a drill's reaction from a Prometheus that evaluates the
// bundle.
type Checker struct {
	URL    string
	Bundle *catalogue.Bundle
	// Evaluation is the rule evaluation interval of that Prometheus, and
	// Scrape its scrape interval of the API (default the bundle's).
	Evaluation time.Duration
	Scrape     time.Duration
	// Settle is how long after the last drill's end alerts are still
	// read, so that a crossing near the end can fire (DefaultSettle).
	Settle time.Duration
}

// DefaultSettle is the longest `for` of the bundle's scaling triggers plus
// two evaluation intervals and a scrape interval: long enough for a
// crossing at the last drill's end to fire.
func DefaultSettle(b *catalogue.Bundle, evaluation, scrape time.Duration) time.Duration {
	longest := time.Duration(0)
	for _, t := range b.Triggers {
		if scaling(t) {
			longest = max(longest, t.For)
		}
	}
	return longest + 2*evaluation + scrape
}

func scaling(t catalogue.Trigger) bool {
	return !t.IsForecast() && (t.Direction == catalogue.Up || t.Direction == catalogue.Down)
}

// Ping checks that the Prometheus answers a query, before any load is sent.
func (c Checker) Ping(ctx context.Context) error {
	prom, err := c.api()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, _, _, err := prom.Query(ctx, "vector(1)", time.Now()); err != nil {
		return fmt.Errorf("--prometheus.url %s: %w", config.RedactedURL(c.URL), err)
	}
	return nil
}

func (c Checker) api() (v1.API, error) {
	if c.Evaluation <= 0 {
		return nil, fmt.Errorf("the evaluation interval must be > 0, not %s", c.Evaluation)
	}
	client, err := api.NewClient(api.Config{Address: c.URL})
	if err != nil {
		return nil, fmt.Errorf("--prometheus.url %s: %w", config.RedactedURL(c.URL), config.URLCause(err))
	}
	return v1.NewAPI(client), nil
}

// LoadChange is when a drill's load changed: the step or spike, else the
// start of the drill's pattern after its ramp-up (a ramp) or its start.
func LoadChange(r DrillResult) time.Time {
	d := r.Drill
	switch d.Pattern {
	case Step, Spike:
		return r.Start.Add(time.Duration(d.RampUp) + time.Duration(d.At))
	case Ramp:
		return r.Start.Add(time.Duration(d.RampUp))
	}
	return r.Start
}

// Check reads what each scaling trigger did from the drill's load change
// until the given time (the next drill's start, or the last drill's end
// plus Settle). A crossing, pending or firing already under way at the
// load change belongs to what came before and is left out.
func (c Checker) Check(ctx context.Context, r DrillResult, until time.Time) (DrillReaction, error) {
	prom, err := c.api()
	if err != nil {
		return DrillReaction{}, err
	}
	t0 := LoadChange(r)
	step := c.Evaluation
	out := DrillReaction{Reactions: []Reaction{}, Unexpected: []Unexpected{}}
	read := func(query string) ([]span, error) {
		all, err := c.spans(ctx, prom, query, t0.Add(-step), until, step)
		var fresh []span
		for _, s := range all {
			if !s.from.Before(t0) {
				fresh = append(fresh, s)
			}
		}
		return fresh, err
	}
	for _, t := range c.Bundle.Triggers {
		if !scaling(t) {
			continue
		}
		crossed, err := read(t.Expr)
		if err != nil {
			return out, fmt.Errorf("%s's expression: %w", t.Alert, err)
		}
		pending, err := read(alertSelector(t, "pending"))
		if err != nil {
			return out, err
		}
		firing, err := read(alertSelector(t, "firing"))
		if err != nil {
			return out, err
		}
		if len(crossed) == 0 && len(pending) == 0 && len(firing) == 0 {
			continue
		}
		re := Reaction{Alert: t.Alert, Labels: t.Labels, Severity: t.Severity, Direction: string(t.Direction), LoadChanged: t0,
			For: Seconds(t.For), Expected: Seconds(t.For + 2*c.Evaluation + c.Scrape)}
		if len(crossed) > 0 {
			re.Crossed = &crossed[0].from
		}
		if len(pending) > 0 {
			re.Pending = &pending[0].from
		}
		if len(firing) > 0 {
			re.Fired = &firing[0].from
			if !firing[0].to.IsZero() {
				re.Resolved = &firing[0].to
			}
		}
		if re.Crossed != nil {
			due := re.Crossed.Add(time.Duration(re.Expected))
			re.InTime = re.Fired != nil && !re.Fired.After(due)
			held := crossed[0].to
			if held.IsZero() {
				held = until
			}
			re.Missed = re.Fired == nil && !held.Before(due)
		}
		out.Reactions = append(out.Reactions, re)
		for _, f := range firing {
			if why := c.shouldNotFire(t, r, f.from); why != "" {
				out.Unexpected = append(out.Unexpected, Unexpected{Alert: t.Alert, Fired: f.from, Reason: why})
			}
		}
	}
	c.desired(ctx, t0, until, &out)
	return out, nil
}

// shouldNotFire says why an alert firing at fired was not expected: a
// scale-up on a spike shorter than its `for` (the `for` is there to ride
// out such spikes), or a scale-down while the drill loaded above its base.
func (c Checker) shouldNotFire(t catalogue.Trigger, r DrillResult, fired time.Time) string {
	d := r.Drill
	if t.Direction == catalogue.Up && d.Pattern == Spike && time.Duration(d.Hold) < t.For {
		return fmt.Sprintf("fired on a spike of %s, shorter than its for (%s)", time.Duration(d.Hold), t.For)
	}
	if t.Direction == catalogue.Down && !fired.Before(r.Start) && !fired.After(r.End) {
		if CurveOf(d).Rate(fired.Sub(r.Start)) > d.Rate {
			return "a scale-down fired while the drill loaded above its base rate"
		}
	}
	return ""
}

// alertSelector selects the trigger's ALERTS series in a state: its
// alertname and its own labels (ResourcePressure's resource).
func alertSelector(t catalogue.Trigger, state string) string {
	m := []string{fmt.Sprintf("alertname=%q", t.Alert), fmt.Sprintf("alertstate=%q", state)}
	for _, k := range slices.Sorted(maps.Keys(t.Labels)) {
		m = append(m, fmt.Sprintf("%s=%q", k, t.Labels[k]))
	}
	return "ALERTS{" + strings.Join(m, ",") + "}"
}

type span struct{ from, to time.Time }

// spans are the runs of steps at which query returns anything; to is zero
// for a run still going at the end.
func (c Checker) spans(ctx context.Context, prom v1.API, query string, from, to time.Time, step time.Duration) ([]span, error) {
	val, _, _, err := prom.QueryRange(ctx, "count("+query+")", v1.Range{Start: from, End: to, Step: step})
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", query, err)
	}
	matrix, ok := val.(model.Matrix)
	if !ok || len(matrix) == 0 {
		return nil, nil
	}
	// count() gives one series, its points in time order.
	points := matrix[0].Values
	var out []span
	for i, p := range points {
		at := p.Timestamp.Time()
		if i == 0 || at.Sub(points[i-1].Timestamp.Time()) > step {
			if len(out) > 0 {
				out[len(out)-1].to = points[i-1].Timestamp.Time().Add(step)
			}
			out = append(out, span{from: at})
		}
	}
	// The last run ended if the range goes on past it.
	if last := points[len(points)-1].Timestamp.Time(); to.Sub(last) >= step {
		out[len(out)-1].to = last.Add(step)
	}
	return out, nil
}

// desired evaluates the generated autoscaler over the drill with replay,
// live from the same Prometheus.
func (c Checker) desired(ctx context.Context, t0, until time.Time, out *DrillReaction) {
	src, err := replay.NewPrometheusSource(c.URL, c.Scrape)
	if err != nil {
		out.ReplayError = err.Error()
		return
	}
	rep, err := replay.Replay(ctx, c.Bundle, src, replay.Options{Start: t0, End: until, Step: c.Evaluation})
	if err != nil {
		out.ReplayError = err.Error()
		return
	}
	out.Scaler = rep.Scaler
	if len(rep.Steps) > 0 {
		out.DesiredBefore = rep.Steps[0].Desired
	}
	for _, s := range rep.Steps {
		out.DesiredAfter = max(out.DesiredAfter, s.Desired)
	}
}
