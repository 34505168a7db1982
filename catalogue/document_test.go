package catalogue

import (
	"reflect"
	"strings"
	"testing"
)

// A preset's Document reads back (as a config file, on no other input) as
// the same config, and carries the field documentation as comments.
func TestDocumentReadsBackAsThePreset(t *testing.T) {
	for _, name := range Presets() {
		cfg, err := Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		doc, err := cfg.Document()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		back, err := Load(doc)
		if err != nil {
			t.Fatalf("%s: the document does not load: %v\n%s", name, err, doc)
		}
		if !reflect.DeepEqual(back, cfg) {
			t.Errorf("%s: read back as\n%+v\nwant\n%+v", name, back, cfg)
		}
		for _, comment := range []string{"# Job label of headroom's own scrape", "  # Request counter;", "# Per-trigger overrides by id"} {
			if !strings.Contains(string(doc), comment) {
				t.Errorf("%s: the document lacks the comment %q", name, comment)
			}
		}
	}
}
