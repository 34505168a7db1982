package collectors

// The API target probes an HTTP service's health endpoint the way
// blackbox_exporter does, and optionally reads numbers out of its JSON
// metrics document (api_json.go).
//
// As with blackbox_exporter, an API that cannot be reached is data, not a
// failed scrape: headroom_api_probe_success is 0 (with the reason in
// headroom_api_probe_failures_total) whether the endpoint refused, timed
// out or answered 503, so that an alert on probe success alone never goes
// silent when the API is completely down. headroom_target_up for kind="api"
// is 1 whenever the probe ran.

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/exposition"
	"github.com/headroom-dev/headroom/internal/kind"
)

const (
	// healthBodyLimit bounds what is read of a health response; health
	// documents are a few hundred bytes, and a bigger one is not trusted.
	healthBodyLimit = 1 << 20
	// metricsBodyLimit bounds the JSON metrics document.
	metricsBodyLimit = 8 << 20
	// drainLimit is how much of an oversized body is discarded to keep the
	// connection reusable; past it, closing the connection is cheaper.
	drainLimit = 64 << 10
	// maxRedirects matches net/http's default.
	maxRedirects = 10
	// maxComponentName bounds a component label value taken from a
	// response; names longer than this are cut.
	maxComponentName = 128
	// apiMaxConns is the per-host connection cap. The health and JSON
	// probes run one after the other, so one connection is normally used;
	// the second covers a connection being torn down while a new one opens.
	apiMaxConns = 2
)

// probeReason is why one health probe failed. The set is fixed so that it
// can be a label.
type probeReason int

const (
	probeTimeout probeReason = iota
	probeRefused
	probeDNS
	probeTLS
	probeRedirect
	probeHTTPStatus
	probeInvalidBody
	probeBodyStatus
	probeProtocol
	numProbeReasons
)

var probeReasonNames = [numProbeReasons]string{
	"timeout", "refused", "dns", "tls", "redirect", "http_status", "invalid_body", "body_status", "protocol",
}

func (r probeReason) String() string { return probeReasonNames[r] }

// Normalised health states: every status word an API reports maps to one of
// these, so that a typo or a new word in the API cannot add label values.
const (
	stateHealthy   = "healthy"
	stateDegraded  = "degraded"
	stateUnhealthy = "unhealthy"
	stateUnknown   = "unknown"
)

// healthStates is the state-set order; rank is the index (worse is higher).
var healthStates = []string{stateHealthy, stateDegraded, stateUnhealthy, stateUnknown}

var stateWords = map[string]string{
	"healthy": stateHealthy, "ok": stateHealthy, "pass": stateHealthy, "passed": stateHealthy,
	"passing": stateHealthy, "up": stateHealthy, "green": stateHealthy, "online": stateHealthy,
	"available": stateHealthy, "operational": stateHealthy, "ready": stateHealthy, "true": stateHealthy,

	"degraded": stateDegraded, "warn": stateDegraded, "warning": stateDegraded, "yellow": stateDegraded,
	"partial": stateDegraded, "partially_degraded": stateDegraded, "degraded_performance": stateDegraded,

	"unhealthy": stateUnhealthy, "fail": stateUnhealthy, "failed": stateUnhealthy, "failing": stateUnhealthy,
	"failure": stateUnhealthy, "down": stateUnhealthy, "error": stateUnhealthy, "critical": stateUnhealthy,
	"red": stateUnhealthy, "unavailable": stateUnhealthy, "offline": stateUnhealthy, "outage": stateUnhealthy,
	"false": stateUnhealthy, "out_of_service": stateUnhealthy,
}

var (
	apiProbeSuccessDesc    = newDesc("api", "probe_success", exposition.Gauge, "1 when the health endpoint answered with the expected status code and, if its JSON body has a top-level status, that status is healthy; 0 otherwise.")
	apiStatusCodeDesc      = newDesc("api", "probe_http_status_code", exposition.Gauge, "HTTP status code of the health endpoint's last response.")
	apiLastDurationDesc    = newDesc("api", "probe_last_duration_seconds", exposition.Gauge, "Time the last health probe took, request sent to body read.")
	apiSuccessesDesc       = newDesc("api", "probe_successes_total", exposition.Counter, "Health probes that succeeded.")
	apiFailuresDesc        = newDesc("api", "probe_failures_total", exposition.Counter, "Health probes that failed, by reason (timeout, refused, dns, tls, redirect, http_status, invalid_body, body_status, protocol).", "reason")
	apiHealthStatusDesc    = newDesc("api", "health_status", exposition.Gauge, "Top-level status the health endpoint reported, normalised to healthy, degraded, unhealthy or unknown: 1 for the reported one, 0 for the others.", "status")
	apiComponentUpDesc     = newDesc("api", "component_up", exposition.Gauge, "1 when the health endpoint reports the component healthy, 0 otherwise.", "component")
	apiComponentStatusDesc = newDesc("api", "component_status", exposition.Gauge, "Status the health endpoint reports for the component, normalised to healthy, degraded, unhealthy or unknown: 1 for the reported one, 0 for the others.", "component", "status")
	apiJSONValueDesc       = newDesc("api", "json_value", exposition.Gauge, "Value of a configured field of the API's JSON metrics document (booleans as 0 or 1).", "field")
	apiProbeDurationDesc   = newDesc("api", "probe_duration_seconds", exposition.Histogram, "Duration of health probes, request sent to body read, failed probes included.")
)

