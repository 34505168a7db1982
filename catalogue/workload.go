package catalogue

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// The rest of the scaled workload's deployment beside its autoscaler
// (package alerts/autoscale writes them): a PodDisruptionBudget, a
// VerticalPodAutoscaler that only recommends, KEDA's scale to an idle count
// of zero, and the TriggerAuthentication the ScaledObject names.

// PDB is the scaled workload's PodDisruptionBudget (policy/v1). At most one
// of MaxUnavailable and MinAvailable is set, each a count ("1") or a
// percentage ("25%"); with neither it is maxUnavailable 1. A minAvailable
// equal to min_replicas would block every node drain while the workload
// sits at its minimum, which is why it is not the default.
type PDB struct {
	// Enabled writes pdb.yaml beside the autoscaler.
	Enabled        bool   `yaml:"enabled"`
	MaxUnavailable string `yaml:"max_unavailable"`
	MinAvailable   string `yaml:"min_available"`
}

// DefaultPDBMaxUnavailable is the PodDisruptionBudget's maxUnavailable
// when the config sets neither bound: one pod at a time may be evicted,
// whatever the replica count.
const DefaultPDBMaxUnavailable = "1"

// VPA is a VerticalPodAutoscaler (autoscaling.k8s.io/v1) on the scaled
// workload. Beside a KEDA or HPA autoscaler only its Off mode is allowed:
// it recommends requests and changes no pod.
type VPA struct {
	// Enabled writes vpa/vpa.yaml (its own directory: it needs the VPA's
	// CRDs, which not every cluster has).
	Enabled bool `yaml:"enabled"`
	// UpdateMode is the VPA's updatePolicy.updateMode; Off by default.
	UpdateMode string `yaml:"update_mode"`
}

// VPA update modes (autoscaling.k8s.io/v1 UpdateMode).
var vpaUpdateModes = []string{"Off", "Initial", "Recreate", "InPlaceOrRecreate", "Auto"}

// VPAUpdateModeOff only recommends.
const VPAUpdateModeOff = "Off"

// VPAMode is autoscaling.vpa.update_mode, Off when unset.
func (c *Config) VPAMode() string {
	if c.Autoscaling.VPA.UpdateMode == "" {
		return VPAUpdateModeOff
	}
	return c.Autoscaling.VPA.UpdateMode
}

// PodSelector is the labels of the scaled workload's pods, which the
// PodDisruptionBudget selects: autoscaling.pod_selector, else the AMAS
// guide's app: <scale target name>.
func (c *Config) PodSelector() map[string]string {
	if len(c.Autoscaling.PodSelector) > 0 {
		return c.Autoscaling.PodSelector
	}
	return map[string]string{"app": c.ScaleTargetName()}
}

// PDBName, VPAName: the names of the objects headroom writes.
func (c *Config) PDBName() string { return c.ScaleTargetName() + "-pdb" }

// VPAName is the name of the VerticalPodAutoscaler headroom writes.
func (c *Config) VPAName() string { return c.ScaleTargetName() + "-vpa" }

// ScalesToIdle reports whether KEDA takes the workload to an idle count of
// zero when no trigger is active (autoscaling.idle_replicas: 0).
func (c *Config) ScalesToIdle() bool {
	a := c.Autoscaling
	return a.Autoscaler == AutoscalerKEDA && a.IdleReplicas != nil && *a.IdleReplicas == 0
}

// ColdStartWarning says what scaling to zero costs, and "" when the
// config does not. A warning, not an error: scale to zero is a choice the
// AMAS guide describes, but the first request after idle waits for a pod
// to start.
func (c *Config) ColdStartWarning() string {
	if !c.ScalesToIdle() {
		return ""
	}
	w := fmt.Sprintf("autoscaling.idle_replicas: 0 lets KEDA scale %s to zero when no trigger is active: the first requests after "+
		"an idle spell wait for a pod to start (a cold start; activation after up to polling_interval %s, then the pod's start-up)",
		c.ScaleTargetName(), c.Autoscaling.PollingInterval)
	if c.Autoscaling.ColdStartMetric == "" {
		w += "; set autoscaling.cold_start_metric to the app's cold-start latency histogram for its recording rule and panel"
	}
	return w
}

// Authentication parameters of KEDA's Prometheus scaler by auth mode
// (KEDA v2.21 pkg/scalers/authentication), which the TriggerAuthentication
// reads from the Secret.
var authModeParams = map[string][]string{
	"bearer": {"bearerToken"},
	"basic":  {"username", "password"},
	"tls":    {"ca", "cert", "key"},
	"custom": {"customAuthHeader", "customAuthValue"},
}

