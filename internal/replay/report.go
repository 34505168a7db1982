package replay

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/headroom-dev/headroom/catalogue"
)

// Report is what a replay found.
type Report struct {
	Source  string `json:"source"`
	Preset  string `json:"preset"`
	Service string `json:"service"`
	// Scaler is the manifest replayed ("HorizontalPodAutoscaler health-agent-api-hpa").
	Scaler   string          `json:"scaler"`
	Notes    []string        `json:"notes,omitempty"`
	Triggers []TriggerReport `json:"triggers"`
	Start    time.Time       `json:"start"`
	End      time.Time       `json:"end"`
	// Origin is what the text's times are offsets from: a file's first
	// value, else the start.
	Origin  time.Time `json:"-"`
	Step    Duration  `json:"step"`
	Initial int32     `json:"initial_replicas"`
	Peak    int32     `json:"peak_replicas"`
	// Thrash counts reversals of direction within ThrashWindow of the
	// previous change (KEDA's cooldown, else the scale-down stabilisation).
	Thrash       int           `json:"thrash"`
	ThrashWindow Duration      `json:"thrash_window"`
	Events       []Event       `json:"events"`
	Missing      []MissingSpan `json:"missing"`
	// StaleGaps counts the places where a series read from Prometheus
	// stopped and was taken as stale (PrometheusSource); nil for a file.
	StaleGaps *int `json:"stale_gaps,omitempty"`
	// QueryProblems are trigger results KEDA would reject besides empty ones.
	QueryProblems []string `json:"query_problems,omitempty"`
	DBGuard       DBGuard  `json:"db_guard"`
	// History is the span of series loaded, from before the start to the end.
	History Duration `json:"history"`
	// ShortHistory are the alerts whose longest window (through the records
	// they read) is longer than History: they were computed on part of
	// their window, and what they did is not what Prometheus would do.
	ShortHistory []AlertWindow `json:"alerts_window_longer_than_history"`
	Alerts       []AlertSpan   `json:"alerts"`
	Steps        []StepReport  `json:"steps"`
	// The scaler's bounds, for the page's replica chart.
	minReplicas, maxReplicas int32
}

// TriggerReport is one trigger of the scaler and where its value came from.
type TriggerReport struct {
	Name       string     `json:"name"`
	Type       MetricType `json:"type"`
	Target     float64    `json:"target"`
	Activation float64    `json:"activation,omitempty"`
	Query      string     `json:"query"`
}

// StepReport is the autoscaler at one step; a nil value is missing.
type StepReport struct {
	At       time.Time  `json:"at"`
	Replicas int32      `json:"replicas"`
	Desired  int32      `json:"desired"`
	Driver   string     `json:"driver,omitempty"`
	Values   []*float64 `json:"values"`
	Missing  []string   `json:"missing,omitempty"`
	Fallback []string   `json:"fallback,omitempty"`
}

// MissingSpan is a run of steps in which a trigger had no value.
type MissingSpan struct {
	Trigger string    `json:"trigger"`
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	Steps   int       `json:"steps"`
	// Replicas held while it was missing: the count at its start and the
	// lowest during it.
	ReplicasAtStart int32 `json:"replicas_at_start"`
	LowestReplicas  int32 `json:"lowest_replicas"`
	// Fallback says KEDA's fallback stood in for it for part of the span.
	Fallback bool `json:"fallback"`
}

// DBGuard is the database-connection guard over the replay: replicas x
// pool size per pod against the usable connections: those the exporter
// measured at the step (what the alert and the dashboard use) where the
// series has them, else the configured autoscaling.db.usable_connections.
type DBGuard struct {
	// Enabled is false when the config gives no pool size, or neither
	// measured nor configured usable connections.
	Enabled        bool `json:"enabled"`
	PoolSizePerPod int  `json:"pool_size_per_pod"`
	// UsableConnections is the lowest usable number compared with.
	UsableConnections int `json:"usable_connections"`
	// UsableFrom says which number that was: UsableMeasured, UsableConfigured
	// or UsableMixed.
	UsableFrom string `json:"usable_from"`
	// MeasuredSteps counts the steps with a measured value.
	MeasuredSteps     int        `json:"measured_steps"`
	PeakConnections   int        `json:"peak_connections"`
	CrossedAt         *time.Time `json:"crossed_at"`
	ReplicasAtCrossed int32      `json:"replicas_at_crossed,omitempty"`
	UsableAtCrossed   int        `json:"usable_at_crossed,omitempty"`
}

