package e2e

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/headroom-dev/headroom/alerts"
	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/internal/drill"
	"github.com/headroom-dev/headroom/internal/standin"
	"github.com/headroom-dev/headroom/internal/testenv"
)

// drillFor is RequestRateHigh's `for` in the drill test: longer than the
// spike's effect on the 10s rate window, so that the spike goes pending
// and must not fire.
const drillFor = 20 * time.Second

// TestDrillReaction drills the stand-in API with a real Prometheus loading
// the generated AMAS bundle: a step across RequestRateHigh's 15 requests a
// second per pod fires it within for + 2 evaluations + a scrape of the
// crossing, and the KEDA scaler asks for more replicas; a spike shorter
// than `for` goes pending at most and pages nothing; the text report says
// both.
func TestDrillReaction(t *testing.T) {
	t.Parallel()
	api := standin.New()
	apiSrv := httptest.NewServer(api.Handler())
	t.Cleanup(apiSrv.Close)

	cfg, err := catalogue.Preset("amas")
	if err != nil {
		t.Fatal(err)
	}
	cfg.ScrapeInterval = model.Duration(time.Second)
	cfg.API.RateWindow = model.Duration(testWindow)
	short := model.Duration(drillFor)
	cfg.Triggers = map[catalogue.TriggerID]catalogue.Override{catalogue.TriggerRequestRateHigh: {For: &short}}
	bundle, err := catalogue.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	files, err := alerts.Generate(bundle)
	if err != nil {
		t.Fatal(err)
	}
	prom := testenv.StartPrometheus(t, testenv.PrometheusOptions{
		Jobs:      map[string][]string{cfg.Service: {strings.TrimPrefix(apiSrv.URL, "http://")}},
		RuleFiles: writeRuleFiles(t, files),
	})
	prom.WaitFor(t, `up{job="`+cfg.Service+`"} == 1`, 30*time.Second)

	file := &drill.Config{Target: drill.Target{URL: apiSrv.URL + "/api/v1/chat", Method: "POST", Body: `{"message": "{{ .Seq }}"}`},
		MaxRate: 100, MaxDuration: model.Duration(5 * time.Minute),
		Drills: []drill.Drill{
			{Name: "step", Pattern: drill.Step, Rate: 5, To: 30, At: model.Duration(10 * time.Second), Duration: model.Duration(50 * time.Second)},
			{Name: "spike", Pattern: drill.Spike, Rate: 5, To: 40, At: model.Duration(10 * time.Second), Hold: model.Duration(4 * time.Second),
				Duration: model.Duration(40 * time.Second)},
		}}
	if err := file.Check(); err != nil {
		t.Fatal(err)
	}
	dest, err := drill.Resolve(context.Background(), file.Target.URL, false)
	if err != nil {
		t.Fatal(err)
	}
	runner := drill.Runner{Config: file, Dest: dest}
	checker := drill.Checker{URL: "http://" + prom.Addr(), Bundle: bundle, Evaluation: time.Second, Scrape: time.Second, Settle: 3 * time.Second}
	var results []drill.DrillResult
	for _, d := range file.Drills {
		results = append(results, runner.Run(context.Background(), d))
	}
	time.Sleep(checker.Settle)
	for i := range results {
		until := results[len(results)-1].End.Add(checker.Settle)
		if i+1 < len(results) {
			until = results[i+1].Start
		}
		reaction, err := checker.Check(context.Background(), results[i], until)
		if err != nil {
			t.Fatal(err)
		}
		results[i].Reaction = &reaction
	}
	drill.Judge(results, file.SLO, file.Regression, nil)
	var text strings.Builder
	rep := drill.ReportOf(file, results)
	drill.WriteText(&text, rep)
	t.Log("\n" + text.String())

	step, spike := results[0].Reaction, results[1].Reaction
	var rate *drill.Reaction
	for i, re := range step.Reactions {
		if re.Alert == "RequestRateHigh" {
			rate = &step.Reactions[i]
		}
	}
	switch {
	case rate == nil:
		t.Fatalf("step: RequestRateHigh neither crossed nor fired: %+v", step.Reactions)
	case rate.Crossed == nil || rate.Fired == nil:
		t.Fatalf("step: RequestRateHigh crossed %v, fired %v", rate.Crossed, rate.Fired)
	case !rate.InTime:
		t.Errorf("step: RequestRateHigh fired %s after crossing, expected within %s", rate.Fired.Sub(*rate.Crossed), time.Duration(rate.Expected))
	case rate.Crossed.Before(rate.LoadChanged):
		t.Errorf("step: crossed at %s, before the load changed at %s", rate.Crossed, rate.LoadChanged)
	}
	if step.ReplayError != "" || step.DesiredAfter <= step.DesiredBefore {
		t.Errorf("step: the scaler asked for %d replicas, then %d (%s)", step.DesiredBefore, step.DesiredAfter, step.ReplayError)
	}
	for _, re := range spike.Reactions {
		if re.Fired != nil {
			t.Errorf("spike: %s fired at %s on a spike of 4s", re.Alert, re.Fired)
		}
	}
	if len(spike.Unexpected) > 0 || drill.ExitCode(results) != drill.ExitPass {
		t.Errorf("spike: unexpected %+v, exit %d", spike.Unexpected, drill.ExitCode(results))
	}
	for _, want := range []string{"RequestRateHigh (up, critical)", "in time", "unwanted  none"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("the report does not say %q", want)
		}
	}
}
