package drill

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const goodDrill = `
target: {url: "http://127.0.0.1:8000/api/v1/chat", method: post, body: '{"message": "hello {{ .Seq }}"}'}
max_rate: 100
max_duration: 10m
drills:
  - {name: step, pattern: step, rate: 10, to: 50, at: 1m, duration: 3m}
  - {name: users, pattern: constant, users: 60, think_time: 3s, ramp_up: 30s, duration: 2m}
`

func load(t *testing.T, text string) (*Config, error) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "drill.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return Load(p)
}

func TestLoadDefaults(t *testing.T) {
	c, err := load(t, goodDrill)
	if err != nil {
		t.Fatal(err)
	}
	if c.Target.Method != "POST" || *c.SLO.SuccessRatio != DefaultSuccessRatio || c.SLO.P95 != mdur("1500ms") ||
		*c.Regression.P95Increase != 0.10 || *c.Regression.SuccessDrop != 0.005 || c.Metrics.PrefixFor("health-agent") != "headroom" || c.Metrics.PrefixFor("amas") != "amas" {
		t.Errorf("defaults: %+v", c)
	}
	if c.Drills[1].Rate != 20 {
		t.Errorf("60 users thinking 3s: rate %v, want 20", c.Drills[1].Rate)
	}
}

// Every refusal names the file and the field.
func TestLoadRefuses(t *testing.T) {
	base := "target: {url: \"http://127.0.0.1:8000/\"}\nmax_rate: 100\nmax_duration: 10m\n"
	one := "drills: [{name: a, pattern: constant, rate: 10, duration: 1m}]\n"
	for _, tc := range []struct{ name, text, want string }{
		{"no max_rate", "target: {url: \"http://127.0.0.1/\"}\nmax_duration: 1m\n" + one, "max_rate: required"},
		{"no max_duration", "target: {url: \"http://127.0.0.1/\"}\nmax_rate: 10\n" + one, "max_duration: required"},
		{"over max_rate", base + "drills: [{name: a, pattern: step, rate: 10, to: 101, at: 10s, duration: 1m}]\n", "drills[0].rate: the drill plans 101 requests a second, above max_rate 100"},
		{"over max_duration", base + "drills: [{name: a, pattern: constant, rate: 1, ramp_up: 1m, duration: 10m}]\n", "max_duration: 10m, but the drills last 11m"},
		{"misspelt key", base + "drills: [{name: a, pattern: constant, rate: 1, duraton: 1m}]\n", "duraton"},
		{"unknown pattern", base + "drills: [{name: a, pattern: sine, rate: 1, duration: 1m}]\n", `drills[0].pattern: "sine"`},
		{"step outside", base + "drills: [{name: a, pattern: step, rate: 1, to: 2, at: 2m, duration: 1m}]\n", "drills[0].at"},
		{"spike too long", base + "drills: [{name: a, pattern: spike, rate: 1, to: 2, at: 30s, hold: 1m, duration: 1m}]\n", "drills[0].hold"},
		{"users without think time", base + "drills: [{name: a, pattern: constant, users: 5, duration: 1m}]\n", "drills[0].think_time: required"},
		{"twice the name", base + "drills: [{name: a, pattern: constant, rate: 1, duration: 1m}, {name: a, pattern: constant, rate: 1, duration: 1m}]\n", `drills[1].name: "a" twice`},
		{"no drills", base, "drills: none"},
		{"credentials", "target: {url: \"http://u:secret@127.0.0.1/\"}\nmax_rate: 1\nmax_duration: 1m\n" + one, "target.url: credentials"},
		{"bad port with a password", "target: {url: \"http://u:secret@127.0.0.1:8o/\"}\nmax_rate: 1\nmax_duration: 1m\n" + one, "target.url: not a URL"},
		{"ftp", "target: {url: \"ftp://127.0.0.1/\"}\nmax_rate: 1\nmax_duration: 1m\n" + one, `target.url: scheme "ftp"`},
		{"body field unknown", "target: {url: \"http://127.0.0.1/\", body: \"{{ .User }}\"}\nmax_rate: 1\nmax_duration: 1m\n" + one, "target.body"},
		{"slo ratio", base + "slo: {success_ratio: 99}\n" + one, "slo.success_ratio: 99"},
		{"prefix", base + "metrics: {prefix: \"amas-x\"}\n" + one, "metrics.prefix"},
	} {
		_, err := load(t, tc.text)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "drill.yaml") {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the password is in the error: %v", tc.name, err)
		}
	}
}
