package catalogue_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/headroom-dev/headroom/catalogue"
)

func build(t *testing.T, preset, text string) *catalogue.Bundle {
	t.Helper()
	cfg, err := catalogue.LoadOnto(preset, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return catalogue.MustBuild(cfg)
}

func resourcesOf(b *catalogue.Bundle) []catalogue.ResourceID {
	var ids []catalogue.ResourceID
	for _, r := range b.Remaining() {
		ids = append(ids, r.ID)
	}
	return ids
}

// A resource is recorded only where its limit is known: the request rate
// needs a capacity (api.capacity_per_pod or RequestRateHigh's threshold),
// the network a configured capacity; every other limit is a metric, whose
// absence the rules handle.
func TestRemainingOnlyWithAKnownLimit(t *testing.T) {
	for _, tc := range []struct {
		name, preset, text string
		has, lacks         []catalogue.ResourceID
		capacity           float64
	}{
		{"health-agent has no request capacity", "health-agent", "",
			[]catalogue.ResourceID{catalogue.ResourceAPICPUInstance, catalogue.ResourceAPICPU, catalogue.ResourceAPIMemory, catalogue.ResourcePostgresPool,
				catalogue.ResourcePostgresDatabaseConnections, catalogue.ResourcePostgresRoleConnections, catalogue.ResourcePgBouncerClients,
				catalogue.ResourcePgBouncerPool, catalogue.ResourceRedisMemory, catalogue.ResourceRedisClients},
			[]catalogue.ResourceID{catalogue.ResourceAPIRequestsInstance, catalogue.ResourceAPIRequests, catalogue.ResourceAPINetworkInstance}, 0},
		{"health-agent with a capacity", "health-agent", "api: {capacity_per_pod: 40}\n",
			[]catalogue.ResourceID{catalogue.ResourceAPIRequestsInstance, catalogue.ResourceAPIRequests}, nil, 40},
		{"amas takes RequestRateHigh's threshold", "amas", "",
			[]catalogue.ResourceID{catalogue.ResourceAPIRequestsInstance, catalogue.ResourceAPIRequests}, []catalogue.ResourceID{catalogue.ResourceAPINetwork}, 15},
		{"amas follows an overridden threshold", "amas", "triggers: {RequestRateHigh: {threshold: 25}}\n",
			[]catalogue.ResourceID{catalogue.ResourceAPIRequestsInstance}, nil, 25},
		{"amas with a capacity of its own", "amas", "api: {capacity_per_pod: 12}\n",
			[]catalogue.ResourceID{catalogue.ResourceAPIRequestsInstance}, nil, 12},
		{"amas without RequestRateHigh", "amas", "triggers: {RequestRateHigh: {enabled: false}}\n",
			nil, []catalogue.ResourceID{catalogue.ResourceAPIRequestsInstance, catalogue.ResourceAPIRequests}, 0},
		{"network where configured", "health-agent", "resources: {source: node, network_bytes_per_second: 12500000}\n",
			[]catalogue.ResourceID{catalogue.ResourceAPINetworkInstance, catalogue.ResourceAPINetwork}, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := build(t, tc.preset, tc.text)
			got := resourcesOf(b)
			for _, id := range tc.has {
				if !slices.Contains(got, id) {
					t.Errorf("no %s in %v", id, got)
				}
			}
			for _, id := range tc.lacks {
				if _, ok := b.RemainingOf(id); ok {
					t.Errorf("%s recorded without a known limit", id)
				}
			}
			c, ok := b.CapacityPerPod()
			if ok != (tc.capacity > 0) || c != tc.capacity {
				t.Errorf("capacity per pod %v (%v), want %v", c, ok, tc.capacity)
			}
			if r, ok := b.RemainingOf(catalogue.ResourceAPIRequestsInstance); ok && !strings.HasPrefix(r.Expr, catalogue.Num(tc.capacity)+" - ") {
				t.Errorf("request headroom not against %v: %s", tc.capacity, r.Expr)
			}
		})
	}
}

// Every resource's rules are named headroom:<resource>:remaining and
// remaining_ratio, parse, and name their limit's source.
func TestRemainingRules(t *testing.T) {
	for _, src := range []string{"process", "cadvisor", "node"} {
		text := "api: {capacity_per_pod: 20}\nresources: {source: " + src + "}\n"
		if src != "process" {
			text = "api: {capacity_per_pod: 20}\nresources: {source: " + src + ", network_bytes_per_second: 1000}\n"
		}
		b := build(t, "health-agent", text)
		got := resourcesOf(b)
		want := slices.Clone(catalogue.ResourceIDs)
		if src == "process" {
			want = slices.DeleteFunc(want, func(id catalogue.ResourceID) bool {
				return id == catalogue.ResourceAPINetworkInstance || id == catalogue.ResourceAPINetwork
			})
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: resources %v, want %v", src, got, want)
		}
		for _, r := range b.Remaining() {
			if r.ID.Record() != "headroom:"+string(r.ID)+":remaining" || r.ID.RatioRecord() != r.ID.Record()+"_ratio" {
				t.Errorf("%s: records %s, %s", r.ID, r.ID.Record(), r.ID.RatioRecord())
			}
			for _, e := range []string{r.Expr, r.RatioExpr} {
				if _, err := catalogue.ParseExpr(e); err != nil {
					t.Errorf("%s/%s: %v\n%s", src, r.ID, err, e)
				}
			}
			if r.Limit == "" || r.Usage == "" || r.Title == "" || r.Counts == "" {
				t.Errorf("%s/%s: undocumented: %+v", src, r.ID, r)
			}
		}
	}
}

func TestCapacityPerPodIsValidated(t *testing.T) {
	for _, v := range []string{"-1", ".nan", ".inf"} {
		_, err := catalogue.LoadOnto("amas", []byte("api: {capacity_per_pod: "+v+"}\n"))
		if err == nil || !strings.Contains(err.Error(), "api.capacity_per_pod: ") || !strings.Contains(err.Error(), "must be > 0") {
			t.Errorf("capacity_per_pod %s: %v", v, err)
		}
	}
}

// docs/headroom.md's table names every resource's rule.
func TestHeadroomDocListsEveryResource(t *testing.T) {
	doc, err := os.ReadFile("../docs/headroom.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range catalogue.ResourceIDs {
		if !strings.Contains(string(doc), "`"+string(id)+"`") {
			t.Errorf("docs/headroom.md does not list %s", id)
		}
	}
}
