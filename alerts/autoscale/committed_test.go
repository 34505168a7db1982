package autoscale

import (
	"os"
	"path/filepath"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	policyv1 "k8s.io/api/policy/v1"
	vpav1 "k8s.io/autoscaler/vertical-pod-autoscaler/pkg/apis/autoscaling.k8s.io/v1"

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
			case FilePDB:
				readStrict[policyv1.PodDisruptionBudget](t, f, b)
			case FileTriggerAuthentication:
				readStrict[kedav1alpha1.TriggerAuthentication](t, f, b)
			case FileVPA:
				readStrict[vpav1.VerticalPodAutoscaler](t, f, b)
			case FileHPA, FileFallbackHPA:
				readHPA(t, b)
			default:
				t.Errorf("%s: no upstream type to read it into", f)
			}
		}
	}
}
