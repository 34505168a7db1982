// Package deploy builds the Kubernetes manifests that run the exporter
// itself: a Deployment, its Service, a prometheus-operator ServiceMonitor,
// the Secret that holds the exporter's config file and passwords, and the
// kustomization that lists them. It is a pure function of the catalogue's
// config (the scrape interval and the exporter's job name), built from the
// upstream Go types and marshalled with sigs.k8s.io/yaml.
//
// The exporter does not link it: headroomtool does (docs/architecture.md).
package deploy

import (
	"fmt"
	"math"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/common/model"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/internal/manifest"
)

// Output files, relative to the --exporter-out directory.
const (
	FileKustomization  = "kustomization.yaml"
	FileSecret         = "secret.yaml"
	FileDeployment     = "deployment.yaml"
	FileService        = "service.yaml"
	FileServiceMonitor = "servicemonitor.yaml"
)

// Image is what the Deployment runs: the name `docker build -t headroom .`
// gives the Dockerfile's image. It is a placeholder for a registry's name,
// set with `kustomize edit set image headroom=REGISTRY/headroom:TAG`.
const Image = "headroom"

// What the pod looks like from outside.
const (
	// Port is the exporter's default --web.listen-address port.
	Port     = 9630
	PortName = "http"
	// ConfigDir is where the Secret is mounted: the config file and, beside
	// it, the password files it names.
	ConfigDir  = "/etc/headroom"
	ConfigKey  = "headroom.yml"
	SecretName = "headroom-config"
	// Nobody is the uid and gid of the distroless image's nonroot user.
	Nobody = 65534
	// ScrapeTimeout is the exporter's --scrape.timeout default; the
	// ServiceMonitor asks no more of a scrape (less when the interval is
	// shorter, as Prometheus requires).
	ScrapeTimeout = 10 * time.Second
)

// The password keys of the Secret, mounted as files beside the config.
const (
	PostgresPasswordKey = "postgres-password"
	RedisPasswordKey    = "redis-password"
	// Placeholder is every password's value in the generated Secret: to be
	// replaced before it is applied, never committed with a real one.
	Placeholder = "CHANGE-ME"
)

// What make bench measured (docs/benchmark.md, "Results": the upper ends of
// the ranges at the larger load, 600 clients and 40 databases). The
// resources below are computed from them by the formula of
// docs/kubernetes.md; TestMeasuredInputsAreTheBenchmarks holds the two
// documents and these constants together.
const (
	// MeasuredRSSMiB is the exporter's RSS after its scrapes.
	MeasuredRSSMiB = 26.2
	// MeasuredCPUPerScrape is the exporter's CPU time per scrape.
	MeasuredCPUPerScrape = 2900 * time.Microsecond
)

// The formula's own numbers (docs/kubernetes.md).
const (
	// memoryFactor leaves room above the measured RSS for a Go heap that
	// GOGC=100 lets grow to twice its live size, and for more targets.
	memoryFactor  = 1.5
	memoryStepMiB = 16
	// memoryLimitFactor: the limit is twice the request.
	memoryLimitFactor = 2
	// scrapers is an HA pair of Prometheus servers, each scraping every
	// interval.
	scrapers = 2
	// cfsPeriod is the kernel's CPU quota period: a limit of L cores gives
	// L × 100 ms of CPU each 100 ms. The limit holds both scrapers' scrapes
	// in one period twice over, so that a scrape is never throttled.
	cfsPeriod            = 100 * time.Millisecond
	cpuLimitMargin       = 2
	cpuRequestFloorMilli = 10
	cpuRequestStepMilli  = 10
	cpuLimitStepMilli    = 50
)

// Resources are the container's requests and limits at a scrape interval.
type Resources struct {
	MemoryRequestMiB, MemoryLimitMiB int64
	CPURequestMilli, CPULimitMilli   int64
}

// ComputeResources applies the formula of docs/kubernetes.md to the
// measured inputs:
//
//	memory request = ⌈RSS × 1.5⌉ to 16 MiB; limit = 2 × request
//	CPU request    = max(10m, ⌈CPU per scrape × 2 scrapers / interval⌉ to 10m)
//	CPU limit      = ⌈2 × 2 scrapers × CPU per scrape / 100 ms⌉ to 50m
func ComputeResources(interval time.Duration) Resources {
	memReq := roundUp(MeasuredRSSMiB*memoryFactor, memoryStepMiB)
	average := 1000 * scrapers * MeasuredCPUPerScrape.Seconds() / interval.Seconds()
	cpuReq := max(cpuRequestFloorMilli, roundUp(average, cpuRequestStepMilli))
	burst := 1000 * cpuLimitMargin * scrapers * MeasuredCPUPerScrape.Seconds() / cfsPeriod.Seconds()
	return Resources{
		MemoryRequestMiB: memReq,
		MemoryLimitMiB:   memoryLimitFactor * memReq,
		CPURequestMilli:  cpuReq,
		CPULimitMilli:    roundUp(burst, cpuLimitStepMilli),
	}
}

