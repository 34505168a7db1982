package kedacheck

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	metavalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/runtime"
	utiljson "k8s.io/apimachinery/pkg/util/json"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	"sigs.k8s.io/yaml"
)

const kedaModule = "github.com/kedacore/keda/v2"

// repoRoot is the main module's directory, three levels above this package
// (internal/tools/kedacheck).
var repoRoot = filepath.Join("..", "..", "..")

// kedaModuleDir returns the main module's KEDA version and its directory in
// the module cache. The main module's version is the one headroom generates
// against, so it is the one whose CRD and schemas judge; this module must
// link the same release, or the webhook functions called here would be
// another release's. (A test binary carries no module list in its build
// info, so both modules are asked.)
func kedaModuleDir() (version, dir string, err error) {
	main, err := goListModule(repoRoot, kedaModule)
	if err != nil {
		return "", "", err
	}
	if main.Dir == "" {
		return "", "", fmt.Errorf("%s %s is not in the module cache (run go mod download in the repository root)", kedaModule, main.Version)
	}
	tools, err := goListModule(".", kedaModule)
	if err != nil {
		return "", "", err
	}
	if tools.Version != main.Version {
		return "", "", fmt.Errorf("the main module builds against %s %s but internal/tools links %s: keep both go.mod files at one release", kedaModule, main.Version, tools.Version)
	}
	return main.Version, main.Dir, nil
}

type listedModule struct{ Version, Dir string }

// goListModule asks the go command which version of module path the module
// in dir requires, and where the module cache holds it.
func goListModule(dir, path string) (listedModule, error) {
	cmd := exec.Command("go", "list", "-m", "-json", path)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return listedModule{}, fmt.Errorf("go list -m %s in %s: %w: %s", path, dir, err, stderr.String())
	}
	var mod listedModule
	if err := json.Unmarshal(out, &mod); err != nil {
		return listedModule{}, fmt.Errorf("go list -m %s in %s: %w", path, dir, err)
	}
	return mod, nil
}

// crdValidator does what the API server does to a ScaledObject on create
// under strict field validation (kubectl apply's default): decode, prune
// and report unknown fields, validate the object's metadata, the OpenAPI
// schema, list-type invariants and the x-kubernetes-validations CEL rules,
// in the order of apiextensions-apiserver's customresource_handler.go and
// registry/customresource/strategy.go.
type crdValidator struct {
	structural *structuralschema.Structural
	schema     apiservervalidation.SchemaValidator
	cel        *cel.Validator
	celRules   []string
}

// newCRDValidator builds the validator for the ScaledObject CRD at path and
// the served version the manifests use.
func newCRDValidator(crdPath, version string) (*crdValidator, error) {
	raw, err := os.ReadFile(crdPath)
	if err != nil {
		return nil, err
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(raw, &crd); err != nil {
		return nil, fmt.Errorf("%s: %w", crdPath, err)
	}
	var versioned *apiextensionsv1.CustomResourceValidation
	for _, v := range crd.Spec.Versions {
		if v.Name == version && v.Served {
			versioned = v.Schema
		}
	}
	if versioned == nil || versioned.OpenAPIV3Schema == nil {
		return nil, fmt.Errorf("%s serves no schema for version %s", crdPath, version)
	}
	var internal apiextensions.JSONSchemaProps
	if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(versioned.OpenAPIV3Schema, &internal, nil); err != nil {
		return nil, fmt.Errorf("%s: converting to the internal schema: %w", crdPath, err)
	}
	structural, err := structuralschema.NewStructural(&internal)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", crdPath, err)
	}
	if errs := structuralschema.ValidateStructural(nil, structural); len(errs) > 0 {
		return nil, fmt.Errorf("%s is not a structural schema: %w", crdPath, errs.ToAggregate())
	}
	schemaValidator, _, err := apiservervalidation.NewSchemaValidator(&internal)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", crdPath, err)
	}
	return &crdValidator{
		structural: structural,
		schema:     schemaValidator,
		cel:        cel.NewValidator(structural, true, celconfig.PerCallLimit),
		celRules:   celRules(&internal),
	}, nil
}

