package promtest

import "github.com/prometheus/prometheus/model/rulefmt"

// recordsOf maps each record of rule groups to its expressions.
func recordsOf(groups rulefmt.RuleGroups) map[string][]string {
	out := map[string][]string{}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			if r.Record != "" {
				out[r.Record] = append(out[r.Record], r.Expr)
			}
		}
	}
	return out
}
