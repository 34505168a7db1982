package testenv

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestServersStartAndStop(t *testing.T) {
	pg := StartPostgres(t, PostgresOptions{})
	replica := pg.StartReplica(t)
	pg.Exec(t, "postgres", "CREATE TABLE t (x int)", "INSERT INTO t SELECT generate_series(1, 100)")
	replica.WaitCaughtUp(t, pg)
	if n := replica.QueryInt(t, "postgres", "SELECT count(*) FROM t"); n != 100 {
		t.Fatalf("replica has %d rows, want 100", n)
	}
	bouncer := StartPgBouncer(t, pg, PgBouncerOptions{})
	conn := bouncer.ConnectAdmin(t)
	if _, err := conn.Exec(context.Background(), "SHOW POOLS"); err != nil {
		t.Fatalf("SHOW POOLS: %v", err)
	}
	r := StartRedis(t, RedisOptions{MaxMemory: "2mb"})
	if err := r.Client(t).Set(context.Background(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	pg.Stop(t)
	pg.Start(t)
	pg.Exec(t, "postgres", "SELECT 1")
}

// The servers a test starts die with the test binary even when it is
// SIGKILLed and runs no cleanup, shared ones too: a child test binary starts
// one of each and a shared one, and prints their process ids; the test lists every process of theirs
// (PostgreSQL's backends included), kills the child, and finds none left.
func TestServersDieWithTheTestProcess(t *testing.T) {
	if os.Getenv(childEnv) != "" {
		startEveryServerAndWait(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestServersDieWithTheTestProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), childEnv+"=1")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	started := make(chan []int, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "servers:"); ok {
				var pids []int
				for _, f := range strings.Fields(rest) {
					pid, _ := strconv.Atoi(f)
					pids = append(pids, pid)
				}
				started <- pids
			}
		}
		close(started)
	}()
	var servers []int
	select {
	case servers = <-started:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the child test started no servers within 2m:\n%s", stderr.String())
	}
	if len(servers) != 7 {
		t.Fatalf("child reported %d servers, want 7 (%v):\n%s", len(servers), servers, stderr.String())
	}
	var theirs []int
	for _, pid := range servers {
		theirs = append(theirs, processTree(pid)...)
	}
	// Seven servers, and PostgreSQL's primary and replica each have a few
	// processes of their own: fewer would mean the list proves nothing.
	if alive := living(theirs); len(alive) < 10 {
		t.Fatalf("before the kill only %v of the servers' processes run", alive)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		alive := living(theirs)
		if len(alive) == 0 {
			return
		}
		if time.Now().After(deadline) {
			for _, pid := range alive {
				syscall.Kill(pid, syscall.SIGKILL)
			}
			t.Fatalf("10s after the test binary was killed, processes %v of its servers %v still run", alive, servers)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

const childEnv = "HEADROOM_TESTENV_KILLED_CHILD"

// startEveryServerAndWait is the child's part: it starts a primary, a
// replica, PgBouncer, Redis, Prometheus, Alertmanager and a shared Redis,
// prints their process ids, and waits to be killed.
func startEveryServerAndWait(t *testing.T) {
	pg := StartPostgres(t, PostgresOptions{})
	servers := []*Server{&pg.Server, &pg.StartReplica(t).Server, &StartPgBouncer(t, pg, PgBouncerOptions{}).Server,
		&StartRedis(t, RedisOptions{}).Server, &StartPrometheus(t, PrometheusOptions{}).Server,
		&StartAlertmanager(t, "route: {receiver: none}\nreceivers: [{name: none}]\n").Server, &sharedRedis.Get(t).Server}
	var line []string
	for _, s := range servers {
		line = append(line, strconv.Itoa(s.proc.cmd.Process.Pid))
	}
	fmt.Println("servers: " + strings.Join(line, " "))
	time.Sleep(10 * time.Minute)
}

// living lists those of pids that still run; a zombie has ended.
func living(pids []int) []int {
	var alive []int
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// pid (comm) state ...; comm may hold spaces.
		fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(fields) > 0 && fields[0] != "Z" {
			alive = append(alive, pid)
		}
	}
	return alive
}
