package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// demoBin is where the tests build the demo, once for both.
var demoBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "headroom-demo-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	demoBin = filepath.Join(dir, "headroom-demo")
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// `make demo` as a newcomer runs it: it says it is building, then a line
// per start-up step; every URL it prints answers 200 with what its label
// promises, on Debian's Prometheus and Alertmanager; the exporter answers
// the endpoints of `headroom serve`; and Ctrl-C (SIGINT to the foreground
// process group, make included) stops everything with no error from make.
func TestMakeDemo(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	const preset = "health-agent"
	cmd := exec.Command("make", "demo", "PRESET="+preset,
		"DEMO_BIN="+demoBin,
		// The default 127.0.0.1:9630 may be taken by a real headroom.
		"DEMO_ARGS=--listen=127.0.0.1:0")
	cmd.Dir = root
	// A user types make demo at a shell, not inside another make: under
	// make test, make's variables would make this one a sub-make, which
	// prints "Entering directory" first.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return name == "MAKEFLAGS" || name == "MAKELEVEL" || name == "MFLAGS"
	})
	// A group of its own stands for the terminal's foreground process
	// group, which Ctrl-C signals as a whole.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := startCapturing(t, cmd)
	exited := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		exited <- cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		// A failed test still stops the stack, the way a user would.
		select {
		case <-done:
		default:
			syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
			select {
			case <-done:
			case <-time.After(time.Minute):
			}
		}
	})

	if !out.waitFor("Press Ctrl-C", 4*time.Minute, exited) {
		t.Fatalf("the demo did not get running:\n%s", out)
	}
	lines := strings.Split(out.String(), "\n")
	if !strings.HasPrefix(lines[0], "building the demo") {
		t.Errorf("first line %q does not say that the demo is being built", lines[0])
	}
	for _, s := range []string{"PostgreSQL primary", "PostgreSQL streaming replica", "PgBouncer", "Redis", "the exporter", "Alertmanager", "Prometheus"} {
		if !strings.Contains(out.String(), "\nstarting "+s) {
			t.Errorf("no progress line for starting %s:\n%s", s, out)
		}
	}

	alert := firstMatch(t, filepath.Join(root, "mixin", preset, "prometheus_alerts.yaml"), `alert: (\w+)`)
	record := firstMatch(t, filepath.Join(root, "mixin", preset, "prometheus_rules.yaml"), `record: (\S+)`)
	urls := printedURLs(lines)
	exporter := urls["exporter"]
	if exporter == "" {
		t.Fatalf("no exporter URL printed:\n%s", out)
	}
	exporterAddr := strings.TrimSuffix(strings.TrimPrefix(exporter, "http://"), "/")
	// What each label promises; a URL printed under a label missing here
	// fails, so that every new URL gets a check.
	promises := map[string][]string{
		"exporter":            {"headroom", `href="/-/healthy"`, `href="/-/ready"`, `href="/probe?`},
		"exporter metrics":    {`headroom_target_up{`},
		"Prometheus alerts":   {alert},
		"Prometheus rules":    {alert, record},
		"Prometheus targets":  {`"headroom"`, exporterAddr},
		"Alertmanager alerts": {"["},
		"stand-in API health": {`"status":"healthy"`},
	}
	if len(urls) == 0 {
		t.Fatalf("no URLs printed:\n%s", out)
	}
	for label, url := range urls {
		want, ok := promises[label]
		if !ok {
			t.Errorf("%s (%s) is printed but this test does not know what it promises", label, url)
			continue
		}
		body := get(t, url)
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("%s %s does not contain %q", label, url, w)
			}
		}
		if label == "Alertmanager alerts" {
			var alerts []json.RawMessage
			if err := json.Unmarshal([]byte(body), &alerts); err != nil {
				t.Errorf("%s %s is not a JSON list of alerts: %v", label, url, err)
			}
		}
	}
	// The exporter serves what `headroom serve` serves: every link of its
	// landing page answers.
	for _, m := range regexp.MustCompile(`href="(/[^"]*)"`).FindAllStringSubmatch(get(t, exporter), -1) {
		get(t, "http://"+exporterAddr+html.UnescapeString(m[1]))
	}
	// Debian's Alertmanager has no web UI; the command printed instead works.
	amtool := ""
	for _, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "amtool ") {
			amtool = strings.TrimSpace(l)
		}
	}
	if amtool == "" {
		t.Errorf("no amtool command printed:\n%s", out)
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		args := strings.Fields(amtool)
		if res, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput(); err != nil || !strings.Contains(string(res), "Alertname") {
			t.Errorf("%s: %v\n%s", amtool, err, res)
		}
	}

	syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
	select {
	case err := <-exited:
		// make dies of the SIGINT it got too, after its child exited 0,
		// or exits 0 when started with SIGINT ignored.
		var exit *exec.ExitError
		if err != nil && !(errors.As(err, &exit) && exit.Sys().(syscall.WaitStatus).Signal() == syscall.SIGINT) {
			t.Errorf("make demo ended with %v on Ctrl-C", err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("the demo did not stop within a minute of Ctrl-C:\n%s", out)
	}
	text := out.final()
	if regexp.MustCompile(`make(\[\d+\])?: \*\*\*`).MatchString(text) {
		t.Errorf("make reported an error on Ctrl-C:\n%s", text)
	}
	if !strings.Contains(text, "\nstopped.") {
		t.Errorf("the demo did not say it stopped:\n%s", text)
	}
	// Nothing of the stack is left: every address it printed is closed.
	for _, addr := range regexp.MustCompile(`127\.0\.0\.1:\d+`).FindAllString(text, -1) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still accepts connections after the demo stopped", addr)
		}
	}
}

