package autoscale

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"gopkg.in/yaml.v3"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	"k8s.io/apimachinery/pkg/api/equality"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/headroom-dev/headroom/alerts"
	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/dashboards"
)

func preset(t *testing.T, name string) *catalogue.Config {
	t.Helper()
	cfg, err := catalogue.Preset(name)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func generate(t *testing.T, cfg *catalogue.Config) alerts.Files {
	t.Helper()
	files, err := Generate(catalogue.MustBuild(cfg))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// readScaledObject parses a generated file strictly into the upstream type
// (an unknown or misspelt field fails) and checks it against KEDA's own
// admission checks.
func readScaledObject(t *testing.T, b []byte) *kedav1alpha1.ScaledObject {
	t.Helper()
	var so kedav1alpha1.ScaledObject
	if err := sigsyaml.UnmarshalStrict(b, &so); err != nil {
		t.Fatalf("scaledobject does not parse as keda.sh/v1alpha1 ScaledObject: %v\n%s", err, b)
	}
	if err := kedav1alpha1.ValidateTriggers(so.Spec.Triggers); err != nil {
		t.Errorf("KEDA's trigger validation: %v", err)
	}
	if err := kedav1alpha1.CheckFallbackValid(&so); err != nil {
		t.Errorf("KEDA's fallback validation: %v", err)
	}
	if err := kedav1alpha1.CheckReplicaCountBoundsAreValid(&so); err != nil {
		t.Errorf("KEDA's replica bounds validation: %v", err)
	}
	return &so
}

func readHPA(t *testing.T, b []byte) *autoscalingv2.HorizontalPodAutoscaler {
	t.Helper()
	var hpa autoscalingv2.HorizontalPodAutoscaler
	if err := sigsyaml.UnmarshalStrict(b, &hpa); err != nil {
		t.Fatalf("hpa does not parse as autoscaling/v2 HorizontalPodAutoscaler: %v\n%s", err, b)
	}
	return &hpa
}

// readPrometheusRule parses the k8s directory's PrometheusRule strictly into
// the prometheus-operator type and checks that it is the bundle's file, byte
// for byte, whose groups are exactly the rule files' groups.
func readPrometheusRule(t *testing.T, cfg *catalogue.Config, b []byte) *monitoringv1.PrometheusRule {
	t.Helper()
	var pr monitoringv1.PrometheusRule
	if err := sigsyaml.UnmarshalStrict(b, &pr); err != nil {
		t.Fatalf("prometheusrule does not parse as monitoring.coreos.com/v1 PrometheusRule: %v\n%s", err, b)
	}
	if pr.APIVersion != "monitoring.coreos.com/v1" || pr.Kind != "PrometheusRule" || pr.Name != "headroom-"+cfg.Service {
		t.Errorf("prometheusrule: %+v %s", pr.TypeMeta, pr.Name)
	}
	bundle, err := alerts.Generate(catalogue.MustBuild(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, bundle[alerts.FilePrometheusRule]) {
		t.Errorf("the k8s directory's %s differs from the bundle's", alerts.FilePrometheusRule)
	}
	var groups []string
	for _, rgs := range []string{alerts.FileRules, alerts.FileAlerts} {
		var rg rulefmt.RuleGroups
		if err := yaml.Unmarshal(bundle[rgs], &rg); err != nil {
			t.Fatal(err)
		}
		for _, g := range rg.Groups {
			groups = append(groups, fmt.Sprintf("%s:%d", g.Name, len(g.Rules)))
		}
	}
	var got []string
	for _, g := range pr.Spec.Groups {
		got = append(got, fmt.Sprintf("%s:%d", g.Name, len(g.Rules)))
	}
	if strings.Join(got, " ") != strings.Join(groups, " ") {
		t.Errorf("prometheusrule groups %v, want the rule files' %v", got, groups)
	}
	return &pr
}

func trigger(t *testing.T, so *kedav1alpha1.ScaledObject, name string) kedav1alpha1.ScaleTriggers {
	t.Helper()
	for _, tr := range so.Spec.Triggers {
		if tr.Name == name {
			return tr
		}
	}
	t.Fatalf("no trigger %q in %+v", name, so.Spec.Triggers)
	return kedav1alpha1.ScaleTriggers{}
}

func i32(p *int32) int32 {
	if p == nil {
		return -1
	}
	return *p
}

// The amas ScaledObject is the AMAS guide's, field by field, and what is
// written is exactly the upstream object the package builds.
func TestScaledObjectAMAS(t *testing.T) {
	cfg := preset(t, "amas")
	files := generate(t, cfg)
	if got := strings.Join(files.Names(), " "); got != "no-keda/hpa.yaml pdb.yaml prometheusrule.yaml scaledobject.yaml triggerauthentication.yaml vpa/vpa.yaml" {
		t.Fatalf("files: %s", got)
	}
	readPrometheusRule(t, cfg, files[alerts.FilePrometheusRule])
	so := readScaledObject(t, files[FileScaledObject])
	want, err := ScaledObject(catalogue.MustBuild(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(so.Spec, want.Spec) || !equality.Semantic.DeepEqual(so.ObjectMeta, want.ObjectMeta) || so.TypeMeta != want.TypeMeta {
		t.Errorf("the YAML does not round-trip to the built ScaledObject:\n%s", files[FileScaledObject])
	}
	if so.APIVersion != "keda.sh/v1alpha1" || so.Kind != "ScaledObject" || so.Name != "amas-orchestrator-scaler" || so.Namespace != "amas-prod" {
		t.Errorf("type or metadata: %+v %+v", so.TypeMeta, so.ObjectMeta)
	}
	s := so.Spec
	if r := s.ScaleTargetRef; r == nil || r.Name != "amas-orchestrator" || r.Kind != "Deployment" || r.APIVersion != "apps/v1" {
		t.Errorf("scaleTargetRef %+v", r)
	}
	if i32(s.MinReplicaCount) != 2 || i32(s.MaxReplicaCount) != 50 || i32(s.PollingInterval) != 15 || i32(s.CooldownPeriod) != 180 {
		t.Errorf("min %d max %d polling %d cooldown %d, want 2 50 15 180", i32(s.MinReplicaCount), i32(s.MaxReplicaCount), i32(s.PollingInterval), i32(s.CooldownPeriod))
	}
	if f := s.Fallback; f == nil || f.FailureThreshold != 3 || f.Replicas != 4 || f.Behavior != kedav1alpha1.FallbackBehaviorCurrentReplicasIfHigher {
		t.Errorf("fallback %+v, want 3, 4, currentReplicasIfHigher", f)
	}
	if s.Advanced == nil || s.Advanced.HorizontalPodAutoscalerConfig == nil {
		t.Fatal("no advanced.horizontalPodAutoscalerConfig")
	}
	checkBehavior(t, s.Advanced.HorizontalPodAutoscalerConfig.Behavior)

	type want1 struct {
		name, typ   string
		mt          autoscalingv2.MetricTargetType
		threshold   string
		activation  string
		queryHas    string
		utilisation string
	}
	wants := []want1{
		{"requests-per-pod", "prometheus", autoscalingv2.AverageValueMetricType, "15", "5", `sum (rate(amas_agent_requests_total{job="amas-orchestrator"}[2m]))`, ""},
		{"queue-depth", "prometheus", autoscalingv2.ValueMetricType, "25", "10", `sum (amas_queue_depth_current{job="amas-orchestrator"})`, ""},
		{"latency-p95", "prometheus", autoscalingv2.ValueMetricType, "1", "0.5", `histogram_quantile(0.95, sum by (le) (rate(amas_agent_duration_seconds_bucket{job="amas-orchestrator"}[2m])))`, ""},
		{"cpu", "cpu", autoscalingv2.UtilizationMetricType, "", "", "", "70"},
		{"memory", "memory", autoscalingv2.UtilizationMetricType, "", "", "", "80"},
	}
	if len(s.Triggers) != len(wants) {
		t.Errorf("%d triggers, want %d", len(s.Triggers), len(wants))
	}
	for _, w := range wants {
		tr := trigger(t, so, w.name)
		md := tr.Metadata
		if tr.Type != w.typ || tr.MetricType != w.mt {
			t.Errorf("%s: type %s metricType %s, want %s %s", w.name, tr.Type, tr.MetricType, w.typ, w.mt)
		}
		if w.typ != "prometheus" {
			if md["value"] != w.utilisation || len(md) != 1 || tr.AuthenticationRef != nil {
				t.Errorf("%s: metadata %v, want value %s only", w.name, md, w.utilisation)
			}
			continue
		}
		if md["threshold"] != w.threshold || md["activationThreshold"] != w.activation {
			t.Errorf("%s: threshold %q activation %q, want %q %q", w.name, md["threshold"], md["activationThreshold"], w.threshold, w.activation)
		}
		if !strings.Contains(md["query"], w.queryHas) {
			t.Errorf("%s: query %q lacks %q", w.name, md["query"], w.queryHas)
		}
		if _, err := catalogue.ParseExpr(md["query"]); err != nil {
			t.Errorf("%s: query does not parse: %v", w.name, err)
		}
		// Missing data is an error that the fallback handles, never 0.
		if md["ignoreNullValues"] != "false" {
			t.Errorf("%s: ignoreNullValues %q, want \"false\"", w.name, md["ignoreNullValues"])
		}
		if md["serverAddress"] != "http://prometheus.monitoring.svc.cluster.local:9090" {
			t.Errorf("%s: serverAddress %q", w.name, md["serverAddress"])
		}
		// Credentials only through the TriggerAuthentication.
		if r := tr.AuthenticationRef; r == nil || r.Name != "amas-prometheus-auth" || r.Kind != "TriggerAuthentication" || md["authModes"] != "bearer" {
			t.Errorf("%s: authenticationRef %+v authModes %q", w.name, r, md["authModes"])
		}
		for k := range md {
			switch k {
			case "serverAddress", "query", "threshold", "activationThreshold", "ignoreNullValues", "authModes":
			default:
				t.Errorf("%s: unexpected metadata key %q (credentials must not be inline)", w.name, k)
			}
		}
	}
}

func checkBehavior(t *testing.T, b *autoscalingv2.HorizontalPodAutoscalerBehavior) {
	t.Helper()
	if b == nil || b.ScaleUp == nil || b.ScaleDown == nil {
		t.Fatalf("behavior %+v", b)
	}
	check := func(dir string, r *autoscalingv2.HPAScalingRules, window, pct, pods int32, sel autoscalingv2.ScalingPolicySelect) {
		if i32(r.StabilizationWindowSeconds) != window || r.SelectPolicy == nil || *r.SelectPolicy != sel {
			t.Errorf("%s: window %d select %v, want %d %s", dir, i32(r.StabilizationWindowSeconds), r.SelectPolicy, window, sel)
		}
		want := []autoscalingv2.HPAScalingPolicy{{Type: autoscalingv2.PercentScalingPolicy, Value: pct, PeriodSeconds: 60}, {Type: autoscalingv2.PodsScalingPolicy, Value: pods, PeriodSeconds: 60}}
		if !equality.Semantic.DeepEqual(r.Policies, want) {
			t.Errorf("%s: policies %+v, want %+v", dir, r.Policies, want)
		}
	}
	check("scaleUp", b.ScaleUp, 60, 100, 5, autoscalingv2.MaxChangePolicySelect)
	check("scaleDown", b.ScaleDown, 300, 10, 2, autoscalingv2.MinChangePolicySelect)
}

// The health-agent HPA is the HA guide's; the amas no-KEDA HPA has the
// ScaledObject's bounds and behaviour, its resource targets, and says it
// must never be applied with the ScaledObject.
func TestHPAs(t *testing.T) {
	cfg := preset(t, "health-agent")
	files := generate(t, cfg)
	if got := strings.Join(files.Names(), " "); got != "hpa.yaml pdb.yaml prometheusrule.yaml" {
		t.Fatalf("files: %s", got)
	}
	readPrometheusRule(t, cfg, files[alerts.FilePrometheusRule])
	hpa := readHPA(t, files[FileHPA])
	if !equality.Semantic.DeepEqual(hpa.Spec, HPA(catalogue.MustBuild(cfg)).Spec) {
		t.Errorf("the YAML does not round-trip to the built HPA:\n%s", files[FileHPA])
	}
	checkHPA(t, hpa, "health-agent-api-hpa", "health-agent-api", 3, 20, 70, 80)
	if hpa.Spec.Behavior != nil {
		t.Errorf("health-agent: the guide gives no behaviour, got %+v", hpa.Spec.Behavior)
	}

	amas := generate(t, preset(t, "amas"))
	b := amas[FileFallbackHPA]
	hpa = readHPA(t, b)
	checkHPA(t, hpa, "amas-orchestrator-hpa", "amas-orchestrator", 2, 50, 70, 80)
	checkBehavior(t, hpa.Spec.Behavior)
	if !strings.Contains(string(b), "NEVER apply this together with\n# ../scaledobject.yaml") {
		t.Errorf("the no-KEDA HPA does not warn against applying it with the ScaledObject:\n%s", b)
	}
	if !strings.Contains(string(amas[FileScaledObject]), "Do not apply no-keda/hpa.yaml") {
		t.Error("the ScaledObject does not warn against the no-KEDA HPA")
	}
}

func checkHPA(t *testing.T, hpa *autoscalingv2.HorizontalPodAutoscaler, name, target string, min, max, cpu, mem int32) {
	t.Helper()
	s := hpa.Spec
	if hpa.APIVersion != "autoscaling/v2" || hpa.Kind != "HorizontalPodAutoscaler" || hpa.Name != name {
		t.Errorf("%s: type or name %+v %s", name, hpa.TypeMeta, hpa.Name)
	}
	if s.ScaleTargetRef.Name != target || s.ScaleTargetRef.Kind != "Deployment" || i32(s.MinReplicas) != min || s.MaxReplicas != max {
		t.Errorf("%s: target %+v min %d max %d", name, s.ScaleTargetRef, i32(s.MinReplicas), s.MaxReplicas)
	}
	got := map[string]int32{}
	for _, m := range s.Metrics {
		if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource.Target.Type == autoscalingv2.UtilizationMetricType {
			got[string(m.Resource.Name)] = i32(m.Resource.Target.AverageUtilization)
		}
	}
	if len(s.Metrics) != 2 || got["cpu"] != cpu || got["memory"] != mem {
		t.Errorf("%s: metrics %v, want cpu %d memory %d", name, got, cpu, mem)
	}
}

// A config's server_address and scale_target reach every manifest that
// names them, and the preset's values are left in none: the ScaledObject's
// triggers and target, the no-KEDA HPA, a plain HPA, and the DB guard's
// selector of the HPAs that KEDA and the plain HPA are named after.
func TestServerAddressAndScaleTargetFromTheConfig(t *testing.T) {
	const (
		server    = "https://thanos-query.observability.svc:10902"
		oldServer = "http://prometheus.monitoring.svc.cluster.local:9090"
	)
	cfg, err := catalogue.LoadOnto("amas", []byte("autoscaling:\n"+
		"  scale_target: {api_version: argoproj.io/v1alpha1, kind: Rollout, name: orchestrator-canary}\n"+
		"  prometheus: {server_address: '"+server+"'}\n"+
		"  db: {pool_size_per_pod: 10}\n"))
	if err != nil {
		t.Fatal(err)
	}
	files := generate(t, cfg)
	so := readScaledObject(t, files[FileScaledObject])
	if r := so.Spec.ScaleTargetRef; r == nil || r.APIVersion != "argoproj.io/v1alpha1" || r.Kind != "Rollout" || r.Name != "orchestrator-canary" {
		t.Errorf("ScaledObject scaleTargetRef %+v, want the config's Rollout orchestrator-canary", r)
	}
	if so.Name != "orchestrator-canary-scaler" {
		t.Errorf("ScaledObject name %q", so.Name)
	}
	n := 0
	for _, tr := range so.Spec.Triggers {
		if tr.Type != "prometheus" {
			continue
		}
		n++
		if got := tr.Metadata["serverAddress"]; got != server {
			t.Errorf("%s: serverAddress %q, want %q", tr.Name, got, server)
		}
	}
	if n != 3 {
		t.Errorf("%d prometheus triggers, want 3", n)
	}
	for name, b := range files {
		if strings.Contains(string(b), oldServer) {
			t.Errorf("%s still has the preset's server address", name)
		}
	}
	hpa := readHPA(t, files[FileFallbackHPA])
	if r := hpa.Spec.ScaleTargetRef; r.APIVersion != "argoproj.io/v1alpha1" || r.Kind != "Rollout" || r.Name != "orchestrator-canary" || hpa.Name != "orchestrator-canary-hpa" {
		t.Errorf("no-KEDA HPA %s scaleTargetRef %+v, want the config's Rollout orchestrator-canary", hpa.Name, r)
	}
	for name, b := range files {
		if strings.Contains(string(b), "kind: Deployment") {
			t.Errorf("%s still targets the preset's Deployment", name)
		}
	}
	// The DB guard reads kube-state-metrics' series of the HPAs named
	// after the target.
	bundle, err := alerts.Generate(catalogue.MustBuild(cfg))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(bundle[alerts.FileAlerts]), `horizontalpodautoscaler=~"keda-hpa-orchestrator-canary-scaler|orchestrator-canary-hpa"`) {
		t.Error("ScaleOutExceedsDBConnections does not select the HPAs of the config's scale target")
	}

	// A plain HPA takes the config's target too.
	cfg, err = catalogue.LoadOnto("health-agent", []byte("autoscaling:\n  scale_target: {kind: StatefulSet, name: ha-api}\n"))
	if err != nil {
		t.Fatal(err)
	}
	hpa = readHPA(t, generate(t, cfg)[FileHPA])
	if r := hpa.Spec.ScaleTargetRef; r.APIVersion != "apps/v1" || r.Kind != "StatefulSet" || r.Name != "ha-api" || hpa.Name != "ha-api-hpa" {
		t.Errorf("health-agent HPA %s scaleTargetRef %+v, want apps/v1 StatefulSet ha-api", hpa.Name, r)
	}
}

// One threshold, one place: an override in the config moves the alert rule,
// the trigger's own dashboard panels and the scalers together, and the old
// value is left in none of them.
func TestThresholdsComeFromTheCatalogue(t *testing.T) {
	cfg, err := catalogue.LoadOnto("amas", []byte("triggers:\n  QueueDepthHigh: {threshold: 37}\n  RequestRateHigh: {threshold: 12.5}\n"+
		"  LatencyP95High: {threshold: 1.2}\n  ResourcePressureCPU: {threshold: 0.65}\n"))
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := alerts.Generate(catalogue.MustBuild(cfg))
	if err != nil {
		t.Fatal(err)
	}
	var groups rulefmt.RuleGroups
	if err := yaml.Unmarshal(bundle[alerts.FileAlerts], &groups); err != nil {
		t.Fatal(err)
	}
	exprs := map[string]string{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Labels["resource"] == "cpu" && r.Alert == "ResourcePressure" {
				exprs["ResourcePressureCPU"] = r.Expr
			} else if r.Alert != "" {
				exprs[r.Alert] = r.Expr
			}
		}
	}
	signalTitle := map[string]string{}
	for _, tr := range catalogue.Catalogue(cfg) {
		signalTitle[string(tr.ID)] = tr.Signal.Title
	}
	files := generate(t, cfg)
	so := readScaledObject(t, files[FileScaledObject])
	hpa := readHPA(t, files[FileFallbackHPA])
	boards, err := dashboards.Build(catalogue.MustBuild(cfg))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		id, trig, newV, oldV string
		// red is where the trigger's panels turn red: the threshold, or
		// the next whole number for a count compared with >.
		red float64
	}{
		{"QueueDepthHigh", "queue-depth", "37", "25", 38},
		{"RequestRateHigh", "requests-per-pod", "12.5", "15", 12.5},
		{"LatencyP95High", "latency-p95", "1.2", "1", 1.2},
	} {
		e := exprs[c.id]
		if !strings.HasSuffix(e, " > "+c.newV) || strings.Contains(e, "> "+c.oldV+"\n") || strings.HasSuffix(e, "> "+c.oldV) {
			t.Errorf("%s: alert expression %q, want > %s and no > %s", c.id, e, c.newV, c.oldV)
		}
		md := trigger(t, so, c.trig).Metadata
		if md["threshold"] != c.newV {
			t.Errorf("%s: ScaledObject threshold %q, want %s", c.trig, md["threshold"], c.newV)
		}
		for k, v := range md {
			if k != "query" && v == c.oldV {
				t.Errorf("%s: the old value %s is still in the ScaledObject (%s)", c.trig, c.oldV, k)
			}
		}
		// The trigger's own panels: its stat and time series on the
		// overview, and its signal's panel on the API dashboard.
		old, _ := strconv.ParseFloat(c.oldV, 64)
		checkPanels(t, c.id+" on the overview", boards[dashboards.Overview], func(title string) bool {
			return strings.HasPrefix(title, c.id+" ") || strings.HasPrefix(title, c.id+": ")
		}, 2, c.red, old)
		checkPanels(t, c.id+" on the API dashboard", boards[dashboards.API], func(title string) bool {
			return title == signalTitle[c.id]
		}, 1, c.red, old)
	}
	// The alert holds down to 0.6 (its hysteresis margin); it fires above the scaler's 0.65.
	if e := exprs["ResourcePressureCPU"]; !strings.HasPrefix(e, `service:api_cpu_utilisation:ratio{service="amas-orchestrator"} > 0.65`+"\n") || strings.Contains(e, "0.7") {
		t.Errorf("ResourcePressure cpu: %q", e)
	}
	if v := trigger(t, so, "cpu").Metadata["value"]; v != "65" {
		t.Errorf("ScaledObject cpu value %q, want 65", v)
	}
	checkHPA(t, hpa, "amas-orchestrator-hpa", "amas-orchestrator", 2, 50, 65, 80)
}

// checkPanels finds the panels of a dashboard whose titles match (at least
// want of them coloured by thresholds) and checks that each turns red at
// red and has no threshold step at the old value.
func checkPanels(t *testing.T, what string, d dashboard.Dashboard, match func(string) bool, want int, red, old float64) {
	t.Helper()
	var panels []dashboard.Panel
	for _, p := range d.Panels {
		if p.Panel != nil {
			panels = append(panels, *p.Panel)
		}
		if p.RowPanel != nil {
			panels = append(panels, p.RowPanel.Panels...)
		}
	}
	found := 0
	for _, p := range panels {
		if p.Title == nil || !match(*p.Title) || p.FieldConfig == nil || p.FieldConfig.Defaults.Thresholds == nil {
			continue
		}
		var steps []string
		turnsRed := math.NaN()
		for _, s := range p.FieldConfig.Defaults.Thresholds.Steps {
			if s.Value == nil {
				steps = append(steps, s.Color)
				continue
			}
			steps = append(steps, fmt.Sprintf("%s %g", s.Color, *s.Value))
			if s.Color == "red" && math.IsNaN(turnsRed) {
				turnsRed = *s.Value
			}
			if *s.Value == old {
				t.Errorf("%s: panel %q still has a step at the old threshold %g: %v", what, *p.Title, old, steps)
			}
		}
		if math.IsNaN(turnsRed) {
			// A neutral panel on the same signal (no thresholds drawn).
			continue
		}
		found++
		if turnsRed != red {
			t.Errorf("%s: panel %q turns red at %g, want %g: %v", what, *p.Title, turnsRed, red, steps)
		}
	}
	if found < want {
		t.Errorf("%s: %d panels with a threshold, want %d", what, found, want)
	}
}

// What KEDA's Prometheus triggers read, against a real PromQL engine: the
// value under load, 0 when the service is idle (so it scales in normally),
// and nothing at all when the series are missing, which with
// ignoreNullValues "false" is an error that the fallback turns into
// holding capacity, never a 0 that scales in at peak.
func TestQueriesIdleVersusMissing(t *testing.T) {
	so, err := ScaledObject(catalogue.MustBuild(preset(t, "amas")))
	if err != nil {
		t.Fatal(err)
	}
	queries := map[string]string{}
	for _, tr := range so.Spec.Triggers {
		if tr.Type == "prometheus" {
			queries[tr.Name] = tr.Metadata["query"]
		}
	}
	const pod = `job="amas-orchestrator", namespace="amas-prod", pod="amas-orchestrator-0"`
	// 10 minutes of one pod: 30 requests/s all under 0.5s and a queue of 40
	// for the first 5, then no requests and an empty queue.
	load := `
load 30s
  amas_agent_requests_total{` + pod + `, status="ok"} 0+900x10 9000x10
  amas_queue_depth_current{` + pod + `} 40x10 0x10
  amas_agent_duration_seconds_bucket{` + pod + `, le="0.5"} 0+900x10 9000x10
  amas_agent_duration_seconds_bucket{` + pod + `, le="1"} 0+900x10 9000x10
  amas_agent_duration_seconds_bucket{` + pod + `, le="+Inf"} 0+900x10 9000x10
`
	query := loadedEngine(t, load)
	eval := func(q string, at time.Duration) []float64 {
		t.Helper()
		var out []float64
		for _, s := range query(q, at) {
			out = append(out, s.F)
		}
		return out
	}
	near := func(name string, got []float64, want float64) {
		t.Helper()
		if len(got) != 1 || math.Abs(got[0]-want) > 0.01*math.Max(1, want) {
			t.Errorf("%s: %v, want one value %g", name, got, want)
		}
	}
	busy, idle := 4*time.Minute, 9*time.Minute
	near("requests-per-pod busy", eval(queries["requests-per-pod"], busy), 30)
	near("requests-per-pod idle", eval(queries["requests-per-pod"], idle), 0)
	near("queue-depth busy", eval(queries["queue-depth"], busy), 40)
	near("queue-depth idle", eval(queries["queue-depth"], idle), 0)
	if got := eval(queries["latency-p95"], busy); len(got) != 1 || got[0] <= 0 || got[0] > 0.5 {
		t.Errorf("latency-p95 busy: %v, want one value in (0, 0.5]", got)
	}
	near("latency-p95 idle", eval(queries["latency-p95"], idle), 0)

	// Requests counted but no finite bucket to take a quantile from: no
	// result (KEDA's fallback holds), never the idle 0.
	infOnly := loadedEngine(t, `
load 30s
  amas_agent_duration_seconds_bucket{`+pod+`, le="+Inf"} 0+900x20
`)
	if got := infOnly(queries["latency-p95"], busy); len(got) != 0 {
		t.Errorf("latency-p95 with only the +Inf bucket: %v, want an empty result", got)
	}

	// Scrapes lost (a Prometheus or target outage): no result at all.
	empty := loadedEngine(t, "load 30s\n  up{job=\"other\"} 1x20\n")
	for name, q := range queries {
		if got := empty(q, busy); len(got) != 0 {
			t.Errorf("%s with no series: %v, want an empty result (never 0)", name, got)
		}
	}
}

// Config mistakes are refused with the field named: credentials in the
// server URL, a trigger authentication without its auth mode, a fallback
// outside the replica bounds, max below min.
func TestAutoscalingValidation(t *testing.T) {
	for _, c := range []struct{ yaml, field string }{
		{"autoscaling:\n  prometheus: {server_address: 'http://admin:secret@prometheus:9090'}\n", "must not carry credentials"},
		{"autoscaling:\n  prometheus: {auth_modes: ''}\n", "autoscaling.prometheus.auth_modes"},
		{"autoscaling:\n  fallback: {replicas: 60}\n", "autoscaling.fallback.replicas"},
		{"autoscaling:\n  min_replicas: 5\n  max_replicas: 4\n", "autoscaling.max_replicas"},
		{"autoscaling:\n  autoscaler: argo\n", "autoscaling.autoscaler"},
		{"autoscaling:\n  scale_up: {select_policy: Most}\n", "autoscaling.scale_up.select_policy"},
		// Multi-cluster: the scaler's cluster must be named, and only with a label to hold it.
		{"cluster_label: cluster\n", "autoscaling.cluster"},
		{"autoscaling: {cluster: eu-1}\n", "autoscaling.cluster"},
	} {
		_, err := catalogue.LoadOnto("amas", []byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%q: %v, want an error naming %s", c.yaml, err, c.field)
		}
	}
	// Without the amas triggers there is nothing for KEDA to scale on.
	cfg, err := catalogue.LoadOnto("health-agent", []byte("autoscaling: {autoscaler: keda}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Generate(catalogue.MustBuild(cfg)); err == nil || !strings.Contains(err.Error(), "amas") {
		t.Errorf("keda without KEDA triggers: %v", err)
	}
	cfg, err = catalogue.LoadOnto("health-agent", []byte("autoscaling: {autoscaler: none}\n"))
	if err != nil {
		t.Fatal(err)
	}
	// No autoscaler: the alerting rules still go to the cluster.
	if files := generate(t, cfg); strings.Join(files.Names(), " ") != alerts.FilePrometheusRule {
		t.Errorf("autoscaler none wrote %v, want the PrometheusRule alone", files.Names())
	}
}

// The database-connection guard: max replicas x pool size per pod must fit
// the usable connections, or the config is refused with both numbers named,
// unless allowed.
func TestDBConnectionGuard(t *testing.T) {
	for _, c := range []struct {
		yaml string
		pool int
		err  string
	}{
		// HA preset: 4 cores -> 2 x 4 + 5 = 13 per pod, 20 x 13 = 260 <= PgBouncer's 1000.
		{"", 13, ""},
		// Straight to PostgreSQL's default 100 - 3 reserved.
		{"autoscaling: {db: {usable_connections: 97}}", 13, "20 replicas x 13 connections per pod = 260 connections, more than the 97 usable"},
		{"autoscaling: {db: {usable_connections: 97, allow_exceeding_connections: true}}", 13, ""},
		// The guide's 8-core sizing, 21 per pod: 20 x 21 = 420.
		{"autoscaling: {db: {cores: 8, usable_connections: 400}}", 21, "= 420 connections, more than the 400 usable"},
		{"autoscaling: {db: {cores: 8, usable_connections: 420}}", 21, ""},
		// An explicit pool size wins over cores; the fix is named.
		{"autoscaling: {db: {pool_size_per_pod: 10, cores: 8, usable_connections: 150}}", 10, "lower max_replicas to 15"},
		// Exactly full is allowed.
		{"autoscaling: {db: {pool_size_per_pod: 10, usable_connections: 200}}", 10, ""},
		// Guard off.
		{"autoscaling: {db: {usable_connections: 0}}", 13, ""},
	} {
		cfg, err := catalogue.LoadOnto("health-agent", []byte(c.yaml))
		if c.err == "" {
			if err != nil {
				t.Errorf("%q: %v", c.yaml, err)
			} else if got := cfg.PoolSizePerPod(); got != c.pool {
				t.Errorf("%q: pool size per pod %d, want %d", c.yaml, got, c.pool)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "autoscaling.max_replicas") {
			t.Errorf("%q: %v, want an error on autoscaling.max_replicas containing %q", c.yaml, err, c.err)
		}
	}
	// amas gives no pool size or cores (resources from cAdvisor): a usable
	// connection count alone is refused rather than guessed at.
	if _, err := catalogue.LoadOnto("amas", []byte("autoscaling: {db: {usable_connections: 500}}")); err == nil || !strings.Contains(err.Error(), "autoscaling.db.pool_size_per_pod") {
		t.Errorf("amas without a pool size: %v", err)
	}
	if _, err := catalogue.LoadOnto("amas", []byte("autoscaling: {db: {pool_size_per_pod: 10, usable_connections: 500}}")); err != nil {
		t.Errorf("amas, 50 x 10 = 500 of 500: %v", err)
	}
}

// With a cluster label, one Prometheus holds every cluster's series: each
// Prometheus trigger selects the cluster it scales (autoscaling.cluster) in
// every selector, and reads that cluster's load alone, never another's nor
// the sum. A plain HPA has no queries and needs no cluster.
func TestTriggersSelectTheirCluster(t *testing.T) {
	if _, err := catalogue.LoadOnto("health-agent", []byte("cluster_label: cluster\n")); err != nil {
		t.Errorf("hpa with a cluster label and no autoscaling.cluster: %v", err)
	}
	cfg, err := catalogue.LoadOnto("amas", []byte("cluster_label: cluster\nautoscaling: {cluster: eu-1}\n"))
	if err != nil {
		t.Fatal(err)
	}
	so := readScaledObject(t, generate(t, cfg)[FileScaledObject])
	queries := map[string]string{}
	for _, tr := range so.Spec.Triggers {
		if tr.Type != "prometheus" {
			continue
		}
		q := tr.Metadata["query"]
		queries[tr.Name] = q
		e, err := parser.NewParser(parser.Options{}).ParseExpr(q)
		if err != nil {
			t.Fatalf("%s: %v\n%s", tr.Name, err, q)
		}
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			vs, ok := n.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			for _, m := range vs.LabelMatchers {
				if m.Name == "cluster" && m.Type == labels.MatchEqual && m.Value == "eu-1" {
					return nil
				}
			}
			t.Errorf("%s: selector %s does not select cluster eu-1", tr.Name, vs)
			return nil
		})
	}
	if len(queries) != 3 {
		t.Fatalf("prometheus triggers %v, want requests-per-pod, queue-depth, latency-p95", queries)
	}

	// The same pod name in two clusters: eu-1 serves 30 requests/s under
	// 0.5s with a queue of 40, us-1 serves 100 requests/s over 1s with a
	// queue of 7.
	series := func(cluster string, rps, queue int, le string) string {
		pod := `cluster="` + cluster + `", job="amas-orchestrator", namespace="amas-prod", pod="amas-orchestrator-0"`
		inc := fmt.Sprintf("0+%dx20", rps*30)
		return fmt.Sprintf(`
  amas_agent_requests_total{%[1]s, status="ok"} %[2]s
  amas_queue_depth_current{%[1]s} %[3]dx20
  amas_agent_duration_seconds_bucket{%[1]s, le="0.5"} %[4]s
  amas_agent_duration_seconds_bucket{%[1]s, le="1"} %[4]s
  amas_agent_duration_seconds_bucket{%[1]s, le="+Inf"} %[2]s`, pod, inc, queue, map[bool]string{true: inc, false: "0x20"}[le == "0.5"])
	}
	query := loadedEngine(t, "load 30s"+series("eu-1", 30, 40, "0.5")+series("us-1", 100, 7, "+Inf")+"\n")
	eval := func(q string) model.Vector {
		t.Helper()
		var out model.Vector
		for _, s := range query(q, 5*time.Minute) {
			out = append(out, &model.Sample{Metric: model.Metric{"cluster": model.LabelValue(s.Metric.Get("cluster"))}, Value: model.SampleValue(s.F)})
		}
		return out
	}
	for _, c := range []struct {
		trigger  string
		min, max float64
	}{
		{"requests-per-pod", 29.7, 30.3},
		{"queue-depth", 40, 40},
		{"latency-p95", 0.01, 0.5},
	} {
		got := eval(queries[c.trigger])
		if len(got) != 1 || got[0].Metric["cluster"] != "eu-1" || float64(got[0].Value) < c.min || float64(got[0].Value) > c.max {
			t.Errorf("%s: %v, want one eu-1 value in [%g, %g] (us-1's load left out)\n%s", c.trigger, got, c.min, c.max, queries[c.trigger])
		}
	}
}

// loadedEngine loads series in promqltest's notation and returns an instant
// query at an offset from the epoch, with Prometheus's own engine.
func loadedEngine(t *testing.T, load string) func(q string, at time.Duration) promql.Vector {
	storage := promqltest.LoadedStorage(t, load)
	engine := promqltest.NewTestEngine(t, false, 5*time.Minute, promqltest.DefaultMaxSamplesPerQuery)
	return func(q string, at time.Duration) promql.Vector {
		t.Helper()
		qry, err := engine.NewInstantQuery(context.Background(), storage, nil, q, time.Unix(0, 0).Add(at))
		if err != nil {
			t.Fatal(err)
		}
		res := qry.Exec(context.Background())
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		v, err := res.Vector()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}
