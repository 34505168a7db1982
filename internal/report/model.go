// Package report is `headroom report`: the Health Agent guide's
// pre-scaling checklist, decision tree, cost, time to saturation and
// post-scaling validation, evaluated over a range of history. Build turns
// the history into one Report; the writers (text, JSON, Markdown, and an
// HTML page of tables and charts) only render it, so that every format says the same.
package report

import (
	"time"
)

// SchemaVersion is the version of the JSON document; it changes when a
// field changes meaning, format or goes away, or fields are added
// (docs/report.md). 2: step is a Prometheus duration ("5m"), saturation
// has unit, window, ticket_horizon, page_horizon and alert.
const SchemaVersion = 2

// Status of a checklist item, a recommendation or a target.
type Status string

// Statuses. Unknown is a number that could not be had (no data, or a
// division by zero): it never fails the report.
const (
	Pass         Status = "pass"
	Fail         Status = "fail"
	Unknown      Status = "unknown"
	Recommended  Status = "recommended"
	NotNeeded    Status = "not needed"
	NotEvaluated Status = "not evaluated"
)

// Report is everything `headroom report` says of a range.
type Report struct {
	Version int       `json:"version"`
	Service string    `json:"service"`
	Preset  string    `json:"preset"`
	Source  string    `json:"source"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	// Step is the spacing of the values the report reads, a Prometheus
	// duration ("5m").
	Step string `json:"step"`
	// NoData names the signals that had no value anywhere in the range.
	NoData          []string         `json:"no_data"`
	Checklist       []Item           `json:"checklist"`
	Recommendations []Recommendation `json:"recommendations"`
	Cost            Cost             `json:"cost"`
	Saturation      []Forecast       `json:"saturation"`
	// Validation is nil when the range holds no replica-count change.
	Validation *Validation `json:"validation"`

	// step is Step as a duration: the HTML charts place values by it.
	step time.Duration
}

// Item is one line of the checklist or of the post-scaling targets: the
// number behind it, the bound it is held to and the verdict.
type Item struct {
	Name   string   `json:"name"`
	Status Status   `json:"status"`
	Value  *float64 `json:"value"`
	Unit   string   `json:"unit"`
	// Detail says how the number was had, or why it is unknown.
	Detail string `json:"detail"`
}

// Recommendation is one branch of the guide's decision tree.
type Recommendation struct {
	Area   string `json:"area"`
	Action string `json:"action"`
	Status Status `json:"status"`
	// Because names the numbers that decided it.
	Because string `json:"because"`

	// check marks a row that checks another's step rather than scaling:
	// it moves no price tier.
	check bool
}

// Cost is the price table's tier of what is deployed now and of the
// recommended change.
type Cost struct {
	Users *float64 `json:"users"`
	// Now and After are tiers of the price table: Now the smallest with as
	// many API servers as are deployed (the users' tier when that is
	// unknown), After the tier the recommendation moves to (nil when it
	// stays).
	Now   *Tier `json:"now"`
	After *Tier `json:"after"`
	// Per user and per request per month, at Now's price.
	PerUser    *float64 `json:"per_user"`
	PerRequest *float64 `json:"per_request"`
	// RequestsPerMonth is the mean request rate over the range × 30 days.
	RequestsPerMonth *float64 `json:"requests_per_month"`
	Detail           string   `json:"detail"`
}

// Tier is a tier of the price table with its total.
type Tier struct {
	Users   int        `json:"users"`
	Monthly float64    `json:"monthly"`
	Items   []TierItem `json:"items"`
}

// TierItem is a line of a tier.
type TierItem struct {
	Service string  `json:"service"`
	Size    string  `json:"size"`
	Count   int     `json:"count"`
	Monthly float64 `json:"monthly"`
}

// Forecast is a resource's time to saturation by the forecast alerts'
// formula and settings: the trend over their window.
type Forecast struct {
	Resource  string  `json:"resource"`
	Signal    string  `json:"signal"`
	Trigger   string  `json:"trigger"`
	Threshold float64 `json:"threshold"`
	// Unit is the signal's: a ratio, or a rate per second.
	Unit string `json:"unit"`
	// Window is the forecast's trend window; TicketHorizon and PageHorizon
	// its alerts' horizons (Prometheus durations, "1d", "6h").
	Window        string `json:"window"`
	TicketHorizon string `json:"ticket_horizon"`
	PageHorizon   string `json:"page_horizon"`
	// Peak is max_over_time over the last day; Slope the per-day rise of
	// the one-day average over the window.
	Peak     *float64 `json:"peak"`
	SlopeDay *float64 `json:"slope_per_day"`
	// Hours to the threshold; nil when it is not rising, already over, or
	// unknown (Detail says which).
	Hours *float64 `json:"hours"`
	// Alert is the forecast alert the time would fire: "page" under the
	// page horizon, "ticket" under the ticket horizon, else empty.
	Alert  string `json:"alert"`
	Detail string `json:"detail"`

	// values are the utilisation the forecast read, a step apart from the
	// report's Start: the HTML charts draw them, the other formats do not.
	values series
	// ticketHorizon is TicketHorizon as a duration, how far the HTML draws
	// the forecast.
	ticketHorizon time.Duration
}

// Validation is the post-scaling targets after the last replica-count
// change of the range.
type Validation struct {
	At      time.Time `json:"at"`
	From    int       `json:"from"`
	To      int       `json:"to"`
	Targets []Item    `json:"targets"`
}

// Failed names the checklist items and post-scaling targets that failed:
// any fails the exit status CI gates on.
func (r *Report) Failed() []string {
	var out []string
	for _, it := range r.Checklist {
		if it.Status == Fail {
			out = append(out, it.Name)
		}
	}
	if r.Validation != nil {
		for _, it := range r.Validation.Targets {
			if it.Status == Fail {
				out = append(out, "post-scaling "+it.Name)
			}
		}
	}
	return out
}
