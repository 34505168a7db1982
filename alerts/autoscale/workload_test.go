package autoscale

import (
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	policyv1 "k8s.io/api/policy/v1"
	vpav1 "k8s.io/autoscaler/vertical-pod-autoscaler/pkg/apis/autoscaling.k8s.io/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/dashboards"
	"github.com/headroom-dev/headroom/internal/drift"
)

var update = flag.Bool("update", false, "rewrite the committed cold-start example under "+coldStartDir)

// readStrict parses a generated file strictly into an upstream type: an
// unknown or misspelt field fails.
func readStrict[T any](t *testing.T, what string, b []byte) *T {
	t.Helper()
	var obj T
	if err := sigsyaml.UnmarshalStrict(b, &obj); err != nil {
		t.Fatalf("%s does not parse as its upstream type: %v\n%s", what, err, b)
	}
	return &obj
}

func load(t *testing.T, preset, yaml string) *catalogue.Config {
	t.Helper()
	cfg, err := catalogue.LoadOnto(preset, []byte(yaml))
	if err != nil {
		t.Fatalf("%s + %q: %v", preset, yaml, err)
	}
	return cfg
}

func TestPodDisruptionBudget(t *testing.T) {
	for _, c := range []struct {
		name, preset, yaml string
		selector           string
		maxUnavailable     string
		minAvailable       string
	}{
		{"amas default", "amas", "", "app=amas-orchestrator", "1", ""},
		{"health-agent default", "health-agent", "", "app=health-agent-api", "1", ""},
		{"percentage", "amas", "autoscaling: {pdb: {max_unavailable: '25%'}}", "app=amas-orchestrator", "25%", ""},
		{"min available below min replicas", "amas", "autoscaling: {pdb: {min_available: 1}}", "app=amas-orchestrator", "", "1"},
		{"min available percentage", "amas", "autoscaling: {pdb: {min_available: '50%'}}", "app=amas-orchestrator", "", "50%"},
		{"selector", "amas", "autoscaling: {pod_selector: {app.kubernetes.io/name: orch}}", "app.kubernetes.io/name=orch", "1", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			files := generate(t, load(t, c.preset, c.yaml))
			pdb := readStrict[policyv1.PodDisruptionBudget](t, FilePDB, files[FilePDB])
			if pdb.APIVersion != "policy/v1" || pdb.Kind != "PodDisruptionBudget" {
				t.Errorf("%+v", pdb.TypeMeta)
			}
			var sel []string
			for k, v := range pdb.Spec.Selector.MatchLabels {
				sel = append(sel, k+"="+v)
			}
			if strings.Join(sel, ",") != c.selector {
				t.Errorf("selector %v, want %s", sel, c.selector)
			}
			str := func(p interface{ String() string }, isNil bool) string {
				if isNil {
					return ""
				}
				return p.String()
			}
			if got := str(pdb.Spec.MaxUnavailable, pdb.Spec.MaxUnavailable == nil); got != c.maxUnavailable {
				t.Errorf("maxUnavailable %q, want %q", got, c.maxUnavailable)
			}
			if got := str(pdb.Spec.MinAvailable, pdb.Spec.MinAvailable == nil); got != c.minAvailable {
				t.Errorf("minAvailable %q, want %q", got, c.minAvailable)
			}
		})
	}
	if files := generate(t, load(t, "amas", "autoscaling: {pdb: {enabled: false}}")); files[FilePDB] != nil {
		t.Error("pdb.enabled false still wrote pdb.yaml")
	}
}

