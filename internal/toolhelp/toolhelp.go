// Package toolhelp is what both binaries say of headroomtool's commands:
// their summaries and where the documentation is published. headroom lists
// those commands in its help and re-executes headroomtool for them, so the
// two binaries' help must describe them in the same words.
package toolhelp

// DocsURL is where a file of the repository is published: help names the
// documentation by a path that a user without a checkout can open too.
const DocsURL = "https://github.com/headroom-dev/headroom/blob/main/"

// The summaries of headroomtool's commands, as both binaries' help gives
// them.
const (
	Generate = "Write the alerting bundle (Prometheus rules, PrometheusRule, Alertmanager config, runbook, promtool tests), and on request the dashboards, the autoscaler manifests and the exporter's own Kubernetes manifests, for a config."
	Replay   = "Show what the config's autoscaler and alerts would have done over past series, from Prometheus or a file."
	Preset   = "Print a preset as a complete, commented alerts config."
)

// Drill is the summary of headroomtool drill.
const Drill = "Load the API in the guide's patterns (constant, ramp, step, spike) at a planned rate and judge the SLO and a regression against a baseline."
