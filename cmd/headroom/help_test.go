package main

import (
	"bytes"
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/headroom-dev/headroom/internal/clitest"
	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/toolhelp"
)

// Help asked for is output (stdout, exit 0), so that `headroom --help |
// less` shows it; each command's help names the file, in the repository
// and published, that documents its config fields (headroomtool's for its
// commands, which headroom re-executes). A usage error stays on stderr with
// exit 2.
func TestHelpOnStdoutNamesConfigDocs(t *testing.T) {
	t.Parallel()
	bin := headroomBinary(t)
	const alertsDocs = "catalogue/presets/health-agent.yaml"
	for _, c := range []struct {
		args  []string
		usage string
		docs  []string
	}{
		{[]string{"--help"}, "usage: headroom ", []string{exporterConfigDocs, alertsDocs}},
		{[]string{"serve", "--help"}, "usage: headroom ", []string{exporterConfigDocs}},
		{[]string{"help", "serve"}, "usage: headroom ", []string{exporterConfigDocs}},
		{[]string{"generate", "--help"}, "usage: headroomtool ", []string{alertsDocs}},
		{[]string{"help", "generate"}, "usage: headroomtool ", []string{alertsDocs}},
		{[]string{"replay", "-h"}, "usage: headroomtool ", []string{alertsDocs}},
		{[]string{"preset", "--help"}, "usage: headroomtool ", []string{alertsDocs}},
	} {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, c.args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Errorf("%v: %v\n%s", c.args, err, stderr.String())
		}
		if !strings.HasPrefix(stdout.String(), c.usage) || stderr.Len() > 0 {
			t.Errorf("%v: want the usage on stdout and nothing on stderr; stdout %.80q, stderr %q", c.args, stdout.String(), stderr.String())
		}
		for _, path := range c.docs {
			// kingpin wraps lines, but never inside the URL.
			if !strings.Contains(stdout.String(), toolhelp.DocsURL+path) {
				t.Errorf("%v: help does not name %s%s:\n%s", c.args, toolhelp.DocsURL, path, stdout.String())
			}
			if _, err := os.Stat("../../" + path); err != nil {
				t.Errorf("%v: help names %s, which is not in the repository: %v", c.args, path, err)
			}
		}
	}

	help, err := exec.Command(bin, "--help").Output()
	for _, command := range []string{"generate", "replay", "preset"} {
		// kingpin lists each command at the start of a line.
		if err != nil || !regexp.MustCompile(`(?m)^`+command+`\b`).Match(help) {
			t.Errorf("--help does not list %s: %v\n%s", command, err, help)
		}
	}
	// kingpin wraps the line anywhere between words.
	if !strings.Contains(strings.Join(strings.Fields(string(help)), " "), "Runs headroomtool generate") {
		t.Errorf("--help does not say that generate runs headroomtool:\n%s", help)
	}

	clitest.UsageErrorOnStderr(t, bin)
}

// The page serve's help names documents every field of the config file.
func TestConfigDocsListEveryField(t *testing.T) {
	raw, err := os.ReadFile("../../" + exporterConfigDocs)
	if err != nil {
		t.Fatal(err)
	}
	var fields []string
	for _, kind := range reflect.VisibleFields(reflect.TypeFor[config.Config]()) {
		fields = append(fields, yamlFields(kind.Type.Elem(), "")...)
	}
	if len(fields) < 20 {
		t.Fatalf("found only %d fields in config.Config: %v", len(fields), fields)
	}
	for _, f := range fields {
		if !strings.Contains(string(raw), "`"+f+"`") {
			t.Errorf("%s does not document field %s", exporterConfigDocs, f)
		}
	}
}

// yamlFields are the dotted YAML paths of a struct's fields (json_fields[].name).
func yamlFields(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if opts == "inline" {
			out = append(out, yamlFields(f.Type, prefix)...)
			continue
		}
		switch {
		case f.Type.Kind() == reflect.Struct && f.Type.PkgPath() == t.PkgPath():
			out = append(out, yamlFields(f.Type, prefix+name+".")...)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			out = append(out, yamlFields(f.Type.Elem(), prefix+name+"[].")...)
		default:
			out = append(out, prefix+name)
		}
	}
	return out
}
