package autoscale

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/headroom-dev/headroom/alerts"
	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/internal/drift"
)

// committedDir holds the presets' manifests, one directory per preset.
const committedDir = "../../mixin/k8s"

// TestCommittedManifests fails when mixin/k8s/ is not what the generator
// makes (a file differs, is missing, or is left over): run make generate.
// Each preset's directory holds every manifest, its PrometheusRule too.
func TestCommittedManifests(t *testing.T) {
	for _, name := range catalogue.Presets() {
		cfg := preset(t, name)
		files := generate(t, cfg)
		dir := filepath.Join(committedDir, name)
		drift.Check(t, dir, files)
		// What is committed parses as the upstream types.
		for _, f := range files.Names() {
			b, _ := os.ReadFile(filepath.Join(dir, filepath.FromSlash(f)))
			switch f {
			case FileScaledObject:
				readScaledObject(t, b)
			case alerts.FilePrometheusRule:
				readPrometheusRule(t, cfg, b)
			default:
				readHPA(t, b)
			}
		}
	}
}
