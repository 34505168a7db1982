package config

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/headroom-dev/headroom/internal/kind"
)

func TestParseValid(t *testing.T) {
	t.Setenv("HEADROOM_TEST_REDIS_PASSWORD", "s3cret")
	secretFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(secretFile, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("headroom.yml", []byte(`
postgres:
  - name: primary
    dsn: postgres://headroom@127.0.0.1:5432/postgres?sslmode=disable
    password_file: `+secretFile+`
    pools: {api: 13, worker: 5}
  - name: sized-every-scrape
    dsn: postgres://headroom@127.0.0.1:5433/postgres
    database_sizes: true
    query_ttl: {database_sizes: 0, settings: 1m}
pgbouncer:
  - name: bouncer
    dsn: postgres://pgbouncer@127.0.0.1:6432/pgbouncer
redis:
  - name: cache
    address: 127.0.0.1:6379
    password_env: HEADROOM_TEST_REDIS_PASSWORD
    db: 2
api:
  - name: agent
    health_url: http://127.0.0.1:8000/api/health
    metrics_url: http://127.0.0.1:8000/api/v1/metrics
    json_fields:
      - {name: db_pool_utilization_percent, path: database.pool_utilization_percent}
`))
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Postgres[0]
	if p.Pools["api"] != 13 || p.MaxConnections != 2 || time.Duration(p.StatementTimeout) != 5*time.Second || p.Limits != DefaultLimits {
		t.Errorf("postgres defaults not applied: %+v", p)
	}
	if got, want := p.QueryTTL["database_sizes"], model.Duration(5*time.Minute); got != want || p.QueryTTL["settings"] != 0 {
		t.Errorf("query_ttl defaults: %v, want database_sizes %v and settings 0", p.QueryTTL, want)
	}
	if q := cfg.Postgres[1].QueryTTL; q["database_sizes"] != 0 || q["settings"] != model.Duration(time.Minute) || q["replication_slots"] != 0 {
		t.Errorf("query_ttl as set: %v, want database_sizes 0, settings 1m, replication_slots 0", q)
	}
	if pw, ok, err := p.Password(); err != nil || !ok || pw != "from-file" {
		t.Errorf("password_file: %q %v %v", pw, ok, err)
	}
	if pw, ok, _ := cfg.Redis[0].Password(); !ok || pw != "s3cret" {
		t.Errorf("password_env: %q %v", pw, ok)
	}
	if a := cfg.API[0]; a.ExpectedStatus != 200 || time.Duration(a.Timeout) != 5*time.Second {
		t.Errorf("api defaults not applied: %+v", a)
	}
}

// Every error names the file, the target and the field.
func TestParseErrorsNameFileTargetAndField(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"empty", ``, []string{"cfg.yml", "no targets: list at least one under postgres, pgbouncer, redis or api"}},
		{"unknown field", "redis:\n  - name: c\n    adress: x:1\n", []string{"cfg.yml", "adress", "line 3"}},
		{"bad duration", "api:\n  - name: a\n    health_url: http://x/h\n    timeout: 5 seconds\n",
			[]string{"cfg.yml", "api[0].timeout: line 4", `unknown unit " seconds"`}},
		{"missing dsn", "postgres:\n  - name: pg\n", []string{"cfg.yml", "postgres[0] (pg)", "field dsn", "required"}},
		{"bad dsn", "postgres:\n  - name: pg\n    dsn: 'postgres://u:hunter2@[::1'\n", []string{"postgres[0] (pg)", "field dsn"}},
		{"bad pool size", "postgres:\n  - name: pg\n    dsn: postgres://a@b/c\n    pools: {api: 0}\n", []string{"field pools.api", "positive"}},
		{"uncacheable query", "postgres:\n  - name: pg\n    dsn: postgres://a@b/c\n    query_ttl: {connections: 1m}\n",
			[]string{"postgres[0] (pg)", "field query_ttl.connections", "database_sizes, replication_slots, settings"}},
		{"negative ttl", "postgres:\n  - name: pg\n    dsn: postgres://a@b/c\n    query_ttl: {database_sizes: -1m}\n",
			[]string{"cfg.yml", "query_ttl"}},
		{"duplicate name", "redis:\n  - {name: x, address: 'a:1'}\npgbouncer:\n  - {name: x, dsn: 'postgres://a@b/c'}\n",
			[]string{"redis[0] (x)", "field name", "already used by pgbouncer[0] (x)"}},
		{"missing name", "redis:\n  - address: a:1\n", []string{"redis[0] ()", "field name", "required"}},
		{"redis address", "redis:\n  - {name: c, address: localhost}\n", []string{"redis[0] (c)", "field address", "host:port"}},
		{"unset env", "redis:\n  - {name: c, address: 'a:1', password_env: HEADROOM_DEFINITELY_UNSET}\n",
			[]string{"field password_env", "HEADROOM_DEFINITELY_UNSET is not set"}},
		{"two secrets", "redis:\n  - {name: c, address: 'a:1', password: x, password_file: /y}\n", []string{"field password", "at most one"}},
		{"missing file", "redis:\n  - {name: c, address: 'a:1', password_file: /nonexistent/pw}\n", []string{"field password_file", "no such file"}},
		{"endless password file", "redis:\n  - {name: c, address: 'a:1', password_file: /dev/zero}\n", []string{"field password_file", "larger than 65536 bytes"}},
		{"tls pair", "redis:\n  - {name: c, address: 'a:1', tls: {cert_file: /x}}\n", []string{"field tls", "go together"}},
		{"api url", "api:\n  - {name: a, health_url: 'ftp://x/health'}\n", []string{"api[0] (a)", "field health_url", "scheme"}},
		{"api status", "api:\n  - {name: a, health_url: 'http://x/h', expected_status: 42}\n", []string{"field expected_status"}},
		{"json without url", "api:\n  - name: a\n    health_url: http://x/h\n    json_fields: [{name: f, path: a.b}]\n", []string{"field json_fields", "metrics_url"}},
		{"json bad name", "api:\n  - name: a\n    health_url: http://x/h\n    metrics_url: http://x/m\n    json_fields: [{name: 'a b', path: a.b}]\n", []string{"field json_fields[0].name"}},
		{"negative limit", "redis:\n  - {name: c, address: 'a:1', limits: {databases: -1}}\n", []string{"field limits", "databases"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("cfg.yml", []byte(tc.yaml))
			if err == nil {
				t.Fatalf("accepted:\n%s", tc.yaml)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("error shows the password: %v", err)
			}
		})
	}
}

func TestLoadNamesMissingFile(t *testing.T) {
	_, err := Load("/nonexistent/headroom.yml")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/headroom.yml") {
		t.Fatalf("got %v", err)
	}
}

// The file has one section per kind, named as the kind and in kind.All()'s
// order, and no section that is not a kind: a kind added to the kind
// package without its section here (or the reverse) fails this.
func TestSectionsAreKinds(t *testing.T) {
	var sections []kind.Kind
	typ := reflect.TypeFor[Config]()
	for i := range typ.NumField() {
		name, _, _ := strings.Cut(typ.Field(i).Tag.Get("yaml"), ",")
		sections = append(sections, kind.Kind(name))
	}
	if !slices.Equal(sections, kind.All()) {
		t.Errorf("Config's sections are %v, want kind.All() = %v", sections, kind.All())
	}
}
