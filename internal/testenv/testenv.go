// Package testenv starts throwaway PostgreSQL (primary and streaming
// replica), PgBouncer and Redis servers on free loopback ports for tests and
// benchmarks, and lets a test stop, restart, freeze and break them.
//
// PostgreSQL and PgBouncer refuse to run as root, so they run as the
// `postgres` OS user, in directories that user owns.
package testenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// PGBin is where Debian installs the PostgreSQL server binaries.
var PGBin = "/usr/lib/postgresql/15/bin"

// TB is the part of testing.TB the environment needs; benchmarks and tests
// both satisfy it.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
	Cleanup(func())
}

var _ TB = (testing.TB)(nil)

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

type osUser struct {
	uid, gid uint32
	home     string
}

var (
	pgUserOnce sync.Once
	pgUser     osUser
	pgUserErr  error
)

func postgresUser() (osUser, error) {
	pgUserOnce.Do(func() {
		u, err := user.Lookup("postgres")
		if err != nil {
			pgUserErr = fmt.Errorf("the postgres OS user is needed to run PostgreSQL and PgBouncer: %w", err)
			return
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		pgUser = osUser{uid: uint32(uid), gid: uint32(gid), home: u.HomeDir}
	})
	return pgUser, pgUserErr
}

// Dir makes a directory the postgres user owns and can enter (t.TempDir is
// root-only), removed at cleanup.
func Dir(t TB, prefix string) string {
	t.Helper()
	u, err := postgresUser()
	if err != nil {
		t.Fatalf("%v", err)
	}
	dir, err := os.MkdirTemp("", "headroom-"+prefix+"-")
	if err != nil {
		t.Fatalf("temp dir: %v", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("chmod: %v", err)
	}
	if err := os.Chown(dir, int(u.uid), int(u.gid)); err != nil {
		t.Fatalf("chown %s: %v", dir, err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// asPostgres returns a command that runs as the postgres OS user in its own
// process group, so that Freeze can stop the server and all its children.
// It is killed when the process that started it dies, however it dies: a
// test binary killed by -timeout or SIGKILL runs no cleanup, and a server
// left running holds its port, its data and its connections. (PostgreSQL's
// backends follow their postmaster out.)
func asPostgres(name string, args ...string) (*exec.Cmd, error) {
	u, err := postgresUser()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(name, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: u.uid, Gid: u.gid},
		Setpgid:    true,
		// Set after the change of user (Go's order), which would clear it.
		Pdeathsig: syscall.SIGKILL,
	}
	cmd.Env = []string{"HOME=" + u.home, "PATH=/usr/bin:/bin:" + PGBin, "LANG=C.UTF-8"}
	return cmd, nil
}

func runAsPostgres(name string, args ...string) error {
	cmd, err := asPostgres(name, args...)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s %s: %w", name, strings.Join(args, " "), err)
	}
	// pg_basebackup waits on the primary; a hung one must not hang the caller.
	var timedOut atomic.Bool
	timer := time.AfterFunc(commandWithin, func() {
		timedOut.Store(true)
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	})
	err = cmd.Wait()
	timer.Stop()
	if timedOut.Load() {
		return fmt.Errorf("%s %s: did not finish within %s\n%s", name, strings.Join(args, " "), commandWithin, out.String())
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return nil
}

func writeFile(t TB, path, content string) {
	t.Helper()
	u, _ := postgresUser()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatalf("write %s: %v", path, err)
	}
	if err := os.Chown(path, int(u.uid), int(u.gid)); err != nil {
		t.Fatalf("chown %s: %v", path, err)
	}
}

// WaitReady polls ready until it succeeds or within has passed. Each
// attempt gets its own deadline (attempt, or what is left of within) so that
// a server that accepts and never answers cannot hold the wait past within.
// The error says what was waited for, where, and for how long.
func WaitReady(what, where string, within, attempt time.Duration, ready func(context.Context) error) error {
	deadline := time.Now().Add(within)
	for {
		ctx, cancel := context.WithDeadline(context.Background(), earliest(time.Now().Add(attempt), deadline))
		err := ready(ctx)
		cancel()
		if err == nil {
			return nil
		}
		if !time.Now().Before(deadline) {
			return fmt.Errorf("%s at %s not ready after %s: %w", what, where, within, err)
		}
		time.Sleep(min(100*time.Millisecond, time.Until(deadline)))
	}
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// waitTCP waits until something accepts connections on addr.
func waitTCP(what, addr string, within time.Duration) error {
	return WaitReady(what, addr, within, time.Second, func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// waitHTTP waits until url answers 200, as /-/ready does once Prometheus
// or Alertmanager has loaded its configuration.
func waitHTTP(what, url string, within time.Duration) error {
	return WaitReady(what, url, within, time.Second, func(ctx context.Context) error {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %s", resp.Status)
		}
		return nil
	})
}

// readyWithin bounds every readiness wait of a starting server.
const readyWithin = 30 * time.Second

// commandWithin bounds initdb, pg_basebackup and the other one-shot
// commands a server needs before it starts.
const commandWithin = 2 * time.Minute

// process is a server child process that can be stopped, restarted, frozen
// and thawed.
type process struct {
	mu      sync.Mutex
	name    string
	addr    string
	start   func() (*exec.Cmd, error)
	cmd     *exec.Cmd
	done    chan struct{}
	logPath string
	frozen  bool
}

func (p *process) run() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		return nil
	}
	cmd, err := p.start()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	if err := waitTCP(p.name, p.addr, readyWithin); err != nil {
		return fmt.Errorf("%w\n%s", err, p.tailLog())
	}
	return nil
}

func (p *process) tailLog() string {
	raw, _ := os.ReadFile(p.logPath)
	if len(raw) > 4000 {
		raw = raw[len(raw)-4000:]
	}
	return string(raw)
}

// stop sends sig to the process group and waits for the process to exit.
func (p *process) stop(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return nil
	}
	pgid := p.cmd.Process.Pid
	if p.frozen {
		syscall.Kill(-pgid, syscall.SIGCONT)
		p.frozen = false
	}
	syscall.Kill(-pgid, sig)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		syscall.Kill(-pgid, syscall.SIGKILL)
		<-p.done
	}
	// Children that outlived the leader (backends) go too.
	syscall.Kill(-pgid, syscall.SIGKILL)
	p.cmd = nil
	return nil
}

func (p *process) freeze(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.frozen == on {
		return
	}
	sig := syscall.SIGSTOP
	if !on {
		sig = syscall.SIGCONT
	}
	// PostgreSQL backends call setsid(), so the process group does not
	// reach them: signal the whole tree, leader first so it forks no more.
	for _, pid := range processTree(p.cmd.Process.Pid) {
		syscall.Kill(pid, sig)
	}
	p.frozen = on
}

// processTree lists pid and all its descendants, parents before children.
func processTree(root int) []int {
	children := map[int][]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name may hold spaces; fields resume after its ')'.
		fields := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
		if len(fields) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(fields[1])
		children[ppid] = append(children[ppid], pid)
	}
	out := []int{root}
	for i := 0; i < len(out); i++ {
		out = append(out, children[out[i]]...)
	}
	return out
}

