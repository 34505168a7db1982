// The amas preset (service amas-orchestrator): its rules and alerts. headroom
// commits dashboards for the default preset only, so this one has none;
// `headroom generate --preset amas --dashboards-out DIR` writes them.
(import 'lib/headroom.libsonnet').new(
  alerts=std.parseYaml(importstr 'amas/prometheus_alerts.yaml'),
  rules=std.parseYaml(importstr 'amas/prometheus_rules.yaml'),
  dashboards={},
)