// AuthModes is autoscaling.prometheus.auth_modes split at commas.
func (c *Config) AuthModes() []string {
	var out []string
	for m := range strings.SplitSeq(c.Autoscaling.Prometheus.AuthModes, ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return out
}

// SecretRef is one parameter of the TriggerAuthentication: KEDA reads it
// from Key of the Secret.
type SecretRef struct{ Parameter, Key string }

// AuthSecret is the Secret the TriggerAuthentication reads
// (autoscaling.prometheus.secret, else the TriggerAuthentication's name)
// and its parameters in auth-mode order, each read from the key
// autoscaling.prometheus.secret_keys maps it to, else one of its own name.
func (c *Config) AuthSecret() (name string, refs []SecretRef) {
	p := c.Autoscaling.Prometheus
	name = p.Secret
	if name == "" {
		name = p.TriggerAuthentication
	}
	for _, m := range c.AuthModes() {
		for _, param := range authModeParams[m] {
			key := param
			if k, ok := p.SecretKeys[param]; ok {
				key = k
			}
			refs = append(refs, SecretRef{Parameter: param, Key: key})
		}
	}
	return name, refs
}

var (
	labelKeyRE   = regexp.MustCompile(`^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$`)
	labelValueRE = regexp.MustCompile(`^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$`)
	secretKeyRE  = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)
	metricNameRE = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
)

// validateWorkload checks the PDB, VPA, idle replicas, pod selector and
// cold-start metric of a config with an autoscaler; bad is Validate's.
func (c *Config) validateWorkload(bad func(field, format string, args ...any)) {
	a := c.Autoscaling
	for _, k := range sortedLabelKeys(a.PodSelector) {
		if len(k) > 316 || !labelKeyRE.MatchString(k) || len(a.PodSelector[k]) > 63 || !labelValueRE.MatchString(a.PodSelector[k]) {
			bad("autoscaling.pod_selector", "%s: %q is not a label key and value", k, a.PodSelector[k])
		}
	}
	c.validatePDB(bad)
	v := a.VPA
	if v.UpdateMode != "" && !slices.Contains(vpaUpdateModes, v.UpdateMode) {
		bad("autoscaling.vpa.update_mode", "%q is not one of %s", v.UpdateMode, strings.Join(vpaUpdateModes, ", "))
	} else if v.Enabled && c.VPAMode() != VPAUpdateModeOff {
		bad("autoscaling.vpa.update_mode", "%q on a workload the %s autoscaler scales: only Off is allowed. The AMAS guide: VPA and HPA/KEDA "+
			"should not be used simultaneously on the same pods (the VPA would change the CPU and memory requests the HPA's utilisation "+
			"targets are computed against, and evict pods while the HPA adds them); Off provides recommendations only",
			v.UpdateMode, a.Autoscaler)
	}
	if a.IdleReplicas != nil {
		switch {
		case a.Autoscaler != AutoscalerKEDA:
			bad("autoscaling.idle_replicas", "set with autoscaler %s: a plain HPA cannot scale to zero; only KEDA's idleReplicaCount can", a.Autoscaler)
		case *a.IdleReplicas != 0:
			bad("autoscaling.idle_replicas", "%d: KEDA accepts only 0 (idleReplicaCount must be 0, below min_replicas)", *a.IdleReplicas)
		case !a.IdleWakesOnOutsideSeries:
			bad("autoscaling.idle_replicas", "0 with scalers that read selectors.api (%s): when those series come from the workload's own pods "+
				"they vanish at zero replicas, KEDA's queries return nothing (an error with ignoreNullValues false), and the workload is never "+
				"activated again; point selectors.api at series that outlive the pods (an ingress or gateway) and set "+
				"autoscaling.idle_wakes_on_outside_series: true", c.Selectors.API)
		}
	} else if a.IdleWakesOnOutsideSeries {
		bad("autoscaling.idle_wakes_on_outside_series", "set without idle_replicas: 0")
	}
	if m := a.ColdStartMetric; m != "" && (!metricNameRE.MatchString(m) || !strings.HasSuffix(m, "_seconds")) {
		bad("autoscaling.cold_start_metric", "%q is not the name of a histogram in seconds (without _bucket; it ends in _seconds)", m)
	}
}