// celRules lists the CRD's x-kubernetes-validations rules, so that a test
// can say which of them guard what.
func celRules(s *apiextensions.JSONSchemaProps) []string {
	var rules []string
	for _, r := range s.XValidations {
		rules = append(rules, r.Rule)
	}
	for _, name := range sortedKeys(s.Properties) {
		child := s.Properties[name]
		rules = append(rules, celRules(&child)...)
	}
	if s.Items != nil && s.Items.Schema != nil {
		rules = append(rules, celRules(s.Items.Schema)...)
	}
	if s.AdditionalProperties != nil && s.AdditionalProperties.Schema != nil {
		rules = append(rules, celRules(s.AdditionalProperties.Schema)...)
	}
	return rules
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// validate returns every error the API server would answer a create of obj
// with. obj is left as it was.
func (v *crdValidator) validate(obj map[string]any) field.ErrorList {
	u := runtime.DeepCopyJSON(obj)
	var errs field.ErrorList
	unknownField := func(p string) *field.Error {
		return field.Forbidden(field.NewPath(p), "unknown field: the CRD's schema has no such field (strict field validation rejects it)")
	}

	meta, _, metaUnknown, err := objectmeta.GetObjectMetaWithOptions(u, objectmeta.ObjectMetaOptions{ReturnUnknownFieldPaths: true})
	if err != nil {
		return append(errs, field.Invalid(field.NewPath("metadata"), u["metadata"], err.Error()))
	}
	unknown := append([]string(nil), metaUnknown...)
	unknown = append(unknown, pruning.PruneWithOptions(u, v.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})...)
	ferr, coerceUnknown := objectmeta.CoerceWithOptions(nil, u, v.structural, false, objectmeta.CoerceOptions{ReturnUnknownFieldPaths: true})
	if ferr != nil {
		errs = append(errs, ferr)
	}
	unknown = append(unknown, coerceUnknown...)
	for _, p := range unknown {
		errs = append(errs, unknownField(p))
	}
	if meta != nil {
		// A ScaledObject is namespaced and its name a path segment, as for
		// every custom resource (the generic registry's BeforeCreate). A
		// manifest without a namespace gets the one `kubectl apply -n` names
		// before the server validates it.
		if meta.Namespace == "" {
			meta.Namespace = "default"
		}
		errs = append(errs, metavalidation.ValidateObjectMeta(meta, true, path.ValidatePathSegmentName, field.NewPath("metadata"))...)
	}

	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, u, v.schema)...)
	errs = append(errs, objectmeta.Validate(context.Background(), nil, u, v.structural, false)...)
	errs = append(errs, listtype.ValidateListSetsAndMaps(nil, v.structural, u)...)
	// As strategy.go's hasBlockingErr: the server runs no CEL rule over an
	// object whose values already have the wrong type or shape.
	if slices.ContainsFunc(errs, func(e *field.Error) bool { return blockingCEL[e.Type] }) {
		return append(errs, field.Invalid(field.NewPath("spec"), nil, "its x-kubernetes-validations rules were not checked because the object was invalid; correct the existing errors to complete validation"))
	}
	celErrs, _ := v.cel.Validate(context.Background(), nil, v.structural, u, nil, celconfig.RuntimeCELCostBudget)
	return append(errs, celErrs...)
}

// blockingCEL are the error types after which the API server skips the CEL
// rules (hasBlockingErr in registry/customresource/strategy.go).
var blockingCEL = map[field.ErrorType]bool{
	field.ErrorTypeNotSupported: true,
	field.ErrorTypeRequired:     true,
	field.ErrorTypeTooLong:      true,
	field.ErrorTypeTooMany:      true,
	field.ErrorTypeTypeInvalid:  true,
}

// scalerSchema is KEDA's generated scaler parameter schema
// (schema/generated/scalers-schema.json, written by
// schema/generate_scaler_schema.go from the scalers' `keda:` struct tags).
type scalerSchema struct {
	KedaVersion   string `json:"kedaVersion"`
	SchemaVersion int    `json:"schemaVersion"`
	Scalers       []struct {
		Type       string            `json:"type"`
		Parameters []scalerParameter `json:"parameters"`
	} `json:"scalers"`
}

type scalerParameter struct {
	Name         string   `json:"name"`
	Type         string   `json:"type"`
	Optional     bool     `json:"optional"`
	Default      *string  `json:"default"`
	AllowedValue []string `json:"allowedValue"`
	ExclusiveSet []string `json:"exclusiveSet"`
	Separator    string   `json:"separator"`
	// RangeSeparator splits a range ("1-5") within a list value.
	RangeSeparator     string `json:"rangeSeparator"`
	Deprecated         string `json:"deprecated"`
	DeprecatedAnnounce string `json:"deprecatedAnnounce"`
	// Where KEDA may read the parameter from: the trigger's metadata, the
	// target's environment (metadata key NAMEFromEnv), or a
	// TriggerAuthentication.
	MetadataVariableReadable              bool `json:"metadataVariableReadable"`
	EnvVariableReadable                   bool `json:"envVariableReadable"`
	TriggerAuthenticationVariableReadable bool `json:"triggerAuthenticationVariableReadable"`
}

