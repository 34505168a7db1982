package collectors

import (
	"strings"
	"testing"
)

// Types are declared with each descriptor, not read from names; the
// naming convention still holds for every declared type: a counter's name
// ends in _total, a gauge's and a histogram's do not.
func TestDeclaredTypesFollowNaming(t *testing.T) {
	seen := map[string]int{}
	for _, m := range Metrics() {
		seen[m.Type]++
		if total := strings.HasSuffix(m.Name, "_total"); total != (m.Type == "counter") {
			t.Errorf("%s is declared a %s", m.Name, m.Type)
		}
	}
	for _, typ := range []string{"gauge", "counter", "histogram"} {
		if seen[typ] == 0 {
			t.Errorf("no %s among %d metrics", typ, len(Metrics()))
		}
	}
}
