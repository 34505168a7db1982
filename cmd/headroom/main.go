// Command headroom exports PostgreSQL, PgBouncer, Redis and API health
// signals for scaling decisions, and generates the alerting bundle,
// dashboards and autoscaler manifests from its trigger catalogue.
package main

import (
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

// optionalCommands are the subcommands a build may leave out: the
// generator links Prometheus, Alertmanager, Kubernetes and Grafana
// packages that an exporter-only build (-tags exporteronly) does without.
var optionalCommands []func(*kingpin.Application) command

// docsURL is where a file of the repository is published: help names the
// documentation by a path that a user without a checkout can open too.
const docsURL = "https://github.com/headroom-dev/headroom/blob/main/"

// exporterConfigDocs documents every field of serve's --config.file.
const exporterConfigDocs = "docs/config.md"

func main() {
	app := kingpin.New("headroom", "Scale-up and scale-down signals for an LLM-backed API on PostgreSQL, PgBouncer and Redis.")
	app.Version(version.Print("headroom"))
	app.HelpFlag.Short('h')
	// Help asked for is output, so that `headroom --help | less` shows it;
	// usage errors stay on stderr (and exit 2, below).
	app.UsageWriter(os.Stdout)
	app.ErrorWriter(os.Stderr)
	commands := []command{newServeCommand(app)}
	for _, add := range optionalCommands {
		commands = append(commands, add(app))
	}

	chosen, err := app.Parse(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "headroom: %v\n", err)
		os.Exit(2)
	}
	for _, c := range commands {
		if c.clause().FullCommand() == chosen {
			if err := c.run(); err != nil {
				fmt.Fprintf(os.Stderr, "headroom %s: %v\n", chosen, err)
				os.Exit(1)
			}
		}
	}
}
