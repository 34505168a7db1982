package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/headroom-dev/headroom/internal/config"
)

// Help asked for is output (stdout, exit 0), so that `headroom --help |
// less` shows it; each command's help names the file, in the repository
// and published, that documents its config fields. A usage error stays on
// stderr with exit 2.
func TestHelpOnStdoutNamesConfigDocs(t *testing.T) {
	t.Parallel()
	bin := headroomBinary(t)
	const alertsDocs = "catalogue/presets/health-agent.yaml"
	for _, c := range []struct {
		args []string
		docs []string
	}{
		{[]string{"--help"}, []string{exporterConfigDocs, alertsDocs}},
		{[]string{"serve", "--help"}, []string{exporterConfigDocs}},
		{[]string{"help", "serve"}, []string{exporterConfigDocs}},
		{[]string{"generate", "--help"}, []string{alertsDocs}},
		{[]string{"replay", "-h"}, []string{alertsDocs}},
		{[]string{"preset", "--help"}, []string{alertsDocs}},
	} {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, c.args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Errorf("%v: %v\n%s", c.args, err, stderr.String())
		}
		if !strings.HasPrefix(stdout.String(), "usage: headroom") || stderr.Len() > 0 {
			t.Errorf("%v: want the usage on stdout and nothing on stderr; stdout %.80q, stderr %q", c.args, stdout.String(), stderr.String())
		}
		for _, path := range c.docs {
			// kingpin wraps lines, but never inside the URL.
			if !strings.Contains(stdout.String(), docsURL+path) {
				t.Errorf("%v: help does not name %s%s:\n%s", c.args, docsURL, path, stdout.String())
			}
			if _, err := os.Stat("../../" + path); err != nil {
				t.Errorf("%v: help names %s, which is not in the repository: %v", c.args, path, err)
			}
		}
	}

	var stdout, stderr bytes.Buffer
	cmd := exec.Command(bin, "--no-such-flag")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	var exit *exec.ExitError
	if err := cmd.Run(); !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Errorf("usage error: %v, want exit 2", err)
	}
	if stdout.Len() > 0 || !strings.Contains(stderr.String(), "--no-such-flag") {
		t.Errorf("usage error: want it on stderr only; stdout %q, stderr %q", stdout.String(), stderr.String())
	}
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