// printedURLs maps the labels of the demo's "  label   http://..." lines
// to their URLs.
func printedURLs(lines []string) map[string]string {
	line := regexp.MustCompile(`^  (\S.*?)\s{2,}(http://\S+)`)
	urls := map[string]string{}
	for _, l := range lines {
		if m := line.FindStringSubmatch(l); m != nil {
			urls[m[1]] = m[2]
		}
	}
	return urls
}

func get(t *testing.T, url string) string {
	t.Helper()
	client := http.Client{Timeout: 10 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
		return ""
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s\n%.300s", url, resp.Status, body)
	}
	return string(body)
}

func firstMatch(t *testing.T, path, pattern string) string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(pattern).FindSubmatch(raw)
	if m == nil {
		t.Fatalf("%s has no %s", path, pattern)
	}
	return string(m[1])
}

// output collects a command's stdout and stderr as they come.
type output struct {
	mu    sync.Mutex
	text  strings.Builder
	grown chan struct{}
	eof   chan struct{} // closed once every writer has closed the pipe
}

// final is the whole output once the process has exited: its last lines
// may still be in the pipe when Wait returns. A server that outlived the
// demo would hold the pipe open, hence the bound.
func (o *output) final() string {
	select {
	case <-o.eof:
	case <-time.After(5 * time.Second):
	}
	return o.String()
}

func startCapturing(t *testing.T, cmd *exec.Cmd) *output {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	o := &output{grown: make(chan struct{}, 1), eof: make(chan struct{})}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			o.mu.Lock()
			fmt.Fprintln(&o.text, sc.Text())
			o.mu.Unlock()
			select {
			case o.grown <- struct{}{}:
			default:
			}
		}
		r.Close()
		close(o.eof)
	}()
	return o
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.text.String()
}

// waitFor waits until the output contains s; false when within passes or
// the command exits first.
func (o *output) waitFor(s string, within time.Duration, exited chan error) bool {
	deadline := time.After(within)
	for !strings.Contains(o.String(), s) {
		select {
		case <-o.grown:
		case err := <-exited:
			exited <- err
			return strings.Contains(o.String(), s)
		case <-deadline:
			return false
		}
	}
	return true
}

// SIGTERM (or Ctrl-C) in the middle of start-up ends the demo with status
// 0, once the step under way is done, and leaves no server behind.
func TestStopDuringStartUp(t *testing.T) {
	// Up to date when TestMakeDemo built it, so that this costs little.
	if out, err := exec.Command("go", "build", "-o", demoBin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// Servers that outlive the demo are reparented to the nearest
	// subreaper: make that this test, so that it can find them.
	if err := setChildSubreaper(true); err != nil {
		t.Fatalf("prctl PR_SET_CHILD_SUBREAPER: %v", err)
	}
	defer setChildSubreaper(false)

	cmd := exec.Command(demoBin, "--listen=127.0.0.1:0", "--mixin", "../../mixin")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out := startCapturing(t, cmd)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	// pg_basebackup and the replica are on their way: the worst moment,
	// as both must be stopped although they are not running yet.
	if !out.waitFor("starting PostgreSQL streaming replica", time.Minute, exited) {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGINT)
		t.Fatalf("the demo did not get to start the replica:\n%s", out)
	}
	syscall.Kill(cmd.Process.Pid, syscall.SIGTERM)
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the demo ended with %v on SIGTERM during start-up:\n%s", err, out)
		}
	case <-time.After(time.Minute):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		t.Fatalf("the demo did not stop within a minute of SIGTERM:\n%s", out)
	}
	if text := out.final(); !strings.Contains(text, "\nstopped.") || strings.Contains(text, "headroom-demo:") {
		t.Errorf("want a clean stop, got:\n%s", text)
	}
	for _, pid := range orphans() {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		t.Errorf("process %d (%s) outlived the demo", pid, strings.ReplaceAll(string(cmdline), "\x00", " "))
		syscall.Kill(-pid, syscall.SIGKILL)
	}
}

func setChildSubreaper(on bool) error {
	const prSetChildSubreaper = 36
	arg := uintptr(0)
	if on {
		arg = 1
	}
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, arg, 0); errno != 0 {
		return errno
	}
	return nil
}

// orphans lists the live processes whose parent is this test process.
func orphans() []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		raw, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The command name may hold spaces; state and ppid follow its ')'.
		fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
		var pid int
		if len(fields) < 2 || fields[0] == "Z" || fields[1] != fmt.Sprint(os.Getpid()) {
			continue
		}
		fmt.Sscan(e.Name(), &pid)
		pids = append(pids, pid)
	}
	return pids
}
