package catalogue

// windowField is the config field that sets a rate signal's window.
func windowField(signalID SignalID) string {
	switch signalID {
	case SignalAPIRequests, SignalAPIRequestsInstance, SignalAPIRequestsPerInstance, SignalAPIErrorRatio, SignalAPILatencyP95:
		return "api.rate_window"
	case SignalRedisHitRatio, SignalRedisEvictions:
		return "redis.rate_window"
	}
	return "resources.rate_window"
}

// validateWindows refuses a rule whose `for` is shorter than its signal's
// rate window when a filling window pushes the signal across the
// threshold. Prometheus does not extrapolate a series back past its first
// sample, so a new instance's rate reads low until a whole window of it has
// been scraped (and node CPU, 1 - the idle rate, reads high): a scale-down
// "<" alert on a rate, or a ">" alert on node CPU, with a shorter `for`
// fires on every new instance.
func validateWindows(resolved []Trigger, bad func(field, format string, args ...any)) {
	for _, t := range resolved {
		for _, r := range scopedRules(t) {
			s := r.t.Signal
			low := s.Shape == ShapeRate && side(r.t) < 0
			high := s.Shape == ShapeIdle && side(r.t) > 0
			if (!low && !high) || s.Window == 0 || r.t.For >= s.Window {
				continue
			}
			reads := "low"
			if high {
				reads = "high"
			}
			bad(r.field+".for", "%s is shorter than the rate window of %s's signal %s (%s %s): a new instance's rate reads %s until a whole window is scraped, "+
				"so %s (%s %s) would fire on every new instance; make for at least %s or the window shorter",
				Dur(r.t.For), t.ID, s.Title, windowField(s.ID), Dur(s.Window), reads, ruleName(r), string(r.t.Comparison), Num(r.t.Threshold), Dur(s.Window))
		}
	}
}
