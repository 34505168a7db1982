package dashboards

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/headroom-dev/headroom/catalogue"
)

var update = flag.Bool("update", false, "rewrite the committed dashboards under "+committedDir)

// committedDir holds the dashboards of the default preset (health-agent),
// relative to this package.
const committedDir = "../mixin/dashboards"

// committedPreset is the preset whose dashboards are committed.
const committedPreset = catalogue.SetHealthAgent

// generateCommitted is the committed preset's config and the files the
// generator makes of it.
func generateCommitted(t *testing.T) (*catalogue.Config, map[string][]byte) {
	t.Helper()
	cfg, err := catalogue.Preset(committedPreset)
	if err != nil {
		t.Fatal(err)
	}
	files, err := Generate(catalogue.MustBuild(cfg))
	if err != nil {
		t.Fatal(err)
	}
	return cfg, files
}

// The committed files are what the generator makes: a change to the
// generator, the catalogue or the preset must come with regenerated files
// (go test ./dashboards -run TestCommittedFiles -update).
func TestCommittedFiles(t *testing.T) {
	_, files := generateCommitted(t)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	if *update {
		if err := os.MkdirAll(committedDir, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			if err := os.WriteFile(filepath.Join(committedDir, n), files[n], 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, n := range names {
		have, err := os.ReadFile(filepath.Join(committedDir, n))
		if err != nil {
			t.Errorf("%s: %v (go test ./dashboards -run TestCommittedFiles -update writes it)", n, err)
			continue
		}
		if !bytes.Equal(have, files[n]) {
			t.Errorf("%s/%s differs from the generator's output; regenerate with go test ./dashboards -run TestCommittedFiles -update (or make generate)", committedDir, n)
		}
	}
	// Nothing stale: every file in the directory is generated.
	entries, err := os.ReadDir(committedDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, ok := files[e.Name()]; !ok {
			if *update && !e.IsDir() {
				os.Remove(filepath.Join(committedDir, e.Name()))
				continue
			}
			t.Errorf("%s/%s is not generated any more; remove it", committedDir, e.Name())
		}
	}
}
