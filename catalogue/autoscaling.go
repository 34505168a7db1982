package catalogue

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"time"

	"github.com/prometheus/common/model"
)

// Autoscalers a config can ask for (Autoscaling.Autoscaler).
const (
	// AutoscalerNone writes no autoscaler manifests.
	AutoscalerNone = "none"
	// AutoscalerKEDA writes a KEDA ScaledObject from the catalogue's KEDA
	// triggers, and a plain HPA for clusters without KEDA (never both at once).
	AutoscalerKEDA = "keda"
	// AutoscalerHPA writes an autoscaling/v2 HorizontalPodAutoscaler.
	AutoscalerHPA = "hpa"
)

// Autoscaling configures the autoscaler manifests `headroom generate
// --k8s-out` writes (package alerts/autoscale). Their thresholds are not
// here: they are the catalogue's (Trigger.Threshold and Trigger.Activation,
// with the triggers' overrides), so that an alert and the scaler acting on
// the same signal cannot drift apart. A trigger's `where` scopes never reach
// a scaler: one workload has one threshold per metric, so the scaler takes
// the trigger's own (default) one.
type Autoscaling struct {
	// Autoscaler is keda, hpa or none.
	Autoscaler string `yaml:"autoscaler"`
	// Namespace of the manifests; empty leaves it to kubectl's.
	Namespace string `yaml:"namespace"`
	// Cluster is the value of cluster_label for the cluster the scaled
	// workload runs in. With a cluster label, one Prometheus (or Thanos)
	// holds every cluster's series, and KEDA's Prometheus triggers select
	// this cluster's only, so that a scaler never reads another cluster's
	// load; required then with the keda autoscaler.
	Cluster string `yaml:"cluster"`
	// ScaleTarget is the workload scaled; its name defaults to the service.
	ScaleTarget ScaleTarget `yaml:"scale_target"`
	MinReplicas int32       `yaml:"min_replicas"`
	MaxReplicas int32       `yaml:"max_replicas"`
	// CPUUtilization and MemoryUtilization (0..1) are the HPA's resource
	// targets when the catalogue has no ResourcePressureCPU/Memory trigger
	// (whose thresholds are used when it has).
	CPUUtilization    float64 `yaml:"cpu_utilization"`
	MemoryUtilization float64 `yaml:"memory_utilization"`
	// PollingInterval and CooldownPeriod are KEDA's.
	PollingInterval model.Duration `yaml:"polling_interval"`
	CooldownPeriod  model.Duration `yaml:"cooldown_period"`
	// ScaleUp and ScaleDown are the HPA behaviour (also KEDA's
	// advanced.horizontalPodAutoscalerConfig.behavior); zero values leave
	// Kubernetes' defaults.
	ScaleUp   ScalingRules `yaml:"scale_up"`
	ScaleDown ScalingRules `yaml:"scale_down"`
	// Prometheus is the server KEDA's Prometheus triggers query.
	Prometheus ScalerPrometheus `yaml:"prometheus"`
	// Fallback is what KEDA does when a Prometheus trigger fails.
	Fallback ScalerFallback `yaml:"fallback"`
	// DB guards the database against the scale-out itself.
	DB DBGuard `yaml:"db"`
	// PodSelector is the labels of the workload's pods (the
	// PodDisruptionBudget's selector); empty is app: <scale target name>.
	PodSelector map[string]string `yaml:"pod_selector"`
	// PDB is the workload's PodDisruptionBudget (workload.go).
	PDB PDB `yaml:"pdb"`
	// VPA is a VerticalPodAutoscaler in Off mode, for recommendations.
	VPA VPA `yaml:"vpa"`
	// IdleReplicas, set to 0 with KEDA, lets KEDA scale the workload to
	// zero when no trigger is active (idleReplicaCount: 0), up to
	// min_replicas on the first activation; unset keeps min_replicas.
	IdleReplicas *int32 `yaml:"idle_replicas"`
	// IdleWakesOnOutsideSeries says the series the scalers read (selectors.api)
	// come from outside the workload (an ingress, a gateway, a queue's
	// exporter) and go on at zero replicas: required with idle_replicas: 0,
	// since series the pods expose vanish with them and nothing would ever
	// activate the workload again.
	IdleWakesOnOutsideSeries bool `yaml:"idle_wakes_on_outside_series"`
	// ColdStartMetric is the app's histogram of cold-start latency in
	// seconds (without _bucket), for a recording rule and a panel; empty
	// when the app exposes none.
	ColdStartMetric string `yaml:"cold_start_metric"`
}

