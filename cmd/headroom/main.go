// Command headroom exports PostgreSQL, PgBouncer, Redis and API health
// signals for scaling decisions (`headroom serve`). Its generate, replay and
// preset commands run headroomtool, the binary that holds the generators,
// so that the exporter links and loads only what serving needs.
package main

import (
	"fmt"
	"os"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"
)

// exporterConfigDocs documents every field of serve's --config.file.
const exporterConfigDocs = "docs/config.md"

func main() {
	// headroomtool's commands go to it whole, before kingpin parses them:
	// their flags are headroomtool's, which this binary does not declare.
	if isToolCommand(os.Args[1:]) {
		os.Exit(runTool(os.Args[1:]))
	}

	app := kingpin.New("headroom", "Scale-up and scale-down signals for an LLM-backed API on PostgreSQL, PgBouncer and Redis.")
	app.Version(version.Print("headroom"))
	app.HelpFlag.Short('h')
	// Help asked for is output, so that `headroom --help | less` shows it;
	// usage errors stay on stderr (and exit 2, below).
	app.UsageWriter(os.Stdout)
	app.ErrorWriter(os.Stderr)
	serve := newServeCommand(app)
	addToolCommands(app)

	chosen, err := app.Parse(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "headroom: %v\n", err)
		os.Exit(2)
	}
	if chosen != serve.cmd.FullCommand() {
		// A tool's command after a global flag (`headroom --log.level=debug
		// generate`): headroomtool answers for its own arguments.
		os.Exit(runTool(os.Args[1:]))
	}
	if err := serve.run(); err != nil {
		fmt.Fprintf(os.Stderr, "headroom %s: %v\n", chosen, err)
		os.Exit(1)
	}
}
