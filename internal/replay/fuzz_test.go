package replay

// replay's series notation under fuzzing, seeded with the series of the
// recorded input files, and held to a fixed multiple of its input in bytes
// allocated.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/headroom-dev/headroom/internal/allocbound"
)

type seriesDoc struct {
	Interval    string       `yaml:"interval"`
	InputSeries []seriesLine `yaml:"input_series"`
}

type seriesLine struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

// inputFiles are the recorded series files of testdata.
func inputFiles(t testing.TB) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.yaml"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no series files in testdata (%v)", err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[p] = raw
	}
	return out
}

// FuzzReplaySeries fuzzes one series and its values, put in a file as the
// user would write them, so that the fuzzer spends its time on the
// notation rather than on YAML.
func FuzzReplaySeries(f *testing.F) {
	for _, raw := range inputFiles(f) {
		var doc seriesDoc
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			continue
		}
		for _, s := range doc.InputSeries {
			f.Add(s.Series, s.Values)
		}
	}
	f.Add(`m{a="x1"}`, "_x3 1+1x2 stale NaN -Inf 3-1x2 _")
	f.Add("m", "1x99999999999999999999")
	f.Fuzz(func(t *testing.T, series, values string) {
		raw, err := yaml.Marshal(seriesDoc{Interval: "15s", InputSeries: []seriesLine{{series, values}}})
		if err != nil {
			return
		}
		src, err := parseInput("fuzz.yaml", raw)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Errorf("error does not name the file: %v", err)
			}
			return
		}
		if len(src.series) != 1 {
			t.Fatalf("%d series from one", len(src.series))
		}
		samples := src.series[0].samples
		if len(samples) > expandedValues(values) {
			t.Errorf("%d samples from %q, counted at most %d", len(samples), values, expandedValues(values))
		}
		step := int64(15000)
		for i, s := range samples {
			if s.t%step != 0 || s.t > src.end.UnixMilli() || (i > 0 && s.t <= samples[i-1].t) {
				t.Fatalf("sample %d at %d ms: not on a 15 s step in order within the file's end %v", i, s.t, src.end)
			}
		}
	})
}

// seriesAllocPerByte is what parseInput allocates at worst per byte of
// file, rounded up from the 192 measured below for a value per two bytes;
// seriesAllocFixed is what the most a file may expand to (maxInputValues)
// costs, measured at 218 bytes a value: promtool's parser appends each
// 24-byte value to lists it then joins, and the file keeps a 16-byte
// sample.
const (
	seriesAllocPerByte = 512
	seriesAllocFixed   = maxInputValues * 256
)

func TestParseInputAllocationBound(t *testing.T) {
	n := 64 << 10
	inputs := map[string]string{
		"many series":   "interval: 1s\ninput_series:\n" + strings.Repeat("  - {series: 'm{a=\"b\"}', values: '1'}\n", n/40),
		"many values":   "interval: 1s\ninput_series:\n  - {series: m, values: '" + strings.Repeat("1 ", n/2) + "'}\n",
		"many blanks":   "interval: 1s\ninput_series:\n  - {series: m, values: '" + strings.Repeat("_ ", n/2) + "'}\n",
		"most expanded": "interval: 1s\ninput_series:\n  - {series: m, values: '0+1x262143'}\n", // maxInputValues

		"too expanded": "interval: 1s\ninput_series:\n  - {series: m, values: '0+1x99999999999999'}\n",
		"many labels":  "interval: 1s\ninput_series:\n  - {series: 'm{" + strings.Repeat("a=\"b\",", n/6) + "}', values: '1'}\n",
	}
	for path, raw := range inputFiles(t) {
		inputs[path] = string(raw)
	}

	bound := allocbound.Bound{PerByte: seriesAllocPerByte, Fixed: seriesAllocFixed}
	allocbound.UnderMemoryLimit(bound.Of(n), func() {
		for name, raw := range inputs {
			var err error
			got := allocbound.AllocatedBy(func() { _, err = parseInput(name, []byte(raw)) })
			if limit := bound.Of(len(raw)); got > limit {
				t.Errorf("%s: %d bytes allocated for %d bytes of file, more than %d", name, got, len(raw), limit)
			}
			if testing.Verbose() {
				msg := "accepted"
				if err != nil {
					msg, _, _ = strings.Cut(err.Error(), "\n")
				}
				t.Logf("%s: %d bytes, %d allocated (%.1f per byte): %.100s", name, len(raw), got, float64(got)/float64(len(raw)), msg)
			}
		}
	})
}