func loadScalerSchema(path string) (map[string][]scalerParameter, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var s scalerSchema
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %w (has the schema's format changed?)", path, err)
	}
	if s.SchemaVersion != 1 {
		return nil, fmt.Errorf("%s: schemaVersion %d, these checks read version 1", path, s.SchemaVersion)
	}
	byType := make(map[string][]scalerParameter, len(s.Scalers))
	for _, sc := range s.Scalers {
		byType[sc.Type] = sc.Parameters
	}
	return byType, nil
}

// checkTriggerMetadata holds each trigger's metadata against its scaler's
// parameters: every key a parameter KEDA reads from metadata (a misspelt
// key is silently ignored by KEDA, leaving a default in its place), no
// deprecated parameter, every required parameter present somewhere KEDA
// reads it from, and enumerated values among the allowed ones. The schema
// types every parameter "string" (metadata is a map of strings); the
// scaler parses numbers and booleans itself, which the schema does not say.
//
// So the Go type of each parameter comes from the scaler's own source
// (goTypes, from scalerGoTypes), and the value must parse as KEDA's typed
// config parses that type.
func checkTriggerMetadata(scalers map[string][]scalerParameter, goTypes func(scaler string) map[string]string, triggers []kedav1alpha1.ScaleTriggers) field.ErrorList {
	var errs field.ErrorList
	for i, trig := range triggers {
		tpath := field.NewPath("spec", "triggers").Index(i)
		params, ok := scalers[trig.Type]
		if !ok {
			errs = append(errs, field.NotSupported(tpath.Child("type"), trig.Type, sortedKeys(scalers)))
			continue
		}
		byName := make(map[string]scalerParameter, len(params))
		for _, p := range params {
			byName[p.Name] = p
		}
		mpath := tpath.Child("metadata")
		for _, key := range sortedKeys(trig.Metadata) {
			value := trig.Metadata[key]
			if name, fromEnv := strings.CutSuffix(key, "FromEnv"); fromEnv {
				if p, ok := byName[name]; ok && p.EnvVariableReadable {
					continue
				}
			}
			p, ok := byName[key]
			switch {
			case !ok:
				errs = append(errs, field.Invalid(mpath.Key(key), value, fmt.Sprintf("unknown parameter of the %s scaler", trig.Type)))
				continue
			case !p.MetadataVariableReadable:
				errs = append(errs, field.Forbidden(mpath.Key(key), fmt.Sprintf("the %s scaler reads %s only from a TriggerAuthentication or the environment, never from metadata", trig.Type, key)))
				continue
			case p.Deprecated != "":
				errs = append(errs, field.Forbidden(mpath.Key(key), p.Deprecated))
			case p.DeprecatedAnnounce != "":
				errs = append(errs, field.Forbidden(mpath.Key(key), "deprecated: "+p.DeprecatedAnnounce))
			}
			if len(p.AllowedValue) > 0 {
				errs = append(errs, checkAllowed(mpath.Key(key), p, value)...)
			}
			if goType, ok := goTypes(trig.Type)[key]; ok {
				if err := parsesAs(goType, value); err != nil {
					errs = append(errs, field.Invalid(mpath.Key(key), value, fmt.Sprintf("the %s scaler parses %s as %s: %v", trig.Type, key, goType, err)))
				}
			}
		}
		for _, p := range params {
			if p.Optional || p.Default != nil {
				continue
			}
			_, inMetadata := trig.Metadata[p.Name]
			_, inEnv := trig.Metadata[p.Name+"FromEnv"]
			fromAuth := p.TriggerAuthenticationVariableReadable && trig.AuthenticationRef != nil
			if !(inMetadata && p.MetadataVariableReadable) && !(inEnv && p.EnvVariableReadable) && !fromAuth {
				errs = append(errs, field.Required(mpath.Key(p.Name), fmt.Sprintf("the %s scaler requires %s", trig.Type, p.Name)))
			}
		}
	}
	return errs
}

