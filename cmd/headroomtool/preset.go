package main

import (
	"io"
	"os"
	"strings"

	"github.com/alecthomas/kingpin/v2"

	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/internal/toolhelp"
)

type presetCommand struct {
	cmd  *kingpin.CmdClause
	name string
	out  io.Writer
}

// alertsConfigHelp ends the help of every command that reads an alerts
// config: where its fields are documented.
var alertsConfigHelp = alertsFieldsHelp + " `headroomtool preset NAME` (or `headroom preset NAME`) prints a preset as a complete, commented config."

// alertsFieldsHelp is where an alerts config's fields are documented.
var alertsFieldsHelp = "Config fields: " + catalogue.FieldDocs + " (" + toolhelp.DocsURL + catalogue.FieldDocs + ")."

func (p *presetCommand) clause() *kingpin.CmdClause { return p.cmd }

func newPresetCommand(app *kingpin.Application) *presetCommand {
	p := &presetCommand{out: os.Stdout}
	p.cmd = app.Command("preset", toolhelp.Preset+" Every field with its value. "+
		"Saved as a file and passed to generate --config, it generates the preset's bundle byte for byte; edit what differs. "+
		alertsFieldsHelp)
	p.cmd.Arg("name", "Preset: "+strings.Join(catalogue.Presets(), ", ")+".").Required().EnumVar(&p.name, catalogue.Presets()...)
	return p
}

func (p *presetCommand) run() error {
	cfg, err := catalogue.Preset(p.name)
	if err != nil {
		return err
	}
	doc, err := cfg.Document()
	if err != nil {
		return err
	}
	_, err = p.out.Write(doc)
	return err
}
