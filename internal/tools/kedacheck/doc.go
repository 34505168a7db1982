// Package kedacheck holds only tests: they hold every KEDA ScaledObject that
// `make generate` writes under mixin/k8s/ against what KEDA itself enforces,
// read from the github.com/kedacore/keda/v2 module the main module builds
// against (its CRD, its scaler parameter schema and its admission webhook's
// checks), so that a manifest headroom generates is one KEDA accepts.
//
// It lives in the test-only module internal/tools so that
// k8s.io/apiextensions-apiserver and its CEL stack never reach the
// exporter's dependencies.
package kedacheck
