package catalogue

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/common/model"
)

// Time-to-saturation forecasts. A scale-up trigger on a resource with a
// limit gets two derived triggers, a ticket and a page, that fire while the
// resource's trend will reach the trigger's threshold within a horizon.
//
// The method is immune to daily cycles: the season is one day, and the
// 1-day mean of a daily cycle without growth is flat (with growth it rises
// linearly), so its slope is the growth alone. Measuring the distance from
// the 1-day peak, not from the current value, keeps the afternoon peak in
// view on the morning ramp. For a linear rise a + bt the peak is the
// current value and the slope of the mean is b: the estimate is exact.

// ForecastLevel is a forecast's horizon: a ticket for days, a page for hours.
type ForecastLevel string

// Forecast levels.
const (
	ForecastTicket ForecastLevel = "ticket"
	ForecastPage   ForecastLevel = "page"
)

// ForecastLevels are the levels in the order their rules are written.
var ForecastLevels = []ForecastLevel{ForecastTicket, ForecastPage}

const forecastPrefix = "Forecast:"

// ForecastID is the id of a trigger's forecast at a level,
// "Forecast:<level>:<trigger id>".
func ForecastID(base TriggerID, level ForecastLevel) TriggerID {
	return TriggerID(forecastPrefix + string(level) + ":" + string(base))
}

// ForecastOf returns the base trigger and level of a forecast's id; ok is
// false for any other id.
func ForecastOf(id TriggerID) (base TriggerID, level ForecastLevel, ok bool) {
	rest, ok := strings.CutPrefix(string(id), forecastPrefix)
	if !ok {
		return "", "", false
	}
	l, b, ok := strings.Cut(rest, ":")
	if !ok || !slices.Contains(ForecastLevels, ForecastLevel(l)) {
		return "", "", false
	}
	return TriggerID(b), ForecastLevel(l), true
}

// ForecastInterval is the evaluation interval of the forecast recording
// group: 5m at most, or its records would go stale (the 5m lookback)
// between evaluations and the alerts reading them each minute flap. The group sets it so that the generator knows how many samples a
// fully covered window holds; the signals' group runs at Prometheus's
// global interval, which the generator does not know, so the forecast
// group samples the signal itself (ForecastRecords' value record).
const ForecastInterval = 5 * time.Minute

// ForecastFreshness is how far back a forecast alert looks for its
// seconds record: the alert groups run at the global interval (a minute,
// typically) and the forecast group every ForecastInterval, at its own
// offset, so a plain selector would find the record stale for part of every
// interval (the 5m lookback, closed in Prometheus 2 and open in 3) and
// restart the alert's for. Just under two intervals always holds the last
// record, and bridges one late evaluation, whichever way the range's edge
// is counted.
const ForecastFreshness = 2*ForecastInterval - time.Minute

// ForecastSeason is the period of the cycle the forecast looks through.
const ForecastSeason = 24 * time.Hour

// ForecastCoverage is the share of a window's samples that must exist:
// less (a new pod, a restarted exporter, a gap) and no forecast is made.
const ForecastCoverage = 0.9

// Forecast is a forecast's settings: triggers.<id>.forecast in the config.
type Forecast struct {
	Enabled       bool
	TicketHorizon time.Duration
	PageHorizon   time.Duration
	// Window is the range over which the trend of the 1-day mean is fitted.
	Window time.Duration
	For    time.Duration
}

// ForecastOverride is triggers.<id>.forecast in a config. Unset fields
// keep the defaults (DefaultForecast).
type ForecastOverride struct {
	Enabled       *bool           `yaml:"enabled"`
	TicketHorizon *model.Duration `yaml:"ticket_horizon"`
	PageHorizon   *model.Duration `yaml:"page_horizon"`
	Window        *model.Duration `yaml:"window"`
	For           *model.Duration `yaml:"for"`
}

// DefaultForecast is every forecastable trigger's forecast unless the
// config says otherwise: a ticket 3 days ahead, a page 6 hours ahead, the
// trend of the last day.
var DefaultForecast = Forecast{Enabled: true, TicketHorizon: 72 * time.Hour, PageHorizon: 6 * time.Hour, Window: 24 * time.Hour, For: 30 * time.Minute}

