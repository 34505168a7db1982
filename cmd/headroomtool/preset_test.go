package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/headroom-dev/headroom/catalogue"
)

// headroomtool preset NAME prints the preset as a complete config, and that
// output, used as the config, generates the preset's bundle, dashboards
// and manifests byte for byte.
func TestPresetPrintsConfigThatGeneratesTheSameBundle(t *testing.T) {
	t.Parallel()
	bin := toolBinary(t)
	for _, name := range catalogue.Presets() {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			var printed, stderr bytes.Buffer
			cmd := exec.Command(bin, "preset", name)
			cmd.Stdout, cmd.Stderr = &printed, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("preset %s: %v\n%s", name, err, stderr.String())
			}
			// Every field is there, the ones the preset file leaves to the
			// defaults too, with the documentation's comments.
			for _, field := range []string{"preset: " + name + "\n", "\nscrape_interval: ", "\n  node: ", "\n  db:\n", "\n# Per-trigger overrides by id", "\ntriggers:"} {
				if !strings.Contains(printed.String(), field) {
					t.Errorf("preset %s output has no %q:\n%s", name, field, printed.String())
				}
			}
			cfgFile := filepath.Join(dir, "printed.yaml")
			if err := os.WriteFile(cfgFile, printed.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
			generate := func(out string, source ...string) {
				args := append([]string{"generate", "--out", filepath.Join(out, "bundle"),
					"--dashboards-out", filepath.Join(out, "dashboards"), "--k8s-out", filepath.Join(out, "k8s")}, source...)
				if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
					t.Fatalf("generate %v: %v\n%s", source, err, out)
				}
			}
			fromPreset, fromPrinted := filepath.Join(dir, "preset"), filepath.Join(dir, "printed")
			generate(fromPreset, "--preset", name)
			generate(fromPrinted, "--config", cfgFile)
			want, got := readTree(t, fromPreset), readTree(t, fromPrinted)
			if len(want) == 0 {
				t.Fatal("generate --preset wrote nothing")
			}
			for path, content := range want {
				if g, ok := got[path]; !ok {
					t.Errorf("%s: missing when generated from the printed config", path)
				} else if !bytes.Equal(g, content) {
					t.Errorf("%s differs when generated from the printed config", path)
				}
			}
			for path := range got {
				if _, ok := want[path]; !ok {
					t.Errorf("%s: generated from the printed config only", path)
				}
			}
		})
	}
}

func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		files[rel], err = os.ReadFile(path)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
