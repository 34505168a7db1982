package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/headroom-dev/headroom/collectors"
)

var update = flag.Bool("update", false, "rewrite generated parts of the docs (the metric list of docs/metrics.md)")

const (
	metricsBegin = "<!-- metrics:begin -->\n"
	metricsEnd   = "<!-- metrics:end -->"
)

// metricsTable renders docs/metrics.md's metric list from the descriptors
// the collectors really build.
func metricsTable() string {
	var b strings.Builder
	b.WriteString("| metric | type | labels | help |\n|---|---|---|---|\n")
	for _, m := range collectors.Metrics() {
		b.WriteString("| `" + m.Name + "` | " + m.Type + " | " + strings.Join(m.Labels, ", ") + " | " +
			strings.ReplaceAll(m.Help, "|", "\\|") + " |\n")
	}
	return b.String()
}

func TestMetricsDocListsEveryMetric(t *testing.T) {
	const path = "../../docs/metrics.md"
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	begin := strings.Index(doc, metricsBegin)
	end := strings.Index(doc, metricsEnd)
	if begin < 0 || end < begin {
		t.Fatalf("docs/metrics.md has no %q ... %q block", metricsBegin, metricsEnd)
	}
	want := doc[:begin+len(metricsBegin)] + metricsTable() + doc[end:]
	if want == doc {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("docs/metrics.md's metric list differs from the collectors; run: go test ./cmd/headroom -run MetricsDoc -update")
}

// Every relative link in the README and docs/ (and the READMEs under
// mixin/) points at a file of the repository, and an anchor at a heading
// of that file, as GitHub makes its ids.
func TestDocLinksResolve(t *testing.T) {
	root := filepath.Join("..", "..")
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	more, _ := filepath.Glob(filepath.Join(root, "mixin", "*", "README.md"))
	docs = append(append(docs, filepath.Join(root, "README.md"), filepath.Join(root, "mixin", "README.md")), more...)
	link := regexp.MustCompile(`\]\(([^)\s]+)\)`)
	checked := 0
	for _, doc := range docs {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, doc)
		for _, m := range link.FindAllStringSubmatch(string(text), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			file, anchor, _ := strings.Cut(target, "#")
			path := doc
			if file != "" {
				path = filepath.Join(filepath.Dir(doc), file)
			}
			checked++
			body, err := os.ReadFile(path)
			if err != nil {
				if _, statErr := os.Stat(path); statErr != nil {
					t.Errorf("%s links %s: %v", rel, target, statErr)
				}
				continue // a directory
			}
			if anchor != "" && !slices.Contains(headingIDs(string(body)), anchor) {
				t.Errorf("%s links %s: no heading with id %q in %s", rel, target, anchor, file)
			}
		}
	}
	if checked < 10 {
		t.Fatalf("checked %d links; has the link syntax changed?", checked)
	}
}

// headingIDs are the anchors GitHub gives a Markdown file's headings:
// lower case, punctuation dropped, spaces as hyphens.
func headingIDs(markdown string) []string {
	var ids []string
	for _, line := range strings.Split(markdown, "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		title := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		var id strings.Builder
		for _, r := range title {
			switch {
			case r == ' ':
				id.WriteRune('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				id.WriteRune(r)
			}
		}
		ids = append(ids, id.String())
	}
	return ids
}
