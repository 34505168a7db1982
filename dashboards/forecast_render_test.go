package dashboards

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/internal/testenv"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
)

// forecastRecordSuffixes end the names of the forecast group's records
// (catalogue.ForecastRecords).
var forecastRecordSuffixes = []string{":value", ":peak_1d", ":mean_1d", ":trend_per_second", ":seconds_to_threshold"}

// readsForecasts reports whether a panel selects a forecast record. The
// live render test cannot fill those: the forecast group evaluates every
// 5 minutes and needs a day of history before it records a trend.
func readsForecasts(t *testing.T, p dashboard.Panel) bool {
	for _, q := range exprsOf(t, p) {
		for _, sel := range selectorsOf(t, renderable(q.expr)) {
			for _, suffix := range forecastRecordSuffixes {
				if strings.HasPrefix(sel.metric, "headroom:") && strings.HasSuffix(sel.metric, suffix) {
					return true
				}
			}
		}
	}
	return false
}

// The Headroom dashboard's forecast panels, against a real Prometheus
// holding the forecast records as the rules write them (backfilled: the
// rules themselves are tested with promtool in alerts): every query and
// every selector has data, the time to the threshold reads the record, and
// the predicted value is the peak plus the trend times the ticket horizon,
// or the peak alone for a signal whose trend is not rising.
func TestRenderForecasts(t *testing.T) {
	cfg, err := catalogue.Preset(committedPreset)
	if err != nil {
		t.Fatal(err)
	}
	bundle := catalogue.MustBuild(cfg)
	ds, err := Build(bundle)
	if err != nil {
		t.Fatal(err)
	}
	const peak, trend, seconds = 0.5, 1e-6, 86400.0
	now := time.Now().Truncate(time.Second)
	var om strings.Builder
	flat := map[catalogue.SignalID]bool{} // no trend recorded: not rising
	families := map[string][]string{}
	var order []string
	sample := func(record string, labels []string, v float64) {
		if _, ok := families[record]; !ok {
			order = append(order, record)
		}
		for at := now.Add(-10 * time.Minute); !at.After(now); at = at.Add(time.Minute) {
			families[record] = append(families[record], fmt.Sprintf("%s{%s} %g %d\n", record, strings.Join(labels, ","), v, at.Unix()))
		}
	}
	triggers := (&gen{bundle: bundle}).forecastTriggers()
	if len(triggers) < 2 {
		t.Fatalf("preset %s has %d forecast triggers, want at least 2", committedPreset, len(triggers))
	}
	for i, tr := range triggers {
		base, _, _ := catalogue.ForecastOf(tr.ID)
		s := tr.Signal
		labels := []string{fmt.Sprintf("service=%q", cfg.Service)}
		for _, l := range s.Labels {
			labels = append(labels, fmt.Sprintf("%s=%q", l, "x"))
		}
		sample(catalogue.ForecastPeakRecord(s), labels, peak)
		if i == len(triggers)-1 {
			flat[s.ID] = true
		} else {
			sample(catalogue.ForecastTrendRecord(s), append(labels, fmt.Sprintf("window=%q", catalogue.Dur(tr.Forecast().Window))), trend)
		}
		sample(catalogue.ForecastSecondsRecord(s), append(labels, fmt.Sprintf("trigger=%q", base)), seconds)
	}
	for _, record := range order {
		for _, line := range families[record] {
			om.WriteString(line)
		}
	}
	om.WriteString("# EOF\n")
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{Backfill: om.String()})

	checked := 0
	for _, name := range Names {
		for _, p := range allPanels(ds[name]) {
			if !readsForecasts(t, p) {
				continue
			}
			if name != Headroom {
				t.Errorf("%s/%s reads forecast records; only the Headroom dashboard should", name, str(p.Title))
			}
			checked++
			tr := forecastOfPanel(t, triggers, p)
			for _, q := range exprsOf(t, p) {
				expr := renderable(q.expr)
				v, err := instant(prom, expr)
				if err != nil || len(v) != 1 {
					t.Errorf("%s: %v, %d series for\n%s", str(p.Title), err, len(v), expr)
					continue
				}
				got := float64(v[0].Value)
				want := seconds
				if strings.Contains(expr, ":peak_1d") {
					want = peak + trend*tr.Forecast().TicketHorizon.Seconds()
					if flat[tr.Signal.ID] {
						want = peak
					}
				}
				if math.Abs(got-want) > 1e-9 {
					t.Errorf("%s: %g, want %g from\n%s", str(p.Title), got, want, expr)
				}
				for _, sel := range selectorsOf(t, expr) {
					if strings.HasSuffix(sel.metric, ":trend_per_second") && flat[tr.Signal.ID] {
						continue // not rising: no trend, by design
					}
					if c, err := instant(prom, "count("+sel.text+")"); err != nil || len(c) == 0 {
						t.Errorf("%s: selector %s matches nothing (%v)", str(p.Title), sel.text, err)
					}
				}
			}
		}
	}
	if want := 2 * len(triggers); checked != want {
		t.Errorf("%d panels read forecast records, want %d (time to threshold and predicted value per forecast)", checked, want)
	}
}

