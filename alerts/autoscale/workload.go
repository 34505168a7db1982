package autoscale

import (
	"fmt"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	vpav1 "k8s.io/autoscaler/vertical-pod-autoscaler/pkg/apis/autoscaling.k8s.io/v1"

	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/internal/manifest"
)

// More output files: the rest of the scaled workload's deployment. The VPA
// sits in its own directory because it needs the VPA's CRDs, which not
// every cluster has: `kubectl apply -f <dir>` of the others then never
// fails on it.
const (
	FilePDB                   = "pdb.yaml"
	FileTriggerAuthentication = "triggerauthentication.yaml"
	DirVPA                    = "vpa"
	FileVPA                   = DirVPA + "/vpa.yaml"
)

// PDB is the scaled workload's PodDisruptionBudget (policy/v1): by default
// maxUnavailable 1, which lets a node drain evict one pod at a time at any
// replica count; a minAvailable equal to the min replicas would block every
// drain while the workload sits at its minimum (catalogue refuses it).
func PDB(bundle *catalogue.Bundle) *policyv1.PodDisruptionBudget {
	cfg := bundle.Config
	p := cfg.Autoscaling.PDB
	spec := policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: cfg.PodSelector()}}
	switch {
	case p.MinAvailable != "":
		spec.MinAvailable = new(intstr.Parse(p.MinAvailable))
	case p.MaxUnavailable != "":
		spec.MaxUnavailable = new(intstr.Parse(p.MaxUnavailable))
	default:
		spec.MaxUnavailable = new(intstr.Parse(catalogue.DefaultPDBMaxUnavailable))
	}
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   metav1.TypeMeta{APIVersion: policyv1.SchemeGroupVersion.String(), Kind: "PodDisruptionBudget"},
		ObjectMeta: objectMeta(cfg, cfg.PDBName()),
		Spec:       spec,
	}
}

const pdbComment = `#
# maxUnavailable, not a minAvailable equal to the min replicas: that would
# let no pod be evicted while the workload sits at its minimum and block
# every node drain. The selector must match the workload's pod labels
# (autoscaling.pod_selector; the AMAS guide's app: <name> by default).
`

// TriggerAuthentication is the TriggerAuthentication (or, with
// trigger_authentication_kind ClusterTriggerAuthentication, the cluster
// one) the ScaledObject's Prometheus triggers name: each parameter of the
// auth modes read from a key of a Secret, by reference only. Nil when the
// config names none.
func TriggerAuthentication(bundle *catalogue.Bundle) any {
	cfg := bundle.Config
	p := cfg.Autoscaling.Prometheus
	if p.TriggerAuthentication == "" {
		return nil
	}
	secret, refs := cfg.AuthSecret()
	spec := kedav1alpha1.TriggerAuthenticationSpec{}
	for _, r := range refs {
		spec.SecretTargetRef = append(spec.SecretTargetRef, kedav1alpha1.AuthSecretTargetRef{Parameter: r.Parameter, Name: secret, Key: r.Key})
	}
	meta := objectMeta(cfg, p.TriggerAuthentication)
	if p.TriggerAuthenticationKind == "ClusterTriggerAuthentication" {
		meta.Namespace = ""
		return &kedav1alpha1.ClusterTriggerAuthentication{
			TypeMeta:   metav1.TypeMeta{APIVersion: kedav1alpha1.GroupVersion.String(), Kind: "ClusterTriggerAuthentication"},
			ObjectMeta: meta, Spec: spec,
		}
	}
	return &kedav1alpha1.TriggerAuthentication{
		TypeMeta:   metav1.TypeMeta{APIVersion: kedav1alpha1.GroupVersion.String(), Kind: "TriggerAuthentication"},
		ObjectMeta: meta, Spec: spec,
	}
}

func triggerAuthenticationComment(cfg *catalogue.Config) string {
	secret, refs := cfg.AuthSecret()
	keys := ""
	for _, r := range refs {
		keys += " " + r.Key
	}
	where := "in the same namespace"
	if cfg.Autoscaling.Prometheus.TriggerAuthenticationKind == "ClusterTriggerAuthentication" {
		where = "in KEDA's cluster-object namespace (keda by default)"
	}
	return fmt.Sprintf(`#
# The credentials are never here: create Secret %s
# %s with the key(s)%s
# (autoscaling.prometheus.secret and secret_keys).
`, secret, where, keys)
}

// VPA is a VerticalPodAutoscaler (autoscaling.k8s.io/v1) on the scaled
// workload in Off mode: it recommends CPU and memory requests and changes
// no pod, as the AMAS guide sets it beside KEDA or an HPA (catalogue
// refuses any other mode there).
func VPA(bundle *catalogue.Bundle) *vpav1.VerticalPodAutoscaler {
	cfg := bundle.Config
	a := cfg.Autoscaling
	return &vpav1.VerticalPodAutoscaler{
		TypeMeta:   metav1.TypeMeta{APIVersion: vpav1.SchemeGroupVersion.String(), Kind: "VerticalPodAutoscaler"},
		ObjectMeta: objectMeta(cfg, cfg.VPAName()),
		Spec: vpav1.VerticalPodAutoscalerSpec{
			TargetRef:    &autoscalingv1.CrossVersionObjectReference{APIVersion: a.ScaleTarget.APIVersion, Kind: a.ScaleTarget.Kind, Name: cfg.ScaleTargetName()},
			UpdatePolicy: &vpav1.PodUpdatePolicy{UpdateMode: new(vpav1.UpdateMode(cfg.VPAMode()))},
		},
	}
}

const vpaComment = `#
# Off mode: recommendations only (kubectl describe vpa), no pod is changed.
# Never another mode here: the AMAS guide says VPA and HPA/KEDA should not
# act on the same pods (the VPA would move the requests the HPA's
# utilisation targets are computed against). Needs the VPA's CRDs and
# recommender; apply this directory on its own.
`

// workloadFiles adds the PDB, the TriggerAuthentication (KEDA) and the VPA
// of a config with an autoscaler to files.
func workloadFiles(bundle *catalogue.Bundle, files map[string][]byte) error {
	cfg := bundle.Config
	add := func(name, comment string, obj any) error {
		b, err := manifest.Marshal(obj)
		if err != nil {
			return err
		}
		files[name] = append([]byte(header(cfg)+comment), b...)
		return nil
	}
	if cfg.Autoscaling.PDB.Enabled {
		if err := add(FilePDB, pdbComment, PDB(bundle)); err != nil {
			return err
		}
	}
	if cfg.Autoscaling.Autoscaler == catalogue.AutoscalerKEDA {
		if ta := TriggerAuthentication(bundle); ta != nil {
			if err := add(FileTriggerAuthentication, triggerAuthenticationComment(cfg), ta); err != nil {
				return err
			}
		}
	}
	if cfg.Autoscaling.VPA.Enabled {
		if err := add(FileVPA, vpaComment, VPA(bundle)); err != nil {
			return err
		}
	}
	return nil
}
