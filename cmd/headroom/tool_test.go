package main

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/headroom-dev/headroom/catalogue"
)

// TestFieldDocsIsTheCatalogues: the file headroom's help names for an
// alerts config's fields is the one the catalogue documents them in.
func TestFieldDocsIsTheCatalogues(t *testing.T) {
	if alertsFieldDocs != catalogue.FieldDocs {
		t.Errorf("headroom's help names %s; the catalogue documents its fields in %s", alertsFieldDocs, catalogue.FieldDocs)
	}
}

// `headroom generate|replay|preset` re-executes headroomtool with the same
// arguments: the same stdout, stderr, exit status and files as headroomtool
// run directly, stdin passed through (a config read from /dev/stdin). The
// global flags given before the command are headroom's and stay with it:
// headroomtool gets the command and what follows.
func TestToolCommandsRunHeadroomtool(t *testing.T) {
	t.Parallel()
	headroom := headroomBinary(t)
	tool := filepath.Join(filepath.Dir(headroom), toolName)
	preset, err := exec.Command(tool, "preset", "amas").Output()
	if err != nil {
		t.Fatalf("headroomtool preset amas: %v", err)
	}
	for _, c := range []struct {
		name   string
		global []string // headroom's flags before the command, for headroom only
		args   []string // OUT is replaced by a directory of each run's own
		stdin  []byte
		exit   int
	}{
		{"help", nil, []string{"generate", "--help"}, nil, 0},
		{"help command", nil, []string{"help", "replay"}, nil, 0},
		{"preset", nil, []string{"preset", "health-agent"}, nil, 0},
		{"generate", nil, []string{"generate", "--preset", "amas", "--out", "OUT", "--k8s-out", "OUT/k8s"}, nil, 0},
		{"config on stdin", nil, []string{"generate", "--config", "/dev/stdin", "--out", "OUT", "--dashboards-out", "OUT/dashboards"}, preset, 0},
		{"usage error", nil, []string{"generate", "--no-such-flag"}, nil, 2},
		{"failure", nil, []string{"generate", "--config", "no-such.yaml", "--out", "OUT"}, nil, 1},
		{"generate after global flags", []string{"--log.level=debug", "--log.format", "json"},
			[]string{"generate", "--preset", "amas", "--out", "OUT", "--k8s-out", "OUT/k8s"}, nil, 0},
		{"help after global flags", []string{"--log.level", "warn"}, []string{"generate", "--help"}, nil, 0},
		{"help command after global flags", []string{"--log.format=json"}, []string{"help", "preset"}, nil, 0},
		{"after the end of flags", []string{"--log.level=error", "--"}, []string{"preset", "amas"}, nil, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			type result struct {
				stdout, stderr string
				exit           int
				files          map[string]string
			}
			run := func(bin string, global []string) result {
				out := t.TempDir()
				args := slices.Clone(global)
				for _, a := range c.args {
					args = append(args, strings.ReplaceAll(a, "OUT", out))
				}
				var stdout, stderr bytes.Buffer
				cmd := exec.Command(bin, args...)
				cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(c.stdin), &stdout, &stderr
				r := result{files: map[string]string{}}
				var exit *exec.ExitError
				if err := cmd.Run(); errors.As(err, &exit) {
					r.exit = exit.ExitCode()
				} else if err != nil {
					t.Fatalf("%s %v: %v", bin, args, err)
				}
				r.stdout, r.stderr = stdout.String(), strings.ReplaceAll(stderr.String(), out, "OUT")
				err := filepath.WalkDir(out, func(path string, d fs.DirEntry, err error) error {
					if err != nil || d.IsDir() {
						return err
					}
					raw, err := os.ReadFile(path)
					rel, _ := filepath.Rel(out, path)
					r.files[rel] = string(raw)
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			direct, via := run(tool, nil), run(headroom, c.global)
			if direct.exit != c.exit {
				t.Errorf("headroomtool %v: exit %d, want %d\n%s", c.args, direct.exit, c.exit, direct.stderr)
			}
			if via.exit != direct.exit || via.stdout != direct.stdout || via.stderr != direct.stderr {
				t.Errorf("headroom %v differs from headroomtool: exit %d vs %d\nstdout %.200q\nvs     %.200q\nstderr %q\nvs     %q",
					append(c.global, c.args...), via.exit, direct.exit, via.stdout, direct.stdout, via.stderr, direct.stderr)
			}
			if len(via.files) != len(direct.files) {
				t.Errorf("headroom %v wrote %d files, headroomtool %d", c.args, len(via.files), len(direct.files))
			}
			for name, body := range direct.files {
				if via.files[name] != body {
					t.Errorf("headroom %v: %s differs from headroomtool's", c.args, name)
				}
			}
			if strings.HasPrefix(c.name, "generate") && len(direct.files) < 10 {
				t.Errorf("generate wrote %d files", len(direct.files))
			}
		})
	}
}

// A global flag before a tool's command is checked by headroom, as before
// serve: a bad value is a usage error naming the flag, and headroomtool
// does not run.
func TestToolCommandsRefuseBadGlobalFlags(t *testing.T) {
	t.Parallel()
	headroom := headroomBinary(t)
	for _, global := range [][]string{{"--log.level=loud"}, {"--log.format", "xml"}, {"--no-such-flag"}} {
		bad := global[len(global)-1] // the value, or the flag kingpin does not know
		out := t.TempDir()
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(headroom, append(global, "generate", "--preset", "amas", "--out", out)...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("%v generate: %v, want exit 2\n%s", global, err, stderr.String())
		}
		if _, value, ok := strings.Cut(bad, "="); ok {
			bad = value
		}
		if !strings.HasPrefix(stderr.String(), "headroom: ") || !strings.Contains(stderr.String(), bad) {
			t.Errorf("%v generate: stderr %q does not name %s", global, stderr.String(), bad)
		}
		if files, _ := os.ReadDir(out); len(files) > 0 || stdout.Len() > 0 {
			t.Errorf("%v generate ran headroomtool: %d files, stdout %.80q", global, len(files), stdout.String())
		}
	}
}

// headroom finds headroomtool beside itself, else on PATH; without either
// it fails saying where it looked and how to get headroomtool, and still
// serves and helps.
func TestToolCommandsFindHeadroomtool(t *testing.T) {
	t.Parallel()
	built := headroomBinary(t)
	alone := filepath.Join(t.TempDir(), "headroom")
	raw, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(alone, raw, 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(path string, args ...string) (string, string, error) {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(alone, args...)
		cmd.Env = append(os.Environ(), "PATH="+path)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		return stdout.String(), stderr.String(), err
	}

	empty := t.TempDir()
	for _, c := range []struct {
		args    []string
		command string
	}{
		{[]string{"generate", "--help"}, "generate"},
		{[]string{"help", "preset"}, "preset"},
		{[]string{"replay"}, "replay"},
	} {
		stdout, stderr, err := run(empty, c.args...)
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Errorf("%v without headroomtool: %v, want exit 1", c.args, err)
		}
		for _, w := range []string{"headroom " + c.command + ": headroomtool not found", filepath.Join(filepath.Dir(alone), toolName),
			"PATH", "make build", "go install github.com/headroom-dev/headroom/cmd/headroomtool"} {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v without headroomtool: stderr %q does not say %q", c.args, stderr, w)
			}
		}
		if stdout != "" {
			t.Errorf("%v without headroomtool: stdout %q", c.args, stdout)
		}
	}
	if stdout, stderr, err := run(empty, "--help"); err != nil || !strings.Contains(stdout, "generate") {
		t.Errorf("--help without headroomtool: %v\n%s%s", err, stdout, stderr)
	}

	onPath := filepath.Dir(built)
	if stdout, stderr, err := run(onPath, "generate", "--help"); err != nil || !strings.HasPrefix(stdout, "usage: headroomtool generate") {
		t.Errorf("generate --help with headroomtool on PATH only: %v\nstdout %.80q\nstderr %q", err, stdout, stderr)
	}
}