// Where the guard's usable connections came from.
const (
	UsableMeasured   = "measured by the exporter"
	UsableConfigured = "configured (autoscaling.db.usable_connections)"
	UsableMixed      = "measured by the exporter, configured where it had no value"
)

// AlertWindow is an alert and its longest window.
type AlertWindow struct {
	Alert  string   `json:"alert"`
	Window Duration `json:"window"`
}

// markShortHistory lists the alerts (alertOf[i] with windows[i], "" for a
// record) whose window is longer than the history, and marks their spans.
func (r *Report) markShortHistory(alertOf []string, windows []time.Duration) {
	longest := map[string]time.Duration{}
	for i, a := range alertOf {
		if a != "" && windows[i] > time.Duration(r.History) {
			longest[a] = max(longest[a], windows[i])
		}
	}
	r.ShortHistory = []AlertWindow{}
	for _, a := range slices.Sorted(maps.Keys(longest)) {
		r.ShortHistory = append(r.ShortHistory, AlertWindow{Alert: a, Window: Duration(longest[a])})
	}
	for i := range r.Alerts {
		if w, ok := longest[r.Alerts[i].Alert]; ok {
			r.Alerts[i].WindowLongerThanHistory = Duration(w)
		}
	}
}

// Duration marshals as Go's duration text.
type Duration time.Duration

// MarshalText is "15s", "5m0s".
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

func newReport(cfg *catalogue.Config, sc Scaler, source string, start, end time.Time, step time.Duration, initial int32,
	values [][]float64, measuredUsable []float64, res Result, spans []AlertSpan) *Report {
	spec := sc.withSync(step)
	h := newHPA(spec)
	r := &Report{Source: source, Preset: cfg.Preset, Service: cfg.Service, Scaler: sc.Kind + " " + sc.Name, Notes: sc.Notes,
		Start: start, End: end, Step: Duration(step), Initial: initial, Peak: res.Peak, Thrash: res.Thrash,
		ThrashWindow: Duration(h.cooldown), Events: res.Events, Alerts: spans, minReplicas: spec.MinReplicas, maxReplicas: spec.MaxReplicas}
	if r.Events == nil {
		r.Events = []Event{}
	}
	if r.Alerts == nil {
		r.Alerts = []AlertSpan{}
	}
	for i, t := range spec.Triggers {
		r.Triggers = append(r.Triggers, TriggerReport{Name: t.Name, Type: t.Type, Target: t.Target, Activation: t.Activation, Query: sc.Queries[i]})
	}
	for k, st := range res.Steps {
		sr := StepReport{At: st.At, Replicas: st.Replicas, Desired: st.Desired, Driver: st.Driver, Missing: st.Missing, Fallback: st.Fallback}
		for _, v := range values[k] {
			if math.IsNaN(v) {
				sr.Values = append(sr.Values, nil)
			} else {
				sr.Values = append(sr.Values, &v)
			}
		}
		r.Steps = append(r.Steps, sr)
	}
	r.Missing = missingSpans(spec.Triggers, res.Steps)
	r.DBGuard = dbGuard(cfg, res.Steps, measuredUsable)
	return r
}

func missingSpans(triggers []Trigger, steps []Step) []MissingSpan {
	out := []MissingSpan{}
	for _, t := range triggers {
		var cur *MissingSpan
		for k, st := range steps {
			if !slices.Contains(st.Missing, t.Name) {
				cur = nil
				continue
			}
			if cur == nil {
				prev := st.Replicas
				if k > 0 {
					prev = steps[k-1].Replicas
				}
				out = append(out, MissingSpan{Trigger: t.Name, From: st.At, ReplicasAtStart: prev, LowestReplicas: st.Replicas})
				cur = &out[len(out)-1]
			}
			cur.To, cur.Steps = st.At, cur.Steps+1
			cur.LowestReplicas = min(cur.LowestReplicas, st.Replicas)
			cur.Fallback = cur.Fallback || slices.Contains(st.Fallback, t.Name)
		}
	}
	return out
}

