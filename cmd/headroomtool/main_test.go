package main

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/internal/clitest"
	"github.com/headroom-dev/headroom/internal/toolhelp"
)

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// toolBinary builds headroomtool once per test process, static and
// stripped as `make build` builds it; the tests run it as users do.
func toolBinary(t testing.TB) string {
	buildOnce.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "headroomtool-bin-"); buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "headroomtool")
		cmd := exec.Command("go", "build", "-ldflags", "-s -w", "-o", binPath, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.New("go build ./cmd/headroomtool: " + err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// Help asked for is output (stdout, exit 0), so that `headroomtool --help
// | less` shows it; each command's help names the file, in the repository
// and published, that documents its config fields. A usage error stays on
// stderr with exit 2.
func TestHelpOnStdoutNamesAlertsDocs(t *testing.T) {
	t.Parallel()
	bin := toolBinary(t)
	for _, args := range [][]string{
		{"--help"},
		{"generate", "--help"},
		{"help", "generate"},
		{"replay", "-h"},
		{"preset", "--help"},
	} {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Errorf("%v: %v\n%s", args, err, stderr.String())
		}
		if !strings.HasPrefix(stdout.String(), "usage: headroomtool") || stderr.Len() > 0 {
			t.Errorf("%v: want the usage on stdout and nothing on stderr; stdout %.80q, stderr %q", args, stdout.String(), stderr.String())
		}
		// kingpin wraps lines, but never inside the URL.
		if !strings.Contains(stdout.String(), toolhelp.DocsURL+catalogue.FieldDocs) {
			t.Errorf("%v: help does not name %s%s:\n%s", args, toolhelp.DocsURL, catalogue.FieldDocs, stdout.String())
		}
		if _, err := os.Stat("../../" + catalogue.FieldDocs); err != nil {
			t.Errorf("%v: help names %s, which is not in the repository: %v", args, catalogue.FieldDocs, err)
		}
	}
	help, err := exec.Command(bin, "--help").Output()
	for _, command := range []string{"generate", "replay", "preset"} {
		// kingpin lists each command at the start of a line.
		if err != nil || !regexp.MustCompile(`(?m)^`+command+`\b`).Match(help) {
			t.Errorf("--help does not list %s: %v\n%s", command, err, help)
		}
	}

	clitest.UsageErrorOnStderr(t, bin)
}