// DBGuard: every pod opens its own database pool, so max_replicas x the
// pool size per pod must fit what the database (or PgBouncer) accepts, or
// the scale-out meant to help exhausts its connections (KEDA issue #476).
// Validate refuses a max_replicas whose pools exceed UsableConnections,
// naming both numbers, unless AllowExceedingConnections is set.
type DBGuard struct {
	// PoolSizePerPod is the most connections one pod's pool opens; 0
	// derives it from Cores as 2 x cores + 5 (the HA guide's sizing).
	PoolSizePerPod int `yaml:"pool_size_per_pod"`
	// Cores per pod for that derivation; 0 takes resources.cpu_cores.
	Cores float64 `yaml:"cores"`
	// UsableConnections is what this service may open: PostgreSQL's
	// max_connections minus superuser_reserved_connections (and other
	// clients' share), or PgBouncer's max_client_conn. 0 turns the guard off.
	UsableConnections int `yaml:"usable_connections"`
	// AllowExceedingConnections lets a max_replicas through whose pools
	// exceed UsableConnections.
	AllowExceedingConnections bool `yaml:"allow_exceeding_connections"`
	// ConnectsThrough is what the API's pools connect to: postgres (the
	// default; the alert ScaleOutExceedsDBConnections compares with the
	// primary's headroom_postgres_usable_connections) or pgbouncer (with
	// headroom_pgbouncer_config_max_client_connections, PgBouncer's
	// max_client_conn).
	ConnectsThrough string `yaml:"connects_through"`
}

// What the API's pools connect to (DBGuard.ConnectsThrough).
const (
	ConnectsThroughPostgres  = "postgres"
	ConnectsThroughPgBouncer = "pgbouncer"
)

// DBConnectsThrough is autoscaling.db.connects_through, postgres when unset.
func (c *Config) DBConnectsThrough() string {
	if c.Autoscaling.DB.ConnectsThrough == "" {
		return ConnectsThroughPostgres
	}
	return c.Autoscaling.DB.ConnectsThrough
}

// PoolSizePerPod is autoscaling.db.pool_size_per_pod, else 2 x cores + 5
// from autoscaling.db.cores or resources.cpu_cores; 0 when neither is known.
func (c *Config) PoolSizePerPod() int {
	db := c.Autoscaling.DB
	if db.PoolSizePerPod > 0 {
		return db.PoolSizePerPod
	}
	cores := db.Cores
	if cores <= 0 {
		cores = c.Resources.CPUCores
	}
	if cores <= 0 {
		return 0
	}
	return int(math.Ceil(2*cores)) + 5
}

// DBGuardWarning says what to set when a config scales out but its pool
// size per pod is unknown, and "" otherwise (no autoscaler, or a pool size
// known). Without it nothing guards the database against the scale-out:
// no alert ScaleOutExceedsDBConnections, no connection headroom stat and no
// check when generating. It is a warning rather than an error because the
// number cannot be guessed (the AMAS guide gives neither a pool size nor
// cores), and a bundle without the guard still alerts and scales.
func (c *Config) DBGuardWarning() string {
	a := c.Autoscaling
	if a.Autoscaler == "" || a.Autoscaler == AutoscalerNone || c.PoolSizePerPod() > 0 {
		return ""
	}
	return fmt.Sprintf("autoscaling scales %s to %d replicas but no database pool size per pod is known, so nothing guards "+
		"the database against the scale-out (no alert ScaleOutExceedsDBConnections, no DB connection headroom stat, no check "+
		"here); set autoscaling.db.pool_size_per_pod (or autoscaling.db.cores, or resources.cpu_cores, for 2 x cores + 5), "+
		"and autoscaling.db.usable_connections for the check when generating",
		c.ScaleTargetName(), a.MaxReplicas)
}

