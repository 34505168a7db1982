package catalogue

import (
	"fmt"
	"slices"
	"strings"

	"github.com/headroom-dev/headroom/internal/kind"
)

// TriggerID names a trigger of the catalogue. Consumers look triggers up by
// these constants (Bundle.Trigger), never by a string of their own, so that
// renaming a trigger is a compile error or a loud failure, not a panel or a
// scaler that quietly disappears.
type TriggerID string

// SignalID names a signal of the catalogue (Bundle.Signal).
type SignalID string

// The triggers of the catalogue, by area: scaling, health, post-scaling
// validation. SignalAbsent rules are "SignalAbsent:<signal id>"
// (SignalAbsentID), forecasts "Forecast:<level>:<trigger id>" (ForecastID).
const (
	TriggerCPUHigh                      TriggerID = "CPUHigh"
	TriggerMemoryHigh                   TriggerID = "MemoryHigh"
	TriggerDBPoolHigh                   TriggerID = "DBPoolHigh"
	TriggerCacheHitRateLow              TriggerID = "CacheHitRateLow"
	TriggerAPIErrorRateHigh             TriggerID = "APIErrorRateHigh"
	TriggerAPILatencyP95High            TriggerID = "APILatencyP95High"
	TriggerResourceSaturated            TriggerID = "ResourceSaturated"
	TriggerRedisEvictionsHigh           TriggerID = "RedisEvictionsHigh"
	TriggerCPULow                       TriggerID = "CPULow"
	TriggerMemoryLow                    TriggerID = "MemoryLow"
	TriggerDBPoolLow                    TriggerID = "DBPoolLow"
	TriggerRequestRateHigh              TriggerID = "RequestRateHigh"
	TriggerQueueDepthHigh               TriggerID = "QueueDepthHigh"
	TriggerLatencyP95High               TriggerID = "LatencyP95High"
	TriggerResourcePressureCPU          TriggerID = "ResourcePressureCPU"
	TriggerResourcePressureMemory       TriggerID = "ResourcePressureMemory"
	TriggerAPIDown                      TriggerID = "APIDown"
	TriggerPostgresDown                 TriggerID = "PostgresDown"
	TriggerPgBouncerDown                TriggerID = "PgBouncerDown"
	TriggerRedisDown                    TriggerID = "RedisDown"
	TriggerExporterAbsent               TriggerID = "ExporterAbsent"
	TriggerReplicationLagHigh           TriggerID = "ReplicationLagHigh"
	TriggerReplicationLagCritical       TriggerID = "ReplicationLagCritical"
	TriggerReplicaNotStreaming          TriggerID = "ReplicaNotStreaming"
	TriggerReplicationSlotInactive      TriggerID = "ReplicationSlotInactive"
	TriggerPgBouncerClientsWaiting      TriggerID = "PgBouncerClientsWaiting"
	TriggerPgBouncerMaxWait             TriggerID = "PgBouncerMaxWait"
	TriggerPostgresConnectionsNearMax   TriggerID = "PostgresConnectionsNearMax"
	TriggerScaleOutExceedsDBConnections TriggerID = "ScaleOutExceedsDBConnections"
	TriggerRedisMemoryNearMax           TriggerID = "RedisMemoryNearMax"
	TriggerCapacityTargetMissedLatency  TriggerID = "CapacityTargetMissedLatency"
	TriggerCapacityTargetMissedErrors   TriggerID = "CapacityTargetMissedErrors"
	TriggerCapacityTargetMissedDBPool   TriggerID = "CapacityTargetMissedDBPool"
	TriggerCapacityTargetMissedCacheHit TriggerID = "CapacityTargetMissedCacheHit"
	TriggerCapacityTargetMissedCPU      TriggerID = "CapacityTargetMissedCPU"
	TriggerCapacityTargetMissedMemory   TriggerID = "CapacityTargetMissedMemory"
)

