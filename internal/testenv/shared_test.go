package testenv

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

var (
	sharedRedisStarts atomic.Int32
	sharedRedis       = Share(func(t TB) *Redis {
		sharedRedisStarts.Add(1)
		return StartRedis(t, RedisOptions{})
	})
)

// Tests that ask for a shared server at the same time get the one server,
// started once.
func TestSharedServerStartsOnce(t *testing.T) {
	addrs := make(chan string, 4)
	t.Run("askers", func(t *testing.T) {
		for i := range cap(addrs) {
			t.Run(strconv.Itoa(i), func(t *testing.T) {
				t.Parallel()
				r := sharedRedis.Get(t)
				if err := r.Client(t).Ping(context.Background()).Err(); err != nil {
					t.Fatalf("the shared server does not answer: %v", err)
				}
				addrs <- r.Addr()
			})
		}
	})
	close(addrs)
	seen := map[string]bool{}
	for a := range addrs {
		seen[a] = true
	}
	if len(seen) != 1 || sharedRedisStarts.Load() != 1 {
		t.Errorf("%d askers got servers at %v from %d starts, want one server started once", cap(addrs), seen, sharedRedisStarts.Load())
	}
}

// fatalTB records the Fatalf that ends a Get, as a test would fail.
type fatalTB struct{ msg string }

type fatalTBStop struct{}

func (*fatalTB) Helper()             {}
func (*fatalTB) Logf(string, ...any) {}
func (*fatalTB) Cleanup(func())      {}
func (f *fatalTB) Fatalf(format string, a ...any) {
	f.msg = fmt.Sprintf(format, a...)
	panic(fatalTBStop{})
}

func (f *fatalTB) get(s *Shared[int]) {
	defer func() {
		if r := recover(); r != nil && r != (fatalTBStop{}) {
			panic(r)
		}
	}()
	s.Get(f)
}

// A start that fails is tried once, and every test that asks fails with
// its error, not only the first.
func TestSharedStartFailureFailsEveryAsker(t *testing.T) {
	starts := 0
	broken := Share(func(t TB) int {
		starts++
		t.Fatalf("no server here")
		return 0
	})
	for i := range 2 {
		var asker fatalTB
		asker.get(broken)
		if !strings.Contains(asker.msg, "no server here") {
			t.Errorf("asker %d failed with %q, want the start's error", i, asker.msg)
		}
	}
	if starts != 1 {
		t.Errorf("the failed start ran %d times, want once", starts)
	}
}

// Main stops the shared servers and removes their directories when the
// tests are done: a child test binary starts one, prints its process and
// directory, and ends normally; neither is left.
func TestSharedServersAreStoppedAtTheEnd(t *testing.T) {
	if os.Getenv(sharedChildEnv) != "" {
		r := sharedRedis.Get(t)
		fmt.Printf("shared: %d %s\n", r.proc.cmd.Process.Pid, r.Dir)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSharedServersAreStoppedAtTheEnd$", "-test.count=1")
	cmd.Env = append(os.Environ(), sharedChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var pid int
	var dir string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "shared: "); ok {
			fmt.Sscanf(rest, "%d %s", &pid, &dir)
		}
	}
	if pid == 0 || dir == "" {
		t.Fatalf("the child did not report its shared server:\n%s", out)
	}
	if alive := living([]int{pid}); len(alive) > 0 {
		t.Errorf("the shared server (pid %d) still runs after the tests ended", pid)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the shared server's directory %s is left: %v", dir, err)
	}
}

const sharedChildEnv = "HEADROOM_TESTENV_SHARED_CHILD"
