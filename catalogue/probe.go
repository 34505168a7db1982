package catalogue

import (
	"regexp/syntax"
	"slices"
	"unicode"

	"github.com/prometheus/prometheus/model/labels"
)

// Which series a rule of a scoped trigger covers is decided by its scopes'
// matchers in order (the first that matches wins; none: the default rule).
// Validation asks whether each scope can win any series at all, and the
// test builder needs, for each rule, label values that rule covers. Both
// search the same candidates: values the matchers themselves name or
// match, plus a fresh value that only negative matchers accept.

// freshValue is a label value no config is expected to name.
const freshValue = "headroom-probe"

// probeBudget bounds the label combinations one search tries: enough for
// every combination of the candidates of a few labels, so that a scope is
// reported unreachable only when no candidate reaches it.
const probeBudget = 20000

// ProbeSpace says which values a search may give each label.
type ProbeSpace struct {
	// Base are the values to keep when they already reach the rule: the
	// test fixture's labels (nil in validation).
	Base map[string]string
	// Allowed refuses values a label cannot take (the fixture cannot
	// write it, or the config's selectors would drop the series); nil
	// allows every value.
	Allowed func(name, value string) bool
}

// RuleLabels returns values for the labels the scopes name such that rule
// want (a scope's index, or -1 for the default rule) covers the series:
// scope want matches it and no earlier scope does, or no scope does. ok is
// false when no candidate combination does.
func (sp ProbeSpace) RuleLabels(scopes [][]*labels.Matcher, want int) (map[string]string, bool) {
	considered := scopes
	if want >= 0 {
		considered = scopes[:want+1]
	}
	var names []string
	for _, ms := range considered {
		for _, m := range ms {
			if !slices.Contains(names, m.Name) {
				names = append(names, m.Name)
			}
		}
	}
	// The values scope want names itself, then every scope's: with
	// hundreds of scopes, the first nearly always do.
	for _, wide := range []bool{false, true} {
		cands := make([][]string, len(names))
		for i, n := range names {
			cands[i] = sp.candidates(n, scopes, want, wide)
		}
		if l, ok := sp.search(names, cands, considered, want); ok {
			return l, true
		}
	}
	return nil, false
}

// search tries the combinations of the candidates, in order, for one that
// rule want covers.
func (sp ProbeSpace) search(names []string, cands [][]string, considered [][]*labels.Matcher, want int) (map[string]string, bool) {
	l := map[string]string{}
	for k, v := range sp.Base {
		l[k] = v
	}
	budget := probeBudget
	var search func(i int) bool
	search = func(i int) bool {
		if i == len(names) {
			budget--
			return ruleOfMatchers(considered, l) == want
		}
		for _, v := range cands[i] {
			if budget <= 0 {
				return false
			}
			l[names[i]] = v
			if search(i + 1) {
				return true
			}
		}
		return false
	}
	if !search(0) {
		return nil, false
	}
	out := map[string]string{}
	for _, n := range names {
		out[n] = l[n]
	}
	return out, true
}

// candidates are the values label n may take in a search for rule want,
// the base value first: every value scope want's matchers of n (wide:
// every scope's) name or match, each also after the base value (a prefix
// the config's target regular expression may demand), the fresh value and
// the empty one. Values scope want's own matchers refuse are left out.
func (sp ProbeSpace) candidates(n string, scopes [][]*labels.Matcher, want int, wide bool) []string {
	var out []string
	seen := map[string]bool{}
	add := func(v string) {
		if seen[v] {
			return
		}
		seen[v] = true
		if sp.Allowed != nil && !sp.Allowed(n, v) {
			return
		}
		if want >= 0 {
			for _, m := range scopes[want] {
				if m.Name == n && !m.Matches(v) {
					return
				}
			}
		}
		out = append(out, v)
	}
	base, hasBase := sp.Base[n]
	if hasBase {
		add(base)
	}
	// Scope want's own values first: a search for a scope usually ends
	// with its first candidates.
	order := make([]int, 0, len(scopes))
	if want >= 0 {
		order = append(order, want)
	}
	for i := range scopes {
		if i != want && wide {
			order = append(order, i)
		}
	}
	var values []string
	for _, i := range order {
		for _, m := range scopes[i] {
			if m.Name != n {
				continue
			}
			switch m.Type {
			case labels.MatchEqual, labels.MatchNotEqual:
				values = append(values, m.Value)
			case labels.MatchRegexp, labels.MatchNotRegexp:
				values = append(values, regexSamples(m.Value, 8)...)
			}
		}
	}
	for _, v := range values {
		add(v)
	}
	add(freshValue)
	if hasBase && base != "" {
		for _, v := range values {
			add(base + v)
		}
	}
	add(freshValue + "-2")
	add("")
	return out
}