type apiTarget struct {
	name       string
	healthURL  string
	metricsURL string
	// shownHealth and shownMetrics are the URLs without userinfo or query,
	// the only form that appears in errors.
	shownHealth  string
	shownMetrics string
	expected     int
	timeout      time.Duration
	fields       []config.JSONField
	limits       config.Limits

	client    *http.Client
	transport *http.Transport

	// Cumulative state across scrapes. The runner scrapes a target at most
	// once at a time; the atomics and the histogram are safe regardless.
	hist      *exposition.HistogramMetric
	successes atomic.Uint64
	failures  [numProbeReasons]atomic.Uint64

	dials atomic.Uint64

	probeMu          sync.Mutex
	lastProbeFailure string // reason of the failing streak, "" while healthy

	// logger is the injected one, naming the target (targetLogger).
	logger *slog.Logger
	mu     sync.Mutex
	// fieldProblem is the last problem logged for each JSON field, so that
	// a field missing for a day logs once.
	fieldProblem map[string]string
}

// NewAPI builds an HTTP API target. Nothing is connected until the first
// scrape; the client and its keep-alive connections are then reused.
func NewAPI(c config.API, logger *slog.Logger) (Target, error) {
	health, err := parseProbeURL(c.HealthURL)
	if err != nil {
		return nil, fmt.Errorf("health_url: %w", err)
	}
	t := &apiTarget{
		name:         c.Name,
		logger:       targetLogger(logger, kind.API, c.Name),
		healthURL:    c.HealthURL,
		metricsURL:   c.MetricsURL,
		shownHealth:  shownURL(health),
		expected:     c.ExpectedStatus,
		timeout:      time.Duration(c.Timeout),
		fields:       c.JSONFields,
		limits:       c.Limits,
		fieldProblem: map[string]string{},
	}
	if c.MetricsURL != "" {
		m, err := parseProbeURL(c.MetricsURL)
		if err != nil {
			return nil, fmt.Errorf("metrics_url: %w", err)
		}
		t.shownMetrics = shownURL(m)
	}
	// The same defaults config.Load applies, for callers that build a
	// config.API by hand.
	if t.expected == 0 {
		t.expected = http.StatusOK
	}
	if t.timeout <= 0 {
		t.timeout = 5 * time.Second
	}
	if t.limits.Components <= 0 {
		t.limits.Components = config.DefaultLimits.Components
	}

	t.transport = &http.Transport{
		// No proxy: the exporter talks to the configured address and
		// nothing else.
		Proxy:               nil,
		DialContext:         t.countDials((&net.Dialer{KeepAlive: 30 * time.Second}).DialContext),
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        apiMaxConns,
		MaxIdleConnsPerHost: apiMaxConns,
		MaxConnsPerHost:     apiMaxConns,
		IdleConnTimeout:     5 * time.Minute,
	}
	t.client = &http.Client{Transport: t.transport, CheckRedirect: sameOriginRedirects}
	// Stateful, so each target keeps its own; the gatherer labels it with
	// the target as any other series.
	hist, err := exposition.NewHistogram(apiProbeDurationDesc, exposition.HistogramOpts{
		Buckets: prometheus.DefBuckets,
		// Native buckets as well, for percentiles without bucket guessing
		// on servers that ingest them; classic buckets stay for the rest.
		NativeHistogramBucketFactor:     1.1,
		NativeHistogramMaxBucketNumber:  100,
		NativeHistogramMinResetDuration: time.Hour,
	})
	if err != nil {
		return nil, err
	}
	t.hist = hist
	return t, nil
}

func parseProbeURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("cannot parse: %w", config.URLCause(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("scheme must be http or https, got %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("has no host")
	}
	return u, nil
}

// shownURL is u without credentials or query string (which may carry a
// token), for errors and logs.
func shownURL(u *url.URL) string {
	c := *u
	c.User = nil
	c.RawQuery = ""
	c.ForceQuery = false
	c.Fragment = ""
	return c.String()
}

// sameOriginRedirects follows redirects only within the configured origin
// (scheme, host and port). A redirect elsewhere is not followed: the 3xx
// response itself is returned and the probe fails with reason redirect.
func sameOriginRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects || !sameOrigin(req.URL, via[0].URL) {
		return http.ErrUseLastResponse
	}
	return nil
}

func sameOrigin(a, b *url.URL) bool {
	return strings.EqualFold(a.Scheme, b.Scheme) && strings.EqualFold(hostPort(a), hostPort(b))
}

func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if strings.EqualFold(u.Scheme, "https") {
			port = "443"
		}
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// countDials counts the connections the transport opens.
func (t *apiTarget) countDials(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		t.dials.Add(1)
		return dial(ctx, network, addr)
	}
}

// ConnectionsOpened counts connections dialled to the API.
func (t *apiTarget) ConnectionsOpened() uint64 { return t.dials.Load() }

func (t *apiTarget) Name() string    { return t.name }
func (t *apiTarget) Kind() kind.Kind { return kind.API }

// Close drops the idle keep-alive connections.
func (t *apiTarget) Close() {
	t.transport.CloseIdleConnections()
}

// Scrape probes the health endpoint and, when it answered and a metrics
// URL is configured, reads the JSON metrics document. When the health
// endpoint did not answer, the metrics document is not fetched: the host is
// almost always the same and the deadline is better left to the caller.
func (t *apiTarget) Scrape(ctx context.Context, s *Scrape) error {
	answered := false
	s.Run("health", func(emit func(prometheus.Metric)) error {
		answered = t.probeHealth(ctx, s, emit)
		if !answered && shuttingDown(ctx) {
			// Not a probe that failed: headroom stopped waiting.
			return context.Cause(ctx)
		}
		return nil
	})
	if answered && t.metricsURL != "" {
		s.Run("json", func(emit func(prometheus.Metric)) error {
			return t.collectJSON(ctx, emit)
		})
	}
	return nil
}

// response is what one GET brought back.
type response struct {
	status      int
	contentType string
	location    bool
	body        []byte
	truncated   bool
}

// get fetches u under the probe timeout (bounded by ctx's deadline) and
// reads at most limit bytes of the body. Errors name the URL without
// credentials.
func (t *apiTarget) get(ctx context.Context, u, shown string, limit int64) (*response, error) {
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	// The wait is the target's timeout or what is left of the scrape's
	// budget, whichever ends first; a timeout error says which it was.
	deadline, _ := ctx.Deadline()
	wait := time.Until(deadline).Round(time.Millisecond)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, &getError{url: shown, err: config.URLCause(err)}
	}
	req.Header.Set("Accept", "application/json, */*;q=0.5")
	req.Header.Set("User-Agent", "headroom")
	resp, err := t.client.Do(req)
	if err != nil {
		err = config.URLCause(err)
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("no answer within %v: %w", wait, err)
		}
		return nil, &getError{url: shown, err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, &getError{url: shown, err: fmt.Errorf("reading body: %w", err)}
	}
	r := &response{
		status:      resp.StatusCode,
		contentType: resp.Header.Get("Content-Type"),
		location:    resp.Header.Get("Location") != "",
		body:        body,
	}
	if int64(len(body)) > limit {
		r.body, r.truncated = body[:limit], true
	}
	// Read to the end so that the connection goes back to the pool.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, drainLimit))
	return r, nil
}

// getError is a failed GET. Its text has the URL without userinfo or query;
// it unwraps to the transport's error so that Classify sees the cause.
type getError struct {
	url string
	err error
}

func (e *getError) Error() string { return "GET " + e.url + ": " + e.err.Error() }
func (e *getError) Unwrap() error { return e.err }

// transportReason maps a failed GET to a probe reason.
func transportReason(err error) probeReason {
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) && !dnsErr.IsTimeout {
		return probeDNS
	}
	switch Classify(err) {
	case ReasonTimeout:
		return probeTimeout
	case ReasonRefused:
		return probeRefused
	case ReasonTLS:
		return probeTLS
	}
	return probeProtocol
}