// Every refusal names its field, and the ones the guide explains say why.
func TestWorkloadValidation(t *testing.T) {
	for _, c := range []struct{ preset, yaml, want string }{
		// The guide's minAvailable 2 at min_replicas 2 blocks every drain.
		{"amas", "autoscaling: {pdb: {min_available: 2}}", "autoscaling.pdb.min_available: 2 is not below min_replicas 2"},
		{"amas", "autoscaling: {pdb: {min_available: '100%'}}", "autoscaling.pdb.min_available"},
		{"amas", "autoscaling: {pdb: {max_unavailable: 0}}", "blocks every node drain"},
		{"amas", "autoscaling: {pdb: {max_unavailable: 1, min_available: 1}}", "autoscaling.pdb: set max_unavailable or min_available, not both"},
		{"amas", "autoscaling: {pdb: {max_unavailable: one}}", "autoscaling.pdb.max_unavailable"},
		{"amas", "autoscaling: {pod_selector: {'bad key!': x}}", "autoscaling.pod_selector"},
		{"amas", "autoscaling: {vpa: {update_mode: Auto}}", "VPA and HPA/KEDA should not be used simultaneously on the same pods"},
		{"health-agent", "autoscaling: {vpa: {enabled: true, update_mode: Recreate}}", "autoscaling.vpa.update_mode"},
		{"amas", "autoscaling: {vpa: {update_mode: Sometimes}}", "autoscaling.vpa.update_mode: \"Sometimes\" is not one of"},
		{"health-agent", "autoscaling: {idle_replicas: 0}", "autoscaling.idle_replicas: set with autoscaler hpa: a plain HPA cannot scale to zero"},
		{"amas", "autoscaling: {idle_replicas: 1}", "autoscaling.idle_replicas: 1: KEDA accepts only 0"},
		// The preset's scalers read the workload's own series: at zero pods
		// nothing would wake it.
		{"amas", "autoscaling: {idle_replicas: 0}", "autoscaling.idle_replicas: 0 with scalers that read selectors.api"},
		{"amas", "autoscaling: {idle_wakes_on_outside_series: true}", "autoscaling.idle_wakes_on_outside_series: set without idle_replicas: 0"},
		// 75 % of 2 rounds up to 2: every drain blocked at the minimum.
		{"amas", "autoscaling: {pdb: {min_available: '75%'}}", "rounds up to 2 pods"},
		{"amas", "autoscaling: {prometheus: {auth_modes: 'bearer,basic'}}", "bearer and basic exclude each other"},
		{"amas", "autoscaling: {prometheus: {auth_modes: 'tls,tls'}}", `"tls" twice`},
		{"amas", "autoscaling: {cold_start_metric: 'cold start'}", "autoscaling.cold_start_metric"},
		{"amas", "autoscaling: {prometheus: {auth_modes: oauth}}", "autoscaling.prometheus.auth_modes: \"oauth\""},
		{"amas", "autoscaling: {prometheus: {secret_keys: {password: pw}}}", "autoscaling.prometheus.secret_keys: \"password\" is no parameter"},
		{"amas", "autoscaling: {prometheus: {secret: Not_A_Name}}", "autoscaling.prometheus.secret"},
		{"amas", "autoscaling: {prometheus: {trigger_authentication: '', auth_modes: ''}}", "autoscaling.prometheus.secret: set without a trigger_authentication"},
	} {
		_, err := catalogue.LoadOnto(c.preset, []byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s + %q: %v, want an error containing %q", c.preset, c.yaml, err, c.want)
		}
	}
}

func TestTriggerAuthentication(t *testing.T) {
	for _, c := range []struct {
		name, yaml, kind, namespace string
		refs                        string
	}{
		{"amas", "", "TriggerAuthentication", "amas-prod", "bearerToken=amas-prometheus-credentials/bearerToken"},
		{"basic with a key renamed", "autoscaling: {prometheus: {auth_modes: basic, secret: prom, secret_keys: {password: pw}}}", "TriggerAuthentication", "amas-prod",
			"username=prom/username password=prom/pw"},
		{"tls and basic", "autoscaling: {prometheus: {auth_modes: 'tls,basic'}}", "TriggerAuthentication", "amas-prod",
			"ca=amas-prometheus-credentials/ca cert=amas-prometheus-credentials/cert key=amas-prometheus-credentials/key " +
				"username=amas-prometheus-credentials/username password=amas-prometheus-credentials/password"},
		{"secret defaults to the authentication's name", "autoscaling: {prometheus: {secret: ''}}", "TriggerAuthentication", "amas-prod",
			"bearerToken=amas-prometheus-auth/bearerToken"},
		{"cluster", "autoscaling: {prometheus: {trigger_authentication_kind: ClusterTriggerAuthentication}}", "ClusterTriggerAuthentication", "",
			"bearerToken=amas-prometheus-credentials/bearerToken"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := load(t, "amas", c.yaml)
			files := generate(t, cfg)
			b := files[FileTriggerAuthentication]
			var meta kedav1alpha1.TriggerAuthentication
			var spec kedav1alpha1.TriggerAuthenticationSpec
			if c.kind == "ClusterTriggerAuthentication" {
				cta := readStrict[kedav1alpha1.ClusterTriggerAuthentication](t, FileTriggerAuthentication, b)
				meta.TypeMeta, meta.ObjectMeta, spec = cta.TypeMeta, cta.ObjectMeta, cta.Spec
			} else {
				ta := readStrict[kedav1alpha1.TriggerAuthentication](t, FileTriggerAuthentication, b)
				meta.TypeMeta, meta.ObjectMeta, spec = ta.TypeMeta, ta.ObjectMeta, ta.Spec
			}
			if meta.Kind != c.kind || meta.APIVersion != "keda.sh/v1alpha1" || meta.Namespace != c.namespace {
				t.Errorf("%+v namespace %q", meta.TypeMeta, meta.Namespace)
			}
			// The ScaledObject names exactly this object.
			so := readScaledObject(t, files[FileScaledObject])
			for _, tr := range so.Spec.Triggers {
				if tr.Type != "prometheus" {
					continue
				}
				if r := tr.AuthenticationRef; r == nil || r.Name != meta.Name || r.Kind != meta.Kind {
					t.Errorf("trigger %s authenticationRef %+v, want %s %s", tr.Name, r, meta.Kind, meta.Name)
				}
			}
			var refs []string
			for _, r := range spec.SecretTargetRef {
				refs = append(refs, r.Parameter+"="+r.Name+"/"+r.Key)
			}
			if got := strings.Join(refs, " "); got != c.refs {
				t.Errorf("secretTargetRef %s, want %s", got, c.refs)
			}
			if spec.PodIdentity != nil || len(spec.Env) > 0 || len(spec.ConfigMapTargetRef) > 0 || spec.HashiCorpVault != nil {
				t.Errorf("spec holds more than Secret references: %+v", spec)
			}
		})
	}
	if files := generate(t, load(t, "amas", "autoscaling: {prometheus: {trigger_authentication: '', secret: ''}}")); files[FileTriggerAuthentication] != nil {
		t.Error("no trigger_authentication still wrote one")
	}
}

