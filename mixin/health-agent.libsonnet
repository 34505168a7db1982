// The health-agent preset (service health-agent-api): its rules and alerts,
// and the Grafana dashboards of mixin/dashboards/. A test fails when a file
// there is not listed here (internal/tools/mixintest).
(import 'lib/headroom.libsonnet').new(
  alerts=std.parseYaml(importstr 'health-agent/prometheus_alerts.yaml'),
  rules=std.parseYaml(importstr 'health-agent/prometheus_rules.yaml'),
  dashboards={
    'headroom-overview.json': (import 'dashboards/headroom-overview.json'),
    'headroom-headroom.json': (import 'dashboards/headroom-headroom.json'),
    'headroom-postgres.json': (import 'dashboards/headroom-postgres.json'),
    'headroom-pgbouncer.json': (import 'dashboards/headroom-pgbouncer.json'),
    'headroom-redis.json': (import 'dashboards/headroom-redis.json'),
    'headroom-api.json': (import 'dashboards/headroom-api.json'),
  },
)
