package slothcheck

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	slothlib "github.com/slok/sloth/pkg/lib"
	slothv1 "github.com/slok/sloth/pkg/prometheus/api/v1"
	"go.yaml.in/yaml/v3"
)

// mixinDir is the repository's mixin/, where `make generate` writes each
// preset's bundle.
var mixinDir = filepath.Join("..", "..", "..", "mixin")

// rulesFile is a Prometheus rules file, as both generators write it.
type rulesFile struct {
	Groups []ruleGroup `yaml:"groups"`
}

type ruleGroup struct {
	Name  string `yaml:"name"`
	Rules []rule `yaml:"rules"`
}

type rule struct {
	Record      string            `yaml:"record,omitempty"`
	Alert       string            `yaml:"alert,omitempty"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

// headroomSLOGroup is the SLO recording group of a preset's generated
// rules: the only group whose series carry Sloth's names.
func headroomSLOGroup(preset string) (ruleGroup, error) {
	gs, err := groupsOf(preset, "prometheus_rules.yaml", func(name string) bool { return strings.HasSuffix(name, ".slo.rules") })
	if err != nil || len(gs) != 1 {
		return ruleGroup{}, fmt.Errorf("%s: want one *.slo.rules group, found %d (%v)", preset, len(gs), err)
	}
	return gs[0], nil
}

// headroomBurnAlerts are the burn-rate alert groups of a preset, one an SLO.
func headroomBurnAlerts(preset string) (rulesFile, error) {
	gs, err := groupsOf(preset, "prometheus_alerts.yaml", func(name string) bool {
		return strings.Contains(name, ".slo-") && strings.HasSuffix(name, ".alerts")
	})
	if err == nil && len(gs) == 0 {
		err = fmt.Errorf("%s: no *.slo-*.alerts group", preset)
	}
	return rulesFile{Groups: gs}, err
}

func groupsOf(preset, file string, want func(group string) bool) ([]ruleGroup, error) {
	data, err := os.ReadFile(filepath.Join(mixinDir, preset, file))
	if err != nil {
		return nil, err
	}
	var f rulesFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("%s/%s: %w", preset, file, err)
	}
	var out []ruleGroup
	for _, g := range f.Groups {
		if want(g.Name) {
			out = append(out, g)
		}
	}
	return out, nil
}

// sloDef is one SLO as a Sloth user would write it, read back from
// headroom's records: the same service, name, objective, labels and the
// events of the same selectors.
type sloDef struct {
	service, name string
	// objective in percent, as Sloth's spec takes it.
	objective float64
	// labels are headroom's labels that are not Sloth's own (service, slo):
	// a Sloth user puts them in the SLO's labels.
	labels                 map[string]string
	errorQuery, totalQuery string // with Sloth's {{.window}}
	input                  sliInput
}

// sliInput says which raw series the SLI reads, so that the test can feed
// them: total counts every request; part counts the failed requests
// (countsFailed) or the fast ones.
type sliInput struct {
	total, part  *parser.VectorSelector
	countsFailed bool
}

// sloDefs reads headroom's SLO group back into Sloth SLO definitions, and
// the SLO period (slo:time_period:days).
func sloDefs(g ruleGroup) ([]sloDef, time.Duration, error) {
	byID := map[string]*sloDef{}
	var ids []string
	var period time.Duration
	for _, r := range g.Rules {
		id := r.Labels["sloth_id"]
		d, ok := byID[id]
		if !ok {
			d = &sloDef{service: r.Labels["sloth_service"], name: r.Labels["sloth_slo"], labels: map[string]string{}}
			for k, v := range r.Labels {
				if !strings.HasPrefix(k, "sloth_") {
					d.labels[k] = v
				}
			}
			byID[id] = d
			ids = append(ids, id)
		}
		switch r.Record {
		case "slo:sli_error:ratio_rate5m":
			in, err := readSLI(r.Expr)
			if err != nil {
				return nil, 0, fmt.Errorf("%s %s: %w", id, r.Record, err)
			}
			d.input = in
			total := sumRate(in.total)
			part := sumRate(in.part)
			d.totalQuery = total
			if in.countsFailed {
				d.errorQuery = part
			} else {
				// Sloth's own example for a latency SLO: the requests
				// above the bucket are all of them less the bucket.
				d.errorQuery = total + " - " + part
			}
		case "slo:objective:ratio":
			v, err := vectorLiteral(r.Expr)
			if err != nil {
				return nil, 0, fmt.Errorf("%s %s: %w", id, r.Record, err)
			}
			// 0.99 as 99, not 99.00000000000001.
			d.objective = math.Round(v*100*1e9) / 1e9
		case "slo:time_period:days":
			v, err := vectorLiteral(r.Expr)
			if err != nil {
				return nil, 0, fmt.Errorf("%s %s: %w", id, r.Record, err)
			}
			period = time.Duration(v * float64(24*time.Hour))
		}
	}
	var out []sloDef
	for _, id := range ids {
		d := byID[id]
		if d.totalQuery == "" || d.objective == 0 {
			return nil, 0, fmt.Errorf("%s: no slo:sli_error:ratio_rate5m or slo:objective:ratio", id)
		}
		out = append(out, *d)
	}
	return out, period, nil
}

// readSLI finds the selectors of headroom's SLI: the division's
// denominator counts every request; its numerator counts the failed ones,
// or the fast ones when the ratio is taken from 1 (1 - fast / all).
func readSLI(expr string) (sliInput, error) {
	e, err := parser.ParseExpr(expr)
	if err != nil {
		return sliInput{}, err
	}
	var div *parser.BinaryExpr
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if b, ok := n.(*parser.BinaryExpr); ok && b.Op == parser.DIV && div == nil {
			div = b
		}
		return nil
	})
	if div == nil {
		return sliInput{}, fmt.Errorf("no division in %s", expr)
	}
	in := sliInput{total: firstSelector(div.RHS), part: firstSelector(div.LHS), countsFailed: true}
	if in.total == nil || in.part == nil {
		return sliInput{}, fmt.Errorf("no selector on both sides of the division in %s", expr)
	}
	if b, ok := e.(*parser.BinaryExpr); ok && b.Op == parser.SUB {
		if one, ok := b.LHS.(*parser.NumberLiteral); ok && one.Val == 1 {
			in.countsFailed = false
		}
	}
	return in, nil
}

func firstSelector(n parser.Node) *parser.VectorSelector {
	var vs *parser.VectorSelector
	parser.Inspect(n, func(n parser.Node, _ []parser.Node) error {
		if s, ok := n.(*parser.VectorSelector); ok && vs == nil {
			vs = s
		}
		return nil
	})
	return vs
}

// sumRate is a selector's request rate over Sloth's window.
func sumRate(vs *parser.VectorSelector) string {
	return fmt.Sprintf("sum(rate(%s[{{.window}}]))", vs.String())
}

// vectorLiteral is x of vector(x).
func vectorLiteral(expr string) (float64, error) {
	e, err := parser.ParseExpr(expr)
	if err != nil {
		return 0, err
	}
	if c, ok := e.(*parser.Call); ok && c.Func.Name == "vector" && len(c.Args) == 1 {
		if n, ok := c.Args[0].(*parser.NumberLiteral); ok {
			return n.Val, nil
		}
	}
	return 0, fmt.Errorf("%s is not vector(<number>)", expr)
}

// slothSpecs are the Sloth specs of the definitions: one a service.
func slothSpecs(defs []sloDef) []slothv1.Spec {
	var specs []slothv1.Spec
	index := map[string]int{}
	for _, d := range defs {
		i, ok := index[d.service]
		if !ok {
			i = len(specs)
			index[d.service] = i
			specs = append(specs, slothv1.Spec{Version: slothv1.Version, Service: d.service})
		}
		specs[i].SLOs = append(specs[i].SLOs, slothv1.SLO{
			Name:      d.name,
			Objective: d.objective,
			Labels:    d.labels,
			SLI:       slothv1.SLI{Events: &slothv1.SLIEvents{ErrorQuery: d.errorQuery, TotalQuery: d.totalQuery}},
			Alerting:  slothv1.Alerting{Name: "ErrorBudgetBurn"},
		})
	}
	return specs
}

// slothRules generates the specs with Sloth's library, written as Sloth's
// CLI writes a rules file: its recording groups, and its alert groups.
func slothRules(ctx context.Context, specs []slothv1.Spec, period time.Duration) (records, alerts rulesFile, err error) {
	gen, err := slothlib.NewPrometheusSLOGenerator(slothlib.PrometheusSLOGeneratorConfig{DefaultSLOPeriod: period})
	if err != nil {
		return rulesFile{}, rulesFile{}, err
	}
	for _, spec := range specs {
		res, err := gen.GenerateFromSlothV1(ctx, spec)
		if err != nil {
			return rulesFile{}, rulesFile{}, fmt.Errorf("sloth, service %s: %w", spec.Service, err)
		}
		var buf bytes.Buffer
		if err := gen.WriteResultAsPrometheusStd(ctx, *res, &buf); err != nil {
			return rulesFile{}, rulesFile{}, err
		}
		var f rulesFile
		if err := yaml.Unmarshal(buf.Bytes(), &f); err != nil {
			return rulesFile{}, rulesFile{}, fmt.Errorf("sloth's rules: %w", err)
		}
		for _, g := range f.Groups {
			switch {
			case len(g.Rules) == 0:
			case g.Rules[0].Record != "":
				records.Groups = append(records.Groups, g)
			default:
				alerts.Groups = append(alerts.Groups, g)
			}
		}
	}
	return records, alerts, nil
}

// inputLabels are a selector's labels for a series it selects: its
// equality matchers, and for each other matcher the first of candidates it
// matches (and a failed request's code or status is one of candidates).
func inputLabels(vs *parser.VectorSelector, candidates map[string][]string) (labels.Labels, error) {
	b := labels.NewBuilder(labels.EmptyLabels())
	for _, m := range vs.LabelMatchers {
		if m.Type == labels.MatchEqual {
			b.Set(m.Name, m.Value)
			continue
		}
		found := false
		for _, c := range candidates[m.Name] {
			if m.Matches(c) {
				b.Set(m.Name, c)
				found = true
				break
			}
		}
		if !found {
			return labels.EmptyLabels(), fmt.Errorf("no value of %s among %v matches %s", m.Name, candidates[m.Name], m)
		}
	}
	return b.Labels(), nil
}

// labelCandidates are values the raw series may take: bucket boundaries as
// client libraries and Prometheus 3 write them, HTTP codes and AMAS statuses.
var labelCandidates = func() map[string][]string {
	var le []string
	for _, b := range []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 2.5, 3, 5, 10, 30, 60} {
		le = append(le, strconv.FormatFloat(b, 'f', -1, 64))
	}
	sort.Strings(le)
	return map[string][]string{
		"le":     le,
		"code":   {"500", "503"},
		"status": {"error", "failed", "500"},
	}
}()
