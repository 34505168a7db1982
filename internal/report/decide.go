package report

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/headroom-dev/headroom/catalogue"
)

// Thresholds of the guide's decision tree that are not triggers.
const (
	readReplicaUsers  = 500     // read replicas past 500 users
	readsDominate     = 0.8     // reads' share of tuples for "read-heavy"
	pgbouncerPool     = 0.8     // PgBouncer when the pool passes 80 %
	lowHitRate        = 0.6     // more Redis memory under 60 % hits
	redisClusterBytes = 1 << 30 // Redis Cluster past 1 GB of data
	dbVertical        = 0.7     // the DB grows first when its utilisation passes the checklist's 70 %
)

// decide walks the guide's decision tree.
func (h history) decide(r *Report, cfg *catalogue.Config, users *float64) {
	add := func(area, action string, st Status, because string) {
		r.Recommendations = append(r.Recommendations, Recommendation{Area: area, Action: action, Status: st, Because: because})
	}
	reps := peak(h.lastDay(h.get("replicas")))
	if users == nil {
		add("API", "API instances for the users", Unknown, "user count unknown")
	} else {
		tier := catalogue.SizingFor(*users)
		now := "unknown"
		st := Unknown
		if reps != nil {
			now = fmt.Sprintf("%.0f", *reps)
			st = NotNeeded
			if *reps < float64(tier.MinInstances) {
				st = Recommended
			}
		}
		add("API", fmt.Sprintf("%s API instances", tier.Instances), st,
			fmt.Sprintf("%.0f concurrent users (guide tier %s); %s instances now", *users, tier.Users, now))
		if g, ok := catalogue.ConnectionGuardOf(cfg); ok {
			check := h.connectionsFor(g, instancesOf(tier))
			r.Recommendations = append(r.Recommendations, check)
		}
	}
	dbUtil := peakOf(h, string(catalogue.SignalDBPool), string(catalogue.SignalPostgresConnections))
	switch {
	case dbUtil == nil:
		add("PostgreSQL", "vertical scaling (next size) first", Unknown, "no DB pool or connection utilisation")
	case *dbUtil > dbVertical:
		add("PostgreSQL", "vertical scaling (next size) first", Recommended, fmt.Sprintf("DB utilisation p95 %s > %s", pct(*dbUtil), pct(dbVertical)))
	default:
		add("PostgreSQL", "vertical scaling (next size) first", NotNeeded, fmt.Sprintf("DB utilisation p95 %s ≤ %s", pct(*dbUtil), pct(dbVertical)))
	}
	reads, writes := mean(h.get("tuples_read")), mean(h.get("tuples_written"))
	switch {
	case reads == nil || writes == nil || *reads+*writes == 0:
		add("PostgreSQL", "read replicas", Unknown, "no pg_stat_database tuple rates (pg_stat_database_tup_*: headroom does not export them)")
	case users == nil:
		add("PostgreSQL", "read replicas", Unknown, "user count unknown")
	default:
		share := *reads / (*reads + *writes)
		st := NotNeeded
		if share >= readsDominate && *users > readReplicaUsers {
			st = Recommended
		}
		add("PostgreSQL", "read replicas", st, fmt.Sprintf("reads %s of tuples (needs ≥ %s), %.0f users (needs > %d)", pct(share), pct(readsDominate), *users, readReplicaUsers))
	}
	if pool := quantile(h.get(string(catalogue.SignalDBPool)), 0.95); pool == nil {
		add("PostgreSQL", "PgBouncer connection pooling", Unknown, "no DB pool utilisation")
	} else {
		add("PostgreSQL", "PgBouncer connection pooling", statusIf(*pool > pgbouncerPool), fmt.Sprintf("DB pool p95 %s (PgBouncer past %s)", pct(*pool), pct(pgbouncerPool)))
	}
	if lat := quantile(h.get("query_latency"), 0.95); lat == nil {
		add("PostgreSQL", "table partitioning", NotEvaluated, "headroom collects no query latency: set report.query_latency_metric")
	} else {
		add("PostgreSQL", "table partitioning", NotEvaluated, fmt.Sprintf("query latency p95 %.3g s: the guide gives no threshold; judge with it", *lat))
	}
	// The last day's: a cache that started missing this week is judged by now.
	hit, ev := mean(h.lastDay(h.get(string(catalogue.SignalRedisHitRatio)))), peak(h.lastDay(h.get(string(catalogue.SignalRedisEvictions))))
	switch {
	case hit == nil && ev == nil:
		add("Redis", "more memory", Unknown, "no hit rate or evictions")
	default:
		low := hit != nil && *hit < lowHitRate
		evicting := ev != nil && *ev > 0
		add("Redis", "more memory", statusIf(low || evicting), fmt.Sprintf("last day: hit rate %s (low under %s), evictions peak %s/s", fmtPct(hit), pct(lowHitRate), fmtNum(ev)))
	}
	if bytes := peak(h.get("redis_bytes")); bytes == nil {
		add("Redis", "Redis Cluster", Unknown, "no headroom_redis_memory_used_bytes")
	} else {
		add("Redis", "Redis Cluster", statusIf(*bytes > redisClusterBytes), fmt.Sprintf("data peak %.0f MiB (Cluster past 1024 MiB)", *bytes/(1<<20)))
	}
	if reps := peak(h.lastDay(h.get("redis_replicas"))); reps == nil {
		add("Redis", "Redis Sentinel (HA)", Unknown, "no headroom_redis_connected_replicas")
	} else {
		add("Redis", "Redis Sentinel (HA)", statusIf(*reps == 0), fmt.Sprintf("%.0f replicas connected", *reps))
	}
}

