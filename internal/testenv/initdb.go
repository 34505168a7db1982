package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// initdbArgs are the options every throwaway cluster is initialised with;
// they name the template, so that a change here makes a new one.
var initdbArgs = []string{"-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C"}

// templateReady marks a template whose initdb finished: a directory
// without it is a run that was killed half way and is never copied.
const templateReady = "headroom-template-ready"

var (
	templateOnce sync.Once
	templatePath string
	templateErr  error
)

// initCluster puts a freshly initialised cluster at data. initdb costs a
// second or more of CPU and every cluster it makes with the same options
// is the same, so it runs once per machine into a template under the temp
// directory, and each server starts from a copy (a tenth of the time).
// Concurrent test processes each build their own candidate and keep the
// first that lands, so none sees a half-made template.
func initCluster(data string) error {
	templateOnce.Do(func() { templatePath, templateErr = clusterTemplate() })
	if templateErr != nil {
		return templateErr
	}
	// cp -a keeps the postgres user's ownership and the 0700 mode that
	// PostgreSQL insists on.
	if out, err := exec.Command("cp", "-a", templatePath, data).CombinedOutput(); err != nil {
		return fmt.Errorf("copy the initdb template %s to %s: %v\n%s", templatePath, data, err, out)
	}
	return nil
}

// clusterTemplate returns the machine's template for this PostgreSQL and
// these initdb options, making it if it is not there yet.
func clusterTemplate() (string, error) {
	version, err := exec.Command(PGBin+"/initdb", "--version").Output()
	if err != nil {
		return "", fmt.Errorf("initdb --version: %w", err)
	}
	name := strings.NewReplacer(" ", "-", "(", "", ")", "", "/", "").Replace(strings.TrimSpace(string(version)) + "-" + strings.Join(initdbArgs, ""))
	final := filepath.Join(os.TempDir(), "headroom-initdb-template-"+name)
	if _, err := os.Stat(filepath.Join(final, templateReady)); err == nil {
		return filepath.Join(final, "data"), nil
	}
	u, err := postgresUser()
	if err != nil {
		return "", err
	}
	candidate, err := os.MkdirTemp("", "headroom-initdb-candidate-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(candidate)
	if err := os.Chmod(candidate, 0o755); err != nil {
		return "", err
	}
	if err := os.Chown(candidate, int(u.uid), int(u.gid)); err != nil {
		return "", err
	}
	if err := runAsPostgres(PGBin+"/initdb", append([]string{"-D", filepath.Join(candidate, "data")}, initdbArgs...)...); err != nil {
		return "", fmt.Errorf("initdb: %w", err)
	}
	if err := os.WriteFile(filepath.Join(candidate, templateReady), nil, 0o644); err != nil {
		return "", err
	}
	if err := os.Rename(candidate, final); err != nil {
		// Another process landed its template first (the target is a
		// non-empty directory), or a killed run left a half-made one:
		// use the first, replace the second.
		if _, statErr := os.Stat(filepath.Join(final, templateReady)); statErr == nil {
			return filepath.Join(final, "data"), nil
		}
		if removeErr := os.RemoveAll(final); removeErr != nil {
			return "", errors.Join(err, removeErr)
		}
		if err := os.Rename(candidate, final); err != nil {
			return "", fmt.Errorf("keep the initdb template: %w", err)
		}
	}
	return filepath.Join(final, "data"), nil
}
