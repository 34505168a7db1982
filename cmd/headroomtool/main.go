// Command headroomtool generates headroom's alerting bundle, dashboards and
// autoscaler manifests from its trigger catalogue, prints presets, and
// replays past series through them. It is the exporter's companion, as
// promtool is Prometheus's: the generators link Prometheus, Alertmanager,
// Kubernetes and Grafana packages that the exporter (cmd/headroom) must not
// pay for, so they live in this binary, and `headroom generate|replay|preset|report`
// re-executes it.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"
)

// command is a subcommand: it declares its flags on the application and
// runs when chosen.
type command interface {
	clause() *kingpin.CmdClause
	run() error
}

func main() {
	app := kingpin.New("headroomtool", "Alerting bundle, dashboards, autoscaler manifests and replays for headroom's signals (headroom serve exports them).")
	app.Version(version.Print("headroomtool"))
	app.HelpFlag.Short('h')
	// Help asked for is output, so that `headroomtool --help | less` shows
	// it; usage errors stay on stderr (and exit 2, below).
	app.UsageWriter(os.Stdout)
	app.ErrorWriter(os.Stderr)
	commands := []command{newGenerateCommand(app), newReplayCommand(app), newPresetCommand(app), newReportCommand(app), newDrillCommand(app)}

	chosen, err := app.Parse(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "headroomtool: %v\n", err)
		os.Exit(2)
	}
	for _, c := range commands {
		if c.clause().FullCommand() == chosen {
			if err := c.run(); err != nil {
				fmt.Fprintf(os.Stderr, "headroomtool %s: %v\n", chosen, err)
				code := 1
				if e := (*exitError)(nil); errors.As(err, &e) {
					code = e.code
				}
				os.Exit(code)
			}
		}
	}
}
