// Package slothcheck holds only tests: they generate every preset's SLOs
// with Sloth's own library (github.com/slok/sloth/pkg/lib) and evaluate
// Sloth's recording rules and headroom's (mixin/<preset>/prometheus_rules.yaml)
// with Prometheus's rule manager over the same input series, so that a
// series headroom records under a Sloth name holds what Sloth's would, at
// every step, or differs in a way the tests name.
//
// It lives in the test-only module internal/tools so that Sloth and its
// dependencies never reach the exporter's module.
package slothcheck
