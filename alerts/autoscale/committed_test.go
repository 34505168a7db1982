package autoscale

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/headroom-dev/headroom/alerts"
)

// committedDir holds the presets' manifests, one directory per preset.
const committedDir = "../../mixin/k8s"

// TestCommittedManifests fails when mixin/k8s/ is not what the generator
// makes (a file differs, is missing, or is left over): run make generate.
func TestCommittedManifests(t *testing.T) {
	for _, name := range alerts.Presets() {
		files := generate(t, preset(t, name))
		dir := filepath.Join(committedDir, name)
		for _, f := range files.Names() {
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
		// What is committed parses as the upstream types.
		for _, f := range files.Names() {
			b, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
			if f == FileScaledObject {
				readScaledObject(t, b)
			} else {
				readHPA(t, b)
			}
		}
	}
}
