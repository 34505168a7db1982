package exposition

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/proto"
)

// Gatherer scrapes its sources concurrently and turns their series into
// families itself instead of through a prometheus.Registry (plus
// prometheus.Gatherers to add the static registry). Those hash and re-check
// every series, the second time after all targets are in, on the scrape's
// critical path: a third of the exporter's CPU per scrape. Every series
// is a sample or a histogram that knows its descriptor, so the name, help
// and type come from there; what a registry checks that can still go
// wrong at run time (a duplicate series, a metric that fails to write) is
// checked here, and the offending series dropped with an error, as a
// registry would. (Label values that are not UTF-8 never get this far:
// NewSample repairs them.)
type Gatherer struct {
	ctx     context.Context
	static  prometheus.Gatherer
	sources Sources
}

// Source is one target of a scrape: every series it collects is labelled
// with its name.
type Source interface {
	Name() string
	// Collect returns the source's samples and histograms, by ctx's
	// deadline.
	Collect(ctx context.Context) []prometheus.Metric
}

// Sources are the sources of a scrape, each with the target label pair
// its series carry. They are made once, with the targets, and shared by
// every scrape of them (the label pairs are never written to once made),
// so that a scrape builds neither the list nor a label per source.
type Sources struct {
	sources []Source
	targets []*dto.LabelPair
}

// NewSources prepares sources for any number of scrapes.
func NewSources(sources ...Source) Sources {
	s := Sources{sources: sources, targets: make([]*dto.LabelPair, len(sources))}
	for i, src := range sources {
		s.targets[i] = &dto.LabelPair{Name: proto.String(TargetLabel), Value: proto.String(src.Name())}
	}
	return s
}

// Only is the i-th source alone, with the same label pair: what a probe
// of one target gathers.
func (s Sources) Only(i int) Sources {
	return Sources{sources: s.sources[i : i+1 : i+1], targets: s.targets[i : i+1 : i+1]}
}

// NewGatherer returns a gatherer that scrapes the sources concurrently
// under ctx and, while they answer, the static registry (build info, Go
// and process metrics) when there is one.
func NewGatherer(ctx context.Context, static prometheus.Gatherer, sources Sources) *Gatherer {
	return &Gatherer{ctx: ctx, static: static, sources: sources}
}

// Gather is what promhttp serves for the formats other than text, and what
// tests and linters read.
func (g *Gatherer) Gather() ([]*dto.MetricFamily, error) {
	var static []*dto.MetricFamily
	var errs []error
	parts := gatherConcurrently(g, func(src Source, target *dto.LabelPair) partialFamilies {
		return sourceFamilies(target, src.Collect(g.ctx))
	}, func(fams []*dto.MetricFamily, err error) {
		static = fams
		if err != nil {
			errs = append(errs, err)
		}
	})
	fams, err := merge(static, parts)
	return fams, errors.Join(append(errs, err)...)
}

// gatherText is Gather for the text format: each source's series become
// text in the source's goroutine, the static registry's while they are
// out.
func (g *Gatherer) gatherText() []textPart {
	var static textPart
	parts := gatherConcurrently(g, func(src Source, target *dto.LabelPair) textPart {
		return sourceText(target, src.Collect(g.ctx))
	}, func(fams []*dto.MetricFamily, err error) {
		static = staticText(fams)
		if err != nil {
			static.errs = append(static.errs, err)
		}
	})
	// First, as merge takes it: a family the registry and a target both
	// report keeps the registry's help and type on both paths.
	return append([]textPart{static}, parts...)
}

// gatherConcurrently turns each source's series into a part in its own
// goroutine, as soon as the source answers: the faster targets' work is
// done while the slowest one is still out. The static registry is
// gathered meanwhile and handed to static.
func gatherConcurrently[P any](g *Gatherer, part func(Source, *dto.LabelPair) P, static func([]*dto.MetricFamily, error)) []P {
	parts := make([]P, len(g.sources.sources))
	var wg sync.WaitGroup
	for i, src := range g.sources.sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[i] = part(src, g.sources.targets[i])
		}()
	}
	if g.static != nil {
		// The targets' goroutines first, until their queries are out:
		// the static registry (process and Go metrics) then takes the
		// CPU while they wait for answers, not before they ask.
		runtime.Gosched()
		static(g.static.Gather())
	}
	wg.Wait()
	return parts
}

// partialFamilies are one target's families, by name, and what could not
// be added to them.
type partialFamilies struct {
	byName map[string]*dto.MetricFamily
	errs   []error
}

// sourceFamilies turns one target's metrics into families, each series
// labelled with the target and each family sorted, so that the merge only
// has to interleave sorted runs.
func sourceFamilies(target *dto.LabelPair, metrics []prometheus.Metric) partialFamilies {
	p := partialFamilies{byName: make(map[string]*dto.MetricFamily, 64)}
	for _, m := range metrics {
		if err := add(p.byName, m, target); err != nil {
			p.errs = append(p.errs, err)
		}
	}
	for _, f := range p.byName {
		slices.SortStableFunc(f.Metric, compareLabels)
	}
	return p
}

