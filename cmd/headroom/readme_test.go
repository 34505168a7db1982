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
	"unicode/utf8"

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

// The README is read in five minutes: at most readmeMaxLines lines, the
// depth in docs/. And no paragraph of the README or docs/ runs longer than
// maxParagraphLines lines of proseLineWidth characters (a longer line counts
// as the lines it would wrap to), so that every page can be skimmed.
const (
	readmeMaxLines    = 150
	maxParagraphLines = 6
	proseLineWidth    = 100
)

func TestREADMEIsShort(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(raw), "\n"); n > readmeMaxLines {
		t.Errorf("README.md has %d lines, want at most %d: move the depth into docs/", n, readmeMaxLines)
	}
}

func TestDocParagraphsAreShort(t *testing.T) {
	root := filepath.Join("..", "..")
	docs, _ := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	docs = append(docs, filepath.Join(root, "README.md"))
	if len(docs) < 5 {
		t.Fatalf("found %d documents; has docs/ moved?", len(docs))
	}
	for _, doc := range docs {
		text, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, doc)
		for _, p := range paragraphs(string(text)) {
			if p.lines > maxParagraphLines {
				t.Errorf("%s:%d: a paragraph of %d lines (of %d characters), want at most %d: split it or make it a table",
					rel, p.start, p.lines, proseLineWidth, maxParagraphLines)
			}
		}
	}
}

// paragraph is a run of prose: its first line (1-based) and its length in
// lines of proseLineWidth characters.
type paragraph struct{ start, lines int }

// paragraphs splits Markdown into its prose paragraphs. Code (fenced or
// indented), tables, headings and HTML comments are not prose; a list item
// is a paragraph of its own.
func paragraphs(markdown string) []paragraph {
	var out []paragraph
	var cur *paragraph
	end := func() {
		if cur != nil {
			out = append(out, *cur)
			cur = nil
		}
	}
	listItem := regexp.MustCompile(`^\s*([-*]|\d+\.) `)
	fenced := false
	for i, line := range strings.Split(markdown, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "```"):
			fenced = !fenced
			end()
			continue
		case fenced:
			continue
		case trimmed == "", strings.HasPrefix(trimmed, "|"), strings.HasPrefix(trimmed, "#"), strings.HasPrefix(trimmed, "<!--"):
			end()
			continue
		case cur == nil && strings.HasPrefix(line, "    "):
			continue // an indented code block
		case listItem.MatchString(line):
			end()
		}
		if cur == nil {
			cur = &paragraph{start: i + 1}
		}
		cur.lines += max(1, (utf8.RuneCountInString(line)+proseLineWidth-1)/proseLineWidth)
	}
	end()
	return out
}
