package strictyaml

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

type inner struct {
	Every model.Duration `yaml:"every"`
}

type doc struct {
	Name   string            `yaml:"name"`
	Wait   *model.Duration   `yaml:"wait"`
	Inner  []inner           `yaml:"inner"`
	ByName map[string]inner  `yaml:"by_name"`
	Extra  map[string]string `yaml:",inline"`
}

type closed struct {
	Name  string `yaml:"name"`
	Inner inner  `yaml:"inner"`
}

func TestDecode(t *testing.T) {
	for _, tc := range []struct {
		name, text, want string
		into             any
	}{
		{"unknown key", "name: a\ninner: {evry: 1m}\n", "inner.evry: line 2: unknown key (known here: every)", &closed{}},
		{"duration in a list", "inner:\n  - {every: 1m}\n  - {every: 1 minute}\n", `inner[1].every: line 3: unknown unit " minute"`, &doc{}},
		{"duration in a map", "by_name:\n  a: {every: x}\n", `by_name.a.every: line 2: not a valid duration string: "x"`, &doc{}},
		{"duration behind a pointer", "wait: 1 h\n", `wait: line 1: unknown unit " h"`, &doc{}},
		{"an inline map takes other keys", "name: a\nanything: b\nwait: 1m\n", "", &doc{}},
		{"empty document", "", "", &closed{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Decode([]byte(tc.text), tc.into)
			if tc.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to contain %q", err, tc.want)
			}
		})
	}
	var d doc
	if err := Decode([]byte("name: a\nwait: 90s\ninner: [{every: 2m}]\n"), &d); err != nil || d.Name != "a" || time.Duration(*d.Wait) != 90*time.Second || time.Duration(d.Inner[0].Every) != 2*time.Minute {
		t.Fatalf("decoded %+v, %v", d, err)
	}
}

// Every file headroom reads goes through Decode; the YAML decoders left
// read only what headroom wrote itself or a key it reads again strictly.
func TestEveryFileIsReadStrictly(t *testing.T) {
	allowed := map[string]string{
		"catalogue/config.go":               "the preset key only; overlay then decodes the whole file strictly",
		"catalogue/document.go":             "the comments of the embedded presets, which headroom ships",
		"internal/replay/evaluate.go":       "the rule files headroom generated",
		"internal/strictyaml/strictyaml.go": "this package",
	}
	decoder := regexp.MustCompile(`\byaml\.(Unmarshal|NewDecoder)\(`)
	root := filepath.Join("..", "..")
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if decoder.Match(b) {
			if _, ok := allowed[filepath.ToSlash(rel)]; !ok {
				t.Errorf("%s decodes YAML itself: read it with strictyaml.Decode, so that unknown keys are refused", rel)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// An anchor is walked once however often it is used: an error in it is
// reported once, where it is defined, and a list of n aliases to a node
// holding n aliases costs n, not n².
func TestAnchorsWalkedOnce(t *testing.T) {
	err := Decode([]byte("inner:\n  - &i {evry: 1m}\n  - *i\n  - *i\n"), &doc{})
	if err == nil || strings.Count(err.Error(), "unknown key") != 1 || !strings.Contains(err.Error(), "inner[0].evry: line 2") {
		t.Errorf("error %v, want inner[0].evry's unknown key once", err)
	}

	type wide struct {
		Lists [][]inner `yaml:"lists"`
	}
	n := 3000
	text := "lists:\n  - &l\n    - &i {evry: 1m}\n" + strings.Repeat("    - *i\n", n) + strings.Repeat("  - *l\n", n)
	start := time.Now()
	err = Decode([]byte(text), &wide{})
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("%d aliases to a list of %d aliases took %v", n, n, took)
	}
	if err == nil || strings.Count(err.Error(), "unknown key") != 1 {
		t.Errorf("error %v, want the one unknown key", err)
	}
}
