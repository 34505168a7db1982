package dashboards

import (
	"fmt"
	"strings"

	"github.com/headroom-dev/headroom/catalogue"
)

func (g *gen) api() *board {
	bd := g.newBoard(API, "api", "The API's health endpoint as headroom probes it (success, status, components, latency, JSON metrics), "+
		"and the service's own signals from the bundle's recording rules: CPU, memory, requests, errors, latency.")
	m := bd.m
	down := g.triggers(catalogue.TriggerAPIDown)
	success := g.max(m("headroom_api_probe_success"), "target")

	bd.row("Status", false)
	bd.stat(spec{
		Title:    "Health probe",
		Desc:     describeAll("1 when the health endpoint answered with the expected status and a healthy body; 0 (not absent) when it could not be reached.", down),
		Queries:  []query{{Expr: success, Legend: "{{target}}"}},
		Steps:    stepsAt(colorCritical, 1, colorOK),
		Mappings: mapValues("0", "FAILING", colorCritical, "1", "OK", colorOK),
		W:        4, H: 4,
	})
	bd.stat(spec{
		Title:   "HTTP status",
		Desc:    "HTTP status code of the health endpoint's last response.",
		Queries: []query{{Expr: g.max(m("headroom_api_probe_http_status_code"), "target"), Legend: "{{target}}"}},
		Steps:   stepsAt(colorCritical, 200, colorOK, 300, colorWarning, 400, colorCritical),
		W:       4, H: 4, Decimals: ptr(0.0),
	})
	bd.stat(spec{
		Title:    "Reported status",
		Desc:     "The top-level status the health endpoint reports, normalised to healthy, degraded, unhealthy or unknown.",
		Queries:  []query{{Expr: g.max(m("headroom_api_health_status"), "target", "status") + " == 1", Legend: "{{target}}: {{status}}"}},
		Steps:    neutral("blue"),
		TextMode: "name",
		W:        4, H: 4,
	})
	bd.stat(spec{
		Title:   "Last probe duration",
		Desc:    "Time the last health probe took, request sent to body read.",
		Unit:    "s",
		Queries: []query{{Expr: g.max(m("headroom_api_probe_last_duration_seconds"), "target"), Legend: "{{target}}"}},
		Steps:   stepsAt(colorOK, 1, colorWarning, 5, colorCritical),
		W:       4, H: 4,
	})
	successes := g.sum(rate(m("headroom_api_probe_successes_total")), "target")
	failures := g.sum(rate(m("headroom_api_probe_failures_total")), "target")
	successRatio := fmt.Sprintf("%s\n  / %s (%s + %s > 0)", successes, g.on("target"), successes, failures)
	bd.stat(spec{
		Title:   "Probe success ratio",
		Desc:    "Successful probes over all probes, over the rate interval.",
		Unit:    "percentunit",
		Queries: []query{{Expr: successRatio, Legend: "{{target}}"}},
		Steps:   stepsAt(colorCritical, 0.9, colorWarning, 0.99, colorOK),
		W:       4, H: 4,
	})
	bd.stat(spec{
		Title: "Components unhealthy",
		Desc:  "Components the health endpoint reports as not healthy.",
		Queries: []query{{Expr: fmt.Sprintf("count %s (%s == 0) or %s * 0", g.by("target"), m("headroom_api_component_up"), success),
			Legend: "{{target}}"}},
		Steps: stepsAt(colorOK, 1, colorCritical),
		W:     4, H: 4, Decimals: ptr(0.0),
	})

	bd.row("Health probe", false)
	for _, t := range down {
		v := g.view(t)
		bd.ts(spec{
			Title:   fmt.Sprintf("%s: %s %s", t.ID, v.title, v.target),
			Desc:    describe(t),
			Unit:    v.unit,
			Queries: []query{{Expr: v.series, Legend: "{{target}}"}},
			Steps:   v.steps, Lines: true, W: 8,
		})
	}
	bd.ts(spec{
		Title: "Probe duration",
		Desc:  "95th percentile of probe duration over the rate interval (absent without probes) and the last probe's duration.",
		Unit:  "s",
		Queries: []query{
			{Expr: fmt.Sprintf("histogram_quantile(0.95, %s)\n  and %s (%s > 0)",
				g.sum(rate(m("headroom_api_probe_duration_seconds_bucket")), "target", "le"), g.on("target"),
				g.sum(rate(m("headroom_api_probe_duration_seconds_count")), "target")), Legend: "{{target}} p95"},
			{Expr: g.max(m("headroom_api_probe_last_duration_seconds"), "target"), Legend: "{{target}} last"},
		},
		W: 8,
	})
	bd.ts(spec{
		Title: "Probe failures per second",
		Desc:  "Failed probes by reason: timeout, refused, dns, tls, redirect, http_status, invalid_body, body_status, protocol.",
		Unit:  "ops",
		Queries: []query{{Expr: g.sum(rate(m("headroom_api_probe_failures_total")), "target", "reason"),
			Legend: "{{target}} {{reason}}"}},
		W: 8,
	})
	bd.ts(spec{
		Title:    "Components up",
		Desc:     "1 when the health endpoint reports the component healthy.",
		Queries:  []query{{Expr: g.max(m("headroom_api_component_up"), "target", "component"), Legend: "{{target}} {{component}}"}},
		Steps:    stepsAt(colorCritical, 1, colorOK),
		Mappings: mapValues("0", "not healthy", colorCritical, "1", "healthy", colorOK),
		Min:      ptr(0.0), Max: ptr(1.0), W: 8,
	})
	bd.table(spec{
		Title:   "Component status",
		Desc:    "The status each component reports now, normalised to healthy, degraded, unhealthy or unknown.",
		Queries: []query{{Expr: g.max(m("headroom_api_component_status"), "target", "component", "status") + " == 1"}},
		W:       8,
	}, "Value")
	bd.ts(spec{
		Title:   "JSON metrics",
		Desc:    "Fields of the API's JSON metrics document (json_fields in headroom's config).",
		Queries: []query{{Expr: g.max(m("headroom_api_json_value"), "target", "field"), Legend: "{{target}} {{field}}"}},
		W:       8,
	})

	bd.row("Service: the API's own metrics (recording rules of "+g.cfg().Service+")", false)
	for _, s := range g.bundle.Signals {
		if s.Record == "" || (s.Group != catalogue.GroupAPI && s.Group != catalogue.GroupCapacity) {
			continue
		}
		ts := g.onSignal(s.ID)
		title := s.Title
		if strings.HasSuffix(string(s.ID), "_instance") && !strings.Contains(title, "per instance") {
			title += " per instance"
		}
		bd.ts(spec{
			Title:   title,
			Desc:    describeAll(s.Help+" Recorded as `"+s.Record+"`.", ts),
			Unit:    signalUnit(s),
			Queries: []query{{Expr: g.scope(s.Query, s.Labels), Legend: legend(s.Labels)}},
			Steps:   ladder(s.Unit, ts...), Lines: len(ts) > 0, W: 8,
		})
	}

	bd.exporterRow()
	return bd
}