// The signals of the catalogue.
const (
	SignalAPICPUInstance         SignalID = "api_cpu_instance"
	SignalAPICPU                 SignalID = "api_cpu"
	SignalAPIMemoryInstance      SignalID = "api_memory_instance"
	SignalAPIMemory              SignalID = "api_memory"
	SignalAPINetworkInstance     SignalID = "api_network_instance"
	SignalAPINetwork             SignalID = "api_network"
	SignalAPIRequestsInstance    SignalID = "api_requests_instance"
	SignalAPIRequests            SignalID = "api_requests"
	SignalAPIRequestsPerInstance SignalID = "api_requests_per_instance"
	SignalAPIErrorRatio          SignalID = "api_error_ratio"
	SignalAPILatencyP95          SignalID = "api_latency_p95"
	SignalAPIQueueDepth          SignalID = "api_queue_depth"
	SignalPostgresPool           SignalID = "postgres_pool"
	SignalPostgresPoolOverall    SignalID = "postgres_pool_overall"
	SignalPgbouncerPool          SignalID = "pgbouncer_pool"
	SignalDBPool                 SignalID = "db_pool"
	SignalPostgresConnections    SignalID = "postgres_connections"
	SignalRedisHitRatio          SignalID = "redis_hit_ratio"
	SignalRedisEvictions         SignalID = "redis_evictions"
	SignalRedisMemory            SignalID = "redis_memory"
	SignalSaturation             SignalID = "saturation"
	SignalStandbyLag             SignalID = "standby_lag"
	SignalWALReceiver            SignalID = "wal_receiver"
	SignalSlotRetained           SignalID = "slot_retained"
	SignalPgbouncerWaiting       SignalID = "pgbouncer_waiting"
	SignalPgbouncerMaxWait       SignalID = "pgbouncer_max_wait"
	SignalPostgresUp             SignalID = "postgres_up"
	SignalPgbouncerUp            SignalID = "pgbouncer_up"
	SignalRedisUp                SignalID = "redis_up"
	SignalAPIProbe               SignalID = "api_probe"
	SignalSLOLatencyBucket       SignalID = "slo_latency_bucket"
	SignalDBConnectionGuard      SignalID = "db_connection_guard"
	SignalExporterUp             SignalID = "up"
	SignalAutoscalerReplicas     SignalID = "autoscaler_replicas"
	SignalKEDAScalerErrors       SignalID = "keda_scaler_errors"
	SignalKEDAEmptyResponses     SignalID = "keda_empty_responses"
	SignalKEDAScalerValue        SignalID = "keda_scaler_value"
	SignalKEDAPaused             SignalID = "keda_paused"
)

// TargetDownTrigger pairs a kind of target with the trigger that fires
// when a target of that kind is down (headroom_target_up 0).
type TargetDownTrigger struct {
	Kind kind.Kind
	ID   TriggerID
}

// TargetDownTriggers are the down triggers of the database and cache
// kinds, whose data-path alerts they inhibit; the API's down trigger
// (APIDown) is its health probe's, with inhibitions of its own.
var TargetDownTriggers = []TargetDownTrigger{
	{kind.Postgres, TriggerPostgresDown},
	{kind.PgBouncer, TriggerPgBouncerDown},
	{kind.Redis, TriggerRedisDown},
}

// triggerIDs and signalIDs are every id the catalogue may define; a config
// defines those its trigger sets and inputs call for.
var triggerIDs = []TriggerID{TriggerCPUHigh, TriggerMemoryHigh, TriggerDBPoolHigh, TriggerCacheHitRateLow, TriggerAPIErrorRateHigh, TriggerAPILatencyP95High, TriggerResourceSaturated, TriggerRedisEvictionsHigh, TriggerCPULow, TriggerMemoryLow, TriggerDBPoolLow, TriggerRequestRateHigh, TriggerQueueDepthHigh, TriggerLatencyP95High, TriggerResourcePressureCPU, TriggerResourcePressureMemory, TriggerAPIDown, TriggerPostgresDown, TriggerPgBouncerDown, TriggerRedisDown, TriggerExporterAbsent, TriggerReplicationLagHigh, TriggerReplicationLagCritical, TriggerReplicaNotStreaming, TriggerReplicationSlotInactive, TriggerPgBouncerClientsWaiting, TriggerPgBouncerMaxWait, TriggerPostgresConnectionsNearMax, TriggerScaleOutExceedsDBConnections, TriggerRedisMemoryNearMax, TriggerCapacityTargetMissedLatency, TriggerCapacityTargetMissedErrors, TriggerCapacityTargetMissedDBPool, TriggerCapacityTargetMissedCacheHit, TriggerCapacityTargetMissedCPU, TriggerCapacityTargetMissedMemory, TriggerAutoscalerMaxedOut, TriggerKEDAScalerErrors, TriggerKEDAScalerEmptyResponses, TriggerKEDAScalerInputStale, TriggerAutoscalerNotActive, TriggerAutoscalerThrashing, TriggerAutoscalerNotScalingDown, TriggerAutoscalerAbsent}

