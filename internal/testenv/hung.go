package testenv

import (
	"net"
	"sync"
)

// StartHung listens on a loopback port, accepts every connection and
// never answers on any: a server that hangs, as a target does when its
// process is stuck but its kernel still completes handshakes. It returns
// host:port; everything is closed at the end of the test.
func StartHung(t TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("hung server: %v", err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String()
}
