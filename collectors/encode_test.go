package collectors

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"google.golang.org/protobuf/proto"
)

// The text headroom writes itself is byte for byte what promhttp writes
// from the families the registry-free gatherer builds of the same series:
// sorted families, series interleaved from targets in label order, escapes,
// special values, counters, a stateful histogram, the static registry's
// summaries, and duplicates dropped with the same error.
func TestTextMatchesPromhttp(t *testing.T) {
	target := func(v string) *dto.LabelPair {
		return &dto.LabelPair{Name: proto.String("target"), Value: proto.String(v)}
	}
	hist := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "headroom_api_probe_duration_seconds", Help: apiProbeDurationHelp,
		Buckets: []float64{0.1, 1}, ConstLabels: prometheus.Labels{"target": "api"},
		NativeHistogramBucketFactor: 1.1,
	})
	registerLabelled(hist.Desc(), MetricInfo{Name: "headroom_api_probe_duration_seconds", Help: apiProbeDurationHelp, Type: "histogram"})
	defer forget(hist.Desc())
	hist.Observe(0.05)
	hist.Observe(3)

	runners := map[string][]prometheus.Metric{
		"replica": {
			newConstSample(pgBackendsDesc, prometheus.GaugeValue, 3, []string{"db1", "idle"}),
			newConstSample(pgBackendsDesc, prometheus.GaugeValue, math.NaN(), []string{"quote\"back\\slash\nnewline", "active"}),
			newConstSample(pgCommitsDesc, prometheus.CounterValue, 1e21, []string{"db1"}),
			newConstSample(pgMaxConnectionsDesc, prometheus.GaugeValue, math.Inf(1), nil),
			prometheus.MustNewConstMetric(targetUpDesc, prometheus.GaugeValue, 1, "postgres"),
		},
		"primary": {
			newConstSample(pgBackendsDesc, prometheus.GaugeValue, 0.25, []string{"db1", "idle"}),
			newConstSample(pgBackendsDesc, prometheus.GaugeValue, -1, []string{"caf\xe9", "waiting"}),
			newConstSample(pgBackendsDesc, prometheus.GaugeValue, 2, []string{"db1", "idle"}), // a duplicate
			newConstSample(pgMaxConnectionsDesc, prometheus.GaugeValue, math.Inf(-1), nil),
			newConstSample(pgUsableConnectionsDesc, prometheus.GaugeValue, math.Copysign(0, -1), nil),
			newConstSample(pgbPoolClientsDesc, prometheus.GaugeValue, 12345.678, []string{"db", "user", "waiting"}),
			prometheus.MustNewConstMetric(targetUpDesc, prometheus.GaugeValue, 0, "postgres"),
		},
		"api": {
			hist,
			prometheus.MustNewConstMetric(targetUpDesc, prometheus.GaugeValue, 1, "api"),
		},
	}
	reg := prometheus.NewRegistry()
	// A family the registry shares with targets keeps the registry's help.
	shared := prometheus.NewGauge(prometheus.GaugeOpts{Name: "headroom_postgres_max_connections", Help: "From the registry."})
	shared.Set(9)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), shared)

	for _, order := range [][]string{{"replica", "primary", "api"}, {"api", "primary", "replica"}} {
		static, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var families []partialFamilies
		var texts []textPart
		for _, name := range order {
			families = append(families, runnerFamilies(target(name), runners[name]))
			texts = append(texts, runnerText(target(name), runners[name]))
		}
		texts = append([]textPart{staticText(static)}, texts...)
		fams, wantErr := merge(static, families)
		var want bytes.Buffer
		enc := expfmt.NewEncoder(&want, expfmt.NewFormat(expfmt.TypeTextPlain))
		for _, f := range fams {
			if err := enc.Encode(f); err != nil {
				t.Fatal(err)
			}
		}

		var got bytes.Buffer
		gotErr := writeText(&got, texts)
		if got.String() != want.String() {
			t.Errorf("order %v: text differs from promhttp's:\n%s", order, lineDiff(got.String(), want.String()))
		}
		if gotErr == nil || wantErr == nil || !strings.Contains(gotErr.Error(), "headroom_postgres_backends: 1 duplicate series dropped") ||
			!strings.Contains(wantErr.Error(), "headroom_postgres_backends: 1 duplicate series dropped") {
			t.Errorf("errors: text %v, families %v; want the duplicate named by both", gotErr, wantErr)
		}
		for _, s := range []string{`database="quote\"back\\slash\nnewline"`, "NaN", "+Inf", "-Inf", "1e+21", `le="0.1"`, "caf\uFFFD",
			`headroom_postgres_usable_connections{target="primary"} 0`, "# HELP headroom_postgres_max_connections From the registry."} {
			if !strings.Contains(got.String(), s) {
				t.Errorf("order %v: output lacks %s", order, s)
			}
		}
	}
}

// lineDiff shows the first lines where two texts part.
func lineDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) && i < len(w); i++ {
		if g[i] != w[i] {
			return "line " + strconv.Itoa(i+1) + ":\n got " + g[i] + "\nwant " + w[i]
		}
	}
	return "lengths " + strconv.Itoa(len(g)) + " and " + strconv.Itoa(len(w)) + " lines"
}
