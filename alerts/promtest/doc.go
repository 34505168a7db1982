// Package promtest generates the promtool unit tests (tests/*-test.yaml) of
// the rules package alerts makes from a catalogue: for every trigger, its
// signal fed by the fixture of that signal (signal_fixtures.go, one per
// signal id) and simulated to the step at which the alert fires and
// resolves; for every alert, its inputs gone; for every SLO, its burn rates.
// The fixtures and simulations live here, out of the model, so that neither
// the model nor the rules nor the dashboards carry them:
//
//	rules, err := alerts.Generate(bundle)  // rules, Alertmanager, runbook
//	tests, err := promtest.Generate(bundle) // tests/ beside them
package promtest
