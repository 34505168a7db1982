package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/internal/drill"
	"github.com/headroom-dev/headroom/internal/toolhelp"
)

type drillCommand struct {
	cmd          *kingpin.CmdClause
	file         string
	dryRun       bool
	planStep     time.Duration
	jsonOut      string
	csvOut       string
	htmlOut      string
	saveBaseline string
	listen       string
	allowPublic  bool
	promURL      string
	configFile   string
	preset       string
	evaluation   time.Duration
	settle       time.Duration
	out          io.Writer
	errOut       io.Writer
}

func (d *drillCommand) clause() *kingpin.CmdClause { return d.cmd }

func newDrillCommand(app *kingpin.Application) *drillCommand {
	d := &drillCommand{out: os.Stdout, errOut: os.Stderr}
	d.cmd = app.Command("drill", toolhelp.Drill+" Exit codes: 0 passed, 1 bad config or unreachable target, 2 bad command line, "+
		"3 SLO failed, 4 regression against the baseline, 5 an alert fired late, was missed or should not have fired (or the reaction could not be read), 130 interrupted (the partial report is written). See docs/drill.md.")
	d.cmd.Flag("drill.file", "Drill file (YAML): target, max_rate, max_duration, slo, regression, drills.").Required().StringVar(&d.file)
	d.cmd.Flag("dry-run", "Print the planned rate curve of every drill and send nothing.").BoolVar(&d.dryRun)
	d.cmd.Flag("dry-run.step", "Step of the planned curve --dry-run prints.").Default("10s").DurationVar(&d.planStep)
	d.cmd.Flag("output.json", "Write the JSON report (schema "+drill.ReportSchema+") to this file.").StringVar(&d.jsonOut)
	d.cmd.Flag("output.csv", "Write the per-second samples as CSV to this file.").StringVar(&d.csvOut)
	d.cmd.Flag("output.html", "Write the report as one self-contained HTML page with charts (load, latency percentiles, errors, alerts) to this file.").StringVar(&d.htmlOut)
	d.cmd.Flag("save-baseline", "Write this run's stats as a baseline (schema "+drill.BaselineSchema+") for regression.baseline.").StringVar(&d.saveBaseline)
	d.cmd.Flag("web.listen-address", "Serve the drill's own metrics (<prefix>_load_test_*) on this address at /metrics while it runs; empty: none.").StringVar(&d.listen)
	d.cmd.Flag("allow-public-target", "Load a target that resolves to an address that is not loopback, RFC 1918 or ULA.").BoolVar(&d.allowPublic)
	d.cmd.Flag("prometheus.url", "Prometheus that evaluates the bundle of --preset/--config: after the drills, read when each scaling alert crossed, went pending, fired and resolved, and what the generated autoscaler asked for.").StringVar(&d.promURL)
	d.cmd.Flag("config", "Alerts config file (YAML) of the bundle that Prometheus loads, read on top of its preset.").StringVar(&d.configFile)
	d.cmd.Flag("preset", "Preset of that bundle: "+strings.Join(catalogue.Presets(), ", ")+". Default: the config's preset key, else health-agent.").StringVar(&d.preset)
	d.cmd.Flag("prometheus.evaluation-interval", "That Prometheus's rule evaluation interval (its global evaluation_interval).").Default("1m").DurationVar(&d.evaluation)
	d.cmd.Flag("prometheus.settle", "How long after the last drill alerts are still read; default the longest for of the bundle's scaling triggers + 2 x the evaluation interval + its scrape interval.").DurationVar(&d.settle)
	return d
}

