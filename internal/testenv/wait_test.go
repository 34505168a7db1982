package testenv

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Every readiness wait gives up at its deadline, even against a server that
// accepts connections and never answers, and says what it waited for, where
// and for how long.
func TestReadinessWaitsNameWhatWhereAndHowLong(t *testing.T) {
	t.Parallel()
	// A listener that never accepts: the kernel completes handshakes into
	// its backlog, so clients connect and then hear nothing.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	closed := "127.0.0.1:" + strconv.Itoa(FreePort(t))
	hung := silent.Addr().String()

	const within = 300 * time.Millisecond
	tests := []struct {
		name, what, where string
		wait              func() error
	}{
		{"postgres, silent", "postgres", hung, func() error {
			return waitPostgres("postgres", hung, "postgres://postgres@"+hung+"/postgres?sslmode=disable", within)
		}},
		{"pgbouncer, closed", "pgbouncer admin console", closed, func() error {
			return waitPostgres("pgbouncer admin console", closed, "postgres://pgbouncer@"+closed+"/pgbouncer?sslmode=disable", within)
		}},
		{"redis, silent", "redis", hung, func() error { return waitRedis(hung, "", within) }},
		{"redis, closed", "redis", closed, func() error { return waitRedis(closed, "", within) }},
		{"prometheus, silent", "prometheus", "http://" + hung + "/-/ready", func() error {
			return waitHTTP("prometheus", "http://"+hung+"/-/ready", within)
		}},
		{"alertmanager, closed", "alertmanager", "http://" + closed + "/-/ready", func() error {
			return waitHTTP("alertmanager", "http://"+closed+"/-/ready", within)
		}},
		{"process port, closed", "prometheus", closed, func() error { return waitTCP("prometheus", closed, within) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			err := tt.wait()
			took := time.Since(start)
			if err == nil {
				t.Fatal("wait succeeded against a server that is not there")
			}
			for _, want := range []string{tt.what + " at " + tt.where, "after " + within.String()} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not say %q", err, want)
				}
			}
			if took > within+time.Second {
				t.Errorf("wait took %s, deadline was %s", took, within)
			}
		})
	}
}
