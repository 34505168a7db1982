package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/alecthomas/kingpin/v2"

	"github.com/headroom-dev/headroom/alerts"
	"github.com/headroom-dev/headroom/alerts/autoscale"
	"github.com/headroom-dev/headroom/alerts/promtest"
	"github.com/headroom-dev/headroom/catalogue"
	"github.com/headroom-dev/headroom/dashboards"
	"github.com/headroom-dev/headroom/internal/deploy"
	"github.com/headroom-dev/headroom/internal/toolhelp"
)

type generateCommand struct {
	cmd        *kingpin.CmdClause
	configFile string
	preset     string
	out        string
	dashOut    string
	k8sOut     string
	exportOut  string
	check      bool
	errOut     io.Writer
}

func (g *generateCommand) clause() *kingpin.CmdClause { return g.cmd }

func newGenerateCommand(app *kingpin.Application) *generateCommand {
	g := &generateCommand{errOut: os.Stderr}
	g.cmd = app.Command("generate", toolhelp.Generate+" "+alertsConfigHelp)
	g.cmd.Flag("config", "Alerts config file (YAML), read on top of its preset. Without it, the preset as it is.").StringVar(&g.configFile)
	g.cmd.Flag("preset", "Preset the config overrides: "+strings.Join(catalogue.Presets(), ", ")+". Default: the config's preset key, else health-agent.").
		StringVar(&g.preset)
	g.cmd.Flag("out", "Directory to write the bundle to.").Required().StringVar(&g.out)
	g.cmd.Flag("dashboards-out", "Directory to write the Grafana dashboards (JSON and ConfigMaps) to; none when empty.").StringVar(&g.dashOut)
	g.cmd.Flag("k8s-out", "Directory to write the Kubernetes manifests to: the PrometheusRule, and the autoscaler (KEDA ScaledObject and/or HPA) of the config's autoscaling section; none when empty.").StringVar(&g.k8sOut)
	g.cmd.Flag("exporter-out", "Directory to write the exporter's own Kubernetes manifests to (Deployment, Service, ServiceMonitor, the Secret of its config, their kustomization); none when empty.").StringVar(&g.exportOut)
	g.cmd.Flag("check", "Write nothing; fail when the directory differs from what would be written.").BoolVar(&g.check)
	return g
}

func (g *generateCommand) run() error {
	cfg, err := g.load()
	if err != nil {
		return err
	}
	bundle, err := catalogue.Build(cfg)
	if err != nil {
		return err
	}
	// The rules, Alertmanager config and runbook, and their promtool tests.
	files, err := promtest.Bundle(bundle)
	if err != nil {
		return err
	}
	// A warning, not an error: the pool size cannot be guessed, and the
	// rest of the bundle is still right without the guard.
	if w := cfg.DBGuardWarning(); w != "" {
		fmt.Fprintf(g.errOut, "headroomtool generate: warning: %s\n", w)
	}
	// Scale to zero is the config's choice; its cost is said once here.
	if w := cfg.ColdStartWarning(); w != "" {
		fmt.Fprintf(g.errOut, "headroomtool generate: warning: %s\n", w)
	}
	var boards alerts.Files
	if g.dashOut != "" {
		if boards, err = dashboards.Generate(bundle); err != nil {
			return err
		}
	}
	type output struct {
		dir   string
		files alerts.Files
	}
	outputs := []output{{g.out, files}}
	if g.dashOut != "" {
		outputs = append(outputs, output{g.dashOut, boards})
	}
	if g.exportOut != "" {
		manifests, err := deploy.Generate(cfg)
		if err != nil {
			return err
		}
		outputs = append(outputs, output{g.exportOut, manifests})
	}
	for _, o := range outputs {
		if g.check {
			err = checkFiles(o.dir, o.files)
		} else {
			err = writeFiles(o.dir, o.files)
		}
		if err != nil {
			return err
		}
	}
	if g.k8sOut != "" {
		manifests, err := autoscale.Generate(bundle)
		if err != nil {
			return err
		}
		if g.check {
			return checkManifests(g.k8sOut, manifests)
		}
		return writeManifests(g.k8sOut, manifests)
	}
	return nil
}

// autoscaleFiles are every autoscaler file autoscale.Generate can write
// (its PrometheusRule is always written): those a config does not make (a
// keda preset switched to hpa) are removed, so that a stale ScaledObject is
// never left next to an HPA.
var autoscaleFiles = []string{autoscale.FileScaledObject, autoscale.FileHPA, autoscale.FileFallbackHPA,
	autoscale.FilePDB, autoscale.FileTriggerAuthentication, autoscale.FileVPA}

func writeManifests(dir string, files alerts.Files) error {
	if err := writeFiles(dir, files); err != nil {
		return err
	}
	for _, name := range autoscaleFiles {
		if _, ok := files[name]; ok {
			continue
		}
		if err := os.Remove(filepath.Join(dir, filepath.FromSlash(name))); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

func checkManifests(dir string, files alerts.Files) error {
	var stale []string
	for _, name := range autoscaleFiles {
		if _, ok := files[name]; ok {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(name))); err == nil {
			stale = append(stale, name)
		}
	}
	err := checkFiles(dir, files)
	if len(stale) == 0 {
		return err
	}
	msg := fmt.Sprintf("%s has files the config does not make (%s); run make generate", dir, strings.Join(stale, ", "))
	if err != nil {
		return fmt.Errorf("%w; %s", err, msg)
	}
	return errors.New(msg)
}

func (g *generateCommand) load() (*catalogue.Config, error) {
	return loadConfig(g.configFile, g.preset)
}

// loadConfig reads a config file on top of a preset (or of the preset its
// preset key names), or returns the preset alone without a file.
func loadConfig(configFile, preset string) (*catalogue.Config, error) {
	if configFile == "" {
		name := preset
		if name == "" {
			name = catalogue.SetHealthAgent
		}
		return catalogue.Preset(name)
	}
	data, err := os.ReadFile(configFile)
	if err != nil {
		return nil, err
	}
	var cfg *catalogue.Config
	if preset != "" {
		cfg, err = catalogue.LoadOnto(preset, data)
	} else {
		cfg, err = catalogue.Load(data)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", configFile, err)
	}
	return cfg, nil
}

// writeFiles writes the bundle and removes generated test files that the
// bundle no longer has.
func writeFiles(dir string, files alerts.Files) error {
	for _, name := range files.Names() {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			return err
		}
	}
	stale, err := filepath.Glob(filepath.Join(dir, alerts.TestsDir, "*-test.yaml"))
	if err != nil {
		return err
	}
	for _, p := range stale {
		if _, ok := files[alerts.TestsDir+"/"+filepath.Base(p)]; !ok {
			if err := os.Remove(p); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkFiles(dir string, files alerts.Files) error {
	var drift []string
	for _, name := range files.Names() {
		have, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
		if err != nil || !bytes.Equal(have, files[name]) {
			drift = append(drift, name)
		}
	}
	if len(drift) > 0 {
		return fmt.Errorf("%s is out of date (%s); run make generate", dir, strings.Join(drift, ", "))
	}
	return nil
}