// probeHealth runs one health probe and reports whether a complete
// response came back. Not answering and answering "unhealthy" are both a
// probe that failed, with different reasons.
func (t *apiTarget) probeHealth(ctx context.Context, s *Scrape, emit func(prometheus.Metric)) bool {
	start := time.Now()
	resp, err := t.get(ctx, t.healthURL, t.shownHealth, healthBodyLimit)
	took := time.Since(start)
	t.hist.Observe(took.Seconds())
	if err != nil {
		if shuttingDown(ctx) {
			return false
		}
		reason := transportReason(err)
		t.failures[reason].Add(1)
		t.noteProbe(reason.String(), err)
		emitSample(emit, apiProbeSuccessDesc, 0)
		t.emitProbeStats(emit, took)
		return false
	}

	failure, failed := probeReason(0), false
	fail := func(r probeReason) {
		if !failed {
			failure, failed = r, true
		}
	}
	if resp.status != t.expected {
		if resp.status >= 300 && resp.status < 400 && resp.location {
			fail(probeRedirect)
		} else {
			fail(probeHTTPStatus)
		}
	}
	// The body is read whatever the status: a 503 commonly says which
	// component is down.
	doc, isJSON, invalid := parseHealthBody(resp)
	if invalid {
		fail(probeInvalidBody)
	}
	var overall string
	hasOverall := false
	var components map[string]string
	if isJSON {
		if obj, ok := doc.(map[string]any); ok {
			overall, hasOverall = topLevelStatus(obj)
			components = extractComponents(obj)
		}
	}
	if hasOverall && overall != stateHealthy {
		fail(probeBodyStatus)
	}

	success := 1.0
	if failed {
		success = 0
		t.failures[failure].Add(1)
		t.noteProbe(failure.String(), fmt.Errorf("HTTP %d", resp.status))
	} else {
		t.successes.Add(1)
		t.noteProbe("", nil)
	}
	emitSample(emit, apiProbeSuccessDesc, success)
	emitSample(emit, apiStatusCodeDesc, float64(resp.status))
	t.emitProbeStats(emit, took)
	if hasOverall {
		stateSet(emit, apiHealthStatusDesc, overall)
	}
	names := make([]string, 0, len(components))
	for name := range components {
		names = append(names, name)
	}
	// Sorted, so that under the cap the same components are kept scrape
	// after scrape whatever order the API lists them in.
	sort.Strings(names)
	limit := s.Cap("components", t.limits.Components)
	for _, name := range names {
		if !limit.Allow(name) {
			continue
		}
		state := components[name]
		up := 0.0
		if state == stateHealthy {
			up = 1
		}
		emitSample(emit, apiComponentUpDesc, up, name)
		stateSet(emit, apiComponentStatusDesc, state, name)
	}
	return true
}

// noteProbe logs a probe failure when it starts or its reason changes, and
// the recovery, so that an API down for an hour logs twice.
func (t *apiTarget) noteProbe(reason string, err error) {
	t.probeMu.Lock()
	changed := reason != t.lastProbeFailure
	was := t.lastProbeFailure
	t.lastProbeFailure = reason
	t.probeMu.Unlock()
	switch {
	case reason != "" && changed:
		t.logger.Warn("health probe failed", "reason", reason, "err", err)
	case reason == "" && was != "":
		t.logger.Info("health probe recovered")
	}
}

func (t *apiTarget) emitProbeStats(emit func(prometheus.Metric), took time.Duration) {
	emitSample(emit, apiLastDurationDesc, took.Seconds())
	emit(t.hist)
	emitSample(emit, apiSuccessesDesc, float64(t.successes.Load()))
	for r := probeReason(0); r < numProbeReasons; r++ {
		emitSample(emit, apiFailuresDesc, float64(t.failures[r].Load()), r.String())
	}
}

// stateSet emits one series per normalised state, 1 for the current one.
func stateSet(emit func(prometheus.Metric), d *exposition.Desc, state string, labels ...string) {
	for _, st := range healthStates {
		v := 0.0
		if st == state {
			v = 1
		}
		emitSample(emit, d, v, append(labels[:len(labels):len(labels)], st)...)
	}
}

// parseHealthBody decodes the body when it is JSON. A body declared as JSON
// that does not parse is invalid; an undeclared body that does not parse is
// simply not JSON (a plain "OK" is a fine health answer).
func parseHealthBody(r *response) (doc any, isJSON, invalid bool) {
	mt, _, _ := mime.ParseMediaType(r.contentType)
	declared := mt == "application/json" || strings.HasSuffix(mt, "+json")
	trimmed := bytes.TrimSpace(r.body)
	if len(trimmed) == 0 {
		return nil, false, false
	}
	if !declared && trimmed[0] != '{' {
		return nil, false, false
	}
	if r.truncated {
		return nil, false, declared
	}
	doc, err := decodeJSON(trimmed)
	if err != nil {
		return nil, false, declared
	}
	return doc, true, false
}