func TestVPAOff(t *testing.T) {
	files := generate(t, preset(t, "amas"))
	vpa := readStrict[vpav1.VerticalPodAutoscaler](t, FileVPA, files[FileVPA])
	if vpa.APIVersion != "autoscaling.k8s.io/v1" || vpa.Kind != "VerticalPodAutoscaler" {
		t.Errorf("%+v", vpa.TypeMeta)
	}
	if m := vpa.Spec.UpdatePolicy.UpdateMode; m == nil || *m != vpav1.UpdateModeOff {
		t.Errorf("updateMode %v, want Off", m)
	}
	if r := vpa.Spec.TargetRef; r.Kind != "Deployment" || r.Name != "amas-orchestrator" || r.APIVersion != "apps/v1" {
		t.Errorf("targetRef %+v", r)
	}
	if files := generate(t, preset(t, "health-agent")); files[FileVPA] != nil {
		t.Error("health-agent (vpa not enabled) wrote a VPA")
	}
}

// coldStartDir holds the ScaledObject of the amas preset scaled to an idle
// count of zero, which internal/tools/kedacheck holds against KEDA.
const coldStartDir = "testdata/cold-start"

func TestColdStart(t *testing.T) {
	cfg := load(t, "amas", "autoscaling: {idle_replicas: 0, idle_wakes_on_outside_series: true, cold_start_metric: amas_cold_start_duration_seconds}")
	if w := cfg.ColdStartWarning(); !strings.Contains(w, "cold start") || !strings.Contains(w, "amas-orchestrator") {
		t.Errorf("warning %q", w)
	}
	files := generate(t, cfg)
	so := readScaledObject(t, files[FileScaledObject])
	if so.Spec.IdleReplicaCount == nil || *so.Spec.IdleReplicaCount != 0 || i32(so.Spec.MinReplicaCount) != 2 {
		t.Errorf("idleReplicaCount %v minReplicaCount %v, want 0 below 2", so.Spec.IdleReplicaCount, so.Spec.MinReplicaCount)
	}
	if !strings.Contains(string(files[FileScaledObject]), "cold start") {
		t.Error("the ScaledObject's comment does not say what idleReplicaCount 0 costs")
	}
	// The no-KEDA HPA keeps its minimum: it cannot scale to zero.
	if hpa := readHPA(t, files[FileFallbackHPA]); i32(hpa.Spec.MinReplicas) != 2 {
		t.Errorf("no-KEDA HPA min replicas %d", i32(hpa.Spec.MinReplicas))
	}
	if w := preset(t, "amas").ColdStartWarning(); w != "" {
		t.Errorf("amas without idle_replicas warns %q", w)
	}
	if s := readScaledObject(t, generate(t, preset(t, "amas"))[FileScaledObject]); s.Spec.IdleReplicaCount != nil {
		t.Error("amas without idle_replicas has an idleReplicaCount")
	}
	example := map[string][]byte{FileScaledObject: files[FileScaledObject]}
	if *update {
		if err := os.MkdirAll(coldStartDir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(coldStartDir, FileScaledObject), files[FileScaledObject], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	drift.Check(t, coldStartDir, example)
}

// The scaling records compute what they say on series through Prometheus's
// engine: events counted in the last hour, requests over the current
// replicas, and the cost per request from the report's price table ($30 a
// replica a month), and the overview draws each.
func TestScalingRecords(t *testing.T) {
	cfg := load(t, "amas", "autoscaling: {cold_start_metric: amas_cold_start_duration_seconds}")
	bundle := catalogue.MustBuild(cfg)
	recs := map[string]catalogue.ScalingRecord{}
	for _, r := range catalogue.ScalingRecords(bundle) {
		recs[r.Record] = r
	}
	if price, from, ok := cfg.ReplicaMonthlyPrice(); !ok || price != 30 || !strings.Contains(from, "t3.medium") {
		t.Errorf("replica price %v (%s), want the guide's t3.medium at $30", price, from)
	}
	// 2 -> 4 -> 6 replicas in the hour, then 6 for 10m; 60 requests/s.
	hpa := `kube_horizontalpodautoscaler_status_current_replicas{namespace="amas-prod", horizontalpodautoscaler="keda-hpa-amas-orchestrator-scaler"}`
	eval := loadedEngine(t, "load 1m\n  "+hpa+" 2x20 4x20 6x30\n"+
		`  service:api_requests:rate2m{service="amas-orchestrator"} 60x70`+"\n")
	for _, c := range []struct {
		record string
		want   float64
	}{
		{catalogue.RecordScalingEvents, 2},
		{cfg.RecordRequestsPerReplica(), 10},
		{cfg.RecordCostPerRequest(), 6 * 30.0 / (30 * 24 * 3600) / 60},
	} {
		r, ok := recs[c.record]
		if !ok {
			t.Errorf("no record %s", c.record)
			continue
		}
		v := eval(r.Expr, 65*time.Minute)
		if len(v) != 1 || math.Abs(v[0].F-c.want) > 1e-12*math.Max(1, c.want) {
			t.Errorf("%s = %v, want %v", c.record, v, c.want)
		}
	}
	// Idle: no requests, no cost per request (not +Inf); no replicas, no
	// requests per replica.
	idle := loadedEngine(t, "load 1m\n  "+hpa+" 0x10\n"+`  service:api_requests:rate2m{service="amas-orchestrator"} 0x10`+"\n")
	for _, rec := range []string{cfg.RecordRequestsPerReplica(), cfg.RecordCostPerRequest()} {
		if v := idle(recs[rec].Expr, 5*time.Minute); len(v) != 0 {
			t.Errorf("%s at zero: %v, want nothing", rec, v)
		}
	}
	cold, ok := recs[catalogue.RecordColdStartP95]
	if !ok || !strings.Contains(cold.Expr, "amas_cold_start_duration_seconds_bucket") {
		t.Errorf("cold-start record %+v", cold)
	}
	boards, err := dashboards.Build(bundle)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"Scaling events per hour": catalogue.RecordScalingEvents, "Requests per second per replica": cfg.RecordRequestsPerReplica(),
		"Cost per 1,000 requests": cfg.RecordCostPerRequest(), "Cold-start latency p95": catalogue.RecordColdStartP95}
	for _, p := range boards[dashboards.Overview].Panels {
		var panels []dashboard.Panel
		if p.Panel != nil {
			panels = append(panels, *p.Panel)
		}
		if p.RowPanel != nil {
			panels = append(panels, p.RowPanel.Panels...)
		}
		for _, panel := range panels {
			if panel.Title != nil {
				if rec, ok := want[*panel.Title]; ok {
					b, _ := json.Marshal(panel.Targets)
					if strings.Contains(string(b), rec) {
						delete(want, *panel.Title)
					}
				}
			}
		}
	}
	if len(want) > 0 {
		t.Errorf("the overview lacks panels reading %v", want)
	}
	// Without the metric, no cold-start record.
	for _, r := range catalogue.ScalingRecords(catalogue.MustBuild(preset(t, "amas"))) {
		if r.Record == catalogue.RecordColdStartP95 {
			t.Error("a cold-start record without autoscaling.cold_start_metric")
		}
	}
}