// ruleOfMatchers is the index of the first scope whose matchers all match
// the labels, or -1.
func ruleOfMatchers(scopes [][]*labels.Matcher, l map[string]string) int {
	for i, ms := range scopes {
		all := true
		for _, m := range ms {
			all = all && m.Matches(l[m.Name])
		}
		if all {
			return i
		}
	}
	return -1
}

// regexSamples returns up to n strings the regular expression matches in
// full (as a label matcher does): each alternative, zero, one and two
// repetitions, a few characters of each class.
func regexSamples(re string, n int) []string {
	parsed, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return nil
	}
	m, err := labels.NewMatcher(labels.MatchRegexp, "x", re)
	if err != nil {
		return nil
	}
	var out []string
	for _, s := range samples(parsed.Simplify(), 4*n) {
		if len(out) < n && m.Matches(s) && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}

// samples enumerates up to n strings a parsed regular expression matches,
// shortest choices first.
func samples(re *syntax.Regexp, n int) []string {
	switch re.Op {
	case syntax.OpLiteral:
		return []string{string(re.Rune)}
	case syntax.OpCharClass:
		var out []string
		for i := 0; i+1 < len(re.Rune) && len(out) < 3; i += 2 {
			out = append(out, string(printableIn(re.Rune[i], re.Rune[i+1])))
		}
		return out
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return []string{"x", "-", "0"}
	case syntax.OpCapture:
		return samples(re.Sub[0], n)
	case syntax.OpStar, syntax.OpQuest:
		sub := samples(re.Sub[0], n)
		out := append([]string{""}, sub...)
		if re.Op == syntax.OpStar && len(sub) > 0 {
			out = append(out, sub[0]+sub[0])
		}
		return cut(out, n)
	case syntax.OpPlus:
		sub := samples(re.Sub[0], n)
		if len(sub) > 0 {
			sub = append(sub, sub[0]+sub[0])
		}
		return cut(sub, n)
	case syntax.OpRepeat:
		sub := samples(re.Sub[0], n)
		if len(sub) == 0 {
			return nil
		}
		var out []string
		for reps := re.Min; reps <= re.Min+1 && (re.Max < 0 || reps <= re.Max); reps++ {
			s := ""
			for i := 0; i < reps; i++ {
				s += sub[0]
			}
			out = append(out, s)
		}
		return out
	case syntax.OpConcat:
		out := []string{""}
		for _, s := range re.Sub {
			sub := samples(s, n)
			var next []string
			for _, a := range out {
				for _, b := range sub {
					if len(next) < n {
						next = append(next, a+b)
					}
				}
			}
			out = next
		}
		return out
	case syntax.OpAlternate:
		var out []string
		for _, s := range re.Sub {
			out = append(out, samples(s, n)...)
		}
		return cut(out, n)
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return []string{""}
	}
	return nil
}

// printableIn is a printable character of the range lo..hi, preferring
// letters and digits; lo when it has none.
func printableIn(lo, hi rune) rune {
	for _, r := range []rune{'x', 'a', '0', '-', '_'} {
		if lo <= r && r <= hi {
			return r
		}
	}
	for r := lo; r <= hi && r < lo+256; r++ {
		if unicode.IsPrint(r) && r != ' ' {
			return r
		}
	}
	return lo
}

func cut(s []string, n int) []string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
