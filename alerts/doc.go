// Package alerts is headroom's trigger catalogue and the generators built on
// it: Prometheus recording and alerting rules, the same groups as a
// prometheus-operator PrometheusRule, an Alertmanager config, RUNBOOK.md and
// promtool unit tests, all pure functions of a Config.
//
// The catalogue is the spine. Each Trigger is one Go definition (id,
// direction, signal, comparison, threshold, for, action, urgency, severity,
// annotation templates, runbook text) and everything else derives from it,
// so adding a trigger is one edit in definitions. Signals are the recording
// rules (level:metric:operations) that compute each utilisation once from
// headroom's metrics and the API's; alerts compare those.
//
// Entry points:
//
//	cfg, err := alerts.Preset("health-agent")   // or alerts.Load(fileBytes)
//	cat := alerts.Catalogue(cfg)                 // []Trigger, overrides applied
//	sig := alerts.Signals(cfg)                   // []Signal, recording rules in order
//	files, err := alerts.Generate(cfg)           // file name -> bytes
//
// Dashboards (Signal.Query, Trigger.Threshold, Signal.Unit, Trigger.Group)
// and autoscaler manifests (Trigger.Activation, Signal.Query) build on the
// same values, so a threshold changed in the config moves the alert, its
// test, its runbook entry and its panel together. A trigger's `where`
// scopes (Trigger.Scopes) are extra rules of its alertname with their own
// thresholds over the series their matchers select, each reading its part
// of the trigger's scope record (ScopeRecords), which gives every series
// the first scope that matches it; rules, runbook and
// promtool tests carry them, while dashboards and scalers keep the
// trigger's own threshold.
package alerts
