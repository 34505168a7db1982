package collectors

import (
	"fmt"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom-dev/headroom/internal/exposition"
)

var (
	// Primary side: one series per connected standby.
	pgReplWriteLagDesc  = pgDesc("replication_write_lag_seconds", exposition.Gauge, "pg_stat_replication write_lag of a standby (0 when caught up and idle).", "replica", "client_addr")
	pgReplFlushLagDesc  = pgDesc("replication_flush_lag_seconds", exposition.Gauge, "pg_stat_replication flush_lag of a standby (0 when caught up and idle).", "replica", "client_addr")
	pgReplReplayLagDesc = pgDesc("replication_replay_lag_seconds", exposition.Gauge, "pg_stat_replication replay_lag of a standby (0 when caught up and idle).", "replica", "client_addr")
	pgReplSentBytesDesc = pgDesc("replication_sent_lag_bytes", exposition.Gauge, "WAL the primary has written but not yet sent to the standby.", "replica", "client_addr")
	pgReplReplayBytes   = pgDesc("replication_replay_lag_bytes", exposition.Gauge, "WAL the primary has written that the standby has not replayed.", "replica", "client_addr")
	pgReplStreamingDesc = pgDesc("replication_streaming", exposition.Gauge, "1 when the standby's WAL sender is in state streaming.", "replica", "client_addr")
	pgWALPositionDesc   = pgDesc("wal_position_bytes", exposition.Gauge, "The primary's current WAL write position (pg_current_wal_lsn) in bytes.")

	pgSlotActiveDesc   = pgDesc("replication_slot_active", exposition.Gauge, "1 when a consumer is connected to the slot.", "slot", "slot_type")
	pgSlotRetainedDesc = pgDesc("replication_slot_retained_wal_bytes", exposition.Gauge, "WAL the slot holds back from removal (from its restart_lsn).", "slot", "slot_type")
	pgSlotLostDesc     = pgDesc("replication_slot_wal_lost", exposition.Gauge, "1 when the slot's wal_status is lost: its consumer can no longer catch up.", "slot", "slot_type")

	// Standby side: the raw inputs and the lag computed from them.
	pgStandbyLagDesc = pgDesc("standby_lag_seconds", exposition.Gauge,
		"How far the standby's data is behind the primary: 0 when it has replayed all it received while streaming; else the time since it was last seen streaming and caught up (or since the last replayed commit, whichever is later).")
	pgStandbyReceivedDesc  = pgDesc("standby_received_wal_position_bytes", exposition.Gauge, "Last WAL position received and flushed by the standby (pg_last_wal_receive_lsn).")
	pgStandbyReplayedDesc  = pgDesc("standby_replayed_wal_position_bytes", exposition.Gauge, "Last WAL position replayed by the standby (pg_last_wal_replay_lsn).")
	pgStandbyReplayBytes   = pgDesc("standby_replay_lag_bytes", exposition.Gauge, "WAL received but not yet replayed by the standby.")
	pgStandbyReplayTSDesc  = pgDesc("standby_last_replay_timestamp_seconds", exposition.Gauge, "Commit time (primary clock) of the last transaction replayed (pg_last_xact_replay_timestamp).")
	pgStandbyPausedDesc    = pgDesc("standby_replay_paused", exposition.Gauge, "1 when WAL replay is paused or a pause was requested.")
	pgReceiverStreamDesc   = pgDesc("wal_receiver_streaming", exposition.Gauge, "1 when the standby's WAL receiver is streaming from its upstream.")
	pgReceiverStatusDesc   = pgDesc("wal_receiver_status", exposition.Gauge, "The WAL receiver's status as a state set; status=\"none\" when no receiver runs.", "status")
	pgReceiverSendTSDesc   = pgDesc("wal_receiver_last_message_send_timestamp_seconds", exposition.Gauge, "Send time of the last message received from the upstream WAL sender.")
	pgReceiverRecvTSDesc   = pgDesc("wal_receiver_last_message_receipt_timestamp_seconds", exposition.Gauge, "Receipt time of the last message received from the upstream WAL sender.")
	pgReceiverFlushedDesc  = pgDesc("wal_receiver_flushed_wal_position_bytes", exposition.Gauge, "Last WAL position the WAL receiver flushed to disk.")
	walReceiverStatuses    = []string{"streaming", "starting", "waiting", "restarting", "stopping", "stopped", "none"}
	pgReceiverStatusUnseen = "none"
)