// ScaleTarget names the scaled workload.
type ScaleTarget struct {
	APIVersion string `yaml:"api_version"`
	Kind       string `yaml:"kind"`
	// Name defaults to the config's service.
	Name string `yaml:"name"`
}

// ScalingRules is one direction of an HPA's behaviour: a stabilisation
// window and at most Percent % or Pods pods per Period, the larger or the
// smaller of the two by SelectPolicy (Max or Min).
type ScalingRules struct {
	StabilizationWindow model.Duration `yaml:"stabilization_window"`
	Percent             int32          `yaml:"percent"`
	Pods                int32          `yaml:"pods"`
	Period              model.Duration `yaml:"period"`
	SelectPolicy        string         `yaml:"select_policy"`
}

// IsZero reports whether no rule is set.
func (r ScalingRules) IsZero() bool { return r == ScalingRules{} }

// ScalerPrometheus is where KEDA's Prometheus triggers send their queries
// and how they authenticate. Credentials are never part of the config: they
// live in a Secret that a TriggerAuthentication (named here) reads.
type ScalerPrometheus struct {
	ServerAddress string `yaml:"server_address"`
	// TriggerAuthentication names a TriggerAuthentication (or, with
	// trigger_authentication_kind ClusterTriggerAuthentication, a cluster
	// one); empty for a Prometheus without authentication.
	TriggerAuthentication     string `yaml:"trigger_authentication"`
	TriggerAuthenticationKind string `yaml:"trigger_authentication_kind"`
	// AuthModes is the Prometheus scaler's authModes (bearer, basic, tls,
	// custom); required with a trigger authentication.
	AuthModes string `yaml:"auth_modes"`
	// Secret is the Secret the generated TriggerAuthentication reads the
	// credentials from, by reference; empty is the TriggerAuthentication's
	// name. SecretKeys maps a KEDA parameter (bearerToken, username ...) to
	// its key in the Secret; a parameter not there is its own key.
	Secret     string            `yaml:"secret"`
	SecretKeys map[string]string `yaml:"secret_keys"`
}

// ScalerFallback: after FailureThreshold failed queries in a row a trigger
// stands for Replicas replicas, or for the current count when that is higher.
type ScalerFallback struct {
	FailureThreshold int32 `yaml:"failure_threshold"`
	Replicas         int32 `yaml:"replicas"`
}

// ScaleTargetName is the scaled workload's name: scale_target.name, else the service.
func (c *Config) ScaleTargetName() string {
	if c.Autoscaling.ScaleTarget.Name != "" {
		return c.Autoscaling.ScaleTarget.Name
	}
	return c.Service
}

// ScaledObjectName is the name of the KEDA ScaledObject headroom writes.
func (c *Config) ScaledObjectName() string { return c.ScaleTargetName() + "-scaler" }

// HPAName is the name of the plain HorizontalPodAutoscaler headroom writes.
func (c *Config) HPAName() string { return c.ScaleTargetName() + "-hpa" }

// HPANames are the HorizontalPodAutoscalers that may scale the target: with
// KEDA the one KEDA makes for the ScaledObject (keda-hpa-<name>) or, on a
// cluster without KEDA, the plain one; otherwise the plain one.
func (c *Config) HPANames() []string {
	if c.Autoscaling.Autoscaler == AutoscalerKEDA {
		return []string{"keda-hpa-" + c.ScaledObjectName(), c.HPAName()}
	}
	return []string{c.HPAName()}
}

