package catalogue

import (
	"fmt"
	"time"

	"github.com/headroom-dev/headroom/internal/kind"
)

// health defines the health and data-path alerts: targets down, the
// exporter or a signal absent, replication, PgBouncer waits, connections
// and memory near their limits, the DB connection guard.
func (d *defs) health() {
	cfg, p, sig, add, signals := d.cfg, d.p, d.sig, d.add, d.signals
	min := time.Minute
	// Health and data-path alerts.
	probe := sig(SignalAPIProbe)
	add(Trigger{ID: TriggerAPIDown, Set: SetHealth, Source: "headroom", Direction: None, Signal: probe, Comparison: Custom, Threshold: 3,
		Action: "restore_api", Urgency: UrgencyCritical,
		When: "3 failed health probes within 30s, or every probe failing for 1m",
		expr: func(t Trigger) string {
			return fmt.Sprintf("count_over_time(%s[30s]) - sum_over_time(%s[30s]) >= 3\nor\nmax_over_time(%s[1m]) == 0", probe.Query, probe.Query, probe.Query)
		},
		// The 1m branch of the expression returns 0, the 30s branch the
		// number of failures.
		Summary: "API health probe of {{ $labels.target }} failing",
		Description: "The health endpoint of {{ $labels.target }} ({{ service }}) {{ if eq $value 0.0 }}failed every probe for 1m{{ else }}failed {{ $value }} probes within 30s{{ end }}; " +
			"the threshold is 3 failed probes within 30s (nginx max_fails=3 fail_timeout=30s) or every probe failing for 1m." + ActionSentence("restore_api"),
		Runbook: Runbook{Meaning: "The API's health endpoint (/api/health) failed 3 probes within 30s: nginx would take the instance out of rotation. Needs a scrape interval of 10s or less to see 3 probes in 30s; at longer intervals it fires after a minute of failures.",
			Steps: []string{"Check headroom_api_probe_failures_total{target=...} by reason: refused/timeout (process down or hung), http_status/body_status (the API reports itself unhealthy: see headroom_api_component_up).",
				"Restart or replace the instance; check PostgreSQL and Redis alerts (the health check depends on them)."}}})
	for _, k := range TargetDownTriggers {
		add(Trigger{ID: k.ID, Set: SetHealth, Source: "headroom", Direction: None, Signal: sig(SignalID(k.Kind + "_up")), Comparison: Equal, Threshold: 0,
			For: min, Action: "restore_" + string(k.Kind), Urgency: UrgencyCritical, When: fmt.Sprintf(`headroom_target_up{kind=%q} == 0`, k.Kind),
			Summary: k.Kind.Title() + " target {{ $labels.target }} is down",
			Description: "headroom cannot get data from " + k.Kind.Title() + " target {{ $labels.target }} (headroom_target_up = {{ $value }}, 1 when up) for 1m; its other alerts are inhibited meanwhile." +
				ActionSentence("restore_"+string(k.Kind)),
			Runbook: Runbook{Meaning: "The exporter cannot reach " + k.Kind.Title() + " or gets no usable data from it.",
				Steps: []string{"See headroom_target_scrape_errors_total{target=...} for the reason (refused, timeout, auth, ...) and the exporter's log line for the target.",
					"Check the server itself; restart or fail over."}}})
	}
	add(Trigger{ID: TriggerExporterAbsent, Set: SetHealth, Source: "headroom", Group: GroupHeadroom, Direction: None, Signal: Signal{ID: SignalExporterUp, Unit: UnitBool, Group: GroupHeadroom, Title: "headroom exporter"},
		Comparison: Custom, For: 2 * min, Action: "restore_exporter", Urgency: UrgencyCritical,
		When: fmt.Sprintf(`up{job=%q} == 0, or no target of the job at all`, cfg.ExporterJob),
		expr: func(t Trigger) string {
			up := Sel("up", fmt.Sprintf("job=%q", cfg.ExporterJob))
			return fmt.Sprintf("%s == 0\nor\nabsent(%s)", up, up)
		},
		Summary: "headroom exporter (job " + cfg.ExporterJob + ") is down or absent",
		Description: "{{ if $labels.instance }}Prometheus cannot scrape {{ $labels.instance }} (up = {{ $value }}){{ else }}No target of job " + cfg.ExporterJob +
			" exists (no up series){{ end }} for 2m: the database and cache alerts of {{ service }} cannot fire." + ActionSentence("restore_exporter"),
		Runbook: Runbook{Meaning: "The exporter's own scrape failed or its target vanished from service discovery, so every alert on headroom_* series is silently blind.",
			Steps: []string{"Check the headroom pod or process and its /metrics; check the Prometheus scrape config and service discovery."}}})
	for _, s := range signals {
		if !s.MustExist {
			continue
		}
		s := s
		watched, what := s.Query, "series of "+s.Record
		if s.Scraped != "" {
			watched = s.Scraped
			if names, err := SelectedMetrics(s.Scraped); err == nil && len(names) > 0 {
				what = "input " + names[0] + " of " + s.Record
			}
			// Watching some buckets of a histogram (the p95's finite
			// ones): say which, since the metric itself may be there.
			if bs, err := RawBuckets(s.Scraped, nil); err == nil && len(bs) == 1 {
				what = "input " + bs[0].String() + " of " + s.Record
			}
		}
		add(Trigger{ID: SignalAbsentID(s.ID), Alert: "SignalAbsent", Set: SetHealth, Source: "headroom", Group: GroupHeadroom, Direction: None,
			Signal: s, Comparison: Custom, For: 10 * min, Action: "restore_signal", Urgency: UrgencyMedium,
			When:    "no " + what,
			Labels:  map[string]string{"signal": s.Record},
			expr:    func(Trigger) string { return fmt.Sprintf("absent(%s)", watched) },
			Summary: s.Title + " of {{ service }} is missing",
			Description: "No " + what + " for {{ service }} for 10m (absent = {{ $value }}): the alerts on it cannot fire. " +
				"Check that its inputs are scraped and match the bundle's selectors." + ActionSentence("restore_signal"),
			Runbook: Runbook{Meaning: signalAbsentMeaning, Steps: signalAbsentSteps(cfg)}})
	}
	if b, ok := cfg.SLOBucket(); ok {
		add(sloBucketAbsent(cfg, p, b, min))
	}
	lag := sig(SignalStandbyLag)
	add(Trigger{ID: TriggerReplicationLagHigh, Set: SetHealth, Source: "headroom", Direction: None, Signal: lag, Comparison: Above, Threshold: 10,
		For: 2 * min, Action: "investigate_replication", Urgency: UrgencyHigh, Severity: SeverityWarning, Kind: kind.Postgres,
		Runbook: Runbook{Meaning: "A standby's data is behind its primary (expected 10-100ms). Reads from it return stale data; warning at 10s, critical at 60s.",
			Steps: []string{"Check headroom_postgres_wal_receiver_streaming and headroom_postgres_standby_replay_paused on the standby, and replication_*_lag on the primary.",
				"Long queries on the standby can hold replay back (max_standby_streaming_delay); heavy writes can outpace a small standby.",
				"Route time-sensitive reads to the primary until the lag is back down."}}})
	add(Trigger{ID: TriggerReplicationLagCritical, Alert: "ReplicationLagHigh", Set: SetHealth, Source: "headroom", Direction: None, Signal: lag, Comparison: Above,
		Threshold: 60, For: 2 * min, Action: "investigate_replication", Urgency: UrgencyHigh, Severity: SeverityCritical, Kind: kind.Postgres})
	add(Trigger{ID: TriggerReplicaNotStreaming, Set: SetHealth, Source: "headroom", Direction: None, Signal: sig(SignalWALReceiver), Comparison: Equal,
		Threshold: 0, For: 2 * min, Action: "restore_replication", Urgency: UrgencyCritical, Kind: kind.Postgres,
		Summary: "Standby {{ $labels.target }} is not streaming WAL",
		Description: "The WAL receiver of standby {{ $labels.target }} is not streaming (headroom_postgres_wal_receiver_streaming = {{ $value }}, 1 while streaming) for 2m: " +
			"it falls further behind every second." + ActionSentence("restore_replication"),
		Runbook: Runbook{Meaning: "A standby's WAL receiver is not streaming from its upstream.",
			Steps: []string{"Check headroom_postgres_wal_receiver_status and the standby's log (authentication, primary_conninfo, a removed WAL segment).",
				"If the primary removed WAL the standby needs, re-seed it (pg_basebackup)."}}})
	slot := sig(SignalSlotRetained)
	add(Trigger{ID: TriggerReplicationSlotInactive, Set: SetHealth, Source: "headroom", Direction: None, Signal: slot, Comparison: Above, Threshold: 1 << 30,
		For: 5 * min, Action: "drop_or_reconnect_slot", Urgency: UrgencyHigh, Kind: kind.Postgres,
		expr: func(t Trigger) string {
			return fmt.Sprintf("%s > %s\nand %s\n%s == 0", slot.Query, Num(t.Threshold),
				p.On(slot.Labels...), p.Headroom("headroom_postgres_replication_slot_active", kind.Postgres))
		},
		Summary: "Inactive replication slot {{ $labels.slot }} retains WAL",
		Description: "Replication slot {{ $labels.slot }} on {{ $labels.target }} has no consumer and retains " + UnitBytes.ValueTemplate() +
			" of WAL (threshold {{ threshold }} for 5m); the primary's disk fills until it is consumed or dropped." + ActionSentence("drop_or_reconnect_slot"),
		Runbook: Runbook{Meaning: "An inactive replication slot keeps WAL from being removed; left alone it fills the primary's disk.",
			Steps: []string{"Reconnect the slot's consumer (standby or logical subscriber), or drop the slot if it is gone for good: SELECT pg_drop_replication_slot('<slot>').",
				"Consider max_slot_wal_keep_size to bound what a slot may retain."}}})
	add(Trigger{ID: TriggerPgBouncerClientsWaiting, Set: SetHealth, Source: "headroom", Direction: None, Signal: sig(SignalPgbouncerWaiting), Comparison: Above,
		Threshold: 0, For: 2 * min, Action: "increase_pgbouncer_pool", Urgency: UrgencyHigh, Kind: kind.PgBouncer, Labels: map[string]string{"condition": "waiting"},
		Runbook: Runbook{Meaning: "Clients wait for a server connection in a PgBouncer pool (label condition: waiting clients for 2m, or the oldest waiting over 1s).",
			Steps: []string{"Raise the pool's pool_size / default_pool_size (and reserve_pool_size) if PostgreSQL has connections to spare (PostgresConnectionsNearMax).",
				"Otherwise find what holds server connections: long transactions (headroom_postgres_oldest_transaction_age_seconds), idle in transaction."}}})
	add(Trigger{ID: TriggerPgBouncerMaxWait, Alert: "PgBouncerClientsWaiting", Set: SetHealth, Source: "headroom", Direction: None, Signal: sig(SignalPgbouncerMaxWait),
		Comparison: Above, Threshold: 1, For: min, Action: "increase_pgbouncer_pool", Urgency: UrgencyHigh, Kind: kind.PgBouncer, Labels: map[string]string{"condition": "max_wait"}})
	add(Trigger{ID: TriggerPostgresConnectionsNearMax, Set: SetHealth, Source: "headroom", Direction: None, Signal: sig(SignalPostgresConnections), Comparison: Above,
		Threshold: 0.8, Margin: utilisationMargin, For: 5 * min, Action: "pool_connections_or_raise_max_connections", Urgency: UrgencyHigh, Kind: kind.Postgres,
		Runbook: Runbook{Meaning: "Client backends use more than 80% of the connections ordinary clients may hold; new connections will fail with \"too many clients\".",
			Steps: []string{"Put PgBouncer in front of PostgreSQL, or lower pool sizes: max replicas x pool size must fit max_connections.",
				"Raise max_connections only with memory to spare (each backend costs work_mem and more)."}}})
	if g, ok := ConnectionGuardOf(cfg); ok {
		add(Trigger{ID: AlertScaleOutExceedsDBConnections, Set: SetHealth, Source: "headroom", Group: GroupCapacity, Direction: None,
			Signal: Signal{ID: SignalDBConnectionGuard, Unit: UnitCount, Group: GroupCapacity,
				Title: "Connections the pools would open at max replicas beyond the database's usable ones"},
			Comparison: Custom, For: 15 * min, Action: "lower_max_replicas_or_raise_db_connections", Urgency: UrgencyMedium,
			Severity: SeverityWarning,
			When:     fmt.Sprintf("HPA max replicas (kube-state-metrics, else %d) x %d connections per pod > %s", g.MaxReplicas, g.Pool, g.UsableName),
			expr:     func(Trigger) string { return g.expr(p) },
			Summary:  "Scaling {{ service }} out to its max replicas would exceed the database's connections",
			Description: fmt.Sprintf("At the HPA's max replicas (from kube-state-metrics, else the configured %d) x %d connections per pod, "+
				"the pools of {{ service }} would open {{ $value }} more connections than %s accepts (%s) for 15m."+ActionSentence("lower_max_replicas_or_raise_db_connections"), g.MaxReplicas, g.Pool, g.What, g.UsableName),
			Runbook: Runbook{Meaning: "Every pod opens its own connection pool, so a scale-out to the HPA's max replicas would open more connections than " +
				"the database (or PgBouncer) accepts: the scale-out meant to help would exhaust the connections and take the database down (KEDA issue #476). " +
				"Compared at run time: the HPA's max replicas as kube-state-metrics reports them (the configured max_replicas without kube-state-metrics) " +
				"x autoscaling.db's pool size per pod, against the usable connections the exporter measures.",
				Steps: []string{"Lower the HPA's max replicas (autoscaling.max_replicas, or maxReplicaCount of the ScaledObject) to what fits: usable connections / pool size per pod.",
					"Or shrink the pool per pod, put PgBouncer in front (transaction pooling), or raise max_connections (PostgreSQL) or max_client_conn (PgBouncer) if memory allows.",
					"Check that autoscaling.db.pool_size_per_pod (or cores) and connects_through in the config match what the pods really open."}}})
	}
	add(Trigger{ID: TriggerRedisMemoryNearMax, Set: SetHealth, Source: "headroom", Direction: None, Signal: sig(SignalRedisMemory), Comparison: Above,
		Threshold: 0.8, Margin: utilisationMargin, For: 5 * min, Action: "increase_redis_memory", Urgency: UrgencyHigh, Kind: kind.Redis,
		Runbook: Runbook{Meaning: "Redis uses more than 80% of its memory limit (HA sizes it at 256MB). With allkeys-lru this is where evictions start; with noeviction, writes fail at 100%.",
			Steps: []string{"Increase maxmemory (256MB -> 512MB -> 1GB -> 2GB+) and the container's memory with it.",
				"If the policy is noeviction and the data is a cache, switch to allkeys-lru."}}})
}

// signalAbsentMeaning and signalAbsentSteps are the runbook of every
// SignalAbsent rule; RUNBOOK.md has one section per alertname.
const signalAbsentMeaning = "A signal that scaling alerts rely on has no data, so those alerts cannot fire: a silent gap."

func signalAbsentSteps(cfg *Config) []string {
	steps := []string{"Run the recording rule's expression in Prometheus and find the missing input: the API's or exporter's scrape, a renamed metric, a selector that no longer matches, or a DB pool that is not in headroom's `pools` config."}
	if cfg.SLOs.Latency.Enabled {
		steps = append(steps, fmt.Sprintf("Signal slo:sli_error:ratio_rate5m with slo latency: some series of the API's %s_bucket have no le=\"%s\" bucket (slos.latency.target). "+
			"Add it to the histogram's buckets in the API, or set slos.latency.target (and slos.latency.buckets) to a boundary the histogram has.",
			cfg.API.DurationHistogram, Num(cfg.SLOs.Latency.Target)))
	}
	return steps
}
