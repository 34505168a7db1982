package catalogue

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/headroom-dev/headroom/internal/kind"
)

// promqlParser is the upstream parser with default options; the generator
// uses it to validate selectors and the tests to check every expression.
var promqlParser = parser.NewParser(parser.Options{})

// ParseExpr parses a PromQL expression with the same parser the generator
// validates with.
func ParseExpr(expr string) (parser.Expr, error) { return promqlParser.ParseExpr(expr) }

// withMatchers adds label matchers to every vector selector of a signal's
// query. A signal's query selects series that carry every label the signal
// keeps, which is all a scope may match on (Config.validateScopes), so each
// of its selectors takes the matchers. A query that is one selector (every
// signal's is) keeps its matchers' order and the ", " of sel.
func withMatchers(query string, ms ...*labels.Matcher) string {
	expr, err := promqlParser.ParseExpr(query)
	if err != nil {
		panic(fmt.Sprintf("signal query %q: %v", query, err)) // built by Signals from selectors Validate has parsed
	}
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			vs.LabelMatchers = append(vs.LabelMatchers, ms...)
		}
		return nil
	})
	vs, ok := expr.(*parser.VectorSelector)
	if !ok {
		return expr.String()
	}
	var parts []string
	for _, m := range vs.LabelMatchers {
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual && m.Value == vs.Name {
			continue
		}
		parts = append(parts, m.String())
	}
	return Sel(vs.Name, parts...)
}

// InCluster restricts every selector of a query to the cluster the
// workload runs in (autoscaling.cluster) when the config keeps a cluster
// label: one Prometheus then holds every cluster's series, and a scaler
// must read only its own cluster's load. The aggregations keep the cluster
// label, so an aggregated result is still one series per group.
func InCluster(cfg *Config, query string) string {
	if cfg.ClusterLabel == "" {
		return query
	}
	return withMatchers(query, labels.MustNewMatcher(labels.MatchEqual, cfg.ClusterLabel, cfg.Autoscaling.Cluster))
}

// PromQL builds the PromQL text of one config: it knows the selectors and the
// cluster label, so that every aggregation and join carries it.
type PromQL struct{ cfg *Config }

// By renders "by (cluster, a, b)" with the cluster label first; "" when there
// are no labels at all (a plain sum over everything).
func (p PromQL) By(labels ...string) string {
	l := p.Labels(labels...)
	if len(l) == 0 {
		return ""
	}
	return "by (" + strings.Join(l, ", ") + ") "
}

// On renders "on (cluster, a, b)", or "on ()".
func (p PromQL) On(labels ...string) string { return "on " + p.Grouping(labels...) }

// Grouping renders "(cluster, a, b)", or "()": the label list of a by or
// on clause that is written even when empty (dashboards write "by ()").
func (p PromQL) Grouping(labels ...string) string {
	return "(" + strings.Join(p.Labels(labels...), ", ") + ")"
}

func (p PromQL) Labels(labels ...string) []string {
	var out []string
	if p.cfg.ClusterLabel != "" {
		out = append(out, p.cfg.ClusterLabel)
	}
	for _, l := range labels {
		if l != p.cfg.ClusterLabel && !contains(out, l) {
			out = append(out, l)
		}
	}
	return out
}

// Agg renders op by (labels) (expr).
func (p PromQL) Agg(op string, expr string, labels ...string) string {
	return op + " " + p.By(labels...) + "(" + expr + ")"
}

// Sel renders metric{matchers}, joining the source's configured matchers
// with the extra ones; empty parts are left out.
func Sel(metric string, matchers ...string) string {
	var parts []string
	for _, m := range matchers {
		if strings.TrimSpace(m) != "" {
			parts = append(parts, strings.TrimSpace(m))
		}
	}
	if len(parts) == 0 {
		return metric
	}
	return metric + "{" + strings.Join(parts, ", ") + "}"
}

// Headroom selects one of the exporter's metrics, restricted to the
// configured targets of a kind ("" for none).
func (p PromQL) Headroom(metric string, k kind.Kind, extra ...string) string {
	m := append([]string{p.cfg.Selectors.Headroom}, extra...)
	if re := p.cfg.TargetRegex(k); re != "" {
		// A target list that is one name is matched by equality: pint's
		// promql/regexp rejects a regular expression without metacharacters.
		op := "=~"
		if regexp.QuoteMeta(re) == re {
			op = "="
		}
		m = append(m, fmt.Sprintf("target%s%q", op, re))
	}
	return Sel(metric, m...)
}

// Service selects a series this bundle recorded.
func (p PromQL) Service(record string, extra ...string) string {
	return Sel(record, append([]string{fmt.Sprintf("service=%q", p.cfg.Service)}, extra...)...)
}

func (c *Config) TargetRegex(k kind.Kind) string {
	return map[kind.Kind]string{kind.Postgres: c.Targets.Postgres, kind.PgBouncer: c.Targets.PgBouncer, kind.Redis: c.Targets.Redis, kind.API: c.Targets.API}[k]
}

// Dur renders a duration the way Prometheus writes it (5m, 1h30m).
func Dur(d time.Duration) string { return model.Duration(d).String() }

// Num renders a threshold as PromQL accepts it, without exponents for the
// sizes that occur here (1073741824, not 1.073741824e+09).
func Num(v float64) string {
	if math.Abs(v) < 1e15 {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// ParseMetricSelector parses a selector such as {a="b", c=~"d"} with the
// parser the generator validates with.
func ParseMetricSelector(s string) ([]*labels.Matcher, error) {
	return promqlParser.ParseMetricSelector(s)
}

// PromQL returns the PromQL builder of the config.
func (c *Config) PromQL() PromQL { return PromQL{c} }

// ParseMetric parses a series as promtool's input_series writes it
// (name{a="b"}) with the same parser.
func ParseMetric(s string) (labels.Labels, error) { return promqlParser.ParseMetric(s) }
