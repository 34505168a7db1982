package catalogue

import (
	"strings"
	"testing"
)

// Every trigger and signal a config defines has an id the catalogue knows,
// so that consumers' lookups by constant find it.
func TestBuiltIDsAreKnown(t *testing.T) {
	for _, tc := range []struct{ preset, overlay string }{
		{"health-agent", ""},
		{"amas", ""},
		{"amas", "api: {queue_depth_metric: agent_queue_depth}\nresources: {network_bytes_per_second: 125000000}\n"},
	} {
		cfg, err := LoadOnto(tc.preset, []byte(tc.overlay))
		if err != nil {
			t.Fatalf("%s: %v", tc.preset, err)
		}
		b, err := Build(cfg)
		if err != nil {
			t.Fatalf("%s: %v", tc.preset, err)
		}
		for _, tr := range b.Triggers {
			if !tr.ID.known() {
				t.Errorf("%s: trigger %s has no TriggerID constant", tc.preset, tr.ID)
			}
		}
		for _, s := range b.Signals {
			if !SignalID(s.ID).known() {
				t.Errorf("%s: signal %s has no SignalID constant", tc.preset, s.ID)
			}
		}
		if _, ok := b.Trigger(TriggerCPUHigh); !ok && tc.preset == "health-agent" {
			t.Errorf("%s: no CPUHigh", tc.preset)
		}
	}
}

// A lookup of an id the catalogue does not define (a trigger renamed in
// the definitions but not in a consumer) fails loudly, naming the id and
// the known ones; an id the config merely leaves out is not an error.
func TestUnknownIDsFailLoudly(t *testing.T) {
	b := MustBuild(mustPreset(t, "health-agent"))
	if _, ok := b.Trigger(TriggerQueueDepthHigh); ok {
		t.Errorf("health-agent has QueueDepthHigh")
	}
	for _, tc := range []struct {
		name   string
		lookup func()
		want   []string
	}{
		{"trigger", func() { b.Trigger("RedisMemoryNearMaximum") }, []string{`"RedisMemoryNearMaximum"`, "RedisMemoryNearMax"}},
		{"signal", func() { b.Signal("api_queue") }, []string{`"api_queue"`, "api_queue_depth"}},
	} {
		msg := func() (msg string) {
			defer func() { msg, _ = recover().(string) }()
			tc.lookup()
			return ""
		}()
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: lookup of an unknown id says %q, want it to name %s", tc.name, msg, w)
			}
		}
	}
}

func mustPreset(t *testing.T, name string) *Config {
	t.Helper()
	cfg, err := Preset(name)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
