package exposition

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
	hist, err := NewHistogram(probeDurationDesc, HistogramOpts{Buckets: []float64{0.1, 1}, NativeHistogramBucketFactor: 1.1})
	if err != nil {
		t.Fatal(err)
	}
	hist.Observe(0.05)
	hist.Observe(3)

	runners := map[string][]prometheus.Metric{
		"replica": {
			NewSample(backendsDesc, 3, "db1", "idle"),
			NewSample(backendsDesc, math.NaN(), "quote\"back\\slash\nnewline", "active"),
			NewSample(commitsDesc, 1e21, "db1"),
			NewSample(maxConnectionsDesc, math.Inf(1)),
			NewSample(targetUpDesc, 1, "postgres"),
		},
		"primary": {
			NewSample(backendsDesc, 0.25, "db1", "idle"),
			NewSample(backendsDesc, -1, "caf\xe9", "waiting"),
			NewSample(backendsDesc, 2, "db1", "idle"), // a duplicate
			NewSample(maxConnectionsDesc, math.Inf(-1)),
			NewSample(usableConnectionsDesc, math.Copysign(0, -1)),
			NewSample(poolClientsDesc, 12345.678, "db", "user", "waiting"),
			NewSample(targetUpDesc, 0, "postgres"),
		},
		"api": {
			hist,
			NewSample(targetUpDesc, 1, "api"),
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
			families = append(families, sourceFamilies(target(name), runners[name]))
			texts = append(texts, sourceText(target(name), runners[name]))
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

// The descriptors the tests share: headroom's own families, declared here
// as the collectors declare them, so that the tests cover real names,
// label orders and types.
var (
	backendsDesc          = NewDesc("headroom_postgres_backends", "Client backends by database and state.", Gauge, "database", "state")
	commitsDesc           = NewDesc("headroom_postgres_database_commits_total", "Transactions committed in the database.", Counter, "database")
	maxConnectionsDesc    = NewDesc("headroom_postgres_max_connections", "The max_connections setting.", Gauge)
	usableConnectionsDesc = NewDesc("headroom_postgres_usable_connections", "Connections ordinary clients can hold.", Gauge)
	poolBackendsDesc      = NewDesc("headroom_postgres_pool_backends", "Client backends of a configured pool, by state.", Gauge, "pool", "state")
	// Declared unsorted, user after target.
	poolClientsDesc   = NewDesc("headroom_pgbouncer_pool_client_connections", "Client connections of the pool by state.", Gauge, "database", "user", "state")
	targetUpDesc      = NewDesc("headroom_target_up", "1 when the target answered with usable data in this scrape, 0 otherwise.", Gauge, "kind")
	probeDurationDesc = NewDesc("headroom_api_probe_duration_seconds", "Duration of health probes.", Histogram)
)
