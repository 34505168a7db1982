// Command rssfloor is the smallest exporter that links what headroom must
// link: client_golang (with the Go and process collectors), pgx, go-redis,
// exporter-toolkit, kingpin, and klauspost/compress's gzip, which headroom
// compresses with. It holds one PostgreSQL and one Redis
// connection and answers each scrape with one query to each. The benchmark
// runs it beside headroom, so that headroom's resident memory is read
// against what these libraries cost before headroom adds anything.
package main

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/exporter-toolkit/web/kingpinflag"
	"github.com/redis/go-redis/v9"
)

func main() {
	app := kingpin.New("rssfloor", "The floor of headroom's resident memory.")
	dsn := app.Flag("postgres", "PostgreSQL DSN.").Required().String()
	addr := app.Flag("redis", "Redis address.").Required().String()
	webFlags := kingpinflag.AddFlags(app, ":0")
	kingpin.MustParse(app.Parse(os.Args[1:]))

	pool, err := pgxpool.New(context.Background(), *dsn)
	if err != nil {
		slog.Error("postgres", "err", err)
		os.Exit(1)
	}
	rdb := redis.NewClient(&redis.Options{Addr: *addr})
	backends := prometheus.NewDesc("rssfloor_backends", "Backends.", nil, nil)
	usedMemory := prometheus.NewDesc("rssfloor_redis_info_bytes", "Length of INFO.", nil, nil)
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectorFunc(func(ch chan<- prometheus.Metric) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var n float64
			if err := pool.QueryRow(ctx, "SELECT count(*)::float8 FROM pg_stat_activity").Scan(&n); err == nil {
				ch <- prometheus.MustNewConstMetric(backends, prometheus.GaugeValue, n)
			}
			if info, err := rdb.Info(ctx, "memory").Result(); err == nil {
				ch <- prometheus.MustNewConstMetric(usedMemory, prometheus.GaugeValue, float64(len(info)))
			}
		}))
	mux := http.NewServeMux()
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{DisableCompression: true})
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			metrics.ServeHTTP(w, r)
			return
		}
		gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed)
		defer gz.Close()
		w.Header().Set("Content-Encoding", "gzip")
		metrics.ServeHTTP(gzipWriter{ResponseWriter: w, gz: gz}, r)
	})
	landing, err := web.NewLandingPage(web.LandingConfig{Name: "rssfloor"})
	if err != nil {
		slog.Error("landing page", "err", err)
		os.Exit(1)
	}
	mux.Handle("/", landing)
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("Healthy\n")) })
	server := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := web.ListenAndServe(server, webFlags, quiet); err != nil {
		slog.Error("serve", "err", err)
		os.Exit(1)
	}
}

type collectorFunc func(chan<- prometheus.Metric)

func (f collectorFunc) Describe(chan<- *prometheus.Desc)    {}
func (f collectorFunc) Collect(ch chan<- prometheus.Metric) { f(ch) }

type gzipWriter struct {
	http.ResponseWriter
	gz *gzip.Writer
}

func (g gzipWriter) Write(b []byte) (int, error) { return g.gz.Write(b) }
