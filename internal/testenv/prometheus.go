package testenv

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
)

// Debian's Prometheus and Alertmanager.
var (
	PrometheusPath   = "/usr/bin/prometheus"
	AlertmanagerPath = "/usr/bin/prometheus-alertmanager"
	PromtoolPath     = "/usr/bin/promtool"
)

// PrometheusOptions configure a throwaway Prometheus.
type PrometheusOptions struct {
	// Targets are host:port addresses scraped at /metrics as job "headroom";
	// Jobs adds other jobs by name.
	Targets []string
	Jobs    map[string][]string
	// ScrapeConfigs are further entries of scrape_configs as YAML (list
	// items indented by two spaces), for jobs that static targets cannot
	// describe: service discovery, relabelling, auth.
	ScrapeConfigs string
	// ScrapeInterval and EvaluationInterval default to 1s.
	ScrapeInterval, EvaluationInterval time.Duration
	// ScrapeTimeout defaults to ScrapeInterval (Prometheus refuses a
	// longer one).
	ScrapeTimeout time.Duration
	// RuleFiles are copied into the server's directory and loaded.
	RuleFiles []string
	// Alertmanager is host:port of an Alertmanager to send alerts to.
	Alertmanager string
	// ExternalLabels are added to everything the server sends out: alerts,
	// federation and remote write.
	ExternalLabels map[string]string
	// Agent runs the server in agent mode (--enable-feature=agent): it
	// scrapes and remote-writes, and has no query API, rules or alerting.
	Agent bool
	// Config, when set, is the whole prometheus.yml, as a document shows
	// it: the fields above that build one (Targets to ExternalLabels) are
	// not used.
	Config string
	// RemoteWriteReceiver accepts remote write on /api/v1/write.
	RemoteWriteReceiver bool
	// Retention is how long samples are kept (Prometheus's 15d when 0);
	// rules reading further back need it longer, and pint checks it.
	Retention time.Duration
	// Backfill is OpenMetrics text (ending in "# EOF") written into the
	// server's storage before it starts, with promtool tsdb
	// create-blocks-from openmetrics: series with exactly the samples and
	// gaps a test needs, without scraping for them.
	Backfill string
}

// Prometheus is a throwaway Prometheus server.
type Prometheus struct {
	Server
	API promv1.API
}

// StartPrometheus starts Prometheus with its data in a temp directory.
func StartPrometheus(t TB, opts PrometheusOptions) *Prometheus {
	t.Helper()
	dir := Dir(t, "prometheus")
	config := opts.Config
	if config == "" {
		config = prometheusYAML(t, dir, opts)
	}
	writeFile(t, dir+"/prometheus.yml", config)
	if opts.Backfill != "" {
		writeFile(t, dir+"/backfill.om", opts.Backfill)
		cmd, err := asPostgres(PromtoolPath, "tsdb", "create-blocks-from", "openmetrics", dir+"/backfill.om", dir+"/data")
		if err != nil {
			t.Fatalf("%v", err)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("promtool tsdb create-blocks-from openmetrics: %v\n%s", err, out)
		}
	}

	port := FreePort(t)
	p := &Prometheus{Server: Server{Host: "127.0.0.1", Port: port, Dir: dir}}
	p.proc = &process{
		name:    "prometheus",
		addr:    p.Addr(),
		logPath: dir + "/prometheus.log",
		start: func() (*exec.Cmd, error) {
			args := []string{"--config.file=" + dir + "/prometheus.yml",
				"--web.listen-address=" + p.Addr(),
				"--web.enable-lifecycle",
				"--log.level=warn"}
			if opts.Agent {
				// An agent refuses the server's storage flags.
				args = append(args, "--enable-feature=agent", "--storage.agent.path="+dir+"/data-agent")
			} else {
				args = append(args, "--storage.tsdb.path="+dir+"/data")
			}
			if opts.RemoteWriteReceiver {
				args = append(args, "--web.enable-remote-write-receiver")
			}
			if opts.Retention > 0 {
				args = append(args, "--storage.tsdb.retention.time="+model.Duration(opts.Retention).String())
			}
			return asPostgres(PrometheusPath, args...)
		},
	}
	p.register(t)
	if err := p.proc.run(); err != nil {
		t.Fatalf("%v", err)
	}
	client, err := api.NewClient(api.Config{Address: "http://" + p.Addr()})
	if err != nil {
		t.Fatalf("prometheus client: %v", err)
	}
	p.API = promv1.NewAPI(client)
	if err := waitHTTP("prometheus", "http://"+p.Addr()+"/-/ready", readyWithin); err != nil {
		t.Fatalf("%v\n%s", err, p.Log())
	}
	return p
}

