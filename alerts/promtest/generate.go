package promtest

import (
	"fmt"
	"maps"
	"path"

	"github.com/headroom-dev/headroom/alerts"
	"github.com/headroom-dev/headroom/catalogue"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
)

// Generate makes the promtool tests of the rules alerts.Generate makes from
// the same bundle, by path under alerts.TestsDir. It is a pure function: the
// same catalogue gives the same bytes.
func Generate(bundle *catalogue.Bundle) (alerts.Files, error) {
	cfg, cat := bundle.Config, bundle.Triggers
	rec, alerting := alerts.RecordingRules(bundle), alerts.AlertingRules(bundle)
	ruleFiles := []string{"../" + alerts.FileRules, "../" + alerts.FileAlerts}
	var order []string
	for _, rg := range []rulefmt.RuleGroups{rec, alerting} {
		for _, grp := range rg.Groups {
			order = append(order, grp.Name)
		}
	}
	tests, err := promtoolTests(cfg, cat, ruleFiles, order)
	if err != nil {
		return nil, err
	}
	if sg, err := sloTests(cfg); err != nil {
		return nil, fmt.Errorf("tests of the SLOs: %w", err)
	} else if len(sg) > 0 {
		tests["slo-test.yaml"] = testFile{RuleFiles: ruleFiles, EvaluationInterval: model.Duration(testStep),
			GroupEvalOrder: order, Tests: sg}
	}
	if rg, err := remainingTests(bundle); err != nil {
		return nil, fmt.Errorf("tests of the headroom left: %w", err)
	} else if len(rg) > 0 {
		tests[FileRemainingTests] = testFile{RuleFiles: ruleFiles, EvaluationInterval: model.Duration(testStep),
			GroupEvalOrder: order, Tests: rg}
	}
	absent, err := inputsAbsentTests(cfg, cat, rec, alerting)
	if err != nil {
		return nil, err
	}
	tests[FileInputsAbsentTests] = testFile{RuleFiles: ruleFiles, EvaluationInterval: model.Duration(testStep),
		GroupEvalOrder: order, Tests: absent}
	header := alerts.Header(cfg) + "# Run: promtool test rules " + path.Join(alerts.TestsDir, "*.yaml") + "\n"
	files := alerts.Files{}
	for name, tf := range tests {
		b, err := alerts.YAML(tf)
		if err != nil {
			return nil, err
		}
		files[path.Join(alerts.TestsDir, name)] = append([]byte(header), b...)
	}
	return files, nil
}

// Bundle is the whole alerting directory of a catalogue (mixin/<preset>):
// the files alerts.Generate makes and their promtool tests under
// alerts.TestsDir.
func Bundle(bundle *catalogue.Bundle) (alerts.Files, error) {
	files, err := alerts.Generate(bundle)
	if err != nil {
		return nil, err
	}
	tests, err := Generate(bundle)
	if err != nil {
		return nil, err
	}
	maps.Copy(files, tests)
	return files, nil
}
