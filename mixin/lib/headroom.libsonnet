// A monitoring mixin over the files `headroom generate` wrote: the rules and
// alerts as generated, the dashboards as Grafana's file provisioning (the
// sidecar of kube-prometheus) loads them. Thresholds, selectors and the
// service are fixed when headroom generates the files, so none of them is in
// _config: change them in the headroom config and regenerate (docs/jsonnet.md).
{
  // new is the mixin of one preset's generated files: alerts and rules as
  // std.parseYaml reads prometheus_alerts.yaml and prometheus_rules.yaml,
  // dashboards as { 'FILE.json': (import 'FILE.json') }.
  new(alerts, rules, dashboards):: {
    local mixin = self,

    // What a wrapper can change without making the dashboards disagree with
    // the rules: where Grafana reads from and how the dashboards behave.
    _config:: {
      // The data source the `datasource` variable starts on (its name or
      // uid); null starts on Grafana's default Prometheus data source.
      datasourceName: null,
      // A regex on the data source names the variable offers; '' offers
      // every Prometheus data source.
      datasourceFilterRegex: '',
      // The dashboards' auto-refresh (e.g. '30s'); null keeps the generated one.
      refresh: null,
      // 'browser', 'utc' or a zone name; null keeps the generated one.
      timezone: null,
      // Tags added to the generated ones (headroom and the service).
      dashboardTags: [],
    },

    prometheusAlerts:: alerts,
    prometheusRules:: rules,
    grafanaDashboards:: {
      [file]: provisioned(dashboards[file], mixin._config)
      for file in std.objectFields(dashboards)
    },
  },

  // The generated JSON is for Grafana's import, which substitutes
  // ${DS_PROMETHEUS} from __inputs; provisioning substitutes nothing, so the
  // import fields go and the datasource variable starts on the configured
  // data source instead.
  local provisioned(dashboard, config) =
    without(dashboard, ['__inputs', '__requires']) + {
      templating+: {
        list: [
          if variable.type == 'datasource' then datasourceVariable(variable, config) else variable
          for variable in super.list
        ],
      },
      [if config.refresh != null then 'refresh']: config.refresh,
      [if config.timezone != null then 'timezone']: config.timezone,
      tags+: config.dashboardTags,
    },

  local datasourceVariable(variable, config) =
    without(variable, ['current']) + {
      [if config.datasourceName != null then 'current']: {
        text: config.datasourceName,
        value: config.datasourceName,
      },
      [if config.datasourceFilterRegex != '' then 'regex']: config.datasourceFilterRegex,
    },

  local without(object, fields) = {
    [field]: object[field]
    for field in std.objectFields(object)
    if !std.member(fields, field)
  },
}
