package alerts

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/catalogue"

	"github.com/prometheus/prometheus/promql/promqltest"
)

// The connection headroom counts the pods the usable connections take
// beyond the current ones: current replicas from kube-state-metrics, else
// the API instances seen, else min_replicas; a standby's connections are
// never the primary's; with a cluster label, each cluster gets its own.
func TestDBConnectionHeadroom(t *testing.T) {
	const (
		bouncer = `headroom_pgbouncer_config_max_client_connections{job="headroom", target="bouncer"} 100x10`
		primary = `headroom_postgres_usable_connections{job="headroom", target="pg-primary"} 97x10
  headroom_postgres_in_recovery{job="headroom", target="pg-primary"} 0x10`
		standby = `headroom_postgres_usable_connections{job="headroom", target="pg-standby"} 500x10
  headroom_postgres_in_recovery{job="headroom", target="pg-standby"} 1x10`
		ksm       = `kube_horizontalpodautoscaler_status_current_replicas{horizontalpodautoscaler="health-agent-api-hpa"} 5x10`
		instances = `instance:api_cpu_utilisation:ratio{service="health-agent-api", instance="a"} 0.5x10
  instance:api_cpu_utilisation:ratio{service="health-agent-api", instance="b"} 0.5x10`
	)
	for _, c := range []struct {
		name, config, series string
		want                 map[string]float64 // by cluster ("" without a cluster label)
	}{
		// PgBouncer's 100 at 13 per pod (4 cores): 5 pods use 65, 35 left
		// is 2 more pods.
		{"kube-state-metrics' current replicas", "", bouncer + "\n  " + ksm + "\n  " + instances, map[string]float64{"": 2}},
		// Two instances use 26: 74 left, 5 more pods.
		{"else the API instances seen", "", bouncer + "\n  " + instances, map[string]float64{"": 5}},
		// min_replicas 3 use 39: 61 left, 4 more pods.
		{"else min_replicas", "", bouncer, map[string]float64{"": 4}},
		// The primary's 97 (the standby's 500 left out): 3 x 13 = 39, 58
		// left, 4 more pods.
		{"straight to the primary", "autoscaling: {db: {connects_through: postgres, usable_connections: 0}}", primary + "\n  " + standby, map[string]float64{"": 4}},
		// Full: 8 pods x 13 = 104 > 100 is 1 pod too many.
		{"over the limit", "autoscaling: {db: {usable_connections: 0}}", bouncer + "\n  " + `kube_horizontalpodautoscaler_status_current_replicas{horizontalpodautoscaler="health-agent-api-hpa"} 8x10`, map[string]float64{"": -1}},
		{"per cluster", "cluster_label: cluster", `headroom_pgbouncer_config_max_client_connections{job="headroom", target="bouncer", cluster="a"} 100x10
  headroom_pgbouncer_config_max_client_connections{job="headroom", target="bouncer", cluster="b"} 200x10
  kube_horizontalpodautoscaler_status_current_replicas{horizontalpodautoscaler="health-agent-api-hpa", cluster="a"} 5x10`,
			map[string]float64{"a": 2, "b": 12}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg, err := catalogue.LoadOnto("health-agent", []byte(c.config))
			if err != nil {
				t.Fatal(err)
			}
			h, ok := catalogue.DBConnectionHeadroom(cfg)
			if !ok {
				t.Fatal("no connection headroom for the health-agent preset")
			}
			if h.PoolSizePerPod != 13 || h.MinReplicas != 3 || h.MaxReplicas != 20 {
				t.Errorf("pool %d, replicas %d..%d; want 13, 3..20", h.PoolSizePerPod, h.MinReplicas, h.MaxReplicas)
			}
			storage := promqltest.LoadedStorage(t, "load 30s\n  "+c.series+"\n")
			engine := promqltest.NewTestEngine(t, false, 5*time.Minute, promqltest.DefaultMaxSamplesPerQuery)
			q, err := engine.NewInstantQuery(context.Background(), storage, nil, h.Expr, time.Unix(120, 0))
			if err != nil {
				t.Fatalf("%v\n%s", err, h.Expr)
			}
			v, err := q.Exec(context.Background()).Vector()
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]float64{}
			for _, s := range v {
				got[s.Metric.Get("cluster")] = s.F
			}
			if len(got) != len(c.want) {
				t.Fatalf("got %v, want %v\n%s", got, c.want, h.Expr)
			}
			for cluster, want := range c.want {
				if g, ok := got[cluster]; !ok || g != want {
					t.Errorf("cluster %q: %v, want %v\n%s", cluster, got, want, h.Expr)
				}
			}
		})
	}
}

// A config that scales out with no pool size per pod has no guard at all;
// generate warns, naming the fields to set. The amas preset is one: the AMAS
// guide gives neither a pool size nor cores.
func TestDBGuardWarning(t *testing.T) {
	for _, c := range []struct {
		preset, yaml string
		warn         bool
	}{
		{"amas", "", true},
		{"amas", "autoscaling: {autoscaler: hpa}", true},
		{"amas", "autoscaling: {db: {pool_size_per_pod: 10}}", false},
		{"amas", "autoscaling: {db: {cores: 2}}", false},
		{"amas", "autoscaling: {autoscaler: none}", false},
		// HA: 4 cores from resources.cpu_cores, 13 per pod.
		{"health-agent", "", false},
		{"health-agent", "resources: {source: cadvisor, cpu_cores: 0}\nautoscaling: {db: {usable_connections: 0}}", true},
	} {
		cfg, err := catalogue.LoadOnto(c.preset, []byte(c.yaml))
		if err != nil {
			t.Fatalf("%s %q: %v", c.preset, c.yaml, err)
		}
		w := cfg.DBGuardWarning()
		if !c.warn {
			if w != "" {
				t.Errorf("%s %q: warning %q, want none", c.preset, c.yaml, w)
			}
			if _, ok := catalogue.DBConnectionHeadroom(cfg); !ok && cfg.Autoscaling.Autoscaler != catalogue.AutoscalerNone {
				t.Errorf("%s %q: no warning and no guard", c.preset, c.yaml)
			}
			continue
		}
		for _, want := range []string{"autoscaling.db.pool_size_per_pod", "autoscaling.db.cores", fmt.Sprintf("to %d replicas", cfg.Autoscaling.MaxReplicas)} {
			if !strings.Contains(w, want) {
				t.Errorf("%s %q: warning %q does not say %q", c.preset, c.yaml, w, want)
			}
		}
		if _, ok := catalogue.DBConnectionHeadroom(cfg); ok {
			t.Errorf("%s %q: a warning, yet the guard is on", c.preset, c.yaml)
		}
	}
}
