package testenv

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
)

// Shared is one server that the tests of a package share: started by the
// first test that asks for it, stopped when the package's tests are done
// (Main). Its processes die with the test binary like any other server's.
// Only tests that leave it as they found it and count nothing another test
// could add to may share one: no role, database, HBA or configuration
// change, no stop or freeze, no replica attached.
type Shared[S any] struct {
	start func(TB) S
	once  sync.Once
	srv   S
	err   error
}

// Share declares a shared server that start makes on first use.
func Share[S any](start func(TB) S) *Shared[S] {
	return &Shared[S]{start: start}
}

// Get returns the server, starting it if no test has yet. A start that
// failed fails every test that asks, each with the same error.
func (s *Shared[S]) Get(t TB) S {
	t.Helper()
	if !mainRuns.Load() {
		t.Fatalf("a shared server needs the package's TestMain to run its tests through testenv.Main, which stops it at the end")
	}
	s.once.Do(func() { s.srv, s.err = startInPackageScope(s.start) })
	if s.err != nil {
		t.Fatalf("shared server: %v", s.err)
	}
	return s.srv
}

// Main runs the package's tests, then stops the servers they shared and
// removes their directories; it returns the exit code for os.Exit.
func Main(m *testing.M) int {
	mainRuns.Store(true)
	code := m.Run()
	packageScope.cleanup()
	return code
}

var (
	mainRuns     atomic.Bool
	packageScope scope
)

// scope is the TB of shared servers: it lives as long as the test binary's
// run, so its cleanups wait for Main, and a fatal error ends the start
// (the panic startInPackageScope recovers) rather than the test that
// happened to ask first.
type scope struct {
	mu       sync.Mutex
	cleanups []func()
}

type scopeFatal struct{ msg string }

func (*scope) Helper() {}

func (*scope) Fatalf(format string, args ...any) { panic(scopeFatal{fmt.Sprintf(format, args...)}) }

func (*scope) Logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "shared server: "+format+"\n", args...)
}

func (s *scope) Cleanup(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cleanups = append(s.cleanups, f)
}

// cleanup runs the cleanups last first, as testing does.
func (s *scope) cleanup() {
	s.mu.Lock()
	fs := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

func startInPackageScope[S any](start func(TB) S) (srv S, err error) {
	defer func() {
		if r := recover(); r != nil {
			fatal, ok := r.(scopeFatal)
			if !ok {
				panic(r)
			}
			err = fmt.Errorf("%s", fatal.msg)
		}
	}()
	return start(&packageScope), nil
}
