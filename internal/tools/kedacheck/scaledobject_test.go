package kedacheck

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"k8s.io/apimachinery/pkg/runtime"
)

// judge is KEDA's view of a ScaledObject, built once per test binary from
// the module cache.
type judge struct {
	kedaVersion string
	kedaDir     string
	crd         *crdValidator
	scalers     map[string][]scalerParameter

	mu      sync.Mutex
	goTypes map[string]map[string]string
}

// scalerGoTypes caches scalerGoTypes by scaler.
func (j *judge) scalerGoTypes(scaler string) (map[string]string, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if types, ok := j.goTypes[scaler]; ok {
		return types, nil
	}
	types, err := scalerGoTypes(j.kedaDir, scaler)
	if err != nil {
		return nil, err
	}
	j.goTypes[scaler] = types
	return types, nil
}

var (
	judgeOnce sync.Once
	theJudge  *judge
	judgeErr  error
)

func loadJudge(t *testing.T) *judge {
	t.Helper()
	judgeOnce.Do(func() {
		version, dir, err := kedaModuleDir()
		if err != nil {
			judgeErr = err
			return
		}
		crd, err := newCRDValidator(filepath.Join(dir, "config", "crd", "bases", "keda.sh_scaledobjects.yaml"), "v1alpha1")
		if err != nil {
			judgeErr = err
			return
		}
		scalers, err := loadScalerSchema(filepath.Join(dir, "schema", "generated", "scalers-schema.json"))
		if err != nil {
			judgeErr = err
			return
		}
		theJudge = &judge{kedaVersion: version, kedaDir: dir, crd: crd, scalers: scalers, goTypes: map[string]map[string]string{}}
	})
	if judgeErr != nil {
		t.Fatal(judgeErr)
	}
	return theJudge
}

// check returns every rejection of obj, each prefixed with the judge that
// made it (the CRD, the scaler schema, the webhook), and the webhook's
// warnings.
func (j *judge) check(obj map[string]any) (rejections, warnings []string) {
	for _, err := range j.crd.validate(obj) {
		rejections = append(rejections, "CRD: "+err.Error())
	}
	raw, err := json.Marshal(obj)
	if err != nil {
		return append(rejections, "decode: "+err.Error()), nil
	}
	// Unknown fields are the CRD's to report; the typed object only feeds
	// the scaler schema and the webhook, as the webhook decodes it.
	var so kedav1alpha1.ScaledObject
	if err := json.Unmarshal(raw, &so); err != nil {
		return append(rejections, "decode: "+err.Error()), nil
	}
	var sourceErrs []error
	goTypes := func(scaler string) map[string]string {
		types, err := j.scalerGoTypes(scaler)
		if err != nil {
			sourceErrs = append(sourceErrs, err)
		}
		return types
	}
	for _, err := range checkTriggerMetadata(j.scalers, goTypes, so.Spec.Triggers) {
		rejections = append(rejections, "scaler schema: "+err.Error())
	}
	for _, err := range sourceErrs {
		rejections = append(rejections, "scaler source: "+err.Error())
	}
	warnings, errs := checkWebhook(&so)
	for _, err := range errs {
		rejections = append(rejections, "webhook: "+err.Error())
	}
	return rejections, warnings
}

// generatedDirs are where `make generate` writes manifests: the presets'
// under mixin/k8s, and the amas preset scaled to an idle count of zero
// (autoscaling.idle_replicas: 0), which no preset does.
var generatedDirs = []string{filepath.Join("mixin", "k8s"), filepath.Join("alerts", "autoscale", "testdata", "cold-start")}