// merge joins the static families and the targets' into one sorted list:
// families by name, series within a family by label values. A family that
// more than one target reports (two PostgreSQL servers, every target's
// headroom_target_up) is the merge of their sorted series.
func merge(static []*dto.MetricFamily, parts []partialFamilies) ([]*dto.MetricFamily, error) {
	var errs []error
	byName := make(map[string]*dto.MetricFamily, len(static)+64)
	for _, f := range static {
		slices.SortStableFunc(f.Metric, compareLabels)
		byName[f.GetName()] = f
	}
	for _, p := range parts {
		errs = append(errs, p.errs...)
		for name, f := range p.byName {
			have, ok := byName[name]
			switch {
			case !ok:
				byName[name] = f
			case have.GetType() != f.GetType():
				errs = append(errs, fmt.Errorf("metric %s is a %s here and a %s elsewhere", name, f.GetType(), have.GetType()))
			default:
				have.Metric = mergeSorted(have.Metric, f.Metric)
			}
		}
	}
	out := make([]*dto.MetricFamily, 0, len(byName))
	for _, f := range byName {
		if err := dedupe(f); err != nil {
			errs = append(errs, err)
		}
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b *dto.MetricFamily) int { return strings.Compare(a.GetName(), b.GetName()) })
	return out, errors.Join(errs...)
}

// mergeSorted interleaves two series lists sorted by label values; on equal
// labels a's series comes first, as a stable sort of a then b would order
// them.
func mergeSorted(a, b []*dto.Metric) []*dto.Metric {
	out := make([]*dto.Metric, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if compareLabels(b[0], a[0]) < 0 {
			out, b = append(out, b[0]), b[1:]
		} else {
			out, a = append(out, a[0]), a[1:]
		}
	}
	return append(append(out, a...), b...)
}

// add writes one metric into its family.
func add(byName map[string]*dto.MetricFamily, m prometheus.Metric, target *dto.LabelPair) error {
	pb, d, err := message(m, target)
	if err != nil {
		return err
	}
	typ := d.typ.dto()
	f, ok := byName[d.name]
	if !ok {
		f = &dto.MetricFamily{Name: proto.String(d.name), Help: proto.String(d.help), Type: typ.Enum()}
		byName[d.name] = f
	} else if f.GetType() != typ {
		return fmt.Errorf("metric %s is a %s here and a %s elsewhere", d.name, typ, f.GetType())
	}
	f.Metric = append(f.Metric, pb)
	return nil
}

// message writes one metric as a protobuf message, with the target label,
// and says what it is.
func message(m prometheus.Metric, target *dto.LabelPair) (*dto.Metric, *Desc, error) {
	em, ok := m.(metric)
	if !ok {
		return nil, nil, fmt.Errorf("metric %s was not made by exposition.NewSample or NewHistogram", m.Desc())
	}
	d := em.described()
	pb := &dto.Metric{}
	if s, ok := em.(*sample); ok {
		if s.err != nil {
			return nil, d, s.err
		}
		s.write(pb, target)
		return pb, d, nil
	}
	if err := m.Write(pb); err != nil {
		return nil, d, fmt.Errorf("metric %s: %w", d.name, err)
	}
	pb.Label = withLabel(pb.Label, target)
	return pb, d, nil
}

// withLabel inserts lp into label pairs already sorted by name (as const
// metrics write them), keeping the order.
func withLabel(pairs []*dto.LabelPair, lp *dto.LabelPair) []*dto.LabelPair {
	i, _ := slices.BinarySearchFunc(pairs, lp.GetName(), func(p *dto.LabelPair, name string) int {
		return strings.Compare(p.GetName(), name)
	})
	// Clipped: the pairs belong to a const metric that concurrent scrapes
	// share (singleflight), so the insert must copy, never write into
	// spare capacity.
	return slices.Insert(slices.Clip(pairs), i, lp)
}

// dedupe drops, from a family sorted by label values, a series whose
// labels repeat the one before it: Prometheus would reject the whole scrape
// for it.
func dedupe(f *dto.MetricFamily) error {
	var dups int
	kept := f.Metric[:0]
	for i, m := range f.Metric {
		if i > 0 && compareLabels(f.Metric[i-1], m) == 0 {
			dups++
			continue
		}
		kept = append(kept, m)
	}
	f.Metric = kept
	if dups > 0 {
		return fmt.Errorf("metric %s: %d duplicate series dropped", f.GetName(), dups)
	}
	return nil
}

func compareLabels(a, b *dto.Metric) int {
	for i := 0; i < len(a.Label) && i < len(b.Label); i++ {
		if c := strings.Compare(a.Label[i].GetName(), b.Label[i].GetName()); c != 0 {
			return c
		}
		if c := strings.Compare(a.Label[i].GetValue(), b.Label[i].GetValue()); c != 0 {
			return c
		}
	}
	return len(a.Label) - len(b.Label)
}
