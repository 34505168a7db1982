package main

import (
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// generatorModules are the modules the generators (headroomtool) link and
// the exporter must not: Go runs every linked package's init and pages its
// code in, which doubled the exporter's RSS when it linked them.
var generatorModules = []string{
	"k8s.io",
	"sigs.k8s.io",
	"github.com/kedacore",
	"github.com/grafana/grafana-foundation-sdk",
	"github.com/prometheus/prometheus",
	"github.com/prometheus-operator",
	"github.com/prometheus/alertmanager",
	// The HTML pages of replay (internal/charts) and their browser tests.
	"github.com/go-echarts",
	"github.com/chromedp",
}

// The exporter's main package depends on none of the generators' modules;
// a failure names each such package and the import chain that brings it
// in, from cmd/headroom, which is the dependency to cut.
func TestExporterLinksNoGeneratorModule(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, ".").Output()
	if err != nil {
		var stderr []byte
		if exit, ok := err.(*exec.ExitError); ok {
			stderr = exit.Stderr
		}
		t.Fatalf("go list -deps: %v\n%s", err, stderr)
	}
	imports := map[string][]string{}
	var main string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		imports[fields[0]] = fields[1:]
		main = fields[0] // go list -deps prints the package itself last
	}
	if main != "github.com/headroom-dev/headroom/cmd/headroom" || imports["github.com/headroom-dev/headroom/collectors"] == nil {
		t.Fatalf("go list -deps did not list cmd/headroom with its collectors; last package %q, %d packages", main, len(imports))
	}
	// The first chain found to each package, breadth first from main.
	chain := map[string][]string{main: {main}}
	queue := []string{main}
	for len(queue) > 0 {
		pkg := queue[0]
		queue = queue[1:]
		for _, dep := range imports[pkg] {
			if chain[dep] == nil {
				chain[dep] = append(slices.Clone(chain[pkg]), dep)
				queue = append(queue, dep)
			}
		}
	}
	for _, pkg := range slices.Sorted(maps.Keys(imports)) {
		for _, module := range generatorModules {
			if pkg == module || strings.HasPrefix(pkg, module+"/") {
				t.Errorf("cmd/headroom links %s: %s", pkg, strings.Join(chain[pkg], " -> "))
			}
		}
	}
}
