package main

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/internal/testenv"
)

// No credential reaches any output: every field that can carry one is given
// a malformed value (or one that fails) holding a known secret, in turn,
// and the secret must not appear on the start-up error, the log, /metrics
// (its reason labels among them), the /probe body, the landing page or
// the readiness answer. For password_env the secret is the variable's value;
// for password_file, the file's content.
func TestNoOutputShowsACredential(t *testing.T) {
	t.Parallel()
	bin := headroomBinary(t)
	const secret = "Hunter2-s3cr3t"
	redisSrv := testenv.StartRedis(t, testenv.RedisOptions{Password: "the-right-one"})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A server that echoes what it was sent, as some error pages do.
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, "denied %s %s", r.URL, r.Header.Get("Authorization"))
	}))
	defer api.Close()
	closed := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	apiHost := strings.TrimPrefix(api.URL, "http://")

	cases := []struct {
		name, field string
		target      string // yaml of one target holding SECRET
		env         string // value of HEADROOM_TEST_PW
		file        string // content of the password file
		// reason, when set, is the failure /metrics must count: the secret
		// went where it is used, not only through the config.
		reason string
	}{
		{name: "postgres dsn URL userinfo, malformed escape", field: "dsn",
			target: "postgres:\n  - name: t\n    dsn: postgres://headroom:SECRET%zz@" + closed + "/postgres\n"},
		{name: "postgres dsn URL userinfo, bad port", field: "dsn",
			target: "postgres:\n  - name: t\n    dsn: postgres://headroom:SECRET@127.0.0.1:notaport/postgres\n"},
		{name: "postgres dsn key=value password, unterminated quote", field: "dsn",
			target: "postgres:\n  - name: t\n    dsn: \"host=127.0.0.1 user=headroom password='SECRET\"\n"},
		{name: "postgres dsn key=value password, no value separator", field: "dsn",
			target: "postgres:\n  - name: t\n    dsn: \"host=127.0.0.1 password SECRET\"\n"},
		{name: "postgres dsn URL userinfo, server down", field: "",
			target: "postgres:\n  - name: t\n    dsn: postgres://headroom:SECRET@" + closed + "/postgres?connect_timeout=1\n"},
		{name: "pgbouncer dsn URL userinfo, malformed escape", field: "dsn",
			target: "pgbouncer:\n  - name: t\n    dsn: postgres://stats:SECRET%zz@" + closed + "/pgbouncer\n"},
		{name: "pgbouncer dsn key=value password, unterminated quote", field: "dsn",
			target: "pgbouncer:\n  - name: t\n    dsn: \"host=127.0.0.1 dbname=pgbouncer password='SECRET\"\n"},
		{name: "postgres password with control characters", field: "",
			target: "postgres:\n  - name: t\n    dsn: postgres://headroom@" + closed + "/postgres\n    password: \"SECRET\\r\\n\\x01\"\n"},
		{name: "postgres password_env with a newline", field: "",
			target: "postgres:\n  - name: t\n    dsn: postgres://headroom@" + closed + "/postgres\n    password_env: HEADROOM_TEST_PW\n",
			env:    "SECRET\nsecond line"},
		{name: "pgbouncer password_file with binary content", field: "",
			target: "pgbouncer:\n  - name: t\n    dsn: postgres://stats@" + closed + "/pgbouncer\n    password_file: FILE\n",
			file:   "SECRET\x00\xff\n"},
		{name: "redis password, wrong and malformed", field: "",
			target: "redis:\n  - name: t\n    address: " + redisSrv.Addr() + "\n    password: \"SECRET\\r\\nPING\"\n", reason: "auth"},
		{name: "redis password_env, wrong", field: "",
			target: "redis:\n  - name: t\n    address: " + redisSrv.Addr() + "\n    password_env: HEADROOM_TEST_PW\n",
			env:    "SECRET\r\nAUTH x", reason: "auth"},
		{name: "redis password_file, wrong", field: "",
			target: "redis:\n  - name: t\n    address: " + redisSrv.Addr() + "\n    username: someone\n    password_file: FILE\n",
			file:   "SECRET\n", reason: "auth"},
		{name: "redis address as a URL with a password", field: "address",
			target: "redis:\n  - name: t\n    address: redis://:SECRET@" + redisSrv.Addr() + "\n"},
		{name: "redis address with userinfo", field: "address",
			target: "redis:\n  - name: t\n    address: default:SECRET@" + redisSrv.Addr() + "\n"},
		{name: "api health_url userinfo, malformed escape", field: "health_url",
			target: "api:\n  - name: t\n    health_url: http://user:SECRET%zz@" + apiHost + "/health\n"},
		{name: "api health_url userinfo, bad port", field: "health_url",
			target: "api:\n  - name: t\n    health_url: http://user:SECRET@127.0.0.1:notaport/health\n"},
		{name: "api metrics_url userinfo, malformed escape", field: "metrics_url",
			target: "api:\n  - name: t\n    health_url: " + api.URL + "/health\n    metrics_url: http://user:SECRET%zz@" + apiHost + "/metrics\n"},
		{name: "api health_url userinfo, refused", field: "",
			target: "api:\n  - name: t\n    health_url: http://user:SECRET@" + closed + "/health\n"},
		{name: "api health_url and metrics_url userinfo, answered 401", field: "",
			target: "api:\n  - name: t\n    health_url: http://user:SECRET@" + apiHost + "/health\n    metrics_url: http://user:SECRET@" + apiHost + "/metrics\n    json_fields: [{name: x, path: a.b}]\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			fill := func(s string) string { return strings.ReplaceAll(s, "SECRET", secret) }
			cfg := fill(c.target)
			if c.file != "" {
				file := filepath.Join(dir, "secret")
				if err := os.WriteFile(file, []byte(fill(c.file)), 0o600); err != nil {
					t.Fatal(err)
				}
				cfg = strings.Replace(cfg, "FILE", file, 1)
			}
			cfgFile := filepath.Join(dir, "headroom.yml")
			if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
			cmd := exec.Command(bin, "serve", "--config.file="+cfgFile, "--web.listen-address="+addr, "--log.level=debug",
				"--scrape.timeout=2s")
			cmd.Env = os.Environ()
			if c.env != "" {
				cmd.Env = append(cmd.Env, "HEADROOM_TEST_PW="+fill(c.env))
			}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()

			outputs := map[string]string{}
			if c.field != "" {
				// A malformed value stops the start, naming the field.
				select {
				case err := <-exited:
					if err == nil {
						t.Errorf("serve exited 0 with a malformed %s", c.field)
					}
				case <-time.After(5 * time.Second):
					cmd.Process.Kill()
					<-exited
					t.Fatalf("serve started with a malformed %s", c.field)
				}
				if !strings.Contains(stderr.String(), "field "+c.field+":") {
					t.Errorf("the start-up error does not name field %s:\n%s", c.field, stderr.String())
				}
			} else {
				waitServing(t, addr, exited, &stderr)
				for _, path := range []string{"/metrics", "/probe?target=t", "/", "/-/ready"} {
					// Twice: a failure logged at the first scrape, and again
					// (at debug) when it persists.
					for range 2 {
						_, body := get(t, "http://"+addr+path, "")
						outputs[path] = body
					}
				}
				if !strings.Contains(outputs["/metrics"], `headroom_target_up{kind=`) {
					t.Errorf("/metrics has no headroom_target_up:\n%.600s", outputs["/metrics"])
				}
				if c.reason != "" && !regexp.MustCompile(`headroom_target_scrape_errors_total\{[^}]*reason="`+c.reason+`"[^}]*\} [1-9]`).MatchString(outputs["/metrics"]) {
					t.Errorf("/metrics counts no failure with reason %s:\n%s", c.reason, outputs["/metrics"])
				}
				cmd.Process.Kill()
				<-exited
			}
			outputs["stdout"], outputs["stderr"] = stdout.String(), stderr.String()
			for where, text := range outputs {
				if strings.Contains(text, secret) {
					t.Errorf("%s shows the secret:\n%s", where, text)
				}
			}
		})
	}
}