func (d *drillCommand) run() error {
	bad := func(err error) error { return &exitError{drill.ExitError, err} }
	cfg, err := drill.Load(d.file)
	if err != nil {
		return bad(err)
	}
	if d.planStep <= 0 {
		return bad(fmt.Errorf("--dry-run.step must be > 0, not %s", d.planStep))
	}
	if d.dryRun {
		_, err := io.WriteString(d.out, drill.Plan(cfg.Drills, d.planStep))
		return err
	}
	var checker *drill.Checker
	if d.promURL != "" {
		alertsCfg, err := loadConfig(d.configFile, d.preset)
		if err != nil {
			return bad(err)
		}
		bundle, err := catalogue.Build(alertsCfg)
		if err != nil {
			return bad(err)
		}
		scrape := time.Duration(alertsCfg.ScrapeInterval)
		checker = &drill.Checker{URL: d.promURL, Bundle: bundle, Evaluation: d.evaluation, Scrape: scrape, Settle: d.settle}
		if checker.Settle == 0 {
			checker.Settle = drill.DefaultSettle(bundle, d.evaluation, scrape)
		}
	}
	var base *drill.Baseline
	if cfg.Regression.Baseline != "" {
		b, err := drill.ReadBaseline(cfg.Regression.Baseline)
		if err != nil {
			return bad(err)
		}
		base = &b
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	// After the first Ctrl-C, a second one kills at once.
	context.AfterFunc(ctx, stop)
	if checker != nil {
		// Before the load: a wrong URL must not cost a whole drill.
		if err := checker.Ping(ctx); err != nil {
			return bad(err)
		}
	}
	dest, err := drill.Resolve(ctx, cfg.Target.URL, d.allowPublic)
	if err != nil {
		return bad(err)
	}
	if err := dest.Reachable(ctx, cfg.Target.URL); err != nil {
		return bad(err)
	}
	runner := drill.Runner{Config: cfg, Dest: dest}
	if d.listen != "" {
		reg := prometheus.NewRegistry()
		runner.Observer = drill.NewMetrics(reg, cfg.Metrics.PrefixFor(d.presetName()))
		ln, err := net.Listen("tcp", d.listen)
		if err != nil {
			return bad(fmt.Errorf("--web.listen-address: %w", err))
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		server := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go server.Serve(ln)
		defer server.Close()
		fmt.Fprintf(d.errOut, "drill metrics on http://%s/metrics\n", ln.Addr())
	}
	var results []drill.DrillResult
	for _, dr := range cfg.Drills {
		fmt.Fprintf(d.errOut, "drill %s: %s for %s, up to %g req/s\n", dr.Name, dr.Pattern, dr.Length(), dr.Peak())
		res := runner.Run(ctx, dr)
		results = append(results, res)
		if res.Interrupted {
			break
		}
	}
	if checker != nil && len(results) > 0 && !results[len(results)-1].Interrupted {
		d.checkReactions(ctx, checker, results)
	}
	drill.Judge(results, cfg.SLO, cfg.Regression, base)
	rep := drill.ReportOf(cfg, results)
	var errs []error
	if d.jsonOut != "" {
		errs = append(errs, writeFile(d.jsonOut, func(w io.Writer) error { return drill.WriteJSON(w, rep) }))
	}
	if d.csvOut != "" {
		errs = append(errs, writeFile(d.csvOut, func(w io.Writer) error { return drill.WriteCSV(w, rep) }))
	}
	if d.htmlOut != "" {
		errs = append(errs, writeFile(d.htmlOut, func(w io.Writer) error { return drill.WriteHTML(w, rep) }))
	}
	if d.saveBaseline != "" && rep.ExitCode != drill.ExitInterrupted {
		errs = append(errs, writeFile(d.saveBaseline, func(w io.Writer) error { return drill.WriteJSON(w, drill.BaselineOf(results)) }))
	}
	errs = append(errs, drill.WriteText(d.out, rep))
	if err := errors.Join(errs...); err != nil {
		return bad(err)
	}
	if rep.ExitCode != drill.ExitPass {
		return &exitError{rep.ExitCode, fmt.Errorf("exit %d (see the summary above)", rep.ExitCode)}
	}
	return nil
}

// presetName is the preset of the bundle the drill is read against, for
// the metrics' prefix: --preset, else the --config file's preset key.
func (d *drillCommand) presetName() string {
	if d.preset != "" || d.configFile == "" {
		return d.preset
	}
	cfg, err := loadConfig(d.configFile, "")
	if err != nil {
		return ""
	}
	return cfg.Preset
}

// checkReactions waits for the last drill's settle time, then reads each
// drill's reaction from Prometheus, each until the next drill's start. A
// reaction that cannot be read is said in the report (exit 5); Ctrl-C in
// the wait marks the last drill interrupted (exit 130), reports written.
func (d *drillCommand) checkReactions(ctx context.Context, checker *drill.Checker, results []drill.DrillResult) {
	last := len(results) - 1
	wait := time.Until(results[last].End.Add(checker.Settle))
	fmt.Fprintf(d.errOut, "waiting %s for the alerts to settle (--prometheus.settle)\n", wait.Round(time.Second))
	select {
	case <-time.After(wait):
	case <-ctx.Done():
		results[last].Interrupted = true
		return
	}
	for i := range results {
		until := results[last].End.Add(checker.Settle)
		if i < last {
			until = results[i+1].Start
		}
		reaction, err := checker.Check(ctx, results[i], until)
		if err != nil {
			reaction = drill.DrillReaction{Error: err.Error()}
		}
		results[i].Reaction = &reaction
	}
}

func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}
