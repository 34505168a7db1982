package drill

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Sample is one second of a drill: what was planned and what came back.
type Sample struct {
	// Second counts from the drill's start.
	Second    int           `json:"second"`
	Planned   float64       `json:"planned_rate"`
	Sent      int           `json:"sent"`
	Successes int           `json:"successes"`
	Errors    int           `json:"errors"`
	P50       time.Duration `json:"-"`
	P95       time.Duration `json:"-"`
	P99       time.Duration `json:"-"`
	latencies []time.Duration
}

// DrillResult is one drill's run.
type DrillResult struct {
	Drill   Drill     `json:"-"`
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Samples []Sample  `json:"samples"`
	Stats   Stats     `json:"stats"`
	Verdict Verdict   `json:"verdict"`
	// Interrupted says the run was stopped before its end (Ctrl-C).
	Interrupted bool `json:"interrupted,omitempty"`
	// Errors counts each distinct error text (status or transport error).
	Errors map[string]int `json:"errors,omitempty"`
	// Reaction is what the bundle's alerts and autoscaler did, when a
	// Prometheus was given.
	Reaction *DrillReaction `json:"reaction,omitempty"`
}

// Observer sees every response as it arrives (the drill's own metrics).
type Observer interface {
	Planned(drill string, rate float64)
	Sent(drill string)
	Done(drill, phase string, code int, latency time.Duration)
}

// Runner sends drills to one checked destination.
type Runner struct {
	Config   *Config
	Dest     Destination
	Observer Observer
	// Now is the clock, for the samples' start times.
	Now func() time.Time
}

// Run sends one drill and collects its samples. Cancelling ctx stops the
// load at once; the result holds what was sent until then.
func (r Runner) Run(ctx context.Context, d Drill) DrillResult {
	curve := CurveOf(d)
	attacker := vegeta.NewAttacker(
		vegeta.Redirects(vegeta.NoFollow),
		vegeta.Timeout(time.Duration(r.Config.Target.Timeout)),
		vegeta.KeepAlive(true),
		// No proxy from the environment: the checked address is the one
		// the load goes to.
		vegeta.Proxy(func(*http.Request) (*url.URL, error) { return nil, nil }),
		vegeta.ConnectTo(map[string][]string{r.Dest.HostPort: r.Dest.Addrs}),
	)
	start := r.now()
	res := DrillResult{Drill: d, Start: start, Errors: map[string]int{}}
	seconds := int(curve.Length().Round(time.Second)/time.Second) + 1
	res.Samples = make([]Sample, seconds)
	for s := range res.Samples {
		res.Samples[s] = Sample{Second: s, Planned: curve.Hits(time.Duration(s+1)*time.Second) - curve.Hits(time.Duration(s)*time.Second)}
	}
	stop := context.AfterFunc(ctx, func() { attacker.Stop() })
	defer stop()
	done := make(chan struct{})
	if r.Observer != nil {
		go r.publishPlan(d.Name, curve, done)
	}
	var all []time.Duration
	successes := 0
	for result := range attacker.Attack(r.targeter(d), Pacer{Curve: curve}, curve.Length(), d.Name) {
		if r.Observer != nil {
			r.Observer.Done(d.Name, d.Phase(result.Timestamp.Sub(start)), int(result.Code), result.Latency)
		}
		s := int(result.Timestamp.Sub(start) / time.Second)
		s = min(max(s, 0), len(res.Samples)-1)
		sample := &res.Samples[s]
		sample.Sent++
		sample.latencies = append(sample.latencies, result.Latency)
		all = append(all, result.Latency)
		if result.Code >= 200 && result.Code < 300 {
			sample.Successes++
			successes++
		} else {
			sample.Errors++
			text := result.Error
			if text == "" {
				text = http.StatusText(int(result.Code))
			}
			res.Errors[text]++
		}
	}
	close(done)
	res.End = r.now()
	res.Interrupted = ctx.Err() != nil
	for i := range res.Samples {
		st := StatsOf(res.Samples[i].latencies, res.Samples[i].Successes)
		res.Samples[i].P50, res.Samples[i].P95, res.Samples[i].P99 = st.P50, st.P95, st.P99
		res.Samples[i].latencies = nil
	}
	res.Stats = StatsOf(all, successes)
	return res
}

// publishPlan tells the observer the planned rate every second.
func (r Runner) publishPlan(drill string, curve Curve, done <-chan struct{}) {
	began := time.Now()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		r.Observer.Planned(drill, curve.Rate(time.Since(began)))
		select {
		case <-done:
			r.Observer.Planned(drill, 0)
			return
		case <-tick.C:
		}
	}
}

// targeter builds each request: the target's method, headers and body
// template, the body rendered per request.
func (r Runner) targeter(d Drill) vegeta.Targeter {
	t := r.Config.Target
	header := http.Header{}
	for k, v := range t.Headers {
		header.Set(k, v)
	}
	var mu sync.Mutex
	seq := 0
	return func(tgt *vegeta.Target) error {
		// vegeta's workers call the targeter concurrently.
		mu.Lock()
		n := seq
		seq++
		mu.Unlock()
		var body bytes.Buffer
		if err := t.body.Execute(&body, bodyData{Seq: n, Drill: d.Name}); err != nil {
			return err
		}
		*tgt = vegeta.Target{Method: t.Method, URL: t.URL, Header: header.Clone(), Body: body.Bytes()}
		if r.Observer != nil {
			r.Observer.Sent(d.Name)
		}
		return nil
	}
}

func (r Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}