// scalerGoTypes reads the Go type of each parameter of a scaler from its
// source in the KEDA module (pkg/scalers/TYPE_scaler.go): the fields whose
// `keda:"name=..."` tags the scaler schema is generated from. A scaler
// whose file is named otherwise has no types here.
func scalerGoTypes(kedaDir, scaler string) (map[string]string, error) {
	file := strings.ReplaceAll(scaler, "-", "_") + "_scaler.go"
	if scaler == "cpu" || scaler == "memory" {
		file = "cpu_memory_scaler.go"
	}
	src := filepath.Join(kedaDir, "pkg", "scalers", file)
	f, err := parser.ParseFile(token.NewFileSet(), src, nil, parser.SkipObjectResolution)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	byName := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		st, ok := n.(*ast.StructType)
		if !ok {
			return true
		}
		for _, fld := range st.Fields.List {
			if fld.Tag == nil {
				continue
			}
			tag, err := strconv.Unquote(fld.Tag.Value)
			if err != nil {
				continue
			}
			for opt := range strings.SplitSeq(reflect.StructTag(tag).Get("keda"), ",") {
				if names, ok := strings.CutPrefix(strings.TrimSpace(opt), "name="); ok {
					for name := range strings.SplitSeq(names, ";") {
						byName[strings.TrimSpace(name)] = types.ExprString(fld.Type)
					}
				}
			}
		}
		return true
	})
	return byName, nil
}

// parsesAs parses value as KEDA's typed config parses a field of goType
// (setConfigValueHelper in pkg/scalers/scalersconfig/typed_config.go):
// numbers as JSON, booleans with strconv.ParseBool, durations as a Go
// duration or whole milliseconds, never negative. Other types are not
// checked.
func parsesAs(goType, value string) error {
	value = strings.TrimSpace(value)
	switch goType {
	case "float64", "float32":
		var f float64
		return json.Unmarshal([]byte(value), &f)
	case "int", "int32", "int64":
		var i int64
		return json.Unmarshal([]byte(value), &i)
	case "bool":
		_, err := strconv.ParseBool(value)
		return err
	case "time.Duration":
		if d, err := time.ParseDuration(value); err == nil {
			if d < 0 {
				return errors.New("negative duration")
			}
			return nil
		}
		ms, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return errors.New("neither a duration nor whole milliseconds")
		}
		if ms < 0 {
			return errors.New("negative duration")
		}
	}
	return nil
}

// checkAllowed splits list parameters (authModes: "bearer,tls") at their
// separator, a comma unless the schema names another, as KEDA's typed
// config does, and allows at most one value of an exclusive set.
func checkAllowed(fpath *field.Path, p scalerParameter, value string) field.ErrorList {
	sep := p.Separator
	if sep == "" {
		sep = ","
	}
	var errs field.ErrorList
	var exclusive []string
	for v := range strings.SplitSeq(value, sep) {
		v = strings.TrimSpace(v)
		if !slices.Contains(p.AllowedValue, v) {
			errs = append(errs, field.NotSupported(fpath, v, p.AllowedValue))
		}
		if slices.Contains(p.ExclusiveSet, v) {
			exclusive = append(exclusive, v)
		}
	}
	if len(exclusive) > 1 {
		errs = append(errs, field.Invalid(fpath, value, fmt.Sprintf("at most one of %v, got %v", p.ExclusiveSet, exclusive)))
	}
	return errs
}

// maxK8sLabelValueLength is KEDA's limit on a ScaledObject's and its HPA's
// name, both used as label values (apis/keda/v1alpha1/scaledobject_webhook.go).
const maxK8sLabelValueLength = 63

