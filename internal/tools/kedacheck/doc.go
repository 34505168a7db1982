// Package kedacheck holds only tests: they hold every KEDA ScaledObject that
// `make generate` writes under mixin/k8s/ (and the cold-start one in
// alerts/autoscale/testdata/cold-start/) against what KEDA itself enforces,
// read from the github.com/kedacore/keda/v2 module the main module builds
// against (its CRD, its scaler parameter schema and its admission webhook's
// checks), so that a manifest headroom generates is one KEDA accepts; and
// every TriggerAuthentication against its CRD.
//
// It lives in the test-only module internal/tools so that
// k8s.io/apiextensions-apiserver and its CEL stack never reach the
// exporter's dependencies.
package kedacheck
