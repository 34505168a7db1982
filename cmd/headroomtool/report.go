package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/model"

	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/internal/replay"
	"github.com/headroom-dev/headroom/internal/report"
	"github.com/headroom-dev/headroom/internal/toolhelp"
)

// Exit statuses of report, documented in docs/report.md so that CI can
// gate on them.
const (
	exitReportFailed = 3 // a checklist item or post-scaling target failed
	exitBadInput     = 4 // the config, a flag or the input file is wrong, or the range has no data
	exitUnreachable  = 5 // Prometheus did not answer
)

// exitError carries the exit status of a failed run.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

type reportCommand struct {
	cmd         *kingpin.CmdClause
	configFile  string
	preset      string
	promURL     string
	promTimeout time.Duration
	end         string
	rangeLen    string
	step        time.Duration
	input       string
	format      string
	out         io.Writer
}

func (r *reportCommand) clause() *kingpin.CmdClause { return r.cmd }

func newReportCommand(app *kingpin.Application) *reportCommand {
	r := &reportCommand{out: os.Stdout}
	r.cmd = app.Command("report", toolhelp.Report+" "+
		"Prometheus: --prometheus.url, --end, --range; a file in promtool's input_series notation: --input. "+
		"Exit 0 when every item passes, 3 when one fails, 4 for bad input, 5 when Prometheus does not answer (docs/report.md). "+alertsConfigHelp)
	r.cmd.Flag("config", "Alerts config file (YAML), read on top of its preset. Without it, the preset as it is.").StringVar(&r.configFile)
	r.cmd.Flag("preset", "Preset the config overrides: "+strings.Join(catalogue.Presets(), ", ")+". Default: the config's preset key, else health-agent.").
		StringVar(&r.preset)
	r.cmd.Flag("prometheus.url", "Prometheus holding the bundle's recorded series.").StringVar(&r.promURL)
	r.cmd.Flag("prometheus.timeout", "Deadline of each query to --prometheus.url.").Default(replay.DefaultQueryTimeout.String()).DurationVar(&r.promTimeout)
	r.cmd.Flag("end", "End of the range: RFC3339, relative to now (--end=-10m), or now; fix it for output that does not change. With --input, default the file's end.").StringVar(&r.end)
	r.cmd.Flag("range", "Length of the range before --end (the guide asks for 7 days of history).").Default("7d").StringVar(&r.rangeLen)
	r.cmd.Flag("step", "Spacing of the values the report reads.").Default("5m").DurationVar(&r.step)
	r.cmd.Flag("input", "File of raw series in promtool's input_series notation, instead of Prometheus; the bundle's recording rules run over it.").StringVar(&r.input)
	r.cmd.Flag("format", "Output format: text, json, markdown, or html (one self-contained page with a chart of each resource and its forecast).").
		Default("text").EnumVar(&r.format, "text", "json", "markdown", "html")
	return r
}

func (r *reportCommand) run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	bad := func(err error) error { return &exitError{exitBadInput, err} }
	cfg, err := loadConfig(r.configFile, r.preset)
	if err != nil {
		return bad(err)
	}
	bundle, err := catalogue.Build(cfg)
	if err != nil {
		return bad(err)
	}
	length, err := model.ParseDuration(r.rangeLen)
	if err != nil || length <= 0 {
		return bad(fmt.Errorf("--range: %q is not a positive duration (7d, 36h)", r.rangeLen))
	}
	if r.step <= 0 {
		return bad(fmt.Errorf("--step: %s is not a positive duration (5m, 30s)", r.step))
	}
	var src replay.Source
	var opts replay.Options
	opts.Step = r.step
	switch {
	case r.input != "" && r.promURL != "":
		return bad(errors.New("give either --input or --prometheus.url, not both"))
	case r.input != "":
		f, err := replay.ReadInputFile(r.input)
		if err != nil {
			return bad(err)
		}
		_, opts.End = f.Span()
		src = f
	case r.promURL != "":
		opts.End = time.Now()
		prom, err := replay.NewPrometheusSource(r.promURL, time.Duration(cfg.ScrapeInterval))
		if err != nil {
			return bad(err)
		}
		prom.Timeout = r.promTimeout
		src = prom
	default:
		return bad(errors.New("give --prometheus.url or --input FILE"))
	}
	if r.end != "" {
		if opts.End, err = parseTime(r.end, time.Now()); err != nil {
			return bad(fmt.Errorf("--end: %w", err))
		}
	}
	opts.End = opts.End.Truncate(r.step)
	opts.Start = opts.End.Add(-time.Duration(length))
	if _, ok := src.(*replay.FileSource); ok && opts.Start.Before(time.Unix(0, 0)) {
		// A file starts at the epoch: a range longer than the file reads it all.
		opts.Start = time.Unix(0, 0).UTC()
	}
	inputs := report.Inputs(bundle)
	rng, err := replay.EvaluateRange(ctx, bundle, src, opts, report.Exprs(inputs))
	if err != nil {
		if r.promURL != "" {
			return &exitError{exitUnreachable, err}
		}
		return bad(err)
	}
	rep, err := report.Build(bundle, inputs, rng)
	if err != nil {
		return bad(err)
	}
	switch r.format {
	case "json":
		err = rep.WriteJSON(r.out)
	case "markdown":
		err = rep.WriteMarkdown(r.out)
	case "html":
		err = rep.WriteHTML(r.out)
	default:
		err = rep.WriteText(r.out)
	}
	if err != nil {
		return err
	}
	if failed := rep.Failed(); len(failed) > 0 {
		return &exitError{exitReportFailed, fmt.Errorf("failed: %s", strings.Join(failed, "; "))}
	}
	return nil
}