func defaultAutoscaling() Autoscaling {
	return Autoscaling{
		Autoscaler:        AutoscalerNone,
		ScaleTarget:       ScaleTarget{APIVersion: "apps/v1", Kind: "Deployment"},
		MinReplicas:       1,
		MaxReplicas:       10,
		CPUUtilization:    0.7,
		MemoryUtilization: 0.8,
		PollingInterval:   model.Duration(30 * time.Second),
		CooldownPeriod:    model.Duration(300 * time.Second),
		Prometheus: ScalerPrometheus{ServerAddress: "http://prometheus.monitoring.svc.cluster.local:9090", TriggerAuthenticationKind: "TriggerAuthentication",
			SecretKeys: map[string]string{}},
		Fallback: ScalerFallback{FailureThreshold: 3, Replicas: 1},
		PDB:      PDB{Enabled: true},
		// Empty, not nil, so that a config document's {} reads back equal.
		PodSelector: map[string]string{},
	}
}

var dnsNameRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

// validateAutoscaling checks the autoscaling section; bad is Validate's.
func (c *Config) validateAutoscaling(bad func(field, format string, args ...any)) {
	a := c.Autoscaling
	switch a.Autoscaler {
	case AutoscalerNone:
		return
	case AutoscalerKEDA, AutoscalerHPA:
	default:
		bad("autoscaling.autoscaler", "%q is not one of keda, hpa, none", a.Autoscaler)
		return
	}
	if a.Namespace != "" && !dnsNameRE.MatchString(a.Namespace) {
		bad("autoscaling.namespace", "%q is not a namespace name", a.Namespace)
	}
	if n := c.ScaleTargetName(); !dnsNameRE.MatchString(n) || len(n) > 240 {
		bad("autoscaling.scale_target.name", "%q is not a Kubernetes object name", n)
	}
	if a.ScaleTarget.Kind == "" || a.ScaleTarget.APIVersion == "" {
		bad("autoscaling.scale_target", "api_version and kind must be set")
	}
	if a.MinReplicas < 1 {
		bad("autoscaling.min_replicas", "must be >= 1 (CPU and memory triggers cannot scale from zero)")
	}
	if a.MaxReplicas < a.MinReplicas {
		bad("autoscaling.max_replicas", "%d is below min_replicas %d", a.MaxReplicas, a.MinReplicas)
	}
	for field, u := range map[string]float64{"autoscaling.cpu_utilization": a.CPUUtilization, "autoscaling.memory_utilization": a.MemoryUtilization} {
		if u <= 0 || u > 1 {
			bad(field, "%s is out of range for unit ratio (%s): it must be above 0 and at most 1%s", Num(u), UnitRanges[UnitRatio].what, percentHint(u))
		}
	}
	for field, r := range map[string]ScalingRules{"autoscaling.scale_up": a.ScaleUp, "autoscaling.scale_down": a.ScaleDown} {
		if r.IsZero() {
			continue
		}
		if r.StabilizationWindow < 0 || time.Duration(r.StabilizationWindow) > time.Hour {
			bad(field+".stabilization_window", "must be between 0 and 1h")
		}
		if r.Percent < 0 || r.Pods < 0 {
			bad(field, "percent and pods must be >= 0")
		}
		if (r.Percent > 0 || r.Pods > 0) && (r.Period <= 0 || time.Duration(r.Period) > 30*time.Minute) {
			bad(field+".period", "must be between 1s and 30m")
		}
		if r.SelectPolicy != "" && r.SelectPolicy != "Max" && r.SelectPolicy != "Min" && r.SelectPolicy != "Disabled" {
			bad(field+".select_policy", "%q is not Max, Min or Disabled", r.SelectPolicy)
		}
	}
	c.validateDBGuard(bad)
	c.validateWorkload(bad)
	if a.Cluster != "" && c.ClusterLabel == "" {
		bad("autoscaling.cluster", "%q is set but cluster_label is empty: set cluster_label to the label that holds it", a.Cluster)
	}
	if a.Autoscaler != AutoscalerKEDA {
		return
	}
	if c.ClusterLabel != "" && a.Cluster == "" {
		bad("autoscaling.cluster", "must be set when cluster_label (%q) is: the KEDA triggers' queries must select the cluster they scale, "+
			"or a scaler reads every cluster's load", c.ClusterLabel)
	}
	if a.PollingInterval < model.Duration(time.Second) {
		bad("autoscaling.polling_interval", "must be at least 1s")
	}
	if a.CooldownPeriod < 0 {
		bad("autoscaling.cooldown_period", "must be >= 0")
	}
	u, err := url.Parse(a.Prometheus.ServerAddress)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		bad("autoscaling.prometheus.server_address", "%q is not an http(s) URL", a.Prometheus.ServerAddress)
	case u.User != nil:
		bad("autoscaling.prometheus.server_address", "must not carry credentials; name a TriggerAuthentication in autoscaling.prometheus.trigger_authentication")
	}
	if a.Prometheus.TriggerAuthentication != "" {
		if !dnsNameRE.MatchString(a.Prometheus.TriggerAuthentication) {
			bad("autoscaling.prometheus.trigger_authentication", "%q is not a Kubernetes object name", a.Prometheus.TriggerAuthentication)
		}
		if a.Prometheus.AuthModes == "" {
			bad("autoscaling.prometheus.auth_modes", "must be set with a trigger_authentication (bearer, basic, tls or custom)")
		}
	}
	c.validateTriggerAuthentication(bad)
	if k := a.Prometheus.TriggerAuthenticationKind; k != "TriggerAuthentication" && k != "ClusterTriggerAuthentication" {
		bad("autoscaling.prometheus.trigger_authentication_kind", "%q is not TriggerAuthentication or ClusterTriggerAuthentication", k)
	}
	if a.Fallback.FailureThreshold < 1 {
		bad("autoscaling.fallback.failure_threshold", "must be >= 1")
	}
	if a.Fallback.Replicas < a.MinReplicas || a.Fallback.Replicas > a.MaxReplicas {
		bad("autoscaling.fallback.replicas", "%d is outside min_replicas..max_replicas (%d..%d)", a.Fallback.Replicas, a.MinReplicas, a.MaxReplicas)
	}
}

