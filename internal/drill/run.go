package drill

import (
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
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
	attacker := vegeta.NewAttacker(vegeta.Client(r.client(ctx)))
	start := r.now()
	res := DrillResult{Drill: d, Start: start, Errors: map[string]int{}}
	seconds := int(curve.Length().Round(time.Second)/time.Second) + 1
	res.Samples = make([]Sample, seconds)
	for s := range res.Samples {
		res.Samples[s] = Sample{Second: s, Planned: curve.Hits(time.Duration(s+1)*time.Second) - curve.Hits(time.Duration(s)*time.Second)}
	}
	stopAttack := context.AfterFunc(ctx, func() { attacker.Stop() })
	defer stopAttack()
	done := make(chan struct{})
	if r.Observer != nil {
		go r.publishPlan(d.Name, curve, done)
	}
	var all []time.Duration
	successes := 0
	results := attacker.Attack(r.targeter(d), Pacer{Curve: curve}, curve.Length(), d.Name)
	for result := range r.untilDone(ctx, results) {
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
			countError(res.Errors, result)
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
		// Counted in flight before anything can fail: vegeta reports a
		// failed targeter as a result too.
		if r.Observer != nil {
			r.Observer.Sent(d.Name)
		}
		var body bytes.Buffer
		if err := t.body.Execute(&body, bodyData{Seq: n, Drill: d.Name}); err != nil {
			return err
		}
		*tgt = vegeta.Target{Method: t.Method, URL: t.URL, Header: header.Clone(), Body: body.Bytes()}
		return nil
	}
}

// client is the attacker's HTTP client: every connection goes to the
// checked addresses whatever the URL's host resolves to now, no proxy,
// redirects answered rather than followed, and every request bound to ctx
// so that cancelling it aborts the requests in flight at once.
func (r Runner) client(ctx context.Context) *http.Client {
	var next atomic.Uint64
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy: nil,
		// The one target's requests are the only ones this client sends:
		// each dial goes to a checked address, round robin.
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			addr := r.Dest.Addrs[int(next.Add(1)-1)%len(r.Dest.Addrs)]
			return dialer.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: vegeta.DefaultConnections,
		TLSClientConfig:     &tls.Config{ServerName: r.Dest.Host},
	}
	return &http.Client{
		Timeout:       time.Duration(r.Config.Target.Timeout),
		Transport:     boundTransport{ctx: ctx, next: transport},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// boundTransport sends each request under ctx.
type boundTransport struct {
	ctx  context.Context
	next http.RoundTripper
}

func (b boundTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	return b.next.RoundTrip(req.WithContext(b.ctx))
}

// untilDone passes the attack's results on until ctx is cancelled; then
// it drains the rest in the background (vegeta finishes its last sleep
// before it sees the stop), so that the drill returns at once.
func (r Runner) untilDone(ctx context.Context, results <-chan *vegeta.Result) <-chan *vegeta.Result {
	out := make(chan *vegeta.Result)
	go func() {
		defer close(out)
		for {
			select {
			case res, ok := <-results:
				if !ok {
					return
				}
				select {
				case out <- res:
				case <-ctx.Done():
					go drain(results)
					return
				}
			case <-ctx.Done():
				go drain(results)
				return
			}
		}
	}()
	return out
}

func drain(results <-chan *vegeta.Result) {
	for range results {
	}
}

// maxErrorKinds bounds the distinct error texts a drill keeps: a failing
// server must not grow the report by a line a request.
const maxErrorKinds = 20

// addrInError matches the addresses transport errors name (the local
// port differs for every connection).
var addrInError = regexp.MustCompile(`(\[[0-9a-fA-F:.]+\]|\d+\.\d+\.\d+\.\d+):\d+`)

// countError counts a failed result by its text, addresses replaced.
func countError(errs map[string]int, result *vegeta.Result) {
	text := result.Error
	if text == "" {
		text = http.StatusText(int(result.Code))
	}
	text = addrInError.ReplaceAllString(text, "ADDR")
	if _, ok := errs[text]; !ok && len(errs) >= maxErrorKinds {
		text = "other errors"
	}
	errs[text]++
}

func (r Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}
