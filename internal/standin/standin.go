// Package standin is a small stand-in for the LLM-backed API headroom
// watches: a health endpoint, a JSON metrics document and Prometheus
// metrics (requests, latency, process CPU and memory, and the AMAS agent
// signals), with error rate, latency, CPU, memory, queue depth and health
// under the control of a test or a demo.
package standin

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// API is the stand-in. Its zero value is not usable; call New.
type API struct {
	mu         sync.Mutex
	errorRate  float64       // share of requests answered 500
	latency    time.Duration // added to every request
	cpu        float64       // CPU utilisation reported, 0..1 of Cores
	memory     float64       // resident memory reported, bytes
	queueDepth float64
	healthy    bool
	components map[string]string
	poolUtil   float64 // database.pool_utilization_percent in the JSON document

	cpuSeconds float64
	cpuAt      time.Time

	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	agentReq *prometheus.CounterVec
	agentDur *prometheus.HistogramVec
}

// Cores is the CPU the stand-in claims to have, for process CPU utilisation.
const Cores = 1

// New returns a healthy stand-in with no errors, no added latency, 20 % CPU
// and 300 MB of memory.
func New() *API {
	a := &API{
		healthy:    true,
		cpu:        0.2,
		memory:     300e6,
		components: map[string]string{"database": "healthy", "redis": "healthy", "llm": "healthy"},
		poolUtil:   25,
		cpuAt:      time.Now(),
		registry:   prometheus.NewRegistry(),
	}
	a.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "http_requests_total", Help: "Requests served, by status code.",
	}, []string{"code", "method", "handler"})
	a.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "http_request_duration_seconds", Help: "Request latency.",
		Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 1.5, 2.5, 3, 5, 10, 30},
	}, []string{"method", "handler"})
	a.agentReq = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "amas_agent_requests_total", Help: "Agent requests, by outcome.",
	}, []string{"agent", "status"})
	a.agentDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "amas_agent_duration_seconds", Help: "Agent request duration.",
		Buckets: []float64{0.1, 0.25, 0.5, 1, 1.5, 2.5, 5, 10},
	}, []string{"agent"})
	a.registry.MustRegister(a.requests, a.duration, a.agentReq, a.agentDur,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "amas_queue_depth_current", Help: "Requests waiting for an agent."},
			func() float64 { a.mu.Lock(); defer a.mu.Unlock(); return a.queueDepth }),
		processCollector{a})
	// Series exist from the start, as in a real service after its first
	// request, so that rates are 0 rather than absent.
	a.requests.WithLabelValues("200", "POST", "/api/v1/chat")
	a.requests.WithLabelValues("500", "POST", "/api/v1/chat")
	a.duration.WithLabelValues("POST", "/api/v1/chat")
	a.agentReq.WithLabelValues("orchestrator", "success")
	a.agentReq.WithLabelValues("orchestrator", "error")
	a.agentDur.WithLabelValues("orchestrator")
	return a
}

// SetErrorRate makes that share (0..1) of requests fail with 500.
func (a *API) SetErrorRate(r float64) { a.mu.Lock(); a.errorRate = r; a.mu.Unlock() }

// SetLatency adds d to every request.
func (a *API) SetLatency(d time.Duration) { a.mu.Lock(); a.latency = d; a.mu.Unlock() }

// SetCPU sets the CPU utilisation the process metrics report (0..1).
func (a *API) SetCPU(u float64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.advanceCPU()
	a.cpu = u
}

// SetMemory sets the resident memory the process metrics report.
func (a *API) SetMemory(bytes float64) { a.mu.Lock(); a.memory = bytes; a.mu.Unlock() }

// SetQueueDepth sets amas_queue_depth_current.
func (a *API) SetQueueDepth(n float64) { a.mu.Lock(); a.queueDepth = n; a.mu.Unlock() }

// SetPoolUtilization sets the JSON document's database.pool_utilization_percent.
func (a *API) SetPoolUtilization(percent float64) { a.mu.Lock(); a.poolUtil = percent; a.mu.Unlock() }

