// Package clitest holds the checks that the tests of both binaries,
// headroom and headroomtool, make of a command line in the same way, so
// that the two keep one convention.
package clitest

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

// UsageErrorOnStderr runs bin with a flag it does not know and fails t
// unless bin exits 2 with the error on stderr and nothing on stdout, as
// help asked for goes to stdout and a usage error does not.
func UsageErrorOnStderr(t testing.TB, bin string) {
	t.Helper()
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
