package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/alecthomas/kingpin/v2"

	"github.com/headroom-dev/headroom/internal/toolhelp"
)

// toolName is the binary that holds the generators, beside headroom as
// promtool is beside prometheus.
const toolName = "headroomtool"

// alertsFieldDocs documents an alerts config's fields: catalogue.FieldDocs,
// which headroomtool's help names; spelled out here because the exporter
// links no generator package (TestFieldDocsIsTheCatalogues keeps the two
// equal).
const alertsFieldDocs = "catalogue/presets/health-agent.yaml"

// toolCommands are headroomtool's commands that headroom keeps as entry
// points, with the line `headroom --help` gives each.
var toolCommands = []struct{ name, help string }{
	{"generate", toolhelp.Generate},
	{"replay", toolhelp.Replay},
	{"preset", toolhelp.Preset},
	{"report", toolhelp.Report},
	{"drill", toolhelp.Drill},
}

// addToolCommands lists headroomtool's commands in headroom's help; main
// hands them to headroomtool before they are parsed here.
func addToolCommands(app *kingpin.Application) {
	for _, c := range toolCommands {
		app.Command(c.name, c.help+" Runs "+toolName+" "+c.name+" (flags: headroom "+c.name+" --help). "+
			"Config fields: "+alertsFieldDocs+" ("+toolhelp.DocsURL+alertsFieldDocs+").")
	}
}

// isToolCommand says whether the arguments name one of headroomtool's
// commands, or ask for its help (`headroom help generate`).
func isToolCommand(args []string) bool {
	if len(args) > 1 && args[0] == "help" {
		args = args[1:]
	}
	return len(args) > 0 && slices.ContainsFunc(toolCommands, func(c struct{ name, help string }) bool { return c.name == args[0] })
}

// splitGlobalFlags splits the arguments at the command: global holds the
// flags before it (headroom's own: --help, --version, the logging flags),
// command the command and everything after it. A flag that takes a value
// takes the next argument unless written --flag=value; "--" ends the flags
// and is dropped, as kingpin drops it. global is clipped: appending to it
// must not write over the command, which follows it in args.
func splitGlobalFlags(app *kingpin.Application, args []string) (global, command []string) {
	flags := app.Model().Flags
	takesValue := func(arg string) bool {
		if strings.Contains(arg, "=") {
			return false
		}
		for _, f := range flags {
			if arg == "--"+f.Name || (f.Short != 0 && arg == "-"+string(f.Short)) {
				return !f.IsBoolFlag()
			}
		}
		return false // unknown: kingpin refuses it when it parses global
	}
	for i := 0; i < len(args); i++ {
		switch arg := args[i]; {
		case arg == "--":
			return args[:i:i], args[i+1:]
		case !strings.HasPrefix(arg, "-") || arg == "-":
			return args[:i:i], args[i:]
		case takesValue(arg):
			i++
		}
	}
	return args, nil
}

// runTool replaces this process with headroomtool and the same arguments,
// and returns an exit status only when it cannot: headroomtool not found,
// or not started.
//
// syscall.Exec rather than a child process (exec.Command): headroomtool
// becomes the process the shell started, so stdin, stdout, stderr, the
// exit status and signals (Ctrl-C ends a replay) are its own with nothing
// to copy or forward, and headroom's memory is released rather than held
// while the generators run. syscall.Exec is Unix's; on Windows it fails
// and the message says to run headroomtool directly.
func runTool(args []string) int {
	command := commandName(args)
	path, beside := findTool()
	if path == "" {
		fmt.Fprintf(os.Stderr, "headroom %s: %s not found: not %s, not on PATH. "+
			"`make build` builds both binaries; or install it with `go install github.com/headroom-dev/headroom/cmd/%s@latest`.\n",
			command, toolName, beside, toolName)
		return 1
	}
	err := syscall.Exec(path, append([]string{path}, args...), os.Environ())
	fmt.Fprintf(os.Stderr, "headroom %s: running %s: %v; run %s %s directly.\n", command, path, err, toolName, command)
	return 1
}

// findTool finds headroomtool beside this executable first, so that the
// two binaries of one build go together, then on PATH; beside says where
// it looked first, for the message when neither has it.
func findTool() (path, beside string) {
	beside = "beside headroom"
	if exe, err := os.Executable(); err == nil {
		candidate := filepath.Join(filepath.Dir(exe), toolName)
		beside = "at " + candidate + " (beside headroom)"
		if path, err := exec.LookPath(candidate); err == nil {
			return path, beside
		}
	}
	// exec.LookPath refuses a match found only through PATH's "." entry
	// (exec.ErrDot): not found, as for any other shell-less lookup.
	if path, err := exec.LookPath(toolName); err == nil {
		return path, beside
	}
	return "", beside
}

// commandName is the tool's command the arguments name, for messages.
func commandName(args []string) string {
	for _, a := range args {
		if a != "help" && len(a) > 0 && a[0] != '-' {
			return a
		}
	}
	return toolName
}
