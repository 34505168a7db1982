package collectors

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"

	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/exposition"
	"github.com/headroom-dev/headroom/internal/testenv"
)

// fixedCollector replays one scrape's metrics, so that the registry and
// the gatherer can be given exactly the same input.
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
	// Its own primary: a replica attached to the shared one would add
	// replication series to what its other tests see from one scrape to
	// the next.
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
	got, err := families(runners, results)
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

// TestLabelValuesNotUTF8: a database name that is not UTF-8 (possible in a
// SQL_ASCII cluster) keeps its series, bytes replaced, and no panic.
func TestLabelValuesNotUTF8(t *testing.T) {
	var got []prometheus.Metric
	emitSample(func(m prometheus.Metric) { got = append(got, m) }, pgBackendsDesc, 4, "caf\xe9", "idle")
	fams, err := exposition.NewGatherer(context.Background(), nil, exposition.NewSources(fixedSource{name: "pg", metrics: got})).Gather()
	if err != nil {
		t.Fatal(err)
	}
	s := flatten(t, fams)
	s.want(t, "headroom_postgres_backends", 4, "database", "caf\uFFFD", "state", "idle")
}

// fixedSource replays one scrape's metrics under a target name.
type fixedSource struct {
	name    string
	metrics []prometheus.Metric
}

func (s fixedSource) Name() string                                { return s.name }
func (s fixedSource) Collect(context.Context) []prometheus.Metric { return s.metrics }

// families gathers each runner's metrics as a scrape would, sorted by name
// and, within a family, by label values.
func families(runners []*Runner, results [][]prometheus.Metric) ([]*dto.MetricFamily, error) {
	sources := make([]exposition.Source, len(runners))
	for i, metrics := range results {
		sources[i] = fixedSource{name: runners[i].Name(), metrics: metrics}
	}
	return exposition.NewGatherer(context.Background(), nil, exposition.NewSources(sources...)).Gather()
}