// merge returns o's fields over base's (nil keeps base's).
func (o *ForecastOverride) merge(base *ForecastOverride) *ForecastOverride {
	if o == nil {
		return base
	}
	if base == nil {
		c := *o
		return &c
	}
	m := *base
	if o.Enabled != nil {
		m.Enabled = o.Enabled
	}
	if o.TicketHorizon != nil {
		m.TicketHorizon = o.TicketHorizon
	}
	if o.PageHorizon != nil {
		m.PageHorizon = o.PageHorizon
	}
	if o.Window != nil {
		m.Window = o.Window
	}
	if o.For != nil {
		m.For = o.For
	}
	return &m
}

// apply returns the forecast with the override's values.
func (o *ForecastOverride) apply(f Forecast) Forecast {
	if o == nil {
		return f
	}
	if o.Enabled != nil {
		f.Enabled = *o.Enabled
	}
	for _, p := range []struct {
		v   *model.Duration
		dst *time.Duration
	}{{o.TicketHorizon, &f.TicketHorizon}, {o.PageHorizon, &f.PageHorizon}, {o.Window, &f.Window}, {o.For, &f.For}} {
		if p.v != nil {
			*p.dst = time.Duration(*p.v)
		}
	}
	return f
}

// Horizon is the forecast's horizon at a level.
func (f Forecast) Horizon(level ForecastLevel) time.Duration {
	if level == ForecastPage {
		return f.PageHorizon
	}
	return f.TicketHorizon
}

// History is how long a series must have been recorded before it gets
// forecasts: a season for the first 1-day mean, then a window of means.
func (f Forecast) History() time.Duration { return ForecastSeason + f.Window }

// forecastSignals are the resources with a limit that forecasts watch:
// API CPU and memory, the DB pools, PostgreSQL connections, Redis memory
// and the request rate per pod.
var forecastSignals = []SignalID{SignalAPICPU, SignalAPIMemory, SignalDBPool, SignalPostgresConnections, SignalRedisMemory, SignalAPIRequestsPerInstance}

// Forecastable reports whether a trigger gets forecasts: a threshold
// comparison (> or >=) that adds capacity (a scale-up trigger, or a
// health trigger near a limit) on one of the forecastSignals. Scale-down
// triggers, post-scaling checks and the forecasts themselves do not.
func Forecastable(t Trigger) bool {
	return t.Direction != Down && t.Set != SetValidation && t.expr == nil &&
		(t.Comparison == Above || t.Comparison == AtLeast) && slices.Contains(forecastSignals, SignalID(t.Signal.ID))
}

// Forecast is a forecast trigger's settings; zero for other triggers.
func (t Trigger) Forecast() Forecast { return t.forecast }

// IsForecast reports whether a trigger is a forecast.
func (t Trigger) IsForecast() bool {
	_, _, ok := ForecastOf(t.ID)
	return ok
}

// Resource names a forecast signal's records: headroom:<resource>:...
func forecastResource(s Signal) string { return string(s.ID) }

// ForecastRecord is one recording rule of the forecast group.
type ForecastRecord struct {
	Record string
	Expr   string
	// Labels are set by the rule besides service.
	Labels map[string]string
}

// Forecast record names of a signal.
func forecastRecordName(s Signal, what string) string {
	return "headroom:" + forecastResource(s) + ":" + what
}

// ForecastValueRecord is the signal sampled at ForecastInterval.
func ForecastValueRecord(s Signal) string { return forecastRecordName(s, "value") }

// ForecastPeakRecord is the highest value of the last season.
func ForecastPeakRecord(s Signal) string { return forecastRecordName(s, "peak_1d") }

// ForecastMeanRecord is the mean of the last season, where it is covered.
func ForecastMeanRecord(s Signal) string { return forecastRecordName(s, "mean_1d") }

// ForecastTrendRecord is the slope of the 1-day mean per second, label
// window, where the window is covered and the slope is rising.
func ForecastTrendRecord(s Signal) string { return forecastRecordName(s, "trend_per_second") }

// ForecastSecondsRecord is the seconds until the peak reaches a trigger's
// threshold at the trend, label trigger.
func ForecastSecondsRecord(s Signal) string { return forecastRecordName(s, "seconds_to_threshold") }

// samplesIn is how many samples of the forecast group a range of d holds
// at ForecastCoverage: the minimum count_over_time that makes a forecast.
func samplesIn(d time.Duration) int {
	return int(math.Ceil(ForecastCoverage * float64(d/ForecastInterval)))
}

