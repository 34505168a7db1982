// Package drill loads an API in the AMAS guide's traffic patterns
// (constant, linear ramp, step, spike) at a planned request rate, open
// loop, and judges what it saw: the SLO (success ratio, p95), a regression
// against a saved baseline, and per-second samples for the reports. The
// load itself is vegeta's attacker, paced by the planned rate curve.
package drill

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"text/template"
	"time"

	"github.com/prometheus/common/model"

	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/strictyaml"
)

// The guide's SLO and regression tolerances, the defaults.
const (
	DefaultSuccessRatio     = 0.99
	DefaultP95              = 1500 * time.Millisecond
	DefaultP95Increase      = 0.10
	DefaultSuccessDrop      = 0.005
	DefaultMetricsPrefix    = "headroom"
	DefaultRequestTimeout   = 30 * time.Second
	maxDrillsPerFile        = 100
	maxHeaderAndBodyPerFile = 1 << 20
)

// Pattern is the shape of a drill's request rate over time.
type Pattern string

// The patterns of the guide's load tester.
const (
	Constant Pattern = "constant"
	Ramp     Pattern = "ramp"
	Step     Pattern = "step"
	Spike    Pattern = "spike"
)

// Config is a drill file: the target, the safety limits, the SLO, the
// baseline to compare with, and the drills run in sequence.
type Config struct {
	Target Target `yaml:"target"`
	// MaxRate caps every drill's planned rate (requests a second) and
	// MaxDuration the whole sequence: both are required, with no default,
	// so that no drill file can load a server without saying how hard and
	// how long.
	MaxRate     float64        `yaml:"max_rate"`
	MaxDuration model.Duration `yaml:"max_duration"`
	SLO         SLO            `yaml:"slo"`
	Regression  Regression     `yaml:"regression"`
	Metrics     Metrics        `yaml:"metrics"`
	Drills      []Drill        `yaml:"drills"`
}

// Target is the request every drill sends.
type Target struct {
	URL     string            `yaml:"url"`
	Method  string            `yaml:"method"`
	Headers map[string]string `yaml:"headers"`
	// Body is a Go text/template: {{ .Seq }} is the request's sequence
	// number within its drill, {{ .Drill }} the drill's name.
	Body    string         `yaml:"body"`
	Timeout model.Duration `yaml:"timeout"`

	body *template.Template
}

// bodyData is what the body template sees.
type bodyData struct {
	Seq   int
	Drill string
}

// SLO is what every drill must meet.
type SLO struct {
	SuccessRatio *float64       `yaml:"success_ratio"`
	P95          model.Duration `yaml:"p95"`
}

// Regression is the tolerance against a saved baseline report.
type Regression struct {
	Baseline string `yaml:"baseline"`
	// P95Increase is the relative rise of p95 tolerated (0.10: +10 %),
	// SuccessDrop the fall of the success ratio (0.005: -0.5 point).
	P95Increase *float64 `yaml:"p95_increase"`
	SuccessDrop *float64 `yaml:"success_drop"`
}

// Metrics are the drill's own series during the run.
type Metrics struct {
	// Prefix starts every series name: <prefix>_load_test_requests_total.
	// Unset, it is the preset's name for amas (the guide's own names),
	// else headroom.
	Prefix string `yaml:"prefix"`
}

// PrefixFor is the metrics prefix of a drill of a bundle of preset.
func (m Metrics) PrefixFor(preset string) string {
	switch {
	case m.Prefix != "":
		return m.Prefix
	case preset == "amas":
		return "amas"
	}
	return DefaultMetricsPrefix
}

// Drill is one load pattern.
type Drill struct {
	Name    string  `yaml:"name"`
	Pattern Pattern `yaml:"pattern"`
	// Rate is the base rate in requests a second: the constant rate, the
	// ramp's start, the rate before a step and around a spike.
	Rate float64 `yaml:"rate"`
	// To is the ramp's end, the step's rate after At, the spike's peak.
	To float64 `yaml:"to"`
	// Users and ThinkTime give the guide's concurrent users instead of a
	// rate: each user sends a request, then thinks, so that the users
	// send Users / ThinkTime requests a second (for response times short
	// against the think time); the drill sends that rate, open loop.
	Users     float64        `yaml:"users"`
	ToUsers   float64        `yaml:"to_users"`
	ThinkTime model.Duration `yaml:"think_time"`
	// RampUp climbs linearly from 0 to the pattern's first rate first.
	RampUp   model.Duration `yaml:"ramp_up"`
	Duration model.Duration `yaml:"duration"`
	// At is when a step or a spike begins, after the ramp-up.
	At model.Duration `yaml:"at"`
	// Hold is how long a spike lasts.
	Hold model.Duration `yaml:"hold"`
}

// Load reads and checks a drill file: an error names the file and field.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var c Config
	if err := strictyaml.Decode(data, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := c.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &c, nil
}

