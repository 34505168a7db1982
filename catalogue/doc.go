// Package catalogue is headroom's model of what to watch: the generator's
// config (presets, overrides, validation), the signals (recording rules that
// compute each utilisation once), the triggers (alerts on them, by area:
// scaling, health, post-scaling validation), the model parts of the SLOs and
// the DB connection guard, and the PromQL helpers every generator writes
// expressions with (selectors, by/on with the cluster label, numbers,
// durations).
//
// It knows nothing of the files made from it: alerts (rules,
// PrometheusRule, Alertmanager, runbook, promtool tests), dashboards,
// autoscaler manifests and replay are generators around it.
//
//	cfg, err := catalogue.Preset("health-agent") // or catalogue.Load(fileBytes)
//	bundle, err := catalogue.Build(cfg)          // validated; triggers and signals resolved
//	t, ok := bundle.Trigger(catalogue.TriggerDBPoolHigh)
//
// Each Trigger is one Go definition (id, direction, signal, comparison,
// threshold, for, action, urgency, severity, annotation templates, runbook
// text), so adding a trigger on an existing signal is one edit. A trigger's
// `where` scopes (Trigger.Scopes) are extra rules of its alertname with
// their own thresholds over the series their matchers select, each reading
// its part of the trigger's scope record (ScopeRecords).
package catalogue
