package report_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/headroom-dev/headroom/catalogue"
)

// The synthetic week of the report's tests, and of docs/examples: users
// grow 3 % a day on a daily cycle, Redis fills up and evicts from day 5,
// and the API scales out from 3 to 5 instances on day 6. The DB pool
// follows a daily cycle of ±20 points on a rise of 1.5 points a day, so
// that its time to 80 % is known in closed form.
const (
	storyInterval = 2 * time.Minute
	storySpan     = 7*24*time.Hour + time.Hour
	day           = 24 * time.Hour
)

// cycle is the daily cycle, peaking at 15:00.
func cycle(t time.Duration) float64 {
	return math.Sin(2 * math.Pi * (t.Hours() - 9) / 24)
}

func days(t time.Duration) float64 { return t.Hours() / 24 }

// storyUsers are the concurrent users at t.
func storyUsers(t time.Duration) float64 { return 200 * (1 + 0.03*days(t)) * (1 + 0.3*cycle(t)) }

// storyPool is the DB pool's utilisation at t.
func storyPool(t time.Duration) float64 { return 0.40 + 0.015*days(t) + 0.2*cycle(t) }

func storyReplicas(t time.Duration) int {
	if t >= 6*day {
		return 5
	}
	return 3
}

// writeStory writes the week in promtool's input_series notation.
func writeStory(dir string) (string, error) { return writeStoryEvery(dir, storyInterval) }

// writeStoryEvery writes the week with a sample every interval: the
// benchmark's is a scrape interval's.
func writeStoryEvery(dir string, interval time.Duration) (string, error) {
	n := int(storySpan/interval) + 1
	type series struct {
		name string
		vals []string
	}
	var all []series
	add := func(name string, f func(k int, t time.Duration) (float64, bool)) {
		s := series{name: name, vals: make([]string, n)}
		for k := range n {
			v, ok := f(k, time.Duration(k)*interval)
			if ok {
				s.vals[k] = catalogue.Num(math.Round(v*1000) / 1000)
			} else {
				s.vals[k] = "_"
			}
		}
		all = append(all, s)
	}
	// counter integrates a rate per second.
	counter := func(name string, rate func(t time.Duration) (float64, bool)) {
		c := 0.0
		add(name, func(k int, t time.Duration) (float64, bool) {
			r, ok := rate(t)
			if !ok {
				return 0, false
			}
			if k > 0 {
				c += r * interval.Seconds()
			}
			return c, true
		})
	}
	for i := range 5 {
		inst := fmt.Sprintf(`job="health-agent-api", instance="api-%d"`, i)
		live := func(t time.Duration) bool { return i < storyReplicas(t) }
		per := func(t time.Duration) float64 { return storyUsers(t) / float64(storyReplicas(t)) }
		// 0.5 requests per second per user, 0.5 % of them failing; a user
		// costs an instance 0.002 of its 4 cores.
		counter("process_cpu_seconds_total{"+inst+"}", func(t time.Duration) (float64, bool) { return per(t) * 0.002 * 4, live(t) })
		add("process_resident_memory_bytes{"+inst+"}", func(_ int, t time.Duration) (float64, bool) { return 1 << 30, live(t) })
		counter("http_requests_total{"+inst+`, code="200"}`, func(t time.Duration) (float64, bool) { return per(t) * 0.5 * 0.995, live(t) })
		counter("http_requests_total{"+inst+`, code="500"}`, func(t time.Duration) (float64, bool) { return per(t) * 0.5 * 0.005, live(t) })
	}
	add(`app_active_users{job="health-agent-api"}`, func(_ int, t time.Duration) (float64, bool) { return storyUsers(t), true })
	pg := `job="headroom", target="pg-primary"`
	add(`headroom_postgres_pool_backends{`+pg+`, pool="api", state="active"}`, func(_ int, t time.Duration) (float64, bool) { return storyPool(t) * 13, true })
	add(`headroom_postgres_pool_size{`+pg+`, pool="api"}`, func(int, time.Duration) (float64, bool) { return 13, true })
	// PgBouncer takes 100 clients: the 5 instances' pools of 13 fit.
	add(`headroom_pgbouncer_config_max_client_connections{job="headroom", target="pgbouncer"}`, func(int, time.Duration) (float64, bool) { return 100, true })
	rd := `job="headroom", target="redis"`
	evicting := func(t time.Duration) bool { return t >= 5*day }
	counter(`headroom_redis_keyspace_hits_total{`+rd+`}`, func(t time.Duration) (float64, bool) {
		if evicting(t) {
			return 55, true
		}
		return 85, true
	})
	counter(`headroom_redis_keyspace_misses_total{`+rd+`}`, func(t time.Duration) (float64, bool) {
		if evicting(t) {
			return 45, true
		}
		return 15, true
	})
	counter(`headroom_redis_evicted_keys_total{`+rd+`}`, func(t time.Duration) (float64, bool) {
		if evicting(t) {
			return 2, true
		}
		return 0, true
	})
	add(`headroom_redis_memory_used_bytes{`+rd+`}`, func(_ int, t time.Duration) (float64, bool) {
		if evicting(t) {
			return 256 << 20, true
		}
		return float64(150<<20) + float64(t/day)*float64(20<<20), true
	})
	add(`headroom_redis_memory_limit_bytes{`+rd+`, source="maxmemory"}`, func(int, time.Duration) (float64, bool) { return 256 << 20, true })
	add(`headroom_redis_connected_replicas{`+rd+`}`, func(int, time.Duration) (float64, bool) { return 0, true })

	var b strings.Builder
	fmt.Fprintf(&b, "interval: %s\ninput_series:\n", interval)
	for _, s := range all {
		fmt.Fprintf(&b, "  - series: '%s'\n    values: '%s'\n", s.name, strings.Join(s.vals, " "))
	}
	path := filepath.Join(dir, "week.yaml")
	return path, os.WriteFile(path, []byte(b.String()), 0o600)
}

// storyPoolCrossing is when the DB pool first reaches threshold after
// from, found minute by minute.
func storyPoolCrossing(from time.Duration, threshold float64) time.Duration {
	for t := from; t < from+60*day; t += time.Minute {
		if storyPool(t) >= threshold {
			return t - from
		}
	}
	return -1
}
