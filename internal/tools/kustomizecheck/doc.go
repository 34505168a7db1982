// Package kustomizecheck holds only tests: they build the exporter's
// manifests under mixin/k8s/exporter with kustomize's own library
// (sigs.k8s.io/kustomize/api), as `kubectl apply -k` does, and check what
// comes out: exactly the expected kinds, the Deployment locked down and
// probed as docs/kubernetes.md says, and a broken kustomization refused.
//
// It lives in the test-only module internal/tools so that kustomize and
// its kyaml stack never reach the exporter's or the generator's
// dependencies.
package kustomizecheck
