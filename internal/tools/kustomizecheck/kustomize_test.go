package kustomizecheck

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// exporterDir is what `make generate` writes with --exporter-out, three
// levels above this package (internal/tools/kustomizecheck).
var exporterDir = filepath.Join("..", "..", "..", "mixin", "k8s", "exporter")

func build(t *testing.T, dir string) (resmap.ResMap, error) {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	return krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), abs)
}

// TestBuild: kustomize builds the directory into exactly the exporter's
// four objects, the Deployment as docs/kubernetes.md describes it.
func TestBuild(t *testing.T) {
	m, err := build(t, exporterDir)
	if err != nil {
		t.Fatalf("kustomize build %s: %v", exporterDir, err)
	}
	var kinds []string
	var deployment []byte
	for _, r := range m.Resources() {
		kinds = append(kinds, r.GetApiVersion()+" "+r.GetKind())
		if r.GetKind() == "Deployment" {
			if deployment, err = r.AsYAML(); err != nil {
				t.Fatal(err)
			}
		}
	}
	slices.Sort(kinds)
	want := []string{"apps/v1 Deployment", "monitoring.coreos.com/v1 ServiceMonitor", "v1 Secret", "v1 Service"}
	if !slices.Equal(kinds, want) {
		t.Fatalf("kustomize built %v, want %v", kinds, want)
	}

	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(deployment, &d); err != nil {
		t.Fatalf("the built Deployment does not decode strictly: %v\n%s", err, deployment)
	}
	pod := d.Spec.Template.Spec
	if len(pod.Containers) != 1 {
		t.Fatalf("%d containers", len(pod.Containers))
	}
	c := pod.Containers[0]
	psc, sc := pod.SecurityContext, c.SecurityContext
	if psc == nil || sc == nil {
		t.Fatal("no security context")
	}
	is := func(b *bool) bool { return b != nil && *b }
	isNot := func(b *bool) bool { return b != nil && !*b }
	for _, check := range []struct {
		what string
		ok   bool
	}{
		{"runAsNonRoot", is(psc.RunAsNonRoot) && is(sc.RunAsNonRoot)},
		{"runAsUser 65534", psc.RunAsUser != nil && *psc.RunAsUser == 65534},
		{"readOnlyRootFilesystem", is(sc.ReadOnlyRootFilesystem)},
		{"allowPrivilegeEscalation false", isNot(sc.AllowPrivilegeEscalation)},
		{"capabilities drop ALL", sc.Capabilities != nil && slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"})},
		{"seccomp RuntimeDefault", psc.SeccompProfile != nil && psc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault},
		{"liveness GET /-/healthy on http", probe(c.LivenessProbe, "/-/healthy")},
		{"readiness GET /-/ready on http", probe(c.ReadinessProbe, "/-/ready")},
		{"port http 9630", len(c.Ports) == 1 && c.Ports[0].Name == "http" && c.Ports[0].ContainerPort == 9630},
		{"requests and limits set", !c.Resources.Requests.Memory().IsZero() && !c.Resources.Requests.Cpu().IsZero() &&
			c.Resources.Limits.Memory().Cmp(*c.Resources.Requests.Memory()) > 0 && c.Resources.Limits.Cpu().Cmp(*c.Resources.Requests.Cpu()) > 0},
		{"config from the Secret", len(pod.Volumes) == 1 && pod.Volumes[0].Secret != nil && pod.Volumes[0].Secret.SecretName == "headroom-config"},
	} {
		if !check.ok {
			t.Errorf("%s: not so in the built Deployment:\n%s", check.what, deployment)
		}
	}
}

func probe(p *corev1.Probe, path string) bool {
	return p != nil && p.HTTPGet != nil && p.HTTPGet.Path == path && p.HTTPGet.Port.StrVal == "http"
}

// TestKustomizationRoundTrips: kustomization.yaml decodes strictly into
// kustomize's own type (the generator writes it from a copy of its fields)
// and marshals back to the same bytes after its comment header.
func TestKustomizationRoundTrips(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(exporterDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k types.Kustomization
	if err := yaml.UnmarshalStrict(b, &k); err != nil {
		t.Fatalf("does not decode strictly into types.Kustomization: %v", err)
	}
	again, err := yaml.Marshal(&k)
	if err != nil {
		t.Fatal(err)
	}
	_, body, _ := bytes.Cut(b, []byte("\napiVersion: "))
	if !bytes.Equal(append([]byte("apiVersion: "), body...), again) {
		t.Errorf("re-marshalled:\n%s\nthe file:\n%s", again, b)
	}
	if k.Kind != types.KustomizationKind || k.APIVersion != types.KustomizationVersion {
		t.Errorf("%s %s", k.APIVersion, k.Kind)
	}
}

// TestBrokenKustomizationRefused: in a copy of the directory, a missing
// resource and a misspelt field each fail the build, naming the cause.
func TestBrokenKustomizationRefused(t *testing.T) {
	for _, tc := range []struct {
		name    string
		breakIt func(t *testing.T, dir string)
		want    string
	}{
		{"missing resource", func(t *testing.T, dir string) {
			if err := os.Remove(filepath.Join(dir, "service.yaml")); err != nil {
				t.Fatal(err)
			}
		}, "accumulating resources from 'service.yaml'"},
		{"misspelt field", func(t *testing.T, dir string) {
			p := filepath.Join(dir, "kustomization.yaml")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, bytes.Replace(b, []byte("\nresources:"), []byte("\nresource:"), 1), 0o644); err != nil {
				t.Fatal(err)
			}
		}, `unknown field "resource"`},
		{"two objects of one name", func(t *testing.T, dir string) {
			b, err := os.ReadFile(filepath.Join(dir, "service.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "service.yaml"), append(append(b, "---\n"...), b...), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "already registered id: Service"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.CopyFS(dir, os.DirFS(exporterDir)); err != nil {
				t.Fatal(err)
			}
			if _, err := build(t, dir); err != nil {
				t.Fatalf("the untouched copy does not build: %v", err)
			}
			tc.breakIt(t, dir)
			_, err := build(t, dir)
			t.Logf("refused: %v", err)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("build: %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

// TestOverlayReplacesTheSecret builds docs/kubernetes.md's overlay as it
// is written there, laid out as the page says (overlays/prod beside
// mixin/k8s/exporter): its secretGenerator with behavior replace swaps the
// placeholder Secret for files kept beside the overlay (the Secret keeps
// its name: kustomize adds no hash to a resource it replaces), the
// Deployment mounts it, and the namespace and image are set.
func TestOverlayReplacesTheSecret(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(filepath.Join(dir, "mixin", "k8s", "exporter"), os.DirFS(exporterDir)); err != nil {
		t.Fatal(err)
	}
	overlay := filepath.Join(dir, "overlays", "prod")
	files := map[string]string{
		"kustomization.yaml": docOverlay(t),
		"headroom.yml":       "postgres:\n  - name: primary\n    dsn: postgres://headroom@db:5432/postgres\n    password_file: /etc/headroom/postgres-password\n",
		"postgres-password":  "s3cret",
		"redis-password":     "s3cret-too",
	}
	if err := os.MkdirAll(overlay, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(overlay, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	m, err := build(t, overlay)
	if err != nil {
		t.Fatalf("kustomize build of the overlay: %v", err)
	}
	var secret corev1.Secret
	var deployment appsv1.Deployment
	for _, r := range m.Resources() {
		if r.GetNamespace() != "monitoring" {
			t.Errorf("%s %s in namespace %q", r.GetKind(), r.GetName(), r.GetNamespace())
		}
		b, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		switch r.GetKind() {
		case "Secret":
			err = yaml.UnmarshalStrict(b, &secret)
		case "Deployment":
			err = yaml.UnmarshalStrict(b, &deployment)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if string(secret.Data["postgres-password"]) != "s3cret" || string(secret.Data["headroom.yml"]) != files["headroom.yml"] {
		t.Errorf("the overlay's files did not replace the Secret's data: %v", secret.Data)
	}
	for key, v := range secret.StringData {
		t.Errorf("the placeholder %s=%q survived the replace", key, v)
	}
	// A replaced Secret keeps the base's name, no hash of its data, as
	// docs/kubernetes.md says: it is updated in place, and a changed config
	// file needs a rollout restart while a password does not.
	if secret.Name != "headroom-config" {
		t.Errorf("the overlay's Secret is %q, want headroom-config (no hash suffix)", secret.Name)
	}
	pod := deployment.Spec.Template.Spec
	if pod.Volumes[0].Secret.SecretName != secret.Name {
		t.Errorf("the Deployment mounts %q, the built Secret is %q", pod.Volumes[0].Secret.SecretName, secret.Name)
	}
	if image := pod.Containers[0].Image; image != "registry.example.com/headroom:v1.2.3" {
		t.Errorf("image %s", image)
	}
}

// docOverlay is the overlay's kustomization.yaml in docs/kubernetes.md:
// the yaml block whose first line names it.
func docOverlay(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "kubernetes.md"))
	if err != nil {
		t.Fatal(err)
	}
	const open = "```yaml\n# overlays/prod/kustomization.yaml"
	_, block, ok := strings.Cut(string(doc), open)
	if !ok {
		t.Fatalf("docs/kubernetes.md has no block starting %q", open)
	}
	block, _, ok = strings.Cut(block, "```")
	if !ok {
		t.Fatal("the overlay's block is not closed")
	}
	return strings.TrimPrefix(open, "```yaml\n") + block
}
