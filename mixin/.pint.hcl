# pint (github.com/cloudflare/pint) over the generated rule files: `make lint`
# runs it offline on each bundle and fails on any warning. The online checks
# (promql/series and friends) need a Prometheus: the end-to-end test runs them
# against its own (internal/e2e/online_test.go).
#
# No check is disabled. One that has to be must say why beside it, e.g.
#   checks {
#     disabled = [
#       "promql/xxx", # why the generator cannot or should not satisfy it
#     ]
#   }

# What every generated alert carries (alerts/rules.go), enforced again here so
# that a hand edit or a generator change that drops one fails the lint.
rule {
  match {
    kind = "alerting"
  }
  label "severity" {
    severity = "bug"
    required = true
    values   = ["critical", "warning", "info"]
  }
  label "urgency" {
    severity = "bug"
    required = true
    values   = ["critical", "high", "medium", "low"]
  }
  label "direction" {
    severity = "bug"
    required = true
    values   = ["up", "down", "none"]
  }
  label "action" {
    severity = "bug"
    required = true
    value    = "[a-z]+(_[a-z]+)*"
  }
  label "service" {
    severity = "bug"
    required = true
  }
  annotation "summary" {
    severity = "bug"
    required = true
  }
  annotation "description" {
    severity = "bug"
    required = true
  }
  annotation "runbook_url" {
    severity = "bug"
    required = true
    value    = "https?://.+#[a-z0-9-]+"
  }
}

# Recorded series carry the service label every alert and panel selects on.
rule {
  match {
    kind = "recording"
  }
  label "service" {
    severity = "bug"
    required = true
  }
}

# The forecast group (headroom.<service>.forecast.rules, docs/alerts.md) has
# its own 5m interval, so that its coverage counts know how many samples a
# day holds; its first rule samples a signal of the signals' group, at most
# one evaluation late, which a forecast of hours to days does not notice.
rule {
  match {
    kind = "recording"
    name = "headroom:.+:value"
  }
  disable = ["rule/dependency"]
}
