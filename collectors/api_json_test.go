package collectors

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/internal/config"
)

func TestAPIJSONMetrics(t *testing.T) {
	srv := apiServer(t, `{"status":"healthy"}`, apiServe(200, apiJSONType, apiMetricsDoc))
	c := apiConfig(srv.URL + "/api/health")
	c.MetricsURL = srv.URL + "/api/v1/metrics"
	fields := []struct {
		name, path string
		want       float64
		present    bool
	}{
		{"db_pool_utilization", "database.pool_utilization_percent", 42.5, true},
		{"db_pool_size", "database.pool_size", 13, true},
		{"db_healthy", "database.healthy", 1, true},
		{"redis_connected", "redis.connected", 0, true},
		{"redis_hit_rate", "redis.hit_rate", 0.87, true},
		{"second_worker_busy", "workers.1.busy", 5, true},
		{"cpu_nan", "cpu.percent", 0, false},
		{"cpu_inf", "cpu.load", 0, false},
		{"huge", "huge", 0, false},
		{"null", "nothing", 0, false},
		{"object", "database", 0, false},
		{"missing_field", "database.no_such_thing", 0, false},
		{"missing_index", "workers.7.busy", 0, false},
	}
	for _, f := range fields {
		c.JSONFields = append(c.JSONFields, config.JSONField{Name: f.name, Path: f.path})
	}
	_, r, logs := newAPIRunner(t, c)

	var f series
	for range 3 {
		f = gather(t, r, 5*time.Second)
	}
	f.want(t, "headroom_target_up", 1, apiKind...)
	f.want(t, "headroom_scrape_collector_success", 1, "collector", "json")
	present := 0
	for _, fl := range fields {
		got, ok := f.value("headroom_api_json_value", "field", fl.name)
		switch {
		case ok != fl.present:
			t.Errorf("field %s: present=%v, want %v", fl.name, ok, fl.present)
		case ok && got != fl.want:
			t.Errorf("field %s = %v, want %v", fl.name, got, fl.want)
		}
		if fl.present {
			present++
		} else if n := strings.Count(logs.String(), "field="+fl.name+" "); n != 1 {
			// Three scrapes, one log line per field left out.
			t.Errorf("field %s logged %d times, want 1", fl.name, n)
		}
	}
	if got := f.count("headroom_api_json_value"); got != present {
		t.Errorf("headroom_api_json_value: %d series, want %d", got, present)
	}
}

func TestAPIJSONMetricsEndpointFailures(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"server error", apiServe(500, apiJSONType, `{"error":"boom"}`)},
		{"not JSON", apiServe(200, "text/html", "<html>login</html>")},
		{"trailing garbage", apiServe(200, apiJSONType, `{"a":1} {"b":2}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := apiServer(t, `{"status":"ok"}`, tc.handler)
			c := apiConfig(srv.URL + "/api/health")
			c.MetricsURL = srv.URL + "/api/v1/metrics"
			c.JSONFields = []config.JSONField{{Name: "a", Path: "a"}}
			_, r, logs := newAPIRunner(t, c)
			f := gather(t, r, 5*time.Second)
			// The health probe still counts: the target is up and healthy.
			f.want(t, "headroom_target_up", 1, apiKind...)
			f.want(t, "headroom_api_probe_success", 1)
			f.want(t, "headroom_scrape_collector_success", 0, "collector", "json")
			f.absent(t, "headroom_api_json_value")
			if strings.Contains(logs.String(), "boom") || strings.Contains(logs.String(), "login") {
				t.Errorf("response body leaked into logs: %s", logs.String())
			}
		})
	}
}

func TestAPIValueParsing(t *testing.T) {
	tests := []struct {
		in   any
		want float64
		ok   bool
	}{
		{in: "12.5", want: 12.5, ok: true},
		{in: "-3", want: -3, ok: true},
		{in: true, want: 1, ok: true},
		{in: false, want: 0, ok: true},
		{in: "NaN"},
		{in: "+Inf"},
		{in: "-infinity"},
		{in: "12%"},
		{in: ""},
		{in: map[string]any{}},
		{in: []any{1.0}},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.in), func(t *testing.T) {
			got, ok := number(tc.in)
			if ok != tc.ok || got != tc.want {
				t.Errorf("number(%#v) = %v, %v; want %v, %v", tc.in, got, ok, tc.want, tc.ok)
			}
		})
	}
}