// Server is the common handle of every throwaway server.
type Server struct {
	proc *process
	Host string
	Port int
	Dir  string
}

// Addr is host:port.
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Stop shuts the server down cleanly and waits for it to exit.
func (s *Server) Stop(t TB) {
	t.Helper()
	if err := s.proc.stop(syscall.SIGINT); err != nil {
		t.Fatalf("stop %s: %v", s.proc.name, err)
	}
}

// Start starts a stopped server again on the same port and data.
func (s *Server) Start(t TB) {
	t.Helper()
	if err := s.proc.run(); err != nil {
		t.Fatalf("restart %s: %v", s.proc.name, err)
	}
}

// Freeze stops the server's processes with SIGSTOP: connections stay open
// and nothing answers, as with a hung server or a network black hole.
func (s *Server) Freeze() { s.proc.freeze(true) }

// Thaw resumes a frozen server.
func (s *Server) Thaw() { s.proc.freeze(false) }

// Log returns the tail of the server's log, for failure messages.
func (s *Server) Log() string { return s.proc.tailLog() }

func (s *Server) register(t TB) {
	t.Cleanup(func() { s.proc.stop(syscall.SIGQUIT) })
}

// Context is a helper for tests: a context with a generous deadline.
func Context(t TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// dataPath joins under a server's directory.
func dataPath(dir string, elem ...string) string {
	return filepath.Join(append([]string{dir}, elem...)...)
}

// copyFile copies src to dst, owned by the postgres user (servers run as it).
func copyFile(t TB, src, dst string) {
	t.Helper()
	raw, err := os.ReadFile(src)
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
	writeFile(t, dst, string(raw))
}
