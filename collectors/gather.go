package collectors

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom-dev/headroom/internal/exposition"
)

// Gatherer returns a gatherer that scrapes the given runners concurrently
// under ctx, each series labelled with its target name.
func Gatherer(ctx context.Context, runners ...*Runner) prometheus.Gatherer {
	return exposition.NewGatherer(ctx, nil, sources(runners))
}

// sources are the runners as the gatherer takes them: each is a source
// whose name is its target label.
func sources(runners []*Runner) exposition.Sources {
	out := make([]exposition.Source, len(runners))
	for i, r := range runners {
		out[i] = r
	}
	return exposition.NewSources(out...)
}
