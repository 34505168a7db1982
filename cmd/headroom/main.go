// Command headroom exports PostgreSQL, PgBouncer, Redis and API health
// signals for scaling decisions.
package main

import (
	"fmt"
	"os"

	"github.com/alecthomas/kingpin/v2"
	"github.com/prometheus/common/version"
)

func main() {
	app := kingpin.New("headroom", "Scale-up and scale-down signals for an LLM-backed API on PostgreSQL, PgBouncer and Redis.")
	app.Version(version.Print("headroom"))
	app.HelpFlag.Short('h')
	serve := newServeCommand(app)
	generate := newGenerateCommand(app)

	cmd, err := app.Parse(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "headroom: %v\n", err)
		os.Exit(2)
	}
	switch cmd {
	case serve.cmd.FullCommand():
		if err := serve.run(); err != nil {
			fmt.Fprintf(os.Stderr, "headroom serve: %v\n", err)
			os.Exit(1)
		}
	case generate.cmd.FullCommand():
		if err := generate.run(); err != nil {
			fmt.Fprintf(os.Stderr, "headroom generate: %v\n", err)
			os.Exit(1)
		}
	}
}
