// Command standin-api serves a stand-in for the LLM-backed API headroom
// watches, under light self-generated load, for `make demo`: its health
// endpoint, JSON metrics document and Prometheus metrics.
package main

import (
	"context"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/headroom-dev/headroom/internal/standin"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8000", "address to serve on")
	rps := flag.Int("rps", 5, "requests a second it sends itself")
	latency := flag.Duration("latency", 0, "added to every request to /api/v1/chat (a drill's SLO test)")
	errorRatio := flag.Float64("error-ratio", 0, "share (0..1) of requests to /api/v1/chat answered 500")
	flag.Parse()
	if *errorRatio < 0 || *errorRatio > 1 {
		slog.Error("-error-ratio must be between 0 and 1", "error-ratio", *errorRatio)
		os.Exit(2)
	}

	api := standin.New()
	api.SetLatency(*latency)
	api.SetErrorRate(*errorRatio)
	server := &http.Server{Addr: *listen, Handler: api.Handler(), ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go standin.Drive(ctx, "http://"+*listen, *rps)
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		server.Shutdown(shutdown)
	}()
	slog.Info("stand-in API serving", "address", *listen, "rps", *rps, "latency", *latency, "error-ratio", *errorRatio)
	if err := server.ListenAndServe(); err != nil && err != http.ErrServerClosed {
		slog.Error("serve", "err", err)
		os.Exit(1)
	}
}