var signalIDs = []SignalID{SignalAPICPUInstance, SignalAPICPU, SignalAPIMemoryInstance, SignalAPIMemory, SignalAPINetworkInstance, SignalAPINetwork, SignalAPIRequestsInstance, SignalAPIRequests, SignalAPIRequestsPerInstance, SignalAPIErrorRatio, SignalAPILatencyP95, SignalAPIQueueDepth, SignalPostgresPool, SignalPostgresPoolOverall, SignalPgbouncerPool, SignalDBPool, SignalPostgresConnections, SignalRedisHitRatio, SignalRedisEvictions, SignalRedisMemory, SignalSaturation, SignalStandbyLag, SignalWALReceiver, SignalSlotRetained, SignalPgbouncerWaiting, SignalPgbouncerMaxWait, SignalPostgresUp, SignalPgbouncerUp, SignalRedisUp, SignalAPIProbe, SignalSLOLatencyBucket, SignalDBConnectionGuard, SignalExporterUp, SignalAutoscalerReplicas, SignalKEDAScalerErrors, SignalKEDAEmptyResponses, SignalKEDAScalerValue, SignalKEDAPaused}

// SignalAbsentID is the id of the SignalAbsent rule that watches a signal.
func SignalAbsentID(s SignalID) TriggerID { return TriggerID("SignalAbsent:" + string(s)) }

// known reports whether id is one the catalogue defines.
func (id TriggerID) known() bool {
	if s, ok := strings.CutPrefix(string(id), "SignalAbsent:"); ok {
		return SignalID(s).known()
	}
	if base, _, ok := ForecastOf(id); ok {
		return base.known()
	}
	return slices.Contains(triggerIDs, id)
}

func (id SignalID) known() bool { return slices.Contains(signalIDs, id) }

// Bundle is the catalogue of one config, built and validated once: every
// generator (rules, tests, dashboards, autoscalers, replay) takes it and
// none rebuilds or validates it again.
type Bundle struct {
	// Config is the validated config the bundle was built from.
	Config *Config
	// Signals are the config's signals, recording rules in evaluation order.
	Signals []Signal
	// Triggers are the config's triggers, overrides applied, by group.
	Triggers []Trigger
}

// Build validates the config and builds its catalogue.
func Build(cfg *Config) (*Bundle, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Bundle{Config: cfg, Signals: Signals(cfg), Triggers: Catalogue(cfg)}, nil
}

// MustBuild is Build for configs known to be valid (tests, examples); it
// panics on an invalid one.
func MustBuild(cfg *Config) *Bundle {
	b, err := Build(cfg)
	if err != nil {
		panic(err)
	}
	return b
}

// Trigger returns a trigger of the bundle; ok is false when the config
// does not define it (its set is not included, or its inputs are not
// configured). An id the catalogue never defines panics with the id and
// the known ids: it is a renamed or misspelt trigger, which must not
// make a panel or a scaler vanish quietly.
func (b *Bundle) Trigger(id TriggerID) (Trigger, bool) {
	if !id.known() {
		panic(fmt.Sprintf("catalogue: no trigger %q; known triggers: %s", id, joinIDs(triggerIDs)))
	}
	for _, t := range b.Triggers {
		if t.ID == id {
			return t, true
		}
	}
	return Trigger{}, false
}

// Signal returns a signal of the bundle; ok is false when the config does
// not define it. An id the catalogue never defines panics, as Trigger does.
func (b *Bundle) Signal(id SignalID) (Signal, bool) {
	if !id.known() {
		panic(fmt.Sprintf("catalogue: no signal %q; known signals: %s", id, joinIDs(signalIDs)))
	}
	for _, s := range b.Signals {
		if s.ID == id {
			return s, true
		}
	}
	return Signal{}, false
}

func joinIDs[T ~string](ids []T) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = string(id)
	}
	return strings.Join(s, ", ")
}
