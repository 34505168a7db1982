// Package alerts generates the alerting files of a catalogue: Prometheus
// recording and alerting rules, the same groups as a prometheus-operator
// PrometheusRule, an Alertmanager config and RUNBOOK.md, all pure functions
// of a built catalogue.Bundle.
//
// The model (config, signals, triggers, SLOs, DB guard, PromQL helpers) is
// package catalogue; this package only renders it. The promtool tests that
// prove these rules, and the fixtures that feed them, are package
// alerts/promtest:
//
//	files, err := alerts.Generate(bundle) // file name -> bytes
//
// Rules and runbook carry a trigger's `where` scopes; dashboards and
// scalers keep the trigger's own threshold.
package alerts