// validatePDB checks autoscaling.pdb.
func (c *Config) validatePDB(bad func(field, format string, args ...any)) {
	p := c.Autoscaling.PDB
	if p.MaxUnavailable != "" && p.MinAvailable != "" {
		bad("autoscaling.pdb", "set max_unavailable or min_available, not both (a PodDisruptionBudget takes one)")
		return
	}
	if p.MaxUnavailable != "" {
		n, pct, ok := countOrPercent(p.MaxUnavailable)
		switch {
		case !ok:
			bad("autoscaling.pdb.max_unavailable", "%q is not a count (1) or a percentage (25%%)", p.MaxUnavailable)
		case n == 0:
			bad("autoscaling.pdb.max_unavailable", "%q lets no pod be evicted, which blocks every node drain", p.MaxUnavailable)
		case pct && n > 100:
			bad("autoscaling.pdb.max_unavailable", "%q is above 100%%", p.MaxUnavailable)
		}
	}
	if p.MinAvailable != "" {
		n, pct, ok := countOrPercent(p.MinAvailable)
		minReplicas := int(c.Autoscaling.MinReplicas)
		switch {
		case !ok:
			bad("autoscaling.pdb.min_available", "%q is not a count (2) or a percentage (75%%)", p.MinAvailable)
		case pct && n*minReplicas > 100*(minReplicas-1):
			// Kubernetes rounds a percentage of minAvailable up.
			bad("autoscaling.pdb.min_available", "%q of min_replicas %d rounds up to %d pods, all of them: at its minimum the workload could "+
				"lose no pod, which blocks every node drain; use max_unavailable", p.MinAvailable, minReplicas, (n*minReplicas+99)/100)
		case !pct && n >= minReplicas:
			bad("autoscaling.pdb.min_available", "%d is not below min_replicas %d: at its minimum the workload could lose no pod, which blocks "+
				"every node drain; use at most %d, or max_unavailable", n, minReplicas, minReplicas-1)
		}
	}
}

// countOrPercent parses "3" or "25%".
func countOrPercent(s string) (n int, percent, ok bool) {
	num, percent := strings.CutSuffix(s, "%")
	n, err := strconv.Atoi(num)
	return n, percent, err == nil && n >= 0
}

func sortedLabelKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// validateTriggerAuthentication checks what the generated
// TriggerAuthentication reads: auth modes it knows the parameters of, a
// Secret name, and keys for those parameters only.
func (c *Config) validateTriggerAuthentication(bad func(field, format string, args ...any)) {
	p := c.Autoscaling.Prometheus
	if p.TriggerAuthentication == "" {
		if p.Secret != "" || len(p.SecretKeys) > 0 {
			bad("autoscaling.prometheus.secret", "set without a trigger_authentication to read it")
		}
		return
	}
	params := map[string]bool{}
	seen := map[string]bool{}
	for _, m := range c.AuthModes() {
		if seen[m] {
			bad("autoscaling.prometheus.auth_modes", "%q twice", m)
		}
		seen[m] = true
	}
	// KEDA's Prometheus scaler takes one of bearer and basic
	// (authModes exclusiveSet=bearer;basic;oauth) and fails at run time on both.
	if seen["bearer"] && seen["basic"] {
		bad("autoscaling.prometheus.auth_modes", "%q: bearer and basic exclude each other in KEDA's Prometheus scaler", p.AuthModes)
	}
	for _, m := range c.AuthModes() {
		ps, ok := authModeParams[m]
		if !ok {
			bad("autoscaling.prometheus.auth_modes", "%q: headroom writes the TriggerAuthentication for bearer, basic, tls and custom only", m)
		}
		for _, p := range ps {
			params[p] = true
		}
	}
	if p.Secret != "" && (!dnsNameRE.MatchString(p.Secret) || len(p.Secret) > 253) {
		bad("autoscaling.prometheus.secret", "%q is not a Secret name", p.Secret)
	}
	for _, k := range sortedLabelKeys(p.SecretKeys) {
		if !params[k] {
			bad("autoscaling.prometheus.secret_keys", "%q is no parameter of auth_modes %q (%s)", k, p.AuthModes, strings.Join(sortedParams(params), ", "))
		}
		if v := p.SecretKeys[k]; !secretKeyRE.MatchString(v) {
			bad("autoscaling.prometheus.secret_keys", "%s: %q is not a Secret key", k, v)
		}
	}
}

func sortedParams(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