// checkWebhook runs the checks of KEDA's ScaledObject admission webhook
// (validateWorkload in apis/keda/v1alpha1/scaledobject_webhook.go) that
// need no cluster, calling KEDA's exported functions where there are some.
// Left out, because they ask the cluster: another ScaledObject already
// owning the workload or its HPA (verifyScaledObjects), an HPA already
// scaling the workload (verifyHpas), and the workload's containers having
// CPU and memory requests for cpu and memory triggers
// (verifyCPUMemoryScalers). It returns the webhook's warnings beside its
// rejections.
func checkWebhook(so *kedav1alpha1.ScaledObject) (warnings []string, rejections []error) {
	var errs []error
	prefixed := func(fields string, err error) error {
		if err == nil {
			return nil
		}
		return fmt.Errorf("%s: %w", fields, err)
	}
	// verifyReplicaCount: min ≤ max and idle < min.
	errs = append(errs, prefixed("spec.minReplicaCount, spec.maxReplicaCount, spec.idleReplicaCount", kedav1alpha1.CheckReplicaCountBoundsAreValid(so)))
	// verifyFallback: non-negative threshold and replicas, a trigger other
	// than cpu or memory to fall back for.
	errs = append(errs, prefixed("spec.fallback", kedav1alpha1.CheckFallbackValid(so)))
	// verifyTriggers: at least one trigger, unique names, useCachedMetrics
	// only where supported.
	errs = append(errs, prefixed("spec.triggers", kedav1alpha1.ValidateTriggers(so.Spec.Triggers)))
	// verifyName, restated: unexported.
	if len(so.Name) > maxK8sLabelValueLength {
		errs = append(errs, fmt.Errorf("metadata.name: scaledobject name %q is longer than %d characters", so.Name, maxK8sLabelValueLength))
	}
	hpaName := "keda-hpa-" + so.Name
	if a := so.Spec.Advanced; a != nil && a.HorizontalPodAutoscalerConfig != nil && a.HorizontalPodAutoscalerConfig.Name != "" {
		hpaName = a.HorizontalPodAutoscalerConfig.Name
	}
	if len(hpaName) > maxK8sLabelValueLength {
		errs = append(errs, fmt.Errorf("spec.advanced.horizontalPodAutoscalerConfig.name: HPA name %q is longer than %d characters", hpaName, maxK8sLabelValueLength))
	}
	// verifyScaledObjects, its cluster-free part: scaling modifiers
	// compile, and a scalingModifiers fallback has a formula.
	if so.IsUsingModifiers() {
		if _, err := kedav1alpha1.ValidateAndCompileScalingModifiers(so.DeepCopy()); err != nil {
			errs = append(errs, fmt.Errorf("spec.advanced.scalingModifiers: %w", err))
		}
	}
	if so.FallbackScalingModifiers() && (!so.IsUsingModifiers() || so.Spec.Advanced.ScalingModifiers.Formula == "") {
		errs = append(errs, errors.New("spec.fallback.behavior: scalingModifiers fallback behavior requires scalingModifiers.formula to be defined"))
	}
	// verifyCPUMemoryScalers, its cluster-free part: only cpu and memory
	// triggers cannot scale to zero.
	onlyResource := len(so.Spec.Triggers) > 0
	for _, t := range so.Spec.Triggers {
		if t.Type != "cpu" && t.Type != "memory" {
			onlyResource = false
		}
	}
	if onlyResource && (so.Spec.MinReplicaCount == nil || *so.Spec.MinReplicaCount == 0) {
		errs = append(errs, errors.New("spec.minReplicaCount: scaledobject has only cpu/memory triggers AND minReplica is 0 (scale to zero doesn't work in this case)"))
	}

	// verifyScaledObjects' warnings, on KEDA's own predicates.
	if so.Spec.PollingInterval != nil && so.UsesHPAObservations() {
		warnings = append(warnings, "spec.pollingInterval only refreshes the status here: the HPA drives scaling (minReplicaCount > 0, no idleReplicaCount, no useCachedMetrics)")
	}
	if so.Spec.CooldownPeriod != nil && so.Spec.IdleReplicaCount == nil && so.Spec.MinReplicaCount != nil && *so.Spec.MinReplicaCount > 0 {
		warnings = append(warnings, "spec.cooldownPeriod is not relevant: it applies only when minReplicaCount = 0 or idleReplicaCount is set")
	}
	return warnings, slices.DeleteFunc(errs, func(err error) bool { return err == nil })
}

// manifest is one document of a generated YAML file.
type manifest struct {
	file  string
	index int
	obj   map[string]any
}

// readManifests returns every document of the YAML files under dir, by
// file and position, decoded as the API server decodes JSON (whole numbers
// as int64, which the schema's integer types and CEL expect).
func readManifests(dir string) ([]manifest, error) {
	var out []manifest
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != ".yaml" {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		r := utilyaml.NewYAMLReader(bufio.NewReader(f))
		for i := 0; ; i++ {
			doc, err := r.Read()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			obj, err := decodeManifest(doc)
			if err != nil {
				return fmt.Errorf("%s document %d: %w", p, i, err)
			}
			if obj != nil {
				out = append(out, manifest{file: p, index: i, obj: obj})
			}
		}
	})
	return out, err
}

func decodeManifest(doc []byte) (map[string]any, error) {
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		return nil, err
	}
	var obj map[string]any
	if err := utiljson.Unmarshal(j, &obj); err != nil {
		return nil, err
	}
	return obj, nil
}
