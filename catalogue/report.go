package catalogue

import (
	"fmt"
)

// Report configures `headroom report`: where the number of concurrent
// users comes from, the query latency metric that lets it judge
// partitioning, and the price table its cost section reads.
type Report struct {
	// UsersMetric is a PromQL expression of the concurrent users (summed
	// over its series); empty derives users from the request rate.
	UsersMetric string `yaml:"users_metric"`
	// RequestsPerUser is the requests per second one concurrent user makes;
	// with no users_metric, users = request rate / it. 0 leaves users unknown.
	RequestsPerUser float64 `yaml:"requests_per_user"`
	// QueryLatencyMetric is a PromQL expression of PostgreSQL query latency
	// in seconds; empty reports partitioning as not evaluated.
	QueryLatencyMetric string `yaml:"query_latency_metric"`
	// Prices are the deployment tiers with their monthly prices, smallest
	// first: the HA guide's AWS example by default.
	Prices []PriceTier `yaml:"prices"`
}

// PriceTier is one deployment of the price table: the users it is sized
// for and what it runs.
type PriceTier struct {
	// Users is the concurrent users the tier is sized for.
	Users int `yaml:"users"`
	// Items are the tier's lines.
	Items []PriceItem `yaml:"items"`
}

// PriceItem is one line of a price tier.
type PriceItem struct {
	// Service is what the line pays for (API Server, PostgreSQL, Redis ...).
	Service string `yaml:"service"`
	// Size is the instance type.
	Size string `yaml:"size"`
	// Count is the number of instances.
	Count int `yaml:"count"`
	// Monthly is the line's price per month, all instances, in dollars.
	Monthly float64 `yaml:"monthly"`
}

// Monthly is the tier's total price per month.
func (t PriceTier) Monthly() float64 {
	var sum float64
	for _, it := range t.Items {
		sum += it.Monthly
	}
	return sum
}

// defaultPrices is every line of the HA guide's "Single Instance vs Scaled
// (AWS Example)": the tiers for 100, 500 and 2000 users.
func defaultPrices() []PriceTier {
	return []PriceTier{
		{Users: 100, Items: []PriceItem{
			{"API Server", "t3.medium", 1, 30},
			{"PostgreSQL", "db.t3.small", 1, 25},
			{"Redis", "t3.micro", 1, 7},
		}},
		{Users: 500, Items: []PriceItem{
			{"API Server", "t3.medium", 5, 150},
			{"Load Balancer", "ALB", 1, 20},
			{"PostgreSQL", "db.m5.large", 1, 140},
			{"Redis", "t3.small", 1, 15},
		}},
		{Users: 2000, Items: []PriceItem{
			{"API Server", "t3.medium", 15, 450},
			{"Load Balancer", "ALB", 1, 20},
			{"PostgreSQL Primary", "db.m5.2xlarge", 1, 540},
			{"PostgreSQL Replica", "db.m5.xlarge", 2, 540},
			{"Redis Cluster", "t3.medium", 6, 180},
		}},
	}
}

// validate names the report field that is wrong.
func (r Report) validate(bad func(field, format string, args ...any)) {
	for field, e := range map[string]string{"report.users_metric": r.UsersMetric, "report.query_latency_metric": r.QueryLatencyMetric} {
		if e == "" {
			continue
		}
		if _, err := ParseExpr(e); err != nil {
			bad(field, "%q is not PromQL: %v", e, err)
		}
	}
	if r.RequestsPerUser < 0 {
		bad("report.requests_per_user", "must be >= 0, got %v", r.RequestsPerUser)
	}
	prev := 0
	for i, t := range r.Prices {
		at := fmt.Sprintf("report.prices[%d]", i)
		if t.Users <= prev {
			bad(at+".users", "must be > 0 and above the previous tier's (%d), got %d", prev, t.Users)
		}
		prev = max(prev, t.Users)
		if len(t.Items) == 0 {
			bad(at+".items", "must list at least one line")
		}
		for k, it := range t.Items {
			line := fmt.Sprintf("%s.items[%d]", at, k)
			if it.Service == "" {
				bad(line+".service", "must be set")
			}
			if it.Count < 1 {
				bad(line+".count", "must be >= 1, got %d", it.Count)
			}
			if it.Monthly < 0 {
				bad(line+".monthly", "must be >= 0, got %v", it.Monthly)
			}
		}
	}
}

// SizingTier is a row of the HA guide's sizing table: concurrent users
// to API instances and Redis memory.
type SizingTier struct {
	Users, Instances, RedisMemory string
	// MaxUsers is the tier's upper bound (0 for the last, unbounded);
	// MinInstances the fewest instances it recommends.
	MaxUsers, MinInstances int
}

// Sizing is the HA guide's "concurrent users → instances" table, as the
// overview dashboard shows it and `headroom report` applies it.
var Sizing = []SizingTier{
	{"0–100", "1", "256 MB", 100, 1},
	{"100–300", "2–3", "256 MB", 300, 2},
	{"300–500", "3–5", "512 MB", 500, 3},
	{"500–1000", "5–10", "1 GB", 1000, 5},
	{"1000+", "10+, with PostgreSQL read replicas", "2 GB+", 0, 10},
}

// SizingFor is the sizing row of a number of concurrent users.
func SizingFor(users float64) SizingTier {
	for _, t := range Sizing {
		if t.MaxUsers == 0 || users <= float64(t.MaxUsers) {
			return t
		}
	}
	return Sizing[len(Sizing)-1]
}
