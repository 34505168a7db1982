// Package slothcheck holds only tests: they generate every preset's SLOs
// with Sloth's own library (github.com/slok/sloth/pkg/lib) and evaluate
// Sloth's recording and alerting rules and headroom's
// (mixin/<preset>/prometheus_rules.yaml and prometheus_alerts.yaml) with
// Prometheus's rule manager over the same input series, so that a series
// headroom records under a Sloth name holds what Sloth's would at every
// step, and the burn-rate alerts fire at the same steps, or differ in a way
// the tests name.
//
// It is a module of its own, beside the test-only module internal/tools,
// so that Sloth never reaches the exporter's module, and since Sloth
// v0.16.0 calls promql/parser.ParseExpr, which the Prometheus v0.314 that
// KEDA v2.21 requires in internal/tools no longer has.
package slothcheck
