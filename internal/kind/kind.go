// Package kind is the one list of the kinds of target headroom scrapes.
// The exporter's config, its collectors and the trigger model all import
// it, so that adding a kind is one entry here rather than a string repeated
// in each of them.
package kind

// Kind is a kind of target, as it appears in the `kind` label of
// headroom_target_up and in the `kind` field of a target's config.
type Kind string

// The kinds of target, in the order the exporter lists them.
const (
	Postgres  Kind = "postgres"
	PgBouncer Kind = "pgbouncer"
	Redis     Kind = "redis"
	API       Kind = "api"
)

// kinds holds every kind with what readers call it, in the order of the
// constants above.
var kinds = []struct {
	kind  Kind
	title string
}{
	{Postgres, "PostgreSQL"},
	{PgBouncer, "PgBouncer"},
	{Redis, "Redis"},
	{API, "API"},
}

// All returns every kind, in the order the exporter lists them.
func All() []Kind {
	all := make([]Kind, len(kinds))
	for i, k := range kinds {
		all[i] = k.kind
	}
	return all
}

// Title is the name a reader knows the kind's server by ("PostgreSQL"),
// for summaries, panel titles and error messages.
func (k Kind) Title() string {
	for _, known := range kinds {
		if known.kind == k {
			return known.title
		}
	}
	return string(k)
}

// MetricPrefix is the prefix of every metric a target of this kind
// exposes, e.g. "headroom_postgres_".
func (k Kind) MetricPrefix() string { return "headroom_" + string(k) + "_" }
