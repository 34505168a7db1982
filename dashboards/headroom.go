package dashboards

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/common"

	"github.com/headroom-dev/headroom/catalogue"
)

// headroomRowTitle is the overview's first row.
const headroomRowTitle = "Headroom: what is left and when it runs out"

// remainingWarn and remainingCritical colour a remaining share: under 30 %
// left is the guide's 70 % utilisation, from which it scales; under 10 %
// the resource is about to saturate.
const (
	remainingWarn     = 0.3
	remainingCritical = 0.1
)

// headroomRow is the overview's Headroom view: per resource what is left
// of its limit (headroom:<resource>:remaining and remaining_ratio), then
// per forecast trigger the time until the peak reaches the threshold and
// the value predicted at the ticket horizon beside that threshold. The
// forecast line itself is drawn by `headroom report`: PromQL has no future
// samples, so the prediction is computed here as peak + trend × horizon.
func (g *gen) headroomRow(bd *board) {
	rs := g.bundle.Remaining()
	forecasts := g.forecastTriggers()
	if len(rs) == 0 && len(forecasts) == 0 {
		return
	}
	bd.row(headroomRowTitle, false)
	p := g.cfg().PromQL()
	if len(rs) > 0 {
		var qs []query
		for _, r := range rs {
			qs = append(qs, query{Expr: fmt.Sprintf("min(%s)", g.scope(p.Service(r.ID.RatioRecord()), r.Labels)), Legend: r.Title})
		}
		bd.stat(spec{
			Title: "Share of each limit left",
			Desc: "Shows, per resource with a known limit, the share of it left on the tightest series (`headroom:<resource>:remaining_ratio`): " +
				"orange under 30 % (the guide's 70 % utilisation), red under 10 %, below 0 over the limit. A resource whose limit is unknown has no series.",
			Unit:     "percentunit",
			Queries:  qs,
			Steps:    stepsAt(colorCritical, remainingCritical, colorWarning, remainingWarn, colorOK),
			TextMode: common.BigValueTextModeValueAndName,
			W:        24, H: 5, Decimals: ptr(1.0),
		})
		for _, r := range rs {
			bd.stat(spec{
				Title: r.Title + ": left",
				Desc: fmt.Sprintf("Shows the %s left of %s on the tightest series (`%s`): the limit (%s) less the usage (%s).",
					r.Counts, r.Title, r.ID.Record(), r.Limit, r.Usage),
				Unit:    grafanaUnit(r.Unit),
				Queries: []query{{Expr: fmt.Sprintf("min(%s)", g.scope(p.Service(r.ID.Record()), r.Labels))}},
				Steps:   stepsAt(colorCritical, 0.0, colorOK),
				W:       4, H: 4,
				Links: []link{{"headroom / " + titles[detailOf[r.Group]], panelLinkURL(g.cfg(), detailOf[r.Group])}},
			})
		}
	}
	for _, t := range forecasts {
		g.forecastPanels(bd, t)
	}
}

// forecastTriggers are the bundle's ticket-level forecasts: one per
// forecast trigger, whose records (catalogue.ForecastRecords) the page
// level shares.
func (g *gen) forecastTriggers() []catalogue.Trigger {
	var out []catalogue.Trigger
	for _, t := range g.bundle.Triggers {
		if _, level, ok := catalogue.ForecastOf(t.ID); ok && level == catalogue.ForecastTicket {
			out = append(out, t)
		}
	}
	return out
}

// forecastPanels are a forecast trigger's time to saturation and its
// predicted value at the ticket horizon, coloured by the horizons and the
// threshold the forecast alerts use.
func (g *gen) forecastPanels(bd *board, t catalogue.Trigger) {
	base, _, _ := catalogue.ForecastOf(t.ID)
	s, f := t.Signal, t.Forecast()
	p := g.cfg().PromQL()
	ticket, page := f.Horizon(catalogue.ForecastTicket), f.Horizon(catalogue.ForecastPage)
	thr := formatAs(t, t.Threshold)
	seconds := g.scope(p.Service(catalogue.ForecastSecondsRecord(s), fmt.Sprintf("trigger=%q", base)), s.Labels)
	peak := g.scope(p.Service(catalogue.ForecastPeakRecord(s)), s.Labels)
	trend := g.scope(p.Service(catalogue.ForecastTrendRecord(s), fmt.Sprintf("window=%q", catalogue.Dur(f.Window))), s.Labels)
	links := []link{{"headroom / " + titles[detailOf[t.Group]], panelLinkURL(g.cfg(), detailOf[t.Group])}}
	if t.RunbookURL != "" {
		links = append([]link{{"Runbook: " + catalogue.ForecastAlert(t), t.RunbookURL}}, links...)
	}
	trendWords := fmt.Sprintf("the rising slope of its 1-day mean over %s (`%s`)", catalogue.Dur(f.Window), catalogue.ForecastTrendRecord(s))
	bd.stat(spec{
		Title: fmt.Sprintf("%s: time to %s", s.Title, thr),
		Desc: fmt.Sprintf("Shows how long until the 1-day peak of %s (`%s`) reaches %s (trigger %s) at %s: `%s`. "+
			"Red under the page horizon (%s), orange under the ticket horizon (%s), where %s pages or tickets. "+
			"No value while the trend is not rising or fewer than %s are recorded.",
			s.Title, catalogue.ForecastPeakRecord(s), thr, base, trendWords, catalogue.ForecastSecondsRecord(s),
			catalogue.Dur(page), catalogue.Dur(ticket), catalogue.ForecastAlert(t), catalogue.Dur(f.History())),
		Unit:    "s",
		Queries: []query{{Expr: fmt.Sprintf("min(%s)", seconds)}},
		Steps:   stepsAt(colorCritical, page.Seconds(), colorWarning, ticket.Seconds(), colorOK),
		W:       6, H: 5, Decimals: ptr(1.0),
		Links: links,
	})
	bd.stat(spec{
		Title: fmt.Sprintf("%s in %s (threshold %s)", s.Title, catalogue.Dur(ticket), thr),
		Desc: fmt.Sprintf("Shows %s predicted %s from now beside the threshold %s (trigger %s), red from it: the 1-day peak (`%s`) "+
			"plus %s times %s; the peak alone while the trend is not rising. The forecast line is drawn by `headroom report`.",
			s.Title, catalogue.Dur(ticket), thr, base, catalogue.ForecastPeakRecord(s), trendWords, catalogue.Dur(ticket)),
		Unit: signalUnit(s),
		Queries: []query{{Expr: fmt.Sprintf("max(%s + ignoring (window) %s * %s)\nor\nmax(%s)",
			peak, trend, catalogue.Num(ticket.Seconds()), peak)}},
		Steps: stepsAt(colorOK, t.Threshold, colorCritical),
		W:     6, H: 5,
		Links: links,
	})
}
