package drill

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// BenchmarkDrillCeiling finds the most requests a second one drill host
// sends against the stand-in API, both on this machine's cores: constant
// drills at rising rates, each kept while at least 95 % of its plan was
// answered within the drill (beyond that the sender or the server is the
// limit, and the drill would no longer be the load it plans). The stand-in
// runs as its own process, as a real API would.
func BenchmarkDrillCeiling(b *testing.B) {
	dir := b.TempDir()
	bin := filepath.Join(dir, "standin-api")
	build := exec.Command("go", "build", "-o", bin, "../../cmd/standin-api")
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("go build ./cmd/standin-api: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	api := exec.Command(bin, "-listen", addr, "-rps", "0")
	// Dies with the benchmark even when the benchmark is killed.
	api.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	api.Stdout, api.Stderr = os.Stderr, os.Stderr
	if err := api.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { api.Process.Kill(); api.Wait() })
	url := "http://" + addr + "/api/v1/chat"
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get("http://" + addr + "/api/health"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the stand-in API did not start")
		}
	}
	r := runnerFor(b, url)
	ceiling := 0.0
	for i := 0; i < b.N; i++ {
		ceiling = 0
		for _, rate := range []float64{250, 500, 1000, 2000, 3000, 4000, 5000, 6000, 8000, 12000, 16000} {
			res := r.Run(context.Background(), Drill{Name: fmt.Sprint(rate), Pattern: Constant, Rate: rate, Duration: mdur("5s")})
			answered := float64(res.Stats.Requests) / 5
			b.Logf("planned %6.0f req/s: answered %7.0f req/s (%.1f %%), p95 %s, %d errors", rate, answered, 100*answered/rate,
				res.Stats.P95, res.Stats.Requests-res.Stats.Successes)
			if answered < 0.95*rate || res.Stats.Successes < res.Stats.Requests*99/100 {
				break
			}
			ceiling = rate
		}
	}
	b.ReportMetric(ceiling, "req/s_ceiling")
	b.ReportMetric(0, "ns/op")
}

func runnerFor(tb testing.TB, url string) Runner {
	c := &Config{Target: Target{URL: url, Method: "POST", Body: `{"message": "{{ .Seq }}"}`}, MaxRate: 1e6, MaxDuration: mdur("1h"),
		Drills: []Drill{{Name: "placeholder", Pattern: Constant, Rate: 1, Duration: mdur("1s")}}}
	if err := c.Check(); err != nil {
		tb.Fatal(err)
	}
	dest, err := Resolve(context.Background(), url, false)
	if err != nil {
		tb.Fatal(err)
	}
	return Runner{Config: c, Dest: dest}
}