// generatedOfKind returns every manifest of a kind `make generate` wrote.
func generatedOfKind(t *testing.T, kind string) []manifest {
	t.Helper()
	var out []manifest
	for _, dir := range generatedDirs {
		all, err := readManifests(filepath.Join(repoRoot, dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range all {
			if m.obj["kind"] == kind {
				out = append(out, m)
			}
		}
	}
	return out
}

// generatedScaledObjects returns every ScaledObject `make generate` wrote,
// failing when none scales to an idle count of zero, so that the cold-start
// check cannot go quiet.
func generatedScaledObjects(t *testing.T) []manifest {
	t.Helper()
	sos := generatedOfKind(t, "ScaledObject")
	if len(sos) == 0 {
		t.Fatal("no ScaledObject under mixin/k8s: nothing to validate (has make generate stopped writing them?)")
	}
	if !slices.ContainsFunc(sos, func(m manifest) bool {
		idle, ok := spec(m.obj)["idleReplicaCount"]
		return ok && fmt.Sprint(idle) == "0"
	}) {
		t.Errorf("no generated ScaledObject has idleReplicaCount 0 (%v): the cold-start example is missing", generatedDirs)
	}
	return sos
}

// TestGeneratedTriggerAuthenticationsPassKEDA holds every generated
// TriggerAuthentication against the CRD of the KEDA release the main module
// pins.
func TestGeneratedTriggerAuthenticationsPassKEDA(t *testing.T) {
	_, dir, err := kedaModuleDir()
	if err != nil {
		t.Fatal(err)
	}
	tas := generatedOfKind(t, "TriggerAuthentication")
	if len(tas) == 0 {
		t.Fatal("no TriggerAuthentication under mixin/k8s: nothing to validate")
	}
	crd, err := newCRDValidator(filepath.Join(dir, "config", "crd", "bases", "keda.sh_triggerauthentications.yaml"), "v1alpha1")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range tas {
		for _, err := range crd.validate(m.obj) {
			t.Errorf("%s#%d: CRD: %v", m.file, m.index, err)
		}
		refs, _ := spec(m.obj)["secretTargetRef"].([]any)
		if len(refs) == 0 {
			t.Errorf("%s#%d: no secretTargetRef: the credentials must come from a Secret", m.file, m.index)
		}
	}
	// The judge rejects what it should: a secret reference without its key.
	broken := runtime.DeepCopyJSON(tas[0].obj)
	delete(spec(broken)["secretTargetRef"].([]any)[0].(map[string]any), "key")
	if errs := crd.validate(broken); len(errs) == 0 {
		t.Error("a secretTargetRef without its key passed the CRD")
	}
}

// TestGeneratedScaledObjectsPassKEDA holds every generated ScaledObject
// against the CRD's schema and CEL rules, the scaler parameter schema and
// the webhook's cluster-free checks of the KEDA release the main module
// pins.
func TestGeneratedScaledObjectsPassKEDA(t *testing.T) {
	j := loadJudge(t)
	t.Logf("judged by %s %s", kedaModule, j.kedaVersion)
	for _, m := range generatedScaledObjects(t) {
		rel, _ := filepath.Rel(repoRoot, m.file)
		t.Run(fmt.Sprintf("%s#%d", rel, m.index), func(t *testing.T) {
			if got := m.obj["apiVersion"]; got != "keda.sh/v1alpha1" {
				t.Fatalf("apiVersion %v, want keda.sh/v1alpha1 (the version this CRD serves and these checks read)", got)
			}
			rejections, warnings := j.check(m.obj)
			for _, r := range rejections {
				t.Error(r)
			}
			// Warnings do not reject; they are shown so that a reader of -v
			// sees what kubectl apply would print.
			for _, w := range warnings {
				t.Logf("webhook warning: %s", w)
			}
		})
	}
}

// TestKEDASourcesCarryWhatIsChecked pins what the other tests read from the
// KEDA module, so that a KEDA release that moves it fails here by name
// rather than letting a check go quiet: the CRD's CEL rule bounding
// minReplicaCount by maxReplicaCount (the CRD, not only the webhook,
// rejects max < min), and the prometheus scaler's source giving threshold
// its float64 type.
func TestKEDASourcesCarryWhatIsChecked(t *testing.T) {
	j := loadJudge(t)
	if !slices.ContainsFunc(j.crd.celRules, func(r string) bool {
		return strings.Contains(r, "self.minReplicaCount <= ")
	}) {
		t.Errorf("the ScaledObject CRD of %s has no CEL rule bounding minReplicaCount by maxReplicaCount; its rules: %q", j.kedaVersion, j.crd.celRules)
	}
	types, err := j.scalerGoTypes("prometheus")
	if err != nil {
		t.Fatal(err)
	}
	if got := types["threshold"]; got != "float64" {
		t.Errorf("the prometheus scaler's threshold has Go type %q in %s, want float64 (pkg/scalers/prometheus_scaler.go moved or changed?)", got, j.kedaVersion)
	}
}

// TestBrokenScaledObjectsRejected breaks a generated ScaledObject one way at
// a time and expects each judge that should object to name the field.
func TestBrokenScaledObjectsRejected(t *testing.T) {
	j := loadJudge(t)
	var base map[string]any
	for _, m := range generatedScaledObjects(t) {
		if prometheusFirst(m.obj) {
			base = m.obj
			break
		}
	}
	if base == nil || len(spec(base)["triggers"].([]any)) < 2 {
		t.Fatal("no generated ScaledObject with a prometheus trigger and another to break")
	}

	tests := []struct {
		name  string
		spoil func(so map[string]any)
		want  []string
	}{
		{
			name:  "maxReplicaCount below minReplicaCount",
			spoil: func(so map[string]any) { spec(so)["minReplicaCount"], spec(so)["maxReplicaCount"] = int64(5), int64(3) },
			want: []string{
				"CRD: spec: Invalid value: minReplicaCount must be less than or equal to maxReplicaCount",
				"webhook: spec.minReplicaCount, spec.maxReplicaCount, spec.idleReplicaCount: MinReplicaCount=5 must be less than MaxReplicaCount=3",
			},
		},
		{
			name: "idleReplicaCount not below minReplicaCount",
			spoil: func(so map[string]any) {
				spec(so)["minReplicaCount"], spec(so)["idleReplicaCount"] = int64(2), int64(2)
			},
			want: []string{"webhook: spec.minReplicaCount, spec.maxReplicaCount, spec.idleReplicaCount: IdleReplicaCount=2 must be less than MinReplicaCount=2"},
		},
		{
			name:  "misspelt trigger field",
			spoil: func(so map[string]any) { rename(trigger(so, 0), "metricType", "metricTyp") },
			want:  []string{"CRD: spec.triggers[0].metricTyp: Forbidden: unknown field"},
		},
		{
			name:  "HPA spelling of a replica bound",
			spoil: func(so map[string]any) { rename(spec(so), "maxReplicaCount", "maxReplicas") },
			want:  []string{"CRD: spec.maxReplicas: Forbidden: unknown field"},
		},
		{
			name:  "misspelt metadata field",
			spoil: func(so map[string]any) { rename(so["metadata"].(map[string]any), "labels", "label") },
			want:  []string{"CRD: metadata.label: Forbidden: unknown field"},
		},
		{
			name:  "replica bound of the wrong type",
			spoil: func(so map[string]any) { spec(so)["maxReplicaCount"] = "50" },
			want:  []string{"CRD: spec.maxReplicaCount: Invalid value: \"string\": spec.maxReplicaCount in body must be of type integer"},
		},
		{
			name:  "fallback behaviour outside the enum",
			spoil: func(so map[string]any) { fallback(so)["behavior"] = "currentReplicasIfHigh" },
			want:  []string{"CRD: spec.fallback.behavior: Unsupported value: \"currentReplicasIfHigh\""},
		},
		{
			name: "negative fallback replicas",
			spoil: func(so map[string]any) {
				fallback(so)["failureThreshold"], fallback(so)["replicas"] = int64(3), int64(-1)
			},
			want: []string{
				"CRD: spec.fallback.replicas: Invalid value: -1: spec.fallback.replicas in body should be greater than or equal to 0",
				"webhook: spec.fallback: FailureThreshold=3 & Replicas=-1 must both be greater than or equal to 0",
			},
		},
		{
			name:  "unknown metadata parameter",
			spoil: func(so map[string]any) { rename(metadata(so, 0), "threshold", "treshold") },
			want: []string{
				"scaler schema: spec.triggers[0].metadata[treshold]: Invalid value: ",
				"scaler schema: spec.triggers[0].metadata[threshold]: Required value: the prometheus scaler requires threshold",
			},
		},
		{
			name:  "threshold that is not a number",
			spoil: func(so map[string]any) { metadata(so, 0)["threshold"] = "15%" },
			want:  []string{"scaler schema: spec.triggers[0].metadata[threshold]: Invalid value: \"15%\": the prometheus scaler parses threshold as float64"},
		},
		{
			name:  "ignoreNullValues that is not a boolean",
			spoil: func(so map[string]any) { metadata(so, 0)["ignoreNullValues"] = "no" },
			want:  []string{"scaler schema: spec.triggers[0].metadata[ignoreNullValues]: Invalid value: \"no\": the prometheus scaler parses ignoreNullValues as bool"},
		},
		{
			name:  "authMode outside the allowed values",
			spoil: func(so map[string]any) { metadata(so, 0)["authModes"] = "jwt" },
			want:  []string{"scaler schema: spec.triggers[0].metadata[authModes]: Unsupported value: \"jwt\""},
		},
		{
			name:  "two exclusive authModes",
			spoil: func(so map[string]any) { metadata(so, 0)["authModes"] = "bearer,basic" },
			want:  []string{"scaler schema: spec.triggers[0].metadata[authModes]: Invalid value: \"bearer,basic\": at most one of [bearer basic oauth]"},
		},
		{
			name:  "credential in metadata",
			spoil: func(so map[string]any) { metadata(so, 0)["bearerToken"] = "secret" },
			want:  []string{"scaler schema: spec.triggers[0].metadata[bearerToken]: Forbidden: the prometheus scaler reads bearerToken only from a TriggerAuthentication"},
		},
		{
			name: "duplicate trigger names",
			spoil: func(so map[string]any) {
				trigger(so, 1)["name"] = trigger(so, 0)["name"]
			},
			want: []string{"webhook: spec.triggers: triggerName \""},
		},
		{
			name: "fallback with only cpu and memory triggers",
			spoil: func(so map[string]any) {
				fallback(so)
				spec(so)["triggers"] = []any{map[string]any{
					"type": "cpu", "metricType": "Utilization", "metadata": map[string]any{"value": "70"},
				}}
			},
			want: []string{"webhook: spec.fallback: at least one trigger (that is not cpu or memory)"},
		},
		{
			name:  "HPA name too long",
			spoil: func(so map[string]any) { so["metadata"].(map[string]any)["name"] = strings.Repeat("a", 60) },
			want:  []string{"webhook: spec.advanced.horizontalPodAutoscalerConfig.name: HPA name \"keda-hpa-aaaa"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			so := runtime.DeepCopyJSON(base)
			tt.spoil(so)
			rejections, _ := j.check(so)
			t.Logf("rejections:\n%s", strings.Join(rejections, "\n"))
			for _, want := range tt.want {
				if !slices.ContainsFunc(rejections, func(r string) bool { return strings.HasPrefix(r, want) }) {
					t.Errorf("no rejection starting %q; got:\n%s", want, strings.Join(rejections, "\n"))
				}
			}
		})
	}
}

func spec(so map[string]any) map[string]any { return so["spec"].(map[string]any) }

func trigger(so map[string]any, i int) map[string]any {
	return spec(so)["triggers"].([]any)[i].(map[string]any)
}

func metadata(so map[string]any, i int) map[string]any {
	return trigger(so, i)["metadata"].(map[string]any)
}

// fallback returns so's fallback, adding a valid one if it has none.
func fallback(so map[string]any) map[string]any {
	if f, ok := spec(so)["fallback"].(map[string]any); ok {
		return f
	}
	f := map[string]any{"failureThreshold": int64(3), "replicas": int64(1)}
	spec(so)["fallback"] = f
	return f
}

func rename(m map[string]any, from, to string) {
	m[to] = m[from]
	delete(m, from)
}

// prometheusFirst moves so's first prometheus trigger to the front, so that
// the cases can break spec.triggers[0]; it reports whether there was one.
func prometheusFirst(so map[string]any) bool {
	triggers, _ := spec(so)["triggers"].([]any)
	i := slices.IndexFunc(triggers, func(tr any) bool { return tr.(map[string]any)["type"] == "prometheus" })
	if i < 0 {
		return false
	}
	triggers[0], triggers[i] = triggers[i], triggers[0]
	return true
}
