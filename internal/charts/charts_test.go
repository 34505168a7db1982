package charts

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/internal/charts/chartstest"
)

// goEChartsTargets is the go-echarts release whose ECharts EChartsVersion
// is; bumping go-echarts means pinning the ECharts it targets and running
// make echarts.
const goEChartsTargets = "v2.6.7"

func TestEmbeddedEChartsIsThePinnedRelease(t *testing.T) {
	versions := regexp.MustCompile(`\bversion="(\d+\.\d+\.\d+)"`).FindAllStringSubmatch(echartsJS, -1)
	if len(versions) != 1 || versions[0][1] != EChartsVersion {
		t.Errorf("echarts/echarts.min.js declares versions %v, want the pinned %s alone (run make echarts)", versions, EChartsVersion)
	}
	// Inlined in a <script> element, the script must not close it.
	if strings.Contains(strings.ToLower(echartsJS), "</script") {
		t.Error("echarts/echarts.min.js holds </script, which would end the page's script element")
	}
	for _, f := range []string{"LICENSE", "NOTICE"} {
		if b, err := os.ReadFile(filepath.Join("echarts", f)); err != nil || !bytes.Contains(b, []byte("Apache")) {
			t.Errorf("echarts/%s, ECharts' licence beside its script: %v", f, err)
		}
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		t.Fatal("no build info")
	}
	for _, m := range info.Deps {
		if m.Path == "github.com/go-echarts/go-echarts/v2" && m.Version != goEChartsTargets {
			t.Errorf("go-echarts is %s; EChartsVersion %s is what %s targets: pin the ECharts release %s targets, then update goEChartsTargets",
				m.Version, EChartsVersion, goEChartsTargets, m.Version)
		}
	}
}

func TestNiceCeil(t *testing.T) {
	for _, tc := range []struct{ in, want float64 }{
		{0.88, 1}, {1, 1}, {1.1, 1.2}, {2.2, 2.5}, {11, 12}, {16.5, 20}, {27.5, 30}, {55, 60}, {880, 1000},
	} {
		if got := niceCeil(tc.in); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("niceCeil(%g) = %g, want %g", tc.in, got, tc.want)
		}
	}
}

func TestAxisTopShowsAThresholdAboveTheData(t *testing.T) {
	at := time.Unix(0, 0)
	for _, tc := range []struct {
		name       string
		values     []float64
		thresholds []float64
		want       float64 // 0: ECharts' own axis
	}{
		{"threshold above the data", []float64{0.2, 0.5}, []float64{0.8}, 1},
		{"threshold within the data", []float64{0.2, 0.9}, []float64{0.8}, 0},
		{"no threshold", []float64{3}, nil, 0},
		{"NaN values are no data", []float64{math.NaN(), 10}, []float64{15}, 20},
		{"a replica maximum", []float64{2, 6}, []float64{10, 2}, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := LineChart{Lines: []Line{{}}}
			for _, v := range tc.values {
				c.Lines[0].Points = append(c.Lines[0].Points, Point{At: at, Value: v})
			}
			for _, v := range tc.thresholds {
				c.Thresholds = append(c.Thresholds, Threshold{Name: "t", Value: v})
			}
			got, ok := c.axisTop()
			if !ok {
				got = 0
			}
			if got != tc.want {
				t.Errorf("axisTop = %g (%v), want %g", got, ok, tc.want)
			}
		})
	}
}

// samplePage has every kind of figure and mark the package draws, a gap,
// a forecast, a section with a table, and labels that would end a script element if written as
// they are.
func samplePage() Page {
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	var usage, forecast, replicas []Point
	for k := range 24 * 12 {
		at := start.Add(time.Duration(k) * 5 * time.Minute)
		v := 0.4 + 0.2*math.Sin(float64(k)/20) + float64(k)/1500
		if k >= 100 && k < 110 {
			v = math.NaN()
		}
		usage = append(usage, Point{at, v})
		replicas = append(replicas, Point{at, float64(2 + k/60)})
	}
	end := usage[len(usage)-1].At
	for k := range 48 {
		forecast = append(forecast, Point{end.Add(time.Duration(k) * 5 * time.Minute), 0.59 + float64(k)/200})
	}
	return Page{
		Title: "A sample </script><script>alert(1)</script> page",
		Notes: []string{"Every figure and mark of the package.", "<b>not bold</b>"},
		// Written as they are, the cell's script would throw, an error the
		// browser check reports.
		Sections: []Section{{
			Heading: "A table <i>of</i> words", Before: []string{"Before it."}, After: []string{"After it."},
			Columns: []string{"status", "item"},
			Rows:    [][]string{{"pass", "7+ days"}, {"fail", `<script>throw new Error("a cell ran as a script")</script>`}},
		}},
		Figures: []Figure{
			&LineChart{
				Title: "DB pool of api", Unit: "ratio",
				Lines:      []Line{{Name: "used", Points: usage}, {Name: "forecast", Points: forecast, Dashed: true}},
				Thresholds: []Threshold{{Name: "DBPoolHigh", Value: 0.8}},
				Spans:      []Span{{From: start.Add(8 * time.Hour), To: start.Add(9 * time.Hour), Label: "</script> firing"}},
			},
			&LineChart{
				Title: "Replicas", Unit: "replicas",
				Lines:      []Line{{Name: "replicas", Points: replicas, Step: true}},
				Thresholds: []Threshold{{Name: "max", Value: 10}, {Name: "min", Value: 2}},
				Events:     []Event{{At: start.Add(5 * time.Hour), Label: "2 -> 7"}},
			},
			&SpanChart{
				Title: "Alerts", From: start, To: end.Add(4 * time.Hour),
				Lanes: []Lane{
					{Name: `DBPoolHigh {pool="api"}`, Spans: []Span{{From: start.Add(8 * time.Hour), To: start.Add(9 * time.Hour)}, {From: start.Add(20 * time.Hour), To: end}}},
					{Name: "QueueDepthHigh", Spans: []Span{{From: start.Add(2 * time.Hour), To: start.Add(3 * time.Hour)}}},
				},
			},
		},
	}
}

// The pages open in a real chromium with the network cut off: nothing is
// requested, nothing is logged as an error, every chart is drawn. Without
// the embedded script the same check fails, so it can.
func TestPagesInChromium(t *testing.T) {
	browser := chartstest.Start(t)
	dir := t.TempDir()
	open := func(t *testing.T, name, script string) chartstest.Page {
		var b bytes.Buffer
		if err := write(&b, samplePage(), script); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		page, err := browser.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Charts) != 3 {
			t.Fatalf("%d chart elements, want 3", len(page.Charts))
		}
		return page
	}
	t.Run("embedded script", func(t *testing.T) {
		page := open(t, "sample.html", echartsJS)
		for _, p := range page.Problems() {
			t.Error(p)
		}
		t.Logf("charts: %+v", page.Charts)
	})
	t.Run("no script", func(t *testing.T) {
		page := open(t, "noscript.html", "")
		problems := strings.Join(page.Problems(), "\n")
		for _, want := range []string{"echarts is not defined", "chart chart1 ", "chart chart3 "} {
			if !strings.Contains(problems, want) {
				t.Errorf("without the script, the check says\n%s\nwith no %q", problems, want)
			}
		}
	})
}
