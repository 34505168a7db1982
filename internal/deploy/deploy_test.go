package deploy

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	sigsyaml "sigs.k8s.io/yaml"

	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/collectors"
	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/drift"
	"github.com/headroom-dev/headroom/internal/endpoints"
	"github.com/headroom-dev/headroom/internal/manifest"
)

// committedDir is where make generate writes the manifests.
const committedDir = "../../mixin/k8s/exporter"

// preset is the config make generate writes them from.
const preset = catalogue.SetHealthAgent

func generate(t *testing.T) (*catalogue.Config, map[string][]byte) {
	t.Helper()
	cfg, err := catalogue.Preset(preset)
	if err != nil {
		t.Fatal(err)
	}
	files, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, files
}

// TestCommittedManifests fails when mixin/k8s/exporter is not what the
// generator makes: run make generate.
func TestCommittedManifests(t *testing.T) {
	_, files := generate(t)
	drift.Check(t, committedDir, files)
}

// decoders read each file strictly into its upstream type.
var decoders = map[string]func() any{
	FileSecret:         func() any { return &corev1.Secret{} },
	FileDeployment:     func() any { return &appsv1.Deployment{} },
	FileService:        func() any { return &corev1.Service{} },
	FileServiceMonitor: func() any { return &monitoringv1.ServiceMonitor{} },
	FileKustomization:  func() any { return &Kustomization{} },
}

// TestRoundTrip: each committed file decodes strictly into its upstream
// type and marshals back to the same bytes after its comment header, so no
// field is written that the type does not know or would drop.
func TestRoundTrip(t *testing.T) {
	_, files := generate(t)
	if len(files) != len(decoders) {
		t.Fatalf("the generator makes %d files, the test decodes %d", len(files), len(decoders))
	}
	for name, obj := range decoders {
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join(committedDir, name))
			if err != nil {
				t.Fatal(err)
			}
			v := obj()
			if err := sigsyaml.UnmarshalStrict(b, v); err != nil {
				t.Fatalf("does not decode strictly into %T: %v", v, err)
			}
			again, err := manifest.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			header, body, ok := bytes.Cut(b, []byte("\napiVersion: "))
			if !ok {
				t.Fatal("no apiVersion line")
			}
			if !bytes.Equal(append([]byte("apiVersion: "), body...), again) {
				t.Errorf("re-marshalled %T differs from the file:\n%s\nwant\n%s", v, again, b)
			}
			for _, line := range strings.Split(string(header), "\n") {
				if !strings.HasPrefix(line, "#") {
					t.Errorf("header line %q is not a comment", line)
				}
			}
			// Strictness is what makes the round trip a check: a field the
			// type does not have is refused, not dropped.
			misspelt := append(bytes.Clone(b), "kinds: x\n"...)
			if err := sigsyaml.UnmarshalStrict(misspelt, obj()); err == nil {
				t.Errorf("an unknown field decoded into %T", v)
			}
		})
	}
}