// ForecastRecords are the recording rules of the forecast group, in
// evaluation order: per forecast signal its value, peak, mean and the
// trend of each window its triggers use, then per forecast trigger its
// seconds to the threshold.
func ForecastRecords(b *Bundle) []ForecastRecord {
	p := PromQL{b.Config}
	var out []ForecastRecord
	signalDone, trendDone := map[SignalID]bool{}, map[string]bool{}
	for _, t := range b.Triggers {
		base, level, ok := ForecastOf(t.ID)
		if !ok || level != ForecastTicket {
			continue
		}
		s, f := t.Signal, t.forecast
		if !signalDone[s.ID] {
			signalDone[s.ID] = true
			season := Dur(ForecastSeason)
			out = append(out,
				ForecastRecord{Record: ForecastValueRecord(s), Expr: s.Query},
				ForecastRecord{Record: ForecastPeakRecord(s), Expr: fmt.Sprintf("max_over_time(%s[%s])", p.Service(ForecastValueRecord(s)), season)},
				ForecastRecord{Record: ForecastMeanRecord(s), Expr: fmt.Sprintf("avg_over_time(%s[%s])\n  and count_over_time(%s[%s]) >= %d",
					p.Service(ForecastValueRecord(s)), season, p.Service(ForecastValueRecord(s)), season, samplesIn(ForecastSeason))})
		}
		w := Dur(f.Window)
		key := string(s.ID) + "/" + w
		if !trendDone[key] {
			trendDone[key] = true
			mean := p.Service(ForecastMeanRecord(s))
			out = append(out, ForecastRecord{Record: ForecastTrendRecord(s), Labels: map[string]string{"window": w},
				Expr: fmt.Sprintf("deriv(%s[%s]) > 0\n  and count_over_time(%s[%s]) >= %d", mean, w, mean, w, samplesIn(f.Window))})
		}
		distance := fmt.Sprintf("(%s - %s)", Num(t.Threshold), p.Service(ForecastPeakRecord(s)))
		if bt, ok := b.Trigger(base); ok && len(bt.Scopes) > 0 {
			distance = scopedDistance(p, bt, p.Service(ForecastPeakRecord(s)))
		}
		out = append(out, ForecastRecord{Record: ForecastSecondsRecord(s), Labels: map[string]string{"trigger": string(base)},
			Expr: fmt.Sprintf("%s\n  / %s %s\n  > 0", distance, "ignoring (window)",
				p.Service(ForecastTrendRecord(s), fmt.Sprintf("window=%q", w)))})
	}
	return out
}

// scopedDistance is the distance from a scoped trigger's peak to the
// threshold that applies to each series: the first `where` scope's that
// matches it, or the trigger's own where none does. The scopes are tried
// in order and joined by "or on (<the signal's labels>)", which keeps the
// left side's series: the split the trigger's scope record makes for the
// threshold alert, made here over the peak, so that the forecast reads no
// record of another group and predicts the crossing that would fire.
func scopedDistance(p PromQL, t Trigger, peak string) string {
	var terms []string
	for _, sc := range t.Scopes {
		terms = append(terms, fmt.Sprintf("(%s - %s)", Num(sc.Threshold), withMatchers(peak, sc.Matchers...)))
	}
	terms = append(terms, fmt.Sprintf("(%s - %s)", Num(t.Threshold), peak))
	return "(\n    " + strings.Join(terms, "\n  or "+p.On(append([]string{"service"}, t.Signal.Labels...)...)+"\n    ") + "\n  )"
}

// ForecastAlert is the alertname of a trigger's forecasts.
func ForecastAlert(t Trigger) string { return t.Alert + "Forecast" }

// forecasts derives the forecast triggers of a resolved, forecastable
// trigger: its ticket and page, unless the config disables them.
func (c *Config) forecasts(t Trigger) []Trigger {
	if !Forecastable(t) {
		return nil
	}
	f := c.Triggers[t.ID].Forecast.apply(DefaultForecast)
	if !f.Enabled {
		return nil
	}
	var out []Trigger
	for _, level := range ForecastLevels {
		out = append(out, forecastTrigger(t, level, f))
	}
	return out
}