// prometheusYAML builds prometheus.yml from the options, copying the rule
// files into dir.
func prometheusYAML(t TB, dir string, opts PrometheusOptions) string {
	t.Helper()
	if opts.ScrapeInterval == 0 {
		opts.ScrapeInterval = time.Second
	}
	if opts.ScrapeTimeout == 0 {
		opts.ScrapeTimeout = opts.ScrapeInterval
	}
	if opts.EvaluationInterval == 0 {
		opts.EvaluationInterval = time.Second
	}
	var cfg strings.Builder
	fmt.Fprintf(&cfg, "global:\n  scrape_interval: %s\n  scrape_timeout: %s\n  evaluation_interval: %s\n",
		model.Duration(opts.ScrapeInterval), model.Duration(opts.ScrapeTimeout), model.Duration(opts.EvaluationInterval))
	if len(opts.ExternalLabels) > 0 {
		cfg.WriteString("  external_labels:\n")
		for k, v := range opts.ExternalLabels {
			fmt.Fprintf(&cfg, "    %s: %q\n", k, v)
		}
	}
	if len(opts.RuleFiles) > 0 {
		cfg.WriteString("rule_files:\n")
		for i, f := range opts.RuleFiles {
			copied := fmt.Sprintf("%s/rules-%d.yaml", dir, i)
			copyFile(t, f, copied)
			fmt.Fprintf(&cfg, "  - %s\n", copied)
		}
	}
	if opts.Alertmanager != "" {
		fmt.Fprintf(&cfg, "alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [%q]\n", opts.Alertmanager)
	}
	jobs := map[string][]string{}
	for k, v := range opts.Jobs {
		jobs[k] = v
	}
	if len(opts.Targets) > 0 {
		jobs["headroom"] = opts.Targets
	}
	cfg.WriteString("scrape_configs:\n")
	for job, targets := range jobs {
		fmt.Fprintf(&cfg, "  - job_name: %q\n    static_configs:\n      - targets: [%s]\n", job, quoteAll(targets))
	}
	cfg.WriteString(opts.ScrapeConfigs)
	return cfg.String()
}

// Query evaluates an instant query now.
func (p *Prometheus) Query(t TB, expr string) model.Vector {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, _, _, err := p.API.Query(ctx, expr, time.Now())
	if err != nil {
		t.Fatalf("query %s: %v", expr, err)
	}
	vec, ok := v.(model.Vector)
	if !ok {
		t.Fatalf("query %s: want a vector, got %s", expr, v.Type())
	}
	return vec
}

// WaitFor polls an instant query until it returns at least one sample.
func (p *Prometheus) WaitFor(t TB, expr string, within time.Duration) model.Vector {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if v := p.Query(t, expr); len(v) > 0 {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("no result for %s within %s", expr, within)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// Alertmanager is a throwaway Alertmanager.
type Alertmanager struct {
	Server
}

// StartAlertmanager starts Alertmanager with the given configuration (YAML)
// and clustering off.
func StartAlertmanager(t TB, config string) *Alertmanager {
	t.Helper()
	dir := Dir(t, "alertmanager")
	writeFile(t, dir+"/alertmanager.yml", config)
	port := FreePort(t)
	a := &Alertmanager{Server: Server{Host: "127.0.0.1", Port: port, Dir: dir}}
	a.proc = &process{
		name:    "alertmanager",
		addr:    a.Addr(),
		logPath: dir + "/alertmanager.log",
		start: func() (*exec.Cmd, error) {
			return asPostgres(AlertmanagerPath,
				"--config.file="+dir+"/alertmanager.yml",
				"--storage.path="+dir+"/data",
				"--web.listen-address="+a.Addr(),
				"--cluster.listen-address=",
				"--log.level=warn")
		},
	}
	a.register(t)
	if err := a.proc.run(); err != nil {
		t.Fatalf("%v", err)
	}
	if err := waitHTTP("alertmanager", "http://"+a.Addr()+"/-/ready", readyWithin); err != nil {
		t.Fatalf("%v\n%s", err, a.Log())
	}
	return a
}

func quoteAll(items []string) string {
	out := make([]string, len(items))
	for i, s := range items {
		out[i] = strconv.Quote(s)
	}
	return strings.Join(out, ", ")
}