func roundUp(v float64, step int64) int64 {
	return int64(math.Ceil(v/float64(step))) * step
}

// Requirements are the resources as the container's.
func (r Resources) Requirements() corev1.ResourceRequirements {
	mib := func(n int64) resource.Quantity { return *resource.NewQuantity(n<<20, resource.BinarySI) }
	milli := func(n int64) resource.Quantity { return *resource.NewMilliQuantity(n, resource.DecimalSI) }
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceMemory: mib(r.MemoryRequestMiB), corev1.ResourceCPU: milli(r.CPURequestMilli)},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: mib(r.MemoryLimitMiB), corev1.ResourceCPU: milli(r.CPULimitMilli)},
	}
}

// Generate returns the manifests by file name.
func Generate(cfg *catalogue.Config) (map[string][]byte, error) {
	objects := []struct {
		file    string
		comment string
		obj     any
	}{
		{FileSecret, secretComment, Secret()},
		{FileDeployment, deploymentComment, Deployment(cfg)},
		{FileService, "", Service(cfg)},
		{FileServiceMonitor, serviceMonitorComment, ServiceMonitor(cfg)},
		{FileKustomization, kustomizationComment, Kustomize()},
	}
	files := make(map[string][]byte, len(objects))
	for _, o := range objects {
		b, err := manifest.Marshal(o.obj)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", o.file, err)
		}
		files[o.file] = append([]byte(Header(cfg)+o.comment), b...)
	}
	return files, nil
}

// Header is the comment every file starts with.
func Header(cfg *catalogue.Config) string {
	return fmt.Sprintf("# Generated by `headroom generate --exporter-out` (preset %s); do not edit by hand.\n"+
		"# The exporter's own deployment: docs/kubernetes.md.\n", cfg.Preset)
}

const secretComment = `#
# The exporter's config file and the passwords it reads, never a ConfigMap.
# Every CHANGE-ME and the targets are placeholders: replace the whole Secret
# in an overlay (secretGenerator, behavior: replace) from files kept out of
# version control, as docs/kubernetes.md shows.
`

const deploymentComment = `#
# Requests and limits are computed from make bench's measured RSS and CPU
# per scrape by the formula in docs/kubernetes.md.
`

const serviceMonitorComment = `#
# The job label is the Service's name, the catalogue's exporter_job, which
# the alerts' ExporterAbsent watches; the interval is its scrape_interval.
`

const kustomizationComment = `#
# Apply it through an overlay that sets the namespace, the image and the
# Secret (docs/kubernetes.md), not as it is: its passwords are placeholders.
`

// Labels are on every object; the selector labels pick the exporter's pods.
func Labels() map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":      "headroom",
		"app.kubernetes.io/component": "exporter",
	}
}

func objectMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Labels: Labels()}
}

// name is the Deployment's, Service's and ServiceMonitor's: the Service's
// name becomes the job label of the scrape, which the alerts expect to be
// the exporter_job.
func name(cfg *catalogue.Config) string { return cfg.ExporterJob }

// Config is the exporter's config file the Secret holds: placeholder
// targets whose passwords are password_file paths into the same Secret.
const Config = `# headroom's targets (docs/config.md): replace these with your own.
# No password is written here: each password_file is a key of this Secret,
# mounted beside this file and re-read on each new connection.
postgres:
  - name: postgres
    dsn: postgres://headroom@postgres:5432/postgres?sslmode=require
    password_file: ` + ConfigDir + "/" + PostgresPasswordKey + `
redis:
  - name: redis
    address: redis:6379
    password_file: ` + ConfigDir + "/" + RedisPasswordKey + `
`

// Secret holds the config file and the passwords it reads.
func Secret() *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: objectMeta(SecretName),
		Type:       corev1.SecretTypeOpaque,
		StringData: map[string]string{
			ConfigKey:           Config,
			PostgresPasswordKey: Placeholder,
			RedisPasswordKey:    Placeholder,
		},
	}
}

