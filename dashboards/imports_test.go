package dashboards

import (
	"os/exec"
	"strings"
	"testing"
)

// Dashboards are drawn from the catalogue alone: the package links neither
// the alerts generators nor the promtool tests and their fixtures, so that
// drawing a dashboard builds no test series.
func TestDashboardsImportNoAlertsGenerator(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	deps := strings.Fields(string(out))
	if !strings.Contains(string(out), "github.com/headroom-dev/headroom/catalogue") {
		t.Fatalf("go list -deps names no catalogue among %d packages: has the module moved?", len(deps))
	}
	for _, d := range deps {
		if d == "github.com/headroom-dev/headroom/alerts" || strings.HasPrefix(d, "github.com/headroom-dev/headroom/alerts/") {
			t.Errorf("dashboards depends on %s", d)
		}
	}
}
