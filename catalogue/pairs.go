package catalogue

import (
	"fmt"
	"maps"

	"github.com/prometheus/prometheus/model/labels"
)

// ScalePair is a scale-up and a scale-down trigger that compare one signal
// from opposite sides (CPUHigh and CPULow on API CPU utilisation). Between
// them must lie a band where neither fires, margins included, or one value
// asks for more capacity and less at once.
type ScalePair struct {
	Up, Down Trigger
}

// ScalePairs names every scale-up and scale-down pair among triggers:
// same signal, one comparison from above (">", ">=") and one from below
// ("<"). Triggers with an expression of their own are not compared.
func ScalePairs(triggers []Trigger) []ScalePair {
	var out []ScalePair
	for _, up := range triggers {
		if up.Direction != Up || side(up) == 0 {
			continue
		}
		for _, down := range triggers {
			if down.Direction == Down && down.Signal.ID == up.Signal.ID && side(down) == -side(up) {
				out = append(out, ScalePair{Up: up, Down: down})
			}
		}
	}
	return out
}

// side is +1 for a trigger that fires above its threshold, -1 below, 0
// for one that is not a plain signal-versus-threshold comparison.
func side(t Trigger) int {
	if t.expr != nil {
		return 0
	}
	switch t.Comparison {
	case Above, AtLeast:
		return 1
	case Below:
		return -1
	}
	return 0
}

// reach is the far end of the values a rule can fire or hold on: a "<"
// rule up to threshold + margin, a ">" or ">=" rule down to threshold -
// margin.
func reach(t Trigger) float64 {
	m := 0.0
	if t.Hysteresis() {
		m = t.Margin
	}
	if side(t) < 0 {
		return Round(t.Threshold + m)
	}
	return Round(t.Threshold - m)
}

// scopedRule is one alerting rule of a trigger: its default rule or one of
// its `where` scopes, with the series it selects.
type scopedRule struct {
	t     Trigger
	field string // triggers.CPUHigh, triggers.CPUHigh.where[0]
	// own are the scope's matchers; nil for the default rule, which
	// selects every series its scopes do not.
	own []*labels.Matcher
	// excluded are the matchers of the scopes that take a series before
	// this rule: the earlier scopes, or every scope for the default rule.
	excluded [][]*labels.Matcher
}

func scopedRules(t Trigger) []scopedRule {
	field := "triggers." + string(t.ID)
	var excluded [][]*labels.Matcher
	var out []scopedRule
	for i, s := range t.Scopes {
		out = append(out, scopedRule{t: s, field: fmt.Sprintf("%s.where[%d]", field, i), own: s.Matchers, excluded: excluded})
		excluded = append(excluded, s.Matchers)
	}
	return append([]scopedRule{{t: t, field: field, excluded: excluded}}, out...)
}

// mayOverlap reports whether two rules of one signal can select the same
// series. It is conservative: only a label that one rule fixes to a value
// the other's matcher refuses (target="a" against target="b" or
// target!="a"), or a rule whose series an earlier scope of the other
// trigger takes (its matchers include all of that scope's), keeps them
// apart; regular expressions against each other, different labels and a
// default rule against a scope count as overlapping.
func mayOverlap(a, b scopedRule) bool {
	for _, x := range a.own {
		for _, y := range b.own {
			if x.Name != y.Name {
				continue
			}
			if (x.Type == labels.MatchEqual && !y.Matches(x.Value)) || (y.Type == labels.MatchEqual && !x.Matches(y.Value)) {
				return false
			}
		}
	}
	return !takenBefore(a.own, b.excluded) && !takenBefore(b.own, a.excluded)
}

// takenBefore reports whether every series own selects is selected by one
// of the excluded scopes: own has all of that scope's matchers.
func takenBefore(own []*labels.Matcher, excluded [][]*labels.Matcher) bool {
	if len(own) == 0 {
		return false
	}
	have := map[string]bool{}
	for _, m := range own {
		have[m.String()] = true
	}
	for _, ms := range excluded {
		all := len(ms) > 0
		for _, m := range ms {
			all = all && have[m.String()]
		}
		if all {
			return true
		}
	}
	return false
}

// validateScalePairs refuses a scale-up and a scale-down rule that can fire
// on the same value of the same series: the scale-down rule's reach
// (threshold + margin) must stay below the scale-up rule's (threshold -
// margin), for the triggers' default rules and for every pair of `where`
// scopes that can select the same series.
func validateScalePairs(resolved []Trigger, bad func(field, format string, args ...any)) {
	for _, p := range ScalePairs(resolved) {
		for _, ru := range scopedRules(p.Up) {
			for _, rd := range scopedRules(p.Down) {
				if !mayOverlap(ru, rd) {
					continue
				}
				low, high := rd, ru
				if side(p.Down) > 0 {
					low, high = ru, rd
				}
				lo, hi := reach(low.t), reach(high.t)
				if lo < hi {
					continue
				}
				where := fmt.Sprintf("between %s and %s", Num(hi), Num(lo))
				if lo == hi {
					where = fmt.Sprintf("at %s, with no band between them", Num(lo))
				}
				bad(rd.field+".threshold", "scale-down %s and scale-up %s can both fire on %s %s: "+
					"%s.threshold + %s.margin (%s + %s) must be below %s.threshold - %s.margin (%s - %s)",
					ruleName(rd), ruleName(ru), p.Up.Signal.Title, where,
					low.field, low.field, Num(low.t.Threshold), Num(marginOf(low.t)),
					high.field, high.field, Num(high.t.Threshold), Num(marginOf(high.t)))
			}
		}
	}
}

func ruleName(r scopedRule) string {
	if r.t.Match == "" {
		return string(r.t.ID)
	}
	return fmt.Sprintf("%s where {%s}", r.t.ID, r.t.Match)
}

func marginOf(t Trigger) float64 {
	if t.Hysteresis() {
		return t.Margin
	}
	return 0
}

// resolvedTriggers are the config's enabled triggers (of its definitions)
// with their overrides and scopes applied, as Catalogue has them before
// rendering; Validate compares them without rendering any rule.
func (c *Config) resolvedTriggers(defs []Trigger) []Trigger {
	var out []Trigger
	for _, t := range defs {
		o := c.Triggers[t.ID]
		enabled := c.includes(t.Set)
		if o.Enabled != nil {
			enabled = *o.Enabled
		}
		if !enabled {
			continue
		}
		t = o.apply(t)
		for _, sc := range o.Where {
			s := sc.apply(t)
			ms, err := promqlParser.ParseMetricSelector("{" + sc.Match + "}")
			if err != nil {
				continue // Validate rejects it: Generate never gets here
			}
			s.Match, s.Matchers = sc.Match, ms
			// The scope label tells the rules of one alertname apart (for
			// promtool's duplicate-rule lint, and for routing or silencing
			// one scope); the default rule's alerts keep their labels.
			s.Labels = maps.Clone(t.Labels)
			if s.Labels == nil {
				s.Labels = map[string]string{}
			}
			s.Labels["scope"] = sc.Match
			t.Scopes = append(t.Scopes, s)
		}
		out = append(out, t)
	}
	return out
}
