package collectors

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/testenv"
)

// fixedCollector replays one scrape's metrics, so that the registry and
// scrapeGatherer can be given exactly the same input.
type fixedCollector []prometheus.Metric

func (fixedCollector) Describe(chan<- *prometheus.Desc) {}
func (c fixedCollector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c {
		ch <- m
	}
}

// TestGathererMatchesRegistry: the families built without a registry are
// exactly what client_golang's registry makes of the same metrics (target
// label added by WrapRegistererWith), on a real PostgreSQL primary and
// replica and a real Redis.
func TestGathererMatchesRegistry(t *testing.T) {
	t.Parallel()
	pg := testenv.StartPostgres(t, testenv.PostgresOptions{})
	replica := pg.StartReplica(t)
	rds := testenv.StartRedis(t, testenv.RedisOptions{})
	primaryRunner, _ := newPostgresRunner(t, config.Postgres{Name: "primary", DSN: pg.DSN("postgres", "postgres"), Pools: map[string]int{"api": 5}}, nil)
	replicaRunner, _ := newPostgresRunner(t, config.Postgres{Name: "replica", DSN: replica.DSN("postgres", "postgres")}, nil)
	redisRunner, _, _ := newRedisRunner(t, config.Redis{Address: rds.Addr()})
	runners := []*Runner{primaryRunner, replicaRunner, redisRunner}

	results := make([][]prometheus.Metric, len(runners))
	reg := prometheus.NewRegistry()
	for i, r := range runners {
		results[i] = r.Collect(context.Background())
		prometheus.WrapRegistererWith(prometheus.Labels{"target": r.Name()}, reg).MustRegister(fixedCollector(results[i]))
	}
	want, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got, err := families(nil, runners, results)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d families, the registry made %d", len(got), len(want))
	}
	series := 0
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("family %s differs:\n got  %v\n want %v", want[i].GetName(), got[i], want[i])
		}
		series += len(want[i].GetMetric())
	}
	if series < 50 {
		t.Errorf("only %d series compared: the scrape did not report what it should", series)
	}
}

// TestGathererRejectsWhatARegistryWould: what a registry would refuse is
// dropped with an error naming it, and the rest is still served.
func TestGathererRejectsWhatARegistryWould(t *testing.T) {
	runner := &Runner{label: &dto.LabelPair{Name: proto.String("target"), Value: proto.String("pg")}}
	unknown := prometheus.NewDesc("headroom_not_made_by_newdesc", "h", nil, nil)
	for _, tc := range []struct {
		name    string
		metrics []prometheus.Metric
		wantErr string
		series  int // pgBackendsDesc series kept
	}{
		{"duplicate series", []prometheus.Metric{
			prometheus.MustNewConstMetric(pgBackendsDesc, prometheus.GaugeValue, 1, "app", "idle"),
			prometheus.MustNewConstMetric(pgBackendsDesc, prometheus.GaugeValue, 2, "app", "idle"),
			prometheus.MustNewConstMetric(pgBackendsDesc, prometheus.GaugeValue, 3, "app", "active"),
		}, "1 duplicate", 2},
		{"metric that fails to write", []prometheus.Metric{
			prometheus.NewInvalidMetric(pgBackendsDesc, errors.New("broken on purpose")),
			prometheus.MustNewConstMetric(pgBackendsDesc, prometheus.GaugeValue, 3, "app", "active"),
		}, "broken on purpose", 1},
		{"descriptor headroom does not know", []prometheus.Metric{
			prometheus.MustNewConstMetric(unknown, prometheus.GaugeValue, 1),
			prometheus.MustNewConstMetric(pgBackendsDesc, prometheus.GaugeValue, 3, "app", "active"),
		}, "not made by newDesc", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fams, err := families(nil, []*Runner{runner}, [][]prometheus.Metric{tc.metrics})
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
			}
			if strings.Contains(tc.wantErr, "duplicate") && !strings.Contains(err.Error(), "headroom_postgres_backends") {
				t.Errorf("error %v does not name the metric", err)
			}
			if len(fams) != 1 || len(fams[0].GetMetric()) != tc.series {
				t.Fatalf("kept %v, want %d series of headroom_postgres_backends", fams, tc.series)
			}
			for _, m := range fams[0].GetMetric() {
				if m.GetLabel()[len(m.GetLabel())-1].GetValue() != "pg" {
					t.Errorf("series %v lacks its target label", m.GetLabel())
				}
			}
		})
	}
}

// TestLabelValuesNotUTF8: a database name that is not UTF-8 (possible in a
// SQL_ASCII cluster) keeps its series, bytes replaced, and no panic.
func TestLabelValuesNotUTF8(t *testing.T) {
	var got []prometheus.Metric
	gauge(func(m prometheus.Metric) { got = append(got, m) }, pgBackendsDesc, 4, "caf\xe9", "idle")
	runner := &Runner{label: &dto.LabelPair{Name: proto.String("target"), Value: proto.String("pg")}}
	fams, err := families(nil, []*Runner{runner}, [][]prometheus.Metric{got})
	if err != nil {
		t.Fatal(err)
	}
	s := flatten(t, fams)
	s.want(t, "headroom_postgres_backends", 4, "database", "caf\uFFFD", "state", "idle")
}

// The merge interleaves the targets' sorted series (and keeps the static
// families): a family two targets report comes out sorted by label
// values, and a series two parts both carry is kept once, the first
// part's, with an error, as a registry would refuse it.
func TestMergeInterleavesTargets(t *testing.T) {
	target := func(v string) *dto.LabelPair {
		return &dto.LabelPair{Name: proto.String("target"), Value: proto.String(v)}
	}
	up := func(kind string, v float64) prometheus.Metric {
		return newConstSample(targetUpDesc, prometheus.GaugeValue, v, []string{kind})
	}
	static := []*dto.MetricFamily{{Name: proto.String("go_goroutines"), Help: proto.String("Goroutines."),
		Type: dto.MetricType_GAUGE.Enum(), Metric: []*dto.Metric{{Gauge: &dto.Gauge{Value: proto.Float64(3)}}}}}
	parts := []partialFamilies{
		runnerFamilies(target("zeta"), []prometheus.Metric{up("redis", 1), up("postgres", 1)}),
		runnerFamilies(target("alpha"), []prometheus.Metric{up("postgres", 0)}),
		runnerFamilies(target("zeta"), []prometheus.Metric{up("redis", 0)}),
	}
	fams, err := merge(static, parts)
	if err == nil || !strings.Contains(err.Error(), "headroom_target_up: 1 duplicate series dropped") {
		t.Errorf("err = %v, want the duplicate named", err)
	}
	var got []string
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			var pairs []string
			for _, lp := range m.GetLabel() {
				pairs = append(pairs, lp.GetName()+"="+lp.GetValue())
			}
			got = append(got, fmt.Sprintf("%s{%s} %g", f.GetName(), strings.Join(pairs, ","), m.GetGauge().GetValue()))
		}
	}
	want := []string{
		"go_goroutines{} 3",
		"headroom_target_up{kind=postgres,target=alpha} 0",
		"headroom_target_up{kind=postgres,target=zeta} 1",
		"headroom_target_up{kind=redis,target=zeta} 1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("merged:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// families merges the static families with each runner's metrics, sorted
// by name and, within a family, by label values.
func families(static []*dto.MetricFamily, runners []*Runner, results [][]prometheus.Metric) ([]*dto.MetricFamily, error) {
	parts := make([]partialFamilies, len(runners))
	for i, metrics := range results {
		parts[i] = runnerFamilies(runners[i].label, metrics)
	}
	return merge(static, parts)
}
