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
	"github.com/headroom-dev/headroom/internal/toolhelp"
)

type replayCommand struct {
	cmd         *kingpin.CmdClause
	configFile  string
	preset      string
	promURL     string
	promTimeout time.Duration
	start, end  string
	step        time.Duration
	resolution  time.Duration
	input       string
	initial     int32
	format      string
	progress    bool
	out         io.Writer
	errOut      *os.File
}

func (r *replayCommand) clause() *kingpin.CmdClause { return r.cmd }

func newReplayCommand(app *kingpin.Application) *replayCommand {
	r := &replayCommand{out: os.Stdout, errOut: os.Stderr}
	r.cmd = app.Command("replay", toolhelp.Replay+" "+
		"Prometheus: --prometheus.url, --start, --end; a file in promtool's input_series notation: --input. "+alertsConfigHelp)
	r.cmd.Flag("config", "Alerts config file (YAML), read on top of its preset. Without it, the preset as it is.").StringVar(&r.configFile)
	r.cmd.Flag("preset", "Preset the config overrides: "+strings.Join(catalogue.Presets(), ", ")+". Default: the config's preset key, else health-agent.").
		StringVar(&r.preset)
	r.cmd.Flag("prometheus.url", "Prometheus to read the series from (the raw samples of every metric the rules and the scaler read).").StringVar(&r.promURL)
	r.cmd.Flag("prometheus.timeout", "Deadline of each query to --prometheus.url; a server that does not answer within it ends the replay with an error naming the URL.").
		Default(replay.DefaultQueryTimeout.String()).DurationVar(&r.promTimeout)
	r.cmd.Flag("start", "Start of the range: RFC3339, or relative to now (--start=-1h).").StringVar(&r.start)
	r.cmd.Flag("end", "End of the range: RFC3339, relative to now (--end=-10m), or now.").Default("now").StringVar(&r.end)
	r.cmd.Flag("step", "Evaluation step: the rule evaluation interval and the HPA's sync period.").Default("15s").DurationVar(&r.step)
	r.cmd.Flag("resolution", "Scrape interval of the series read from Prometheus, which sizes each query's chunk; default the config's scrape_interval.").DurationVar(&r.resolution)
	r.cmd.Flag("input", "File of series in promtool's input_series notation (interval: and input_series:), instead of Prometheus.").StringVar(&r.input)
	r.cmd.Flag("initial", "Replicas at the start; default the autoscaler's minimum.").Int32Var(&r.initial)
	r.cmd.Flag("format", "Output format: text, json, or html (one self-contained page of charts: load, replicas, scale events, alerts).").
		Default("text").EnumVar(&r.format, "text", "json", "html")
	r.cmd.Flag("progress", "Report progress on stderr (each chunk loaded from Prometheus, then every 10 % of the steps) even when it is not a terminal.").BoolVar(&r.progress)
	return r
}

func (r *replayCommand) run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg, err := loadConfig(r.configFile, r.preset)
	if err != nil {
		return err
	}
	var src replay.Source
	opts := replay.Options{Step: r.step, Initial: r.initial}
	switch {
	case r.input != "" && r.promURL != "":
		return errors.New("give either --input or --prometheus.url, not both")
	case r.input != "":
		if src, err = replay.ReadInputFile(r.input); err != nil {
			return err
		}
	case r.promURL != "":
		now := time.Now()
		if r.start == "" {
			return errors.New("--start is needed with --prometheus.url")
		}
		if opts.Start, err = parseTime(r.start, now); err != nil {
			return fmt.Errorf("--start: %w", err)
		}
		if opts.End, err = parseTime(r.end, now); err != nil {
			return fmt.Errorf("--end: %w", err)
		}
		res := r.resolution
		if res == 0 {
			res = time.Duration(cfg.ScrapeInterval)
		}
		prom, err := replay.NewPrometheusSource(r.promURL, res)
		if err != nil {
			return err
		}
		prom.Timeout = r.promTimeout
		if r.showProgress() {
			// Loading is the slow part of a long range: one line per query.
			prom.Progress = loadProgress(r.errOut)
		}
		src = prom
	default:
		return errors.New("give --input FILE or --prometheus.url with --start")
	}
	if r.showProgress() {
		opts.Progress = progressEvery(r.errOut, 10)
	}
	bundle, err := catalogue.Build(cfg)
	if err != nil {
		return err
	}
	rep, err := replay.Replay(ctx, bundle, src, opts)
	if err != nil {
		return err
	}
	switch r.format {
	case "json":
		return rep.WriteJSON(r.out)
	case "html":
		return rep.WriteHTML(r.out)
	}
	return rep.WriteText(r.out)
}

// parseTime reads RFC3339, "now", or a duration relative to now (-1h).
func parseTime(s string, now time.Time) (time.Time, error) {
	if s == "now" {
		return now, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		if d, err := model.ParseDuration(rest); err == nil {
			return now.Add(-time.Duration(d)), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not RFC3339 (2006-01-02T15:04:05Z), now, or relative to now (-1h)", s)
}

func (r *replayCommand) showProgress() bool { return r.progress || isTerminal(r.errOut) }

// loadProgress reports on w each chunk of samples read from Prometheus.
func loadProgress(w io.Writer) func(done, total int, selector string, from, to time.Time) {
	return func(done, total int, selector string, from, to time.Time) {
		fmt.Fprintf(w, "replay: loaded chunk %d of %d from Prometheus (%s, %s to %s)\n", done, total, selector,
			from.UTC().Format(time.RFC3339), to.UTC().Format(time.RFC3339))
	}
}

// progressEvery reports on w each time another pct % of the steps is done.
func progressEvery(w io.Writer, pct int) func(done, total int) {
	next := pct
	return func(done, total int) {
		for done*100 >= next*total && next <= 100 {
			fmt.Fprintf(w, "replay: %d%% (%d of %d steps)\n", next, done, total)
			next += pct
		}
	}
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
