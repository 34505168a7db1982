package catalogue

// ScopeRecord is the record a scoped trigger's rules read: its signal, each
// series labelled with the `where` scope that wins it.
type ScopeRecord struct {
	Trigger Trigger
	Record  string
	Expr    string
}

// ScopeRecords returns the scope record of every scoped trigger of a
// catalogue, in its order.
func ScopeRecords(cfg *Config, cat []Trigger) []ScopeRecord {
	var out []ScopeRecord
	for _, t := range cat {
		if len(t.Scopes) > 0 {
			out = append(out, ScopeRecord{Trigger: t, Record: ScopeRecordName(t), Expr: scopeRecordExpr(PromQL{cfg}, t)})
		}
	}
	return out
}

// Scoped reports whether any trigger override has `where` scopes, so that
// a config without them is not catalogued twice for its recording rules.
func (c *Config) Scoped() bool {
	for _, o := range c.Triggers {
		if len(o.Where) > 0 {
			return true
		}
	}
	return false
}
