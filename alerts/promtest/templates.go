package promtest

import (
	"fmt"
	"math"
	"strings"
	"text/template"

	"github.com/prometheus/common/helpers/templates"
)

// expandTemplate renders an annotation template the way Prometheus's rule
// manager does (same preamble, same humanize functions), so that generated
// promtool tests can state the exact annotations an alert carries. A test
// cross-checks it against prometheus/template.
func expandTemplate(text string, lbls map[string]string, value float64) (string, error) {
	const defs = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}"
	tmpl, err := template.New("annotation").Option("missingkey=zero").Funcs(templateFuncs).Parse(defs + text)
	if err != nil {
		return "", err
	}
	data := struct {
		Labels         map[string]string
		ExternalLabels map[string]string
		ExternalURL    string
		Value          float64
	}{Labels: lbls, ExternalLabels: map[string]string{}, Value: value}
	var b strings.Builder
	if err := tmpl.Execute(&b, data); err != nil {
		return "", err
	}
	return b.String(), nil
}

var templateFuncs = template.FuncMap{
	"humanize": func(v float64) string {
		if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Sprintf("%.4g", v)
		}
		if math.Abs(v) >= 1 {
			prefix := ""
			for _, p := range []string{"k", "M", "G", "T", "P", "E", "Z", "Y"} {
				if math.Abs(v) < 1000 {
					break
				}
				prefix = p
				v /= 1000
			}
			return fmt.Sprintf("%.4g%s", v, prefix)
		}
		prefix := ""
		for _, p := range []string{"m", "u", "n", "p", "f", "a", "z", "y"} {
			if math.Abs(v) >= 1 {
				break
			}
			prefix = p
			v *= 1000
		}
		return fmt.Sprintf("%.4g%s", v, prefix)
	},
	"humanize1024": func(v float64) string {
		if math.Abs(v) <= 1 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Sprintf("%.4g", v)
		}
		prefix := ""
		for _, p := range []string{"ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"} {
			if math.Abs(v) < 1024 {
				break
			}
			prefix = p
			v /= 1024
		}
		return fmt.Sprintf("%.4g%s", v, prefix)
	},
	"humanizeDuration": func(v float64) (string, error) { return templates.HumanizeDuration(v) },
	"humanizePercentage": func(v float64) string {
		return fmt.Sprintf("%.4g%%", v*100)
	},
}
