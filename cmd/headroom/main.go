// Command headroom exports PostgreSQL, PgBouncer, Redis and API health
// signals for scaling decisions (`headroom serve`). Its generate, replay and
// preset commands run headroomtool, the binary that holds the generators,
// so that the exporter links and loads only what serving needs.
package main

import (
	"fmt"
	"os"
	"slices"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"
)

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
	serve := newServeCommand(app)
	addToolCommands(app)

	// headroomtool's commands go to it whole, before kingpin parses them:
	// their flags are headroomtool's, which this binary does not declare.
	global, command := splitGlobalFlags(app, os.Args[1:])
	if isToolCommand(command) {
		if len(global) > 0 {
			// `headroom --log.level=debug generate`: the flags before the
			// command are headroom's. They are checked here, --help and
			// --version answer here, and the logging flags, which set
			// serve's logger, stay here: headroomtool logs nothing and
			// does not declare them.
			if _, err := app.Parse(slices.Concat(global, []string{commandName(command)})); err != nil {
				fmt.Fprintf(os.Stderr, "headroom: %v\n", err)
				os.Exit(2)
			}
		}
		os.Exit(runTool(command))
	}

	chosen, err := app.Parse(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "headroom: %v\n", err)
		os.Exit(2)
	}
	if chosen != serve.cmd.FullCommand() {
		// Not reached while splitGlobalFlags finds every tool command;
		// serving instead of one would be the wrong answer.
		fmt.Fprintf(os.Stderr, "headroom: %s is %s's command: run %s %s\n", chosen, toolName, toolName, chosen)
		os.Exit(2)
	}
	if err := serve.run(); err != nil {
		fmt.Fprintf(os.Stderr, "headroom %s: %v\n", chosen, err)
		os.Exit(1)
	}
}