func (t *postgresTarget) readReplication(rows pgx.Rows, s *Scrape, emit func(prometheus.Metric)) error {
	replicaCap := s.Cap("replicas", t.cfg.Limits.Replicas)
	seen := map[backendKey]bool{}
	for rows.Next() {
		var app, addr, state *string
		var write, flush, replay, sentBytes, replayBytes *float64
		var position float64
		if err := rows.Scan(&position, &app, &addr, &state, &write, &flush, &replay, &sentBytes, &replayBytes); err != nil {
			return err
		}
		// The position comes with every row, and alone (with NULLs) when
		// no standby is connected: it matters for slots and for telling
		// an idle primary from a busy one.
		emitSample(emit, pgWALPositionDesc, position)
		if app == nil {
			continue
		}
		key := backendKey{*app, *addr}
		// Two standbys with the same application_name on one host cannot
		// be told apart; the first one stands for both.
		if seen[key] || !replicaCap.Allow(*app+"\x00"+*addr) {
			continue
		}
		seen[key] = true
		emitSample(emit, pgReplWriteLagDesc, *write, *app, *addr)
		emitSample(emit, pgReplFlushLagDesc, *flush, *app, *addr)
		emitSample(emit, pgReplReplayLagDesc, *replay, *app, *addr)
		emitSample(emit, pgReplSentBytesDesc, *sentBytes, *app, *addr)
		emitSample(emit, pgReplReplayBytes, *replayBytes, *app, *addr)
		emitSample(emit, pgReplStreamingDesc, boolFloat(*state == "streaming"), *app, *addr)
	}
	return nil
}

func (t *postgresTarget) readSlots(rows pgx.Rows, s *Scrape, emit func(prometheus.Metric)) error {
	slotCap := s.Cap("slots", t.cfg.Limits.Slots)
	for rows.Next() {
		var name, slotType, walStatus string
		var active float64
		var retained *float64
		if err := rows.Scan(&name, &slotType, &active, &walStatus, &retained); err != nil {
			return err
		}
		if !slotCap.Allow(name) {
			continue
		}
		emitSample(emit, pgSlotActiveDesc, active, name, slotType)
		emitSample(emit, pgSlotLostDesc, boolFloat(walStatus == "lost"), name, slotType)
		// A slot that was never used has no restart_lsn and retains nothing.
		if retained != nil && *retained >= 0 {
			emitSample(emit, pgSlotRetainedDesc, *retained, name, slotType)
		} else {
			emitSample(emit, pgSlotRetainedDesc, 0, name, slotType)
		}
	}
	return nil
}

// standbyLag remembers what earlier scrapes saw, because lag that is right
// in every case cannot be read off a standby in one query:
//
//   - now() - pg_last_xact_replay_timestamp() grows without bound on an
//     idle primary, and reads minutes when replay was paused for seconds
//     after a quiet spell (postgres_exporter #385, #534);
//   - "0 when received == replayed" hides a standby whose stream is
//     blocked: it has replayed everything it received, and receives
//     nothing (#907).
//
// What the standby can prove is when it was last fresh: streaming, with
// everything received replayed. The first WAL it has not replayed arrived
// after that moment (and was committed no earlier than the last replayed
// commit), so now minus the later of the two bounds the lag from above,
// overestimating by at most one scrape interval.
type standbyLag struct {
	freshAt time.Time   // last scrape that saw it streaming and caught up
	samples []lsnSample // received positions seen while behind, oldest first
}

