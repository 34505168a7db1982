package config

// The config loader under fuzzing, seeded with the shipped config and the
// example of docs/config.md, and held to a fixed multiple of its input in
// bytes allocated.

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/headroom-dev/headroom/internal/allocbound"
)

// configSeeds are the configs the repository ships or documents.
func configSeeds(t testing.TB) [][]byte {
	t.Helper()
	shipped, err := os.ReadFile("../../cmd/headroom/headroom.yml")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	seeds := [][]byte{shipped}
	for _, m := range regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(doc, -1) {
		seeds = append(seeds, m[1])
	}
	if len(seeds) < 2 {
		t.Fatal("docs/config.md has no yaml example")
	}
	return append(seeds,
		[]byte("redis:\n  - &r {name: a, address: 'h:1'}\n  - {<<: *r, name: b}\n"),
		[]byte("api:\n  - name: a\n    health_url: http://x/h\n    metrics_url: http://x/m\n    json_fields: [{name: f, path: a.b}]\n    timeout: 1m30s\n"),
		[]byte("postgres:\n  - {name: pg, dsn: 'postgres://a@b/c', pools: {api: 0}}\n"),
		[]byte("--- \n...\n"),
	)
}

func FuzzConfig(f *testing.F) {
	for _, s := range configSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg, err := Parse("fuzz.yml", raw)
		if err != nil {
			// Every error names the file first.
			if !strings.HasPrefix(err.Error(), "fuzz.yml") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		names := map[string]bool{}
		for _, n := range targetNames(cfg) {
			if n == "" || names[n] {
				t.Errorf("accepted an empty or repeated target name %q", n)
			}
			names[n] = true
		}
	})
}

func targetNames(c *Config) []string {
	var out []string
	for _, p := range c.Postgres {
		out = append(out, p.Name)
	}
	for _, b := range c.PgBouncer {
		out = append(out, b.Name)
	}
	for _, r := range c.Redis {
		out = append(out, r.Name)
	}
	for _, a := range c.API {
		out = append(out, a.Name)
	}
	return out
}

// configAllocPerByte is what Parse allocates at worst per byte of YAML,
// rounded up from the 334 measured below: yaml.v3 builds a node of some
// 200 bytes for each scalar, after the events and tokens it parsed it
// from. Expanding aliases is what could break the bound; yaml.v3 refuses
// documents that expand more than about 100 times (its "excessive
// aliasing").
const (
	configAllocPerByte = 512
	configAllocFixed   = 1 << 20
)

func TestParseAllocationBound(t *testing.T) {
	n := 64 << 10
	inputs := configSeeds(t)
	// Many scalars, many targets, deep nesting.
	inputs = append(inputs,
		[]byte("postgres:\n  - pools: ["+strings.Repeat("1,", n/2)+"1]\n"),
		[]byte("redis:\n"+strings.Repeat("  - {}\n", n/7)),
		[]byte("postgres:\n  - pools: "+strings.Repeat("[", n/2)+strings.Repeat("]", n/2)+"\n"),
		[]byte("a: "+strings.Repeat("x", n)+"\n"),
	)
	// A list of aliases to a target holding a list of aliases: before the
	// walk remembered its anchors, 36 kB of this took 9 s and 480 MB.
	aliases := func(k int) string {
		return "api:\n  - &a\n    name: x\n    health_url: http://x/\n    json_fields:\n      - &f {name: a, path: b}\n" +
			strings.Repeat("      - *f\n", k) + strings.Repeat("  - *a\n", k)
	}
	for _, k := range []int{100, 2000} {
		inputs = append(inputs, []byte(aliases(k)))
	}
	// The same after 2% of the document's nodes outside any alias: yaml.v3
	// still refuses it, and the walk before it stays linear.
	var padded strings.Builder
	padded.WriteString("postgres:\n  - pools: {")
	for i := range 5000 {
		fmt.Fprintf(&padded, "p%d: 1,", i)
	}
	padded.WriteString("}\n" + aliases(300))
	inputs = append(inputs, []byte(padded.String()))

	bound := allocbound.Bound{PerByte: configAllocPerByte, Fixed: configAllocFixed}
	allocbound.UnderMemoryLimit(bound.Of(n), func() {
		for i, raw := range inputs {
			var err error
			got := allocbound.AllocatedBy(func() { _, err = Parse("bound.yml", raw) })
			if limit := bound.Of(len(raw)); got > limit {
				t.Errorf("input %d: %d bytes allocated for %d bytes of YAML, more than %d", i, got, len(raw), limit)
			}
			if testing.Verbose() {
				t.Logf("input %d: %d bytes, %d allocated (%.1f per byte) %s", i, len(raw), got, float64(got)/float64(len(raw)), firstLine(err))
			}
		}
	})
}

func firstLine(err error) string {
	if err == nil {
		return "accepted"
	}
	s, _, _ := strings.Cut(err.Error(), "\n")
	return fmt.Sprintf("%.80s", s)
}
