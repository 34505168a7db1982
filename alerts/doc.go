// Package alerts generates the alerting files of a catalogue: Prometheus
// recording and alerting rules, the same groups as a prometheus-operator
// PrometheusRule, an Alertmanager config, RUNBOOK.md and the promtool unit
// tests that prove the rules, all pure functions of a catalogue.Config.
//
// The model (config, signals, triggers, SLOs, DB guard, PromQL helpers) is
// package catalogue; this package only renders it. The promtool tests are
// derived from each trigger's comparison and threshold, fed by the signal
// fixtures in signal_fixtures.go, one per signal id:
//
//	files, err := alerts.Generate(cfg) // file name -> bytes
//
// Rules, runbook and promtool tests carry a trigger's `where` scopes;
// dashboards and scalers keep the trigger's own threshold.
package alerts