// validateDBGuard refuses a max_replicas whose database pools do not fit.
func (c *Config) validateDBGuard(bad func(field, format string, args ...any)) {
	db := c.Autoscaling.DB
	if db.PoolSizePerPod < 0 || db.Cores < 0 || db.UsableConnections < 0 {
		bad("autoscaling.db", "pool_size_per_pod, cores and usable_connections must be >= 0")
		return
	}
	if t := db.ConnectsThrough; t != "" && t != ConnectsThroughPostgres && t != ConnectsThroughPgBouncer {
		bad("autoscaling.db.connects_through", "%q is not postgres or pgbouncer", t)
	}
	if db.UsableConnections == 0 {
		return
	}
	pool := c.PoolSizePerPod()
	if pool == 0 {
		bad("autoscaling.db.pool_size_per_pod", "must be set (or cores, or resources.cpu_cores) when usable_connections is")
		return
	}
	maxReplicas := int(c.Autoscaling.MaxReplicas)
	if need := maxReplicas * pool; need > db.UsableConnections && !db.AllowExceedingConnections {
		bad("autoscaling.max_replicas", "%d replicas x %d connections per pod = %d connections, more than the %d usable "+
			"(autoscaling.db.usable_connections): the scale-out would exhaust the database; lower max_replicas to %d, "+
			"shrink the pools or add PgBouncer, or set autoscaling.db.allow_exceeding_connections: true",
			maxReplicas, pool, need, db.UsableConnections, db.UsableConnections/pool)
	}
}
