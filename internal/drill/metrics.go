package drill

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics of a running drill under the AMAS guide's names, with the
// config's prefix: <prefix>_load_test_requests_total{test, status, phase},
// <prefix>_load_test_request_duration_seconds{test},
// <prefix>_load_test_active_users{test} (requests in flight: the open
// loop has no users) and <prefix>_load_test_requests_per_second{test}
// (the planned rate).
type metricsObserver struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	inFlight *prometheus.GaugeVec
	planned  *prometheus.GaugeVec
}

// NewMetrics registers the drill's series on reg and returns the observer
// that feeds them.
func NewMetrics(reg prometheus.Registerer, prefix string) Observer {
	m := &metricsObserver{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: prefix + "_load_test_requests_total",
			Help: "Requests the drill completed, by drill (test), HTTP status (0: no response) and phase of the pattern."}, []string{"test", "status", "phase"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: prefix + "_load_test_request_duration_seconds",
			Help:    "Response time of the drill's requests, errors included.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 1.5, 2.5, 5, 10, 30}}, []string{"test"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: prefix + "_load_test_active_users",
			Help: "Requests in flight (the drill is open loop: this is the concurrency the server sees, not simulated users)."}, []string{"test"}),
		planned: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: prefix + "_load_test_requests_per_second",
			Help: "The rate the drill plans now, in requests a second."}, []string{"test"}),
	}
	reg.MustRegister(m.requests, m.duration, m.inFlight, m.planned)
	return m
}

func (m *metricsObserver) Planned(drill string, rate float64) {
	m.planned.WithLabelValues(drill).Set(rate)
}

func (m *metricsObserver) Sent(drill string) { m.inFlight.WithLabelValues(drill).Inc() }

func (m *metricsObserver) Done(drill, phase string, code int, latency time.Duration) {
	m.inFlight.WithLabelValues(drill).Dec()
	m.requests.WithLabelValues(drill, strconv.Itoa(code), phase).Inc()
	m.duration.WithLabelValues(drill).Observe(latency.Seconds())
}
