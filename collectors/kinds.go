package collectors

import (
	"log/slog"

	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/kind"
)

// constructors is the one table of the kinds of target New builds: for
// each kind, its targets in a config, read from the kind's section with
// the kind's constructor. Adding a kind is an entry here (and its section
// in config.Config); TestConstructorsCoverKinds holds the table to
// kind.All().
var constructors = map[kind.Kind]func(*config.Config) []configured{
	kind.Postgres:  section(func(c *config.Config) []config.Postgres { return c.Postgres }, NewPostgres),
	kind.PgBouncer: section(func(c *config.Config) []config.PgBouncer { return c.PgBouncer }, NewPgBouncer),
	kind.Redis:     section(func(c *config.Config) []config.Redis { return c.Redis }, NewRedis),
	kind.API:       section(func(c *config.Config) []config.API { return c.API }, NewAPI),
}

// configured is one target of a config, not built yet: its name, for
// errors, and its constructor bound to its section of the config.
type configured struct {
	name  string
	build func(logger *slog.Logger) (Target, error)
}

// section lists a kind's targets in a config, in the file's order, each
// bound to the kind's constructor.
func section[C interface{ TargetName() string }](
	targets func(*config.Config) []C,
	build func(C, *slog.Logger) (Target, error),
) func(*config.Config) []configured {
	return func(cfg *config.Config) []configured {
		var out []configured
		for _, c := range targets(cfg) {
			out = append(out, configured{
				name:  c.TargetName(),
				build: func(logger *slog.Logger) (Target, error) { return build(c, logger) },
			})
		}
		return out
	}
}

// KindCount is how many targets of one kind a config lists.
type KindCount struct {
	Kind kind.Kind
	N    int
}

// TargetsPerKind counts a config's targets of every kind, zero counts
// included, in kind.All()'s order: the same table New builds from, so
// that what `serve --config.check` reports is what New would build.
func TargetsPerKind(cfg *config.Config) []KindCount {
	var out []KindCount
	for _, k := range kind.All() {
		out = append(out, KindCount{Kind: k, N: len(constructors[k](cfg))})
	}
	return out
}