type lsnSample struct {
	at       time.Time
	received float64
}

// observe records one scrape and returns the lag, or false when nothing can
// be said (no earlier observation and no replayed commit).
func (l *standbyLag) observe(now time.Time, streaming bool, received, replayed float64, replayTS *time.Time) (time.Duration, bool) {
	if streaming && replayed >= received {
		l.freshAt = now
		l.samples = l.samples[:0]
		return 0, true
	}
	bound := time.Time{}
	if streaming {
		l.samples = append(l.samples, lsnSample{at: now, received: received})
		// A scrape that saw the standby holding nothing beyond today's
		// replay position was fresh as far as today's data goes.
		keep := l.samples[:0]
		for _, smp := range l.samples {
			if smp.received <= replayed {
				if smp.at.After(l.freshAt) {
					l.freshAt = smp.at
				}
				continue
			}
			keep = append(keep, smp)
		}
		l.samples = keep
	}
	if !l.freshAt.IsZero() {
		bound = l.freshAt
	}
	if replayTS != nil && replayTS.After(bound) {
		bound = *replayTS
	}
	if bound.IsZero() {
		return 0, false
	}
	lag := now.Sub(bound)
	if lag < 0 {
		// Clock skew between primary and standby; lag is never negative.
		lag = 0
	}
	return lag, true
}

func (t *postgresTarget) readStandby(rows pgx.Rows, emit func(prometheus.Metric)) error {
	var (
		now                      time.Time
		received, replayed       *float64
		replayTS, sendTS, recvTS *time.Time
		paused                   bool
		status                   string
		flushed                  *float64
	)
	if !rows.Next() {
		return fmt.Errorf("standby query returned no row")
	}
	if err := rows.Scan(&now, &received, &replayed, &replayTS, &paused, &status, &sendTS, &recvTS, &flushed); err != nil {
		return err
	}
	streaming := status == "streaming"
	if status == "" {
		status = pgReceiverStatusUnseen
	}
	emitSample(emit, pgStandbyPausedDesc, boolFloat(paused))
	emitSample(emit, pgReceiverStreamDesc, boolFloat(streaming))
	for _, st := range walReceiverStatuses {
		emitSample(emit, pgReceiverStatusDesc, boolFloat(st == status), st)
	}
	if sendTS != nil {
		emitSample(emit, pgReceiverSendTSDesc, unixSeconds(*sendTS))
	}
	if recvTS != nil {
		emitSample(emit, pgReceiverRecvTSDesc, unixSeconds(*recvTS))
	}
	if flushed != nil {
		emitSample(emit, pgReceiverFlushedDesc, *flushed)
	}
	if replayTS != nil {
		emitSample(emit, pgStandbyReplayTSDesc, unixSeconds(*replayTS))
	}
	if replayed != nil {
		emitSample(emit, pgStandbyReplayedDesc, *replayed)
	}
	if received != nil {
		emitSample(emit, pgStandbyReceivedDesc, *received)
	}
	if received == nil || replayed == nil {
		// Recovering from archive only, never streamed: there is no
		// received position to compare against.
		return nil
	}
	behind := *received - *replayed
	if behind < 0 {
		behind = 0
	}
	emitSample(emit, pgStandbyReplayBytes, behind)

	t.lagMu.Lock()
	lag, ok := t.lag.observe(now, streaming, *received, *replayed, replayTS)
	t.lagMu.Unlock()
	if ok {
		emitSample(emit, pgStandbyLagDesc, lag.Seconds())
	}
	return nil
}

func unixSeconds(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

// sortedKeys is the sorted union of two maps' keys, so that label caps keep
// the same values from one scrape to the next.
func sortedKeys(a, b map[string]float64) []string {
	set := make(map[string]struct{}, len(a)+len(b))
	for k := range a {
		set[k] = struct{}{}
	}
	for k := range b {
		set[k] = struct{}{}
	}
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