func decode[T any](t *testing.T, files map[string][]byte, name string) *T {
	t.Helper()
	var v T
	if err := sigsyaml.UnmarshalStrict(files[name], &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &v
}

// TestSecretConfigServes materialises the Secret as the kubelet mounts it
// (one file a key), loads its config file with the exporter's own loader
// and serves it with the exporter's own endpoints: the Deployment's config
// flag names a mounted key, every password is a password_file into the
// same Secret, and both probes answer 200.
func TestSecretConfigServes(t *testing.T) {
	_, files := generate(t)
	secret := decode[corev1.Secret](t, files, FileSecret)
	dep := decode[appsv1.Deployment](t, files, FileDeployment)
	pod := dep.Spec.Template.Spec
	c := pod.Containers[0]

	if len(pod.Volumes) != 1 || pod.Volumes[0].Secret == nil || pod.Volumes[0].Secret.SecretName != secret.Name {
		t.Fatalf("volumes %+v do not mount the Secret %s", pod.Volumes, secret.Name)
	}
	if len(c.VolumeMounts) != 1 || c.VolumeMounts[0].Name != pod.Volumes[0].Name || !c.VolumeMounts[0].ReadOnly {
		t.Fatalf("mounts %+v", c.VolumeMounts)
	}
	mount := c.VolumeMounts[0].MountPath
	configFile, ok := strings.CutPrefix(strings.Join(c.Args, " "), "--config.file=")
	if !ok || filepath.Dir(configFile) != mount {
		t.Fatalf("args %q: want --config.file= a file in %s", c.Args, mount)
	}
	if _, ok := secret.StringData[filepath.Base(configFile)]; !ok {
		t.Fatalf("--config.file %s is no key of the Secret", configFile)
	}

	dir := t.TempDir()
	for key, value := range secret.StringData {
		if strings.Contains(value, Placeholder) && value != Placeholder {
			t.Errorf("key %s holds the placeholder inside other text: the config must not carry passwords", key)
		}
		if err := os.WriteFile(filepath.Join(dir, key), []byte(value), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	raw := strings.ReplaceAll(secret.StringData[filepath.Base(configFile)], mount+"/", dir+"/")
	cfg, err := config.Parse(configFile, []byte(raw))
	if err != nil {
		t.Fatalf("the Secret's config does not load: %v", err)
	}
	var secrets []config.Secret
	for _, p := range cfg.Postgres {
		secrets = append(secrets, p.Secret)
	}
	for _, r := range cfg.Redis {
		secrets = append(secrets, r.Secret)
	}
	if len(secrets) == 0 {
		t.Fatal("the config has no target with a password")
	}
	for _, s := range secrets {
		if s.Value != "" || s.Env != "" || filepath.Dir(s.File) != dir {
			t.Errorf("password %+v: want a password_file from the Secret", s)
		}
		if pw, _, err := s.Password(); err != nil || pw != Placeholder {
			t.Errorf("password_file %s reads %q, %v", s.File, pw, err)
		}
	}

	exporter, err := collectors.New(cfg, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := endpoints.New(exporter, endpoints.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil {
			t.Fatalf("probe %+v is not an HTTP GET", p)
		}
		if p.HTTPGet.Port.StrVal != c.Ports[0].Name || c.Ports[0].ContainerPort != Port {
			t.Errorf("probe port %v, container port %+v", p.HTTPGet.Port, c.Ports[0])
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p.HTTPGet.Path, nil))
		if rec.Code != http.StatusOK {
			t.Errorf("the exporter answers %s with %d", p.HTTPGet.Path, rec.Code)
		}
	}
	if c.LivenessProbe.HTTPGet.Path != "/-/healthy" || c.ReadinessProbe.HTTPGet.Path != "/-/ready" {
		t.Errorf("liveness %s, readiness %s", c.LivenessProbe.HTTPGet.Path, c.ReadinessProbe.HTTPGet.Path)
	}
	for name, b := range files {
		if bytes.Contains(b, []byte("kind: ConfigMap")) {
			t.Errorf("%s holds a ConfigMap", name)
		}
	}
}

// TestDeploymentRunsLocked: non-root as the image's nobody, a read-only
// root filesystem, no privilege escalation or capabilities, the runtime's
// seccomp profile, no service account token.
func TestDeploymentRunsLocked(t *testing.T) {
	_, files := generate(t)
	pod := decode[appsv1.Deployment](t, files, FileDeployment).Spec.Template.Spec
	psc, sc := pod.SecurityContext, pod.Containers[0].SecurityContext
	if psc == nil || sc == nil {
		t.Fatal("no security context")
	}
	checks := []struct {
		what string
		ok   bool
	}{
		{"pod runAsNonRoot", psc.RunAsNonRoot != nil && *psc.RunAsNonRoot},
		{"container runAsNonRoot", sc.RunAsNonRoot != nil && *sc.RunAsNonRoot},
		{"runAsUser 65534", psc.RunAsUser != nil && *psc.RunAsUser == Nobody},
		{"runAsGroup 65534", psc.RunAsGroup != nil && *psc.RunAsGroup == Nobody},
		{"fsGroup 65534 (reads the 0440 Secret)", psc.FSGroup != nil && *psc.FSGroup == Nobody},
		{"seccomp RuntimeDefault", psc.SeccompProfile != nil && psc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault},
		{"readOnlyRootFilesystem", sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem},
		{"allowPrivilegeEscalation false", sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation},
		{"capabilities drop ALL", sc.Capabilities != nil && slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) && len(sc.Capabilities.Add) == 0},
		{"no privileged", sc.Privileged == nil || !*sc.Privileged},
		{"no service account token", pod.AutomountServiceAccountToken != nil && !*pod.AutomountServiceAccountToken},
		{"Secret mode 0440", pod.Volumes[0].Secret.DefaultMode != nil && *pod.Volumes[0].Secret.DefaultMode == 0o440},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: not so in %+v / %+v", c.what, psc, sc)
		}
	}
	// The Dockerfile's USER is the same nobody.
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^USER 65534:65534$`).Match(dockerfile) {
		t.Errorf("the Dockerfile does not run as %d:%d", Nobody, Nobody)
	}
}

// TestServiceMonitorScrapesTheService: the ServiceMonitor selects the
// Service by its labels and scrapes its named port at the catalogue's
// interval; the Service, whose name becomes the job label, is named after
// the catalogue's exporter_job and selects the Deployment's pods.
func TestServiceMonitorScrapesTheService(t *testing.T) {
	cfg, files := generate(t)
	svc := decode[corev1.Service](t, files, FileService)
	sm := decode[monitoringv1.ServiceMonitor](t, files, FileServiceMonitor)
	dep := decode[appsv1.Deployment](t, files, FileDeployment)

	if svc.Name != cfg.ExporterJob {
		t.Errorf("Service %s: the job label would not be exporter_job %s", svc.Name, cfg.ExporterJob)
	}
	if !reflect.DeepEqual(sm.Spec.Selector.MatchLabels, svc.Labels) {
		t.Errorf("ServiceMonitor selects %v, the Service has %v", sm.Spec.Selector.MatchLabels, svc.Labels)
	}
	if !reflect.DeepEqual(svc.Spec.Selector, dep.Spec.Template.Labels) || !reflect.DeepEqual(dep.Spec.Selector.MatchLabels, dep.Spec.Template.Labels) {
		t.Errorf("Service selects %v, Deployment selects %v, pods have %v", svc.Spec.Selector, dep.Spec.Selector.MatchLabels, dep.Spec.Template.Labels)
	}
	if len(sm.Spec.Endpoints) != 1 || len(svc.Spec.Ports) != 1 {
		t.Fatalf("endpoints %+v, ports %+v", sm.Spec.Endpoints, svc.Spec.Ports)
	}
	ep, port := sm.Spec.Endpoints[0], svc.Spec.Ports[0]
	if ep.Port != port.Name || port.TargetPort.StrVal != dep.Spec.Template.Spec.Containers[0].Ports[0].Name {
		t.Errorf("ServiceMonitor port %s, Service port %s → %v", ep.Port, port.Name, port.TargetPort)
	}
	if ep.Path != "/metrics" || string(ep.Interval) != cfg.ScrapeInterval.String() || ep.ScrapeTimeout != "10s" {
		t.Errorf("endpoint %+v: want /metrics every %s, timeout 10s", ep, cfg.ScrapeInterval)
	}
}

// TestComputeResources: the formula at intervals where each of its terms
// decides.
func TestComputeResources(t *testing.T) {
	for _, tc := range []struct {
		interval time.Duration
		want     Resources
	}{
		// The preset's 30s: the CPU request is the floor.
		{30 * time.Second, Resources{MemoryRequestMiB: 48, MemoryLimitMiB: 96, CPURequestMilli: 10, CPULimitMilli: 150}},
		// 2 × 2.9 ms / 1 s = 5.8m: still the floor.
		{time.Second, Resources{MemoryRequestMiB: 48, MemoryLimitMiB: 96, CPURequestMilli: 10, CPULimitMilli: 150}},
		// 2 × 2.9 ms / 100 ms = 58m, rounded up to 60m.
		{100 * time.Millisecond, Resources{MemoryRequestMiB: 48, MemoryLimitMiB: 96, CPURequestMilli: 60, CPULimitMilli: 150}},
	} {
		if got := ComputeResources(tc.interval); got != tc.want {
			t.Errorf("at %s: %+v, want %+v", tc.interval, got, tc.want)
		}
	}
}

// TestMeasuredInputsAreTheBenchmarks holds the constants to
// docs/benchmark.md's results (the upper end of each range at the larger
// load) and docs/kubernetes.md's formula to what the Deployment carries.
func TestMeasuredInputsAreTheBenchmarks(t *testing.T) {
	bench, err := os.ReadFile("../../docs/benchmark.md")
	if err != nil {
		t.Fatal(err)
	}
	row := func(prefix string) string {
		for _, line := range strings.Split(string(bench), "\n") {
			if strings.HasPrefix(line, "| "+prefix) {
				cells := strings.Split(strings.Trim(line, "| "), "|")
				return strings.TrimSpace(cells[len(cells)-1])
			}
		}
		t.Fatalf("docs/benchmark.md has no row %q", prefix)
		return ""
	}
	upper := regexp.MustCompile(`^[0-9.]+–([0-9.]+)`)
	number := func(cell string) float64 {
		m := upper.FindStringSubmatch(cell)
		if m == nil {
			t.Fatalf("no range at the start of %q", cell)
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	if rss := number(row("RSS (anonymous)")); rss != MeasuredRSSMiB {
		t.Errorf("docs/benchmark.md measures %v MiB RSS, MeasuredRSSMiB is %v", rss, MeasuredRSSMiB)
	}
	if cpu := number(row("exporter CPU per scrape")); cpu != MeasuredCPUPerScrape.Seconds()*1000 {
		t.Errorf("docs/benchmark.md measures %v ms CPU per scrape, MeasuredCPUPerScrape is %v", cpu, MeasuredCPUPerScrape)
	}

	doc, err := os.ReadFile("../../docs/kubernetes.md")
	if err != nil {
		t.Fatal(err)
	}
	cfg, files := generate(t)
	r := ComputeResources(time.Duration(cfg.ScrapeInterval))
	res := decode[appsv1.Deployment](t, files, FileDeployment).Spec.Template.Spec.Containers[0].Resources
	for _, want := range []struct{ doc, manifest string }{
		{strconv.FormatFloat(MeasuredRSSMiB, 'f', -1, 64) + " MiB", ""},
		{strconv.FormatFloat(MeasuredCPUPerScrape.Seconds()*1000, 'f', -1, 64) + " ms", ""},
		{"`" + strconv.FormatInt(r.MemoryRequestMiB, 10) + "Mi`", res.Requests.Memory().String()},
		{"`" + strconv.FormatInt(r.MemoryLimitMiB, 10) + "Mi`", res.Limits.Memory().String()},
		{"`" + strconv.FormatInt(r.CPURequestMilli, 10) + "m`", res.Requests.Cpu().String()},
		{"`" + strconv.FormatInt(r.CPULimitMilli, 10) + "m`", res.Limits.Cpu().String()},
	} {
		if !bytes.Contains(doc, []byte(want.doc)) {
			t.Errorf("docs/kubernetes.md does not say %s", want.doc)
		}
		if want.manifest != "" && "`"+want.manifest+"`" != want.doc {
			t.Errorf("the Deployment carries %s, the formula gives %s", want.manifest, want.doc)
		}
	}
}