// apiServer is the price table's line of the API's instances: "now" is
// the smallest tier with as many as are deployed.
const apiServer = "API Server"

// cost prices what is deployed now, the smallest tier with as many API
// servers as the peak replicas of the last day (the users' tier when the
// replicas are unknown), and after a recommended scale-up the users' tier
// when it is larger, else the next one (the guide's "after" for a vertical
// step is the next size's price).
func (h history) cost(r *Report, cfg *catalogue.Config, users *float64) {
	c := &r.Cost
	c.Users = users
	prices := cfg.Report.Prices
	if len(prices) == 0 {
		c.Detail = "report.prices is empty"
		return
	}
	forUsers := -1
	if users != nil {
		forUsers = 0
		for forUsers < len(prices)-1 && float64(prices[forUsers].Users) < *users {
			forUsers++
		}
	}
	now := -1
	// A price table without an API server line cannot say which tier runs
	// the instances: the users' tier stands in, as with no replica count.
	counted := slices.ContainsFunc(prices, func(t catalogue.PriceTier) bool { return servers(t) > 0 })
	if reps := peak(h.lastDay(h.get("replicas"))); reps != nil && counted {
		now = len(prices) - 1
		for i, t := range prices {
			if float64(servers(t)) >= *reps {
				now = i
				break
			}
		}
		c.Detail = fmt.Sprintf("Now is the tier for %d users, the smallest whose %s line counts the %.0f instances deployed (peak of the last day)",
			prices[now].Users, apiServer, *reps)
	} else if forUsers >= 0 {
		now = forUsers
		why := "API instances unknown"
		if !counted {
			why = fmt.Sprintf("no tier of report.prices has an %s line", apiServer)
		}
		c.Detail = fmt.Sprintf("%s: now is the tier for %d users, the smallest that holds %.0f", why, prices[now].Users, *users)
	} else {
		c.Detail = "API instances and user count unknown: no tier"
		return
	}
	c.Now = tierOf(prices[now])
	scales := false
	for _, rec := range r.Recommendations {
		if rec.Status == Recommended && rec.Area != "Redis" && !rec.check {
			scales = true
		}
	}
	if scales {
		switch {
		case forUsers > now:
			c.After = tierOf(prices[forUsers])
			c.Detail += fmt.Sprintf("; after: the tier for the users, %d", c.After.Users)
		case now+1 < len(prices):
			c.After = tierOf(prices[now+1])
			c.Detail += fmt.Sprintf("; after: the next tier, %d users", c.After.Users)
		}
	}
	if users != nil && *users > 0 {
		c.PerUser = ptr(c.Now.Monthly / *users)
	}
	if m := mean(h.get(string(catalogue.SignalAPIRequests))); m != nil && *m > 0 {
		c.RequestsPerMonth = ptr(*m * 30 * 86400)
		c.PerRequest = ptr(c.Now.Monthly / *c.RequestsPerMonth)
	}
}