// forecastOfPanel is the forecast a panel reads, by its signal's records.
func forecastOfPanel(t *testing.T, triggers []catalogue.Trigger, p dashboard.Panel) catalogue.Trigger {
	t.Helper()
	for _, q := range exprsOf(t, p) {
		for _, tr := range triggers {
			base, _, _ := catalogue.ForecastOf(tr.ID)
			if strings.Contains(q.expr, catalogue.ForecastSecondsRecord(tr.Signal)+"{") && strings.Contains(q.expr, fmt.Sprintf("trigger=%q", base)) ||
				strings.Contains(q.expr, catalogue.ForecastPeakRecord(tr.Signal)+"{") {
				return tr
			}
		}
	}
	t.Fatalf("panel %q reads no forecast of the bundle", str(p.Title))
	return catalogue.Trigger{}
}

// The Headroom dashboard has, for every resource the bundle records the
// headroom of, its share in the shared stat and a stat of what is left in
// its unit; for every forecast, a time to the threshold in seconds
// coloured by the two horizons and a predicted value red from the
// threshold.
func TestHeadroomDashboard(t *testing.T) {
	for _, gd := range generateAll(t) {
		bundle := catalogue.MustBuild(gd.cfg)
		panels := allPanels(dashboardsOf(t, gd)[Headroom])
		find := func(match func(dashboard.Panel, string) bool) []dashboard.Panel {
			var out []dashboard.Panel
			for _, p := range panels {
				for _, q := range exprsOf(t, p) {
					if match(p, q.expr) {
						out = append(out, p)
						break
					}
				}
			}
			return out
		}
		unit := func(p dashboard.Panel) string {
			if p.FieldConfig == nil || p.FieldConfig.Defaults.Unit == nil {
				return ""
			}
			return *p.FieldConfig.Defaults.Unit
		}
		for _, r := range bundle.Remaining() {
			where := gd.cfg.Service + " " + string(r.ID)
			ratio := find(func(p dashboard.Panel, e string) bool { return strings.Contains(e, r.ID.RatioRecord()+"{") })
			if len(ratio) != 1 || unit(ratio[0]) != "percentunit" {
				t.Errorf("%s: %d stats of the remaining ratio, want 1 in percentunit", where, len(ratio))
			}
			left := find(func(p dashboard.Panel, e string) bool { return strings.Contains(e, r.ID.Record()+"{") })
			if len(left) != 1 || unit(left[0]) != grafanaUnit(r.Unit) || !hasStep(left[0], 0) {
				t.Errorf("%s: %d stats of what is left, want 1 in %s, red below 0", where, len(left), grafanaUnit(r.Unit))
			}
		}
		for _, tr := range (&gen{bundle: bundle}).forecastTriggers() {
			base, _, _ := catalogue.ForecastOf(tr.ID)
			where := gd.cfg.Service + " " + string(tr.ID)
			f := tr.Forecast()
			secs := find(func(p dashboard.Panel, e string) bool {
				return strings.Contains(e, catalogue.ForecastSecondsRecord(tr.Signal)+"{") && strings.Contains(e, fmt.Sprintf("trigger=%q", base))
			})
			if len(secs) != 1 || unit(secs[0]) != "s" || !hasStep(secs[0], f.PageHorizon.Seconds()) || !hasStep(secs[0], f.TicketHorizon.Seconds()) {
				t.Errorf("%s: %d time-to-threshold stats, want 1 in s with steps at both horizons", where, len(secs))
			}
			pred := find(func(p dashboard.Panel, e string) bool {
				return strings.Contains(e, catalogue.ForecastPeakRecord(tr.Signal)+"{") && strings.Contains(e, " * "+catalogue.Num(f.TicketHorizon.Seconds()))
			})
			if len(pred) != 1 || unit(pred[0]) != signalUnit(tr.Signal) || !hasStep(pred[0], tr.Threshold) {
				t.Errorf("%s: %d predicted-value stats, want 1 in %s with a step at %g", where, len(pred), signalUnit(tr.Signal), tr.Threshold)
				continue
			}
			if s := steps(pred[0]); s[len(s)-1].Color != colorCritical {
				t.Errorf("%s: predicted value's last step %v, want red from the threshold", where, s)
			}
		}
	}
}
