package architecture

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/headroom-dev/headroom"

// rulesDoc is the page whose table of packages this test enforces.
const rulesDoc = "../../docs/architecture.md"

// rule is one row of the page's table: a package and the packages of the
// module it may import.
type rule struct {
	mayImport []string
	line      int
}

// codeSpan finds the `quoted` package paths of a table cell.
var codeSpan = regexp.MustCompile("`([^`]+)`")

// readRules parses the table whose header starts with "| package" on the
// page: the first cell names the package, the last the packages it may
// import ("nothing" for none).
func readRules(t *testing.T, path string) map[string]rule {
	t.Helper()
	file, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	rules := map[string]rule{}
	inTable := false
	scanner := bufio.NewScanner(file)
	for line := 1; scanner.Scan(); line++ {
		text := strings.TrimSpace(scanner.Text())
		switch {
		case strings.HasPrefix(text, "| package"):
			inTable = true
			continue
		case !inTable:
			continue
		case !strings.HasPrefix(text, "|"):
			inTable = false
			continue
		case strings.HasPrefix(text, "|---") || strings.HasPrefix(text, "| ---"):
			continue
		}
		cells := strings.Split(strings.Trim(text, "|"), "|")
		name := codeSpan.FindStringSubmatch(cells[0])
		if name == nil {
			t.Fatalf("%s:%d: the first cell names no `package`: %q", path, line, text)
		}
		if _, dup := rules[name[1]]; dup {
			t.Errorf("%s:%d: %s has a second row", path, line, name[1])
		}
		var allowed []string
		for _, m := range codeSpan.FindAllStringSubmatch(cells[len(cells)-1], -1) {
			allowed = append(allowed, m[1])
		}
		if len(allowed) == 0 && strings.TrimSpace(cells[len(cells)-1]) != "nothing" {
			t.Errorf("%s:%d: the last cell of %s should list `packages` or say nothing", path, line, name[1])
		}
		rules[name[1]] = rule{mayImport: allowed, line: line}
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rules) == 0 {
		t.Fatalf("%s: no table whose header starts with \"| package\"", path)
	}
	return rules
}

// goPackage is what `go list -json` says of a package that this test reads.
type goPackage struct {
	ImportPath   string
	Imports      []string
	TestImports  []string
	XTestImports []string
}

// listPackages lists the module's packages with their imports, relative to
// the module path.
func listPackages(t *testing.T) []goPackage {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []goPackage
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p goPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		p.ImportPath = relative(p.ImportPath)
		p.Imports = ownOnly(p.Imports)
		p.TestImports = ownOnly(append(p.TestImports, p.XTestImports...))
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func relative(path string) string { return strings.TrimPrefix(path, module+"/") }

// ownOnly keeps the module's own packages of an import list.
func ownOnly(imports []string) []string {
	var own []string
	for _, path := range imports {
		if strings.HasPrefix(path, module+"/") {
			own = append(own, relative(path))
		}
	}
	return own
}

// TestImportRules: every package of the module has a row in
// docs/architecture.md, and imports only what its row allows.
func TestImportRules(t *testing.T) {
	rules := readRules(t, rulesDoc)
	doc := filepath.Base(rulesDoc)
	seen := map[string]bool{}
	for _, p := range listPackages(t) {
		seen[p.ImportPath] = true
		r, ok := rules[p.ImportPath]
		if !ok {
			t.Errorf("%s has no row in %s: add one saying its job and what it may import", p.ImportPath, doc)
			continue
		}
		for _, imported := range p.Imports {
			if !slices.Contains(r.mayImport, imported) {
				t.Errorf("%s imports %s, which its row (%s line %d) does not allow", p.ImportPath, imported, doc, r.line)
			}
		}
	}
	for name, r := range rules {
		if !seen[name] {
			t.Errorf("%s line %d names %s, which is not a package of the module", doc, r.line, name)
		}
	}
}

// TestRulesAreRead: the parser finds a rule that is there and reports an
// import a row does not allow, so that a broken table cannot pass quietly.
func TestRulesAreRead(t *testing.T) {
	page := filepath.Join(t.TempDir(), "page.md")
	text := "intro\n\n| package | job | may import |\n|---|---|---|\n| `a` | one | `b`, `c` |\n| `b` | two | nothing |\n\nafter\n| `z` | not a row | `a` |\n"
	if err := os.WriteFile(page, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	rules := readRules(t, page)
	if len(rules) != 2 || !slices.Equal(rules["a"].mayImport, []string{"b", "c"}) || len(rules["b"].mayImport) != 0 {
		t.Fatalf("rules = %+v, want a: [b c] and b: none", rules)
	}
}