// Deployment runs one exporter as nobody on a read-only root filesystem.
func Deployment(cfg *catalogue.Config) *appsv1.Deployment {
	yes, no := true, false
	nobody := int64(Nobody)
	replicas := int32(1)
	// Readable by nobody's group (fsGroup), by no one else.
	secretMode := int32(0o440)
	probe := func(path string, period int32) *corev1.Probe {
		return &corev1.Probe{
			ProbeHandler:  corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString(PortName)}},
			PeriodSeconds: period,
		}
	}
	return &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: objectMeta(name(cfg)),
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: Labels()},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: Labels()},
				Spec: corev1.PodSpec{
					// The exporter talks to no Kubernetes API.
					AutomountServiceAccountToken: &no,
					SecurityContext: &corev1.PodSecurityContext{
						RunAsNonRoot:   &yes,
						RunAsUser:      &nobody,
						RunAsGroup:     &nobody,
						FSGroup:        &nobody,
						SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
					},
					Containers: []corev1.Container{{
						Name:  "headroom",
						Image: Image,
						// The image's entrypoint is `headroom serve`.
						Args:           []string{"--config.file=" + ConfigDir + "/" + ConfigKey},
						Ports:          []corev1.ContainerPort{{Name: PortName, ContainerPort: Port, Protocol: corev1.ProtocolTCP}},
						LivenessProbe:  probe("/-/healthy", 10),
						ReadinessProbe: probe("/-/ready", 5),
						Resources:      ComputeResources(time.Duration(cfg.ScrapeInterval)).Requirements(),
						VolumeMounts:   []corev1.VolumeMount{{Name: "config", MountPath: ConfigDir, ReadOnly: true}},
						SecurityContext: &corev1.SecurityContext{
							RunAsNonRoot:             &yes,
							AllowPrivilegeEscalation: &no,
							ReadOnlyRootFilesystem:   &yes,
							Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
						},
					}},
					Volumes: []corev1.Volume{{
						Name:         "config",
						VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: SecretName, DefaultMode: &secretMode}},
					}},
				},
			},
		},
	}
}

// Service exposes the exporter's port to Prometheus.
func Service(cfg *catalogue.Config) *corev1.Service {
	return &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: objectMeta(name(cfg)),
		Spec: corev1.ServiceSpec{
			Selector: Labels(),
			Ports:    []corev1.ServicePort{{Name: PortName, Port: Port, TargetPort: intstr.FromString(PortName), Protocol: corev1.ProtocolTCP}},
		},
	}
}

// ServiceMonitor has the operator's Prometheus scrape /metrics at the
// catalogue's scrape interval, every rate window of the rules spanning at
// least two of its scrapes.
func ServiceMonitor(cfg *catalogue.Config) *monitoringv1.ServiceMonitor {
	interval := time.Duration(cfg.ScrapeInterval)
	return &monitoringv1.ServiceMonitor{
		TypeMeta:   metav1.TypeMeta{APIVersion: "monitoring.coreos.com/v1", Kind: "ServiceMonitor"},
		ObjectMeta: objectMeta(name(cfg)),
		Spec: monitoringv1.ServiceMonitorSpec{
			Selector: metav1.LabelSelector{MatchLabels: Labels()},
			Endpoints: []monitoringv1.Endpoint{{
				Port:          PortName,
				Path:          "/metrics",
				Interval:      monitoringv1.Duration(duration(interval)),
				ScrapeTimeout: monitoringv1.Duration(duration(min(ScrapeTimeout, interval))),
			}},
		},
	}
}

// duration is a Go duration as Prometheus writes it (30s, 1m30s).
func duration(d time.Duration) string { return model.Duration(d).String() }

// Kustomization is the kustomization.yaml's schema, the part of
// sigs.k8s.io/kustomize/api/types.Kustomization it uses; that module stays
// out of the main module's dependencies, and internal/tools/kustomizecheck
// decodes the file strictly into the upstream type.
type Kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Resources  []string `json:"resources"`
}

// Kustomize lists every manifest, the Secret first so that the pods it
// mounts find it.
func Kustomize() *Kustomization {
	return &Kustomization{
		APIVersion: "kustomize.config.k8s.io/v1beta1",
		Kind:       "Kustomization",
		Resources:  []string{FileSecret, FileDeployment, FileService, FileServiceMonitor},
	}
}