// servers is the count of a tier's API Server lines.
func servers(t catalogue.PriceTier) int {
	n := 0
	for _, it := range t.Items {
		if it.Service == apiServer {
			n += it.Count
		}
	}
	return n
}

// connectionsFor checks the database-connection guard for n API
// instances: their pools must fit in the usable connections, the least
// of the last day, before the API scales to n.
func (h history) connectionsFor(g catalogue.ConnectionGuard, n int) Recommendation {
	rec := Recommendation{Area: "PostgreSQL", Action: fmt.Sprintf("connections for %d instances", n), check: true}
	need := n * g.Pool
	usable := low(h.lastDay(h.get("usable_connections")))
	switch {
	case usable == nil:
		rec.Status = Unknown
		rec.Because = fmt.Sprintf("%d × pool %d = %d connections; usable connections of %s unknown (%s)", n, g.Pool, need, g.What, g.UsableName)
	case float64(need) <= *usable:
		rec.Status = NotNeeded
		rec.Because = fmt.Sprintf("%d × pool %d = %d ≤ %.0f usable connections of %s (least of the last day)", n, g.Pool, need, *usable, g.What)
	default:
		first := "PgBouncer/raise max_connections first"
		if g.Through == catalogue.ConnectsThroughPgBouncer {
			first = "raise PgBouncer's max_client_conn first"
		}
		rec.Status = Recommended
		rec.Because = fmt.Sprintf("%s: %d × pool %d = %d > %.0f usable connections of %s (least of the last day)", first, n, g.Pool, need, *usable, g.What)
	}
	return rec
}

// instancesOf is the most instances a sizing row asks for: the upper end
// of "3–5", the number of "1" or "10+".
func instancesOf(t catalogue.SizingTier) int {
	_, upper, ok := strings.Cut(t.Instances, "–")
	if !ok {
		upper = t.Instances
	}
	end := strings.IndexFunc(upper, func(r rune) bool { return r < '0' || r > '9' })
	if end >= 0 {
		upper = upper[:end]
	}
	if n, err := strconv.Atoi(upper); err == nil {
		return max(n, t.MinInstances)
	}
	return t.MinInstances
}

func tierOf(t catalogue.PriceTier) *Tier {
	out := &Tier{Users: t.Users, Monthly: t.Monthly()}
	for _, it := range t.Items {
		out.Items = append(out.Items, TierItem(it))
	}
	return out
}

func statusIf(b bool) Status {
	if b {
		return Recommended
	}
	return NotNeeded
}

// peakOf is the highest p95 of the keys that have data.
func peakOf(h history, keys ...string) *float64 {
	var out *float64
	for _, k := range keys {
		if p := quantile(h.get(k), 0.95); p != nil && (out == nil || *p > *out) {
			out = p
		}
	}
	return out
}

func fmtPct(v *float64) string {
	if v == nil {
		return "unknown"
	}
	return pct(*v)
}

func fmtNum(v *float64) string {
	if v == nil || math.IsNaN(*v) {
		return "unknown"
	}
	return fmt.Sprintf("%.3g", *v)
}