// decodeJSON decodes one JSON value, keeping numbers exact, and rejects
// trailing data.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the JSON document")
	}
	return doc, nil
}

// topLevelStatus reads the document's overall status, if it reports one as
// a string or boolean.
func topLevelStatus(doc map[string]any) (string, bool) {
	switch v := doc["status"].(type) {
	case string, bool:
		return normalise(v), true
	}
	return "", false
}

// normalise maps a reported status to one of the fixed states.
func normalise(v any) string {
	switch x := v.(type) {
	case string:
		word := strings.ToLower(strings.TrimSpace(x))
		word = strings.NewReplacer("-", "_", " ", "_").Replace(word)
		if st, ok := stateWords[word]; ok {
			return st
		}
	case bool:
		if x {
			return stateHealthy
		}
		return stateUnhealthy
	}
	return stateUnknown
}

// statusOf reads the status of one component value in any of the shapes
// APIs use: "ok", true, {"status": "healthy", ...}, {"healthy": true}, or
// an array of checks (the worst one wins). ok is false when the value
// carries no status at all.
func statusOf(v any) (state string, ok bool) {
	switch x := v.(type) {
	case string, bool:
		return normalise(x), true
	case map[string]any:
		for _, key := range []string{"status", "state", "health"} {
			if s, found := x[key]; found {
				switch s.(type) {
				case string, bool:
					return normalise(s), true
				}
			}
		}
		if h, found := x["healthy"].(bool); found {
			return normalise(h), true
		}
	case []any:
		worst, seen := "", false
		for _, e := range x {
			if st, ok := statusOf(e); ok {
				if !seen || rank(st) > rank(worst) {
					worst = st
				}
				seen = true
			}
		}
		return worst, seen
	}
	return "", false
}

func rank(state string) int {
	for i, s := range healthStates {
		if s == state {
			return i
		}
	}
	return len(healthStates)
}

// componentContainers are the keys under which APIs list their
// dependencies, in order of preference. Spring Boot 2.0's "details" is left
// out on purpose: elsewhere it holds version strings and the like, which
// would read as components of unknown status.
var componentContainers = []string{"components", "checks", "services", "dependencies"}

// extractComponents finds the component statuses in a health document:
// under a container key ({"components": {"database": {"status": ...}}},
// {"checks": {"redis": "ok"}}, or a list of {"name": ..., "status": ...}),
// or else as top-level keys whose values are statuses
// ({"database": "healthy", "redis": "healthy"}). Names repeated or equal
// after cutting keep the worst status.
func extractComponents(doc map[string]any) map[string]string {
	out := map[string]string{}
	add := func(name, state string) {
		name = labelValue(name)
		if name == "" {
			return
		}
		if prev, ok := out[name]; !ok || rank(state) > rank(prev) {
			out[name] = state
		}
	}
	for _, key := range componentContainers {
		switch c := doc[key].(type) {
		case map[string]any:
			for name, v := range c {
				if st, ok := statusOf(v); ok {
					add(name, st)
				}
			}
			return out
		case []any:
			for _, e := range c {
				obj, ok := e.(map[string]any)
				if !ok {
					continue
				}
				name := ""
				for _, k := range []string{"name", "component", "componentId", "id"} {
					if n, ok := obj[k].(string); ok {
						name = n
						break
					}
				}
				if st, ok := statusOf(obj); ok {
					add(name, st)
				}
			}
			return out
		}
	}
	// Flat shape: only values that read as a status, so that "version":
	// "1.2.3" or "uptime": 3600 are not taken for components.
	for name, v := range doc {
		if name == "status" {
			continue
		}
		switch x := v.(type) {
		case string:
			if st := normalise(x); st != stateUnknown {
				add(name, st)
			}
		case bool:
			add(name, normalise(x))
		case map[string]any:
			if st, ok := statusOf(x); ok {
				add(name, st)
			}
		}
	}
	return out
}

// labelValue cuts a name from a response to a bounded length on a rune
// boundary. JSON decoding already replaced invalid UTF-8.
func labelValue(s string) string {
	s = strings.TrimSpace(s)
	if len(s) <= maxComponentName {
		return s
	}
	cut := maxComponentName
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