// Check validates the config, fills in defaults, and converts users to
// rates; every error names its field.
func (c *Config) Check() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	u, err := url.Parse(c.Target.URL)
	switch {
	case c.Target.URL == "":
		bad("target.url", "required")
	case err != nil:
		bad("target.url", "not a URL: %v", config.URLCause(err))
	case u.Scheme != "http" && u.Scheme != "https":
		bad("target.url", "scheme %q, want http or https", u.Scheme)
	case u.Hostname() == "":
		bad("target.url", "no host")
	case u.User != nil:
		// The URL is in every report; a header is not.
		bad("target.url", "credentials in the URL would appear in the reports: send them in target.headers")
	}
	if c.Target.Method == "" {
		c.Target.Method = http.MethodGet
	}
	c.Target.Method = strings.ToUpper(c.Target.Method)
	if c.Target.Timeout == 0 {
		c.Target.Timeout = model.Duration(DefaultRequestTimeout)
	}
	if len(c.Target.Body) > maxHeaderAndBodyPerFile {
		bad("target.body", "%d bytes, at most %d", len(c.Target.Body), maxHeaderAndBodyPerFile)
	}
	if tmpl, err := template.New("body").Option("missingkey=error").Parse(c.Target.Body); err != nil {
		bad("target.body", "%v", err)
	} else if err := tmpl.Execute(io.Discard, bodyData{Drill: "check"}); err != nil {
		bad("target.body", "%v", err)
	} else {
		c.Target.body = tmpl
	}
	for k := range c.Target.Headers {
		if k == "" || strings.ContainsAny(k, " :\r\n") {
			bad("target.headers", "header name %q", k)
		}
	}
	if c.MaxRate <= 0 {
		bad("max_rate", "required: the most requests a second any drill may plan (no default)")
	}
	if c.MaxDuration <= 0 {
		bad("max_duration", "required: the longest the whole sequence may run (no default)")
	}
	if c.SLO.SuccessRatio == nil {
		c.SLO.SuccessRatio = ptr(DefaultSuccessRatio)
	} else if r := *c.SLO.SuccessRatio; r < 0 || r > 1 {
		bad("slo.success_ratio", "%v, want between 0 and 1", r)
	}
	if c.SLO.P95 == 0 {
		c.SLO.P95 = model.Duration(DefaultP95)
	}
	if c.Regression.P95Increase == nil {
		c.Regression.P95Increase = ptr(DefaultP95Increase)
	} else if *c.Regression.P95Increase < 0 {
		bad("regression.p95_increase", "%v, want 0 or more", *c.Regression.P95Increase)
	}
	if c.Regression.SuccessDrop == nil {
		c.Regression.SuccessDrop = ptr(DefaultSuccessDrop)
	} else if d := *c.Regression.SuccessDrop; d < 0 || d > 1 {
		bad("regression.success_drop", "%v, want between 0 and 1", d)
	}
	if c.Metrics.Prefix != "" && !model.IsValidLegacyMetricName(c.Metrics.Prefix+"_load_test_requests_total") {
		bad("metrics.prefix", "%q does not start a valid metric name", c.Metrics.Prefix)
	}
	switch n := len(c.Drills); {
	case n == 0:
		bad("drills", "none")
	case n > maxDrillsPerFile:
		bad("drills", "%d, at most %d", n, maxDrillsPerFile)
	}
	names := map[string]bool{}
	var total time.Duration
	for i := range c.Drills {
		d := &c.Drills[i]
		field := fmt.Sprintf("drills[%d]", i)
		if d.Name == "" {
			bad(field+".name", "required")
		} else if names[d.Name] {
			bad(field+".name", "%q twice", d.Name)
		}
		names[d.Name] = true
		for _, err := range d.check(field, c.MaxRate) {
			errs = append(errs, err)
		}
		total += d.Length()
	}
	if c.MaxDuration > 0 && total > time.Duration(c.MaxDuration) {
		bad("max_duration", "%s, but the drills last %s", c.MaxDuration, model.Duration(total))
	}
	return errors.Join(errs...)
}

// check validates one drill; users become rates here.
func (d *Drill) check(field string, maxRate float64) []error {
	var errs []error
	bad := func(sub, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", field, sub, fmt.Sprintf(format, args...)))
	}
	if d.Users != 0 || d.ToUsers != 0 {
		if d.Rate != 0 || d.To != 0 {
			bad("users", "give users (with think_time) or rate, not both")
		}
		if d.ThinkTime <= 0 {
			bad("think_time", "required with users")
		} else {
			d.Rate = d.Users / time.Duration(d.ThinkTime).Seconds()
			d.To = d.ToUsers / time.Duration(d.ThinkTime).Seconds()
		}
	}
	if d.Rate < 0 || d.To < 0 {
		bad("rate", "negative")
	}
	if d.Duration <= 0 {
		bad("duration", "required")
	}
	if d.RampUp < 0 {
		bad("ramp_up", "negative")
	}
	switch d.Pattern {
	case Constant:
		if d.Rate <= 0 {
			bad("rate", "required (requests a second, or users with think_time)")
		}
	case Ramp, Step, Spike:
		if d.To <= 0 {
			bad("to", "required for %s (the rate it reaches)", d.Pattern)
		}
	case "":
		bad("pattern", "required: constant, ramp, step or spike")
	default:
		bad("pattern", "%q, want constant, ramp, step or spike", d.Pattern)
	}
	if d.Pattern == Step || d.Pattern == Spike {
		if d.At <= 0 || d.At >= d.Duration {
			bad("at", "%s, want within the duration (%s)", d.At, d.Duration)
		}
	}
	if d.Pattern == Spike {
		if d.Hold <= 0 || d.At+d.Hold > d.Duration {
			bad("hold", "%s, want a spike that ends within the duration", d.Hold)
		}
	}
	if peak := d.Peak(); peak > maxRate && maxRate > 0 {
		bad("rate", "the drill plans %s requests a second, above max_rate %s", num(peak), num(maxRate))
	}
	return errs
}

// Length is the drill's whole time: ramp-up and duration.
func (d Drill) Length() time.Duration { return time.Duration(d.RampUp) + time.Duration(d.Duration) }

// Peak is the highest rate the drill plans.
func (d Drill) Peak() float64 {
	if d.Pattern == Constant {
		return d.Rate
	}
	return max(d.Rate, d.To)
}

func ptr[T any](v T) *T { return &v }

func num(v float64) string { return fmt.Sprintf("%g", v) }