// dbGuard compares each step's connections with measured[k] (NaN or
// absent: not measured), else the configured usable connections.
func dbGuard(cfg *catalogue.Config, steps []Step, measured []float64) DBGuard {
	configured := cfg.Autoscaling.DB.UsableConnections
	g := DBGuard{PoolSizePerPod: cfg.PoolSizePerPod(), UsableConnections: math.MaxInt}
	usable := make([]int, len(steps))
	for k := range steps {
		usable[k] = configured
		if k < len(measured) && !math.IsNaN(measured[k]) {
			usable[k] = int(measured[k])
			g.MeasuredSteps++
		}
	}
	switch g.MeasuredSteps {
	case 0:
		g.UsableFrom = UsableConfigured
	case len(steps):
		g.UsableFrom = UsableMeasured
	default:
		g.UsableFrom = UsableMixed
	}
	g.Enabled = g.PoolSizePerPod > 0 && (configured > 0 || g.MeasuredSteps > 0)
	if !g.Enabled {
		g.UsableConnections = configured
		return g
	}
	for k, st := range steps {
		if usable[k] <= 0 && (k >= len(measured) || math.IsNaN(measured[k])) {
			continue // neither measured nor configured at this step
		}
		g.UsableConnections = min(g.UsableConnections, usable[k])
		conns := int(st.Replicas) * g.PoolSizePerPod
		g.PeakConnections = max(g.PeakConnections, conns)
		if conns > usable[k] && g.CrossedAt == nil {
			at := st.At
			g.CrossedAt, g.ReplicasAtCrossed, g.UsableAtCrossed = &at, st.Replicas, usable[k]
		}
	}
	return g
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// at is a time as an offset from the origin, which reads the same for a
// file (time into the file) and a Prometheus range (time into the range).
func (r *Report) at(t time.Time) string { return "+" + t.Sub(r.Origin).String() }

// WriteText writes the report for people: the summary, the scale events,
// missing data, the alerts, and the replica timeline (a row whenever the
// replicas, the proposal, the driver or the missing triggers change).
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "replay of %s (preset %s, service %s) over %s\n", r.Scaler, r.Preset, r.Service, r.Source)
	fmt.Fprintf(&b, "from %s to %s, every %s (%d steps); times below are offsets from %s\n",
		r.Start.Format(time.RFC3339), r.End.Format(time.RFC3339), time.Duration(r.Step), len(r.Steps), r.Origin.Format(time.RFC3339))
	fmt.Fprintln(&b, "triggers:")
	for _, t := range r.Triggers {
		act := ""
		if t.Activation > 0 {
			act = fmt.Sprintf(", activation %g", t.Activation)
		}
		fmt.Fprintf(&b, "  %-18s %s target %g%s: %s\n", t.Name, t.Type, t.Target, act, oneLine(t.Query))
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	fmt.Fprintln(&b, r.replicasLine())
	fmt.Fprintln(&b, r.dbGuardLine())
	if r.StaleGaps != nil {
		fmt.Fprintf(&b, "series stopped, read as stale from one scrape interval after their last sample: %d\n", *r.StaleGaps)
	}
	if len(r.Missing) == 0 {
		fmt.Fprintln(&b, "missing data: none")
	} else {
		fmt.Fprintln(&b, "missing data (never read as 0; the HPA does not scale down on partial metrics, KEDA's fallback holds after failureThreshold):")
		for _, m := range r.Missing {
			fb := ""
			if m.Fallback {
				fb = ", fallback"
			}
			fmt.Fprintf(&b, "  %-18s %s to %s (%d steps%s): replicas %d held, lowest %d\n",
				m.Trigger, r.at(m.From), r.at(m.To), m.Steps, fb, m.ReplicasAtStart, m.LowestReplicas)
		}
	}
	for _, p := range r.QueryProblems {
		fmt.Fprintf(&b, "  query problem: %s\n", p)
	}
	fmt.Fprintln(&b, "scale events:")
	if len(r.Events) == 0 {
		fmt.Fprintln(&b, "  none")
	}
	for _, e := range r.Events {
		fmt.Fprintf(&b, "  %-10s %3d -> %-3d %s\n", r.at(e.At), e.From, e.To, e.Trigger)
	}
	fmt.Fprintln(&b, "alerts fired:")
	if len(r.Alerts) == 0 {
		fmt.Fprintln(&b, "  none")
	}
	for _, a := range r.Alerts {
		end := "still firing"
		if a.End != nil {
			end = "until " + r.at(*a.End)
		}
		short := ""
		if a.WindowLongerThanHistory > 0 {
			short = fmt.Sprintf(" (window %s longer than the history replayed)", time.Duration(a.WindowLongerThanHistory))
		}
		fmt.Fprintf(&b, "  %-10s %s %s %s%s\n", r.at(a.Start), a.Alert, alertLabels(a.Labels), end, short)
	}
	if len(r.ShortHistory) > 0 {
		var names []string
		for _, a := range r.ShortHistory {
			names = append(names, fmt.Sprintf("%s (%s)", a.Alert, time.Duration(a.Window)))
		}
		fmt.Fprintf(&b, "  window longer than the history replayed (%s), not judged: %s\n", time.Duration(r.History), strings.Join(names, ", "))
	}
	fmt.Fprintln(&b, "timeline:")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"  time", "replicas", "desired", "driver"}
	for _, t := range r.Triggers {
		head = append(head, t.Name)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	var last string
	for k, st := range r.Steps {
		key := fmt.Sprint(st.Replicas, st.Desired, st.Driver, st.Missing, st.Fallback)
		if key == last && k != len(r.Steps)-1 {
			continue
		}
		last = key
		row := []string{"  " + r.at(st.At), fmt.Sprint(st.Replicas), fmt.Sprint(st.Desired), st.Driver}
		for i, v := range st.Values {
			switch {
			case v == nil && slices.Contains(st.Fallback, r.Triggers[i].Name):
				row = append(row, "missing(fallback)")
			case v == nil:
				row = append(row, "missing")
			default:
				row = append(row, fmt.Sprintf("%.4g", *v))
			}
		}
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	return tw.Flush()
}

// replicasLine sums the replicas up, for the text and the page.
func (r *Report) replicasLine() string {
	return fmt.Sprintf("replicas: %d at the start, peak %d, %d scale events, thrash %d (direction changes within %s)",
		r.Initial, r.Peak, len(r.Events), r.Thrash, time.Duration(r.ThrashWindow))
}

// dbGuardLine says what the DB-connection guard found, for the text and the page.
func (r *Report) dbGuardLine() string {
	switch g := r.DBGuard; {
	case !g.Enabled:
		return "DB-connection guard: off (autoscaling.db gives no pool size or no usable connections)"
	case g.CrossedAt != nil:
		return fmt.Sprintf("DB-connection guard: CROSSED at %s: %d replicas x %d connections per pod = %d > %d usable (%s)",
			r.at(*g.CrossedAt), g.ReplicasAtCrossed, g.PoolSizePerPod, int(g.ReplicasAtCrossed)*g.PoolSizePerPod, g.UsableAtCrossed, g.UsableFrom)
	default:
		return fmt.Sprintf("DB-connection guard: never crossed (peak %d connections of %d usable, %s; %d per pod)",
			g.PeakConnections, g.UsableConnections, g.UsableFrom, g.PoolSizePerPod)
	}
}

// alertLabels are the labels that tell alert instances apart, without
// those every alert of the bundle carries.
func alertLabels(l map[string]string) string {
	var parts []string
	for _, k := range sortedKeys(l) {
		switch k {
		case "service", "urgency", "action", "direction":
			continue
		}
		parts = append(parts, fmt.Sprintf("%s=%q", k, l[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
