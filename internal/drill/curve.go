package drill

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// Curve is a drill's planned request rate over time: linear between its
// points, a jump where two points share a time. Every pattern of the guide
// is such a curve, so one pacer sends them all.
type Curve struct {
	points []point
}

type point struct {
	at   time.Duration
	rate float64
}

// CurveOf plans a drill's rate: the ramp-up from 0, then the pattern.
func CurveOf(d Drill) Curve {
	up := time.Duration(d.RampUp)
	end := up + time.Duration(d.Duration)
	first := d.Rate
	var pts []point
	if up > 0 {
		pts = append(pts, point{0, 0})
	}
	pts = append(pts, point{up, first})
	switch d.Pattern {
	case Constant:
		pts = append(pts, point{end, d.Rate})
	case Ramp:
		pts = append(pts, point{end, d.To})
	case Step:
		at := up + time.Duration(d.At)
		pts = append(pts, point{at, d.Rate}, point{at, d.To}, point{end, d.To})
	case Spike:
		at := up + time.Duration(d.At)
		back := at + time.Duration(d.Hold)
		pts = append(pts, point{at, d.Rate}, point{at, d.To}, point{back, d.To}, point{back, d.Rate}, point{end, d.Rate})
	}
	return Curve{points: pts}
}

// Phase names the part of the pattern at t from the drill's start, the
// phase label of its metrics: ramp_up, then steady (constant), ramp,
// before_step and step, or baseline and spike.
func (d Drill) Phase(t time.Duration) string {
	up := time.Duration(d.RampUp)
	if t < up {
		return "ramp_up"
	}
	at := up + time.Duration(d.At)
	switch d.Pattern {
	case Ramp:
		return "ramp"
	case Step:
		if t < at {
			return "before_step"
		}
		return "step"
	case Spike:
		if t >= at && t < at+time.Duration(d.Hold) {
			return "spike"
		}
		return "baseline"
	}
	return "steady"
}

// Length is the curve's end.
func (c Curve) Length() time.Duration {
	if len(c.points) == 0 {
		return 0
	}
	return c.points[len(c.points)-1].at
}

// Rate is the planned rate at t (the later side of a jump).
func (c Curve) Rate(t time.Duration) float64 {
	if len(c.points) == 0 || t < 0 || t > c.Length() {
		return 0
	}
	// The last point at or before t: a jump's later side.
	i := sort.Search(len(c.points), func(i int) bool { return c.points[i].at > t }) - 1
	if i < 0 {
		return c.points[0].rate
	}
	if i == len(c.points)-1 {
		return c.points[i].rate
	}
	a, b := c.points[i], c.points[i+1]
	return a.rate + (b.rate-a.rate)*float64(t-a.at)/float64(b.at-a.at)
}

// Hits is the number of requests planned from 0 to t: the curve's
// integral.
func (c Curve) Hits(t time.Duration) float64 {
	total := 0.0
	for i := 0; i+1 < len(c.points); i++ {
		a, b := c.points[i], c.points[i+1]
		if t <= a.at {
			break
		}
		end := min(t, b.at)
		if end == a.at {
			continue
		}
		rateAtEnd := a.rate + (b.rate-a.rate)*float64(end-a.at)/float64(b.at-a.at)
		total += (a.rate + rateAtEnd) / 2 * (end - a.at).Seconds()
	}
	return total
}

// When is the time at which the plan reaches n requests, and false when
// it never does.
func (c Curve) When(n float64) (time.Duration, bool) {
	done := 0.0
	for i := 0; i+1 < len(c.points); i++ {
		a, b := c.points[i], c.points[i+1]
		span := (b.at - a.at).Seconds()
		if span == 0 {
			continue
		}
		segment := (a.rate + b.rate) / 2 * span
		if done+segment < n {
			done += segment
			continue
		}
		// Solve a.rate·x + slope·x²/2 = n - done for x in [0, span].
		need := n - done
		slope := (b.rate - a.rate) / span
		var x float64
		if math.Abs(slope) < 1e-12 {
			x = need / a.rate
		} else {
			x = (-a.rate + math.Sqrt(a.rate*a.rate+2*slope*need)) / slope
		}
		x = min(max(x, 0), span)
		return a.at + time.Duration(x*float64(time.Second)), true
	}
	return 0, false
}

// Pacer sends the curve: it implements vegeta's Pacer, so that the
// attacker fires each request at its planned time whatever the server's
// response time (open loop), and catches up at once when behind.
type Pacer struct {
	Curve Curve
}

// Pace tells vegeta how long to wait before the next request: request
// hits+1 is due when the plan reaches hits+1 requests; when that time has
// passed it goes at once (catching up), and when the plan has no further
// request the attack stops (vegeta sends a request after every wait).
func (p Pacer) Pace(elapsed time.Duration, hits uint64) (time.Duration, bool) {
	if elapsed >= p.Curve.Length() {
		return 0, true
	}
	next, ok := p.Curve.When(float64(hits) + 1)
	if !ok || next >= p.Curve.Length() {
		return 0, true
	}
	return max(next-elapsed, 0), false
}

// Rate is the planned rate at elapsed, for vegeta's reports.
func (p Pacer) Rate(elapsed time.Duration) float64 { return p.Curve.Rate(elapsed) }

// Plan is the planned rate at every step of the drills in sequence, for
// --dry-run: drill, offset from the sequence's start, rate.
func Plan(drills []Drill, step time.Duration) string {
	if step <= 0 {
		step = time.Second
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-16s %10s %12s %12s\n", "drill", "offset", "rate (req/s)", "requests")
	offset := time.Duration(0)
	for _, d := range drills {
		c := CurveOf(d)
		for t := time.Duration(0); t <= c.Length(); t += step {
			fmt.Fprintf(&b, "%-16s %10s %12.2f %12.0f\n", d.Name, offset+t, c.Rate(t), c.Hits(t))
		}
		offset += c.Length()
	}
	return b.String()
}