// SetHealthy makes /api/health answer 200 healthy or 503 unhealthy (with
// the database component down).
func (a *API) SetHealthy(ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.healthy = ok
	if ok {
		a.components["database"] = "healthy"
	} else {
		a.components["database"] = "unhealthy"
	}
}

// advanceCPU accrues CPU seconds at the current utilisation; the counter
// then rates to exactly what was set, as a real process's would.
func (a *API) advanceCPU() {
	now := time.Now()
	a.cpuSeconds += now.Sub(a.cpuAt).Seconds() * a.cpu * Cores
	a.cpuAt = now
}

// Handler serves /api/health, /api/v1/metrics, /api/v1/chat and /metrics.
func (a *API) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/api/health", a.health)
	mux.HandleFunc("/api/v1/metrics", a.jsonMetrics)
	mux.HandleFunc("/api/v1/chat", a.chat)
	mux.Handle("/metrics", promhttp.HandlerFor(a.registry, promhttp.HandlerOpts{}))
	return mux
}

func (a *API) health(w http.ResponseWriter, _ *http.Request) {
	a.mu.Lock()
	healthy := a.healthy
	components := map[string]map[string]string{}
	for name, st := range a.components {
		components[name] = map[string]string{"status": st}
	}
	a.mu.Unlock()
	status, code := "healthy", http.StatusOK
	if !healthy {
		status, code = "unhealthy", http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"status": status, "components": components})
}

func (a *API) jsonMetrics(w http.ResponseWriter, _ *http.Request) {
	a.mu.Lock()
	doc := map[string]any{
		"database": map[string]any{"pool_utilization_percent": a.poolUtil},
		"agents":   map[string]any{"queue_depth": a.queueDepth},
	}
	a.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(doc)
}

// chat is the traffic endpoint: it waits the configured latency and fails
// the configured share of requests.
func (a *API) chat(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	a.mu.Lock()
	latency, errorRate := a.latency, a.errorRate
	a.mu.Unlock()
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
		}
	}
	code := http.StatusOK
	if rand.Float64() < errorRate {
		code = http.StatusInternalServerError
	}
	w.WriteHeader(code)
	took := time.Since(start).Seconds()
	a.requests.WithLabelValues(strconv.Itoa(code), "POST", "/api/v1/chat").Inc()
	a.duration.WithLabelValues("POST", "/api/v1/chat").Observe(took)
	outcome := "success"
	if code != http.StatusOK {
		outcome = "error"
	}
	a.agentReq.WithLabelValues("orchestrator", outcome).Inc()
	a.agentDur.WithLabelValues("orchestrator").Observe(took)
}

// processCollector reports process_* metrics from the controlled values,
// so that CPU and memory triggers can be driven without burning the
// machine's real CPU or memory.
type processCollector struct{ a *API }

var (
	cpuDesc = prometheus.NewDesc("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", nil, nil)
	rssDesc = prometheus.NewDesc("process_resident_memory_bytes", "Resident memory size in bytes.", nil, nil)
)

func (c processCollector) Describe(ch chan<- *prometheus.Desc) { ch <- cpuDesc; ch <- rssDesc }

func (c processCollector) Collect(ch chan<- prometheus.Metric) {
	c.a.mu.Lock()
	c.a.advanceCPU()
	cpu, mem := c.a.cpuSeconds, c.a.memory
	c.a.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(cpuDesc, prometheus.CounterValue, cpu)
	ch <- prometheus.MustNewConstMetric(rssDesc, prometheus.GaugeValue, mem)
}

// Drive sends POST /api/v1/chat to baseURL at about rps requests a second
// until ctx ends, a few at a time so that added latency does not throttle
// the rate.
func Drive(ctx context.Context, baseURL string, rps int) {
	if rps <= 0 {
		return
	}
	client := &http.Client{Timeout: 30 * time.Second}
	tick := time.NewTicker(time.Second / time.Duration(rps))
	defer tick.Stop()
	inflight := make(chan struct{}, 64)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		select {
		case inflight <- struct{}{}:
		default:
			continue // saturated: drop this request rather than queue forever
		}
		go func() {
			defer func() { <-inflight }()
			req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/api/v1/chat", nil)
			if err != nil {
				return
			}
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
}
