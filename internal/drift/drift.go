// Package drift checks that the generated files committed to the repository
// are what their generator makes now, so that a change to a generator
// without `make generate` fails a test instead of shipping stale files.
package drift

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// Check fails t for every file of dir that differs from what the generator
// made (files, by slash-separated path), is missing, or is left over. A
// missing dir is fine when the generator makes nothing for it.
func Check(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, f := range names {
		have, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
		if err != nil {
			t.Errorf("%s/%s: %v; run make generate", dir, f, err)
			continue
		}
		if !bytes.Equal(have, files[f]) {
			t.Errorf("%s/%s differs from the generator's output; run make generate", dir, f)
		}
	}
	var extra []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if _, ok := files[filepath.ToSlash(rel)]; !ok {
			extra = append(extra, rel)
		}
		return nil
	})
	if err != nil && !(os.IsNotExist(err) && len(files) == 0) {
		t.Fatal(err)
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("%s has files the generator does not make: %v; run make generate", dir, extra)
	}
}