func forecastTrigger(base Trigger, level ForecastLevel, f Forecast) Trigger {
	h := f.Horizon(level)
	thr := base.Signal.Unit.Format(base.Threshold)
	// A series a `where` scope takes is forecast against the scope's
	// threshold: the texts that name the threshold name those too.
	scopes := ""
	for _, sc := range base.Scopes {
		scopes += fmt.Sprintf("; %s where %s", base.Signal.Unit.Format(sc.Threshold), sc.Match)
	}
	severity, urgency := SeverityWarning, UrgencyMedium
	if level == ForecastPage {
		severity, urgency = SeverityCritical, UrgencyHigh
	}
	labels := map[string]string{}
	for k, v := range base.Labels {
		labels[k] = v
	}
	labels["trigger"] = string(base.ID)
	t := Trigger{
		ID: ForecastID(base.ID, level), Alert: ForecastAlert(base), Set: base.Set, Source: "headroom", Group: base.Group,
		Direction: base.Direction, Signal: base.Signal, Comparison: Custom, Threshold: base.Threshold, For: f.For, Action: base.Action,
		Urgency: urgency, Severity: severity, Labels: labels, Kind: base.Kind, forecast: f,
		When:    fmt.Sprintf("the trend of the last %s reaches %s's %s %s within %s (%s)", Dur(f.Window), base.ID, base.Comparison, thr, Dur(h), level),
		Summary: fmt.Sprintf("%s reaches %s within %s", base.Signal.Title, thr, Dur(h)),
		Description: fmt.Sprintf("%s of %s reaches %s (%s's threshold%s) in about {{ $value | humanizeDuration }} at the trend of the last %s; "+
			"the %s horizon is %s.", base.Signal.Title, base.Signal.Where, thr, base.ID, scopes, Dur(f.Window), level, Dur(h)) + ActionSentence(base.Action),
		Runbook: Runbook{
			Meaning: fmt.Sprintf("At the trend of the last %s, %s will reach %s's threshold (%s %s%s) within the horizon: %s for a ticket, %s for a page. "+
				"The distance is measured from the highest value of the last day and the trend is the slope of the 1-day mean, so a daily cycle "+
				"alone never fires; only growth does. A series already past the threshold is %s's, not a forecast's. "+
				"Forecasts start once %s of history exist (a 1d season, then a %s window, each at least %.0f%% covered): after a new deployment, "+
				"a new pod or target, or a gap of a few hours, none fires for about that long.",
				Dur(f.Window), base.Signal.Title, base.ID, base.Comparison, thr, scopes, Dur(f.TicketHorizon), Dur(f.PageHorizon), base.ID,
				Dur(f.History()), Dur(f.Window), ForecastCoverage*100),
			Steps: append([]string{
				fmt.Sprintf("Check the forecast: `%s{trigger=%q}` is the seconds left, `%s` the slope per second; a step change (a release, a migration, a new tenant) "+
					"makes a trend that will not continue.", ForecastSecondsRecord(base.Signal), base.ID, ForecastTrendRecord(base.Signal)),
				fmt.Sprintf("Plan %s's action before the threshold is reached; its steps follow.", base.Alert),
			}, base.Runbook.Steps...),
		},
	}
	t.expr = func(t Trigger) string {
		return fmt.Sprintf("last_over_time(%s[%s]) < %d", Sel(ForecastSecondsRecord(t.Signal), fmt.Sprintf("service=%q", t.Service), fmt.Sprintf("trigger=%q", base.ID)),
			Dur(ForecastFreshness), int64(h/time.Second))
	}
	return t
}

// validateForecast checks triggers.<id>.forecast.
func validateForecast(t Trigger, o *ForecastOverride, field string, bad func(field, format string, args ...any)) {
	if o == nil {
		return
	}
	field += ".forecast"
	if !Forecastable(t) {
		bad(field, "%s has no forecast: only > and >= comparisons that add capacity, on %s, do", t.ID, joinIDs(forecastSignals))
		return
	}
	for name, d := range map[string]*model.Duration{"ticket_horizon": o.TicketHorizon, "page_horizon": o.PageHorizon, "window": o.Window} {
		if d != nil && *d <= 0 {
			bad(field+"."+name, "must be > 0")
		}
	}
	if o.For != nil && *o.For < 0 {
		bad(field+".for", "must be >= 0")
	}
	f := o.apply(DefaultForecast)
	if f.PageHorizon > 0 && f.PageHorizon >= f.TicketHorizon {
		bad(field+".page_horizon", "%s must be shorter than ticket_horizon %s: the page is the nearer of the two", Dur(f.PageHorizon), Dur(f.TicketHorizon))
	}
	if f.Window > 0 && f.Window < time.Hour {
		bad(field+".window", "%s is under 1h: the trend of the 1-day mean needs at least an hour to fit", Dur(f.Window))
	}
	if f.Window > 0 && f.Window%ForecastInterval != 0 {
		bad(field+".window", "%s is not a multiple of the forecast group's interval %s", Dur(f.Window), Dur(ForecastInterval))
	}
}
