package collectors

import (
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/headroom-dev/headroom/internal/config"
	"github.com/headroom-dev/headroom/internal/kind"
)

// The table of constructors has exactly the kinds of kind.All(): a kind
// added there without an entry here (or an entry for no kind) fails this,
// and an entry is all New needs to build the kind's targets.
func TestConstructorsCoverKinds(t *testing.T) {
	var inTable []kind.Kind
	for k := range constructors {
		inTable = append(inTable, k)
	}
	slices.Sort(inTable)
	all := slices.Sorted(slices.Values(kind.All()))
	if !slices.Equal(inTable, all) {
		t.Errorf("constructors has kinds %v, want kind.All() = %v", inTable, all)
	}
}

// New builds one target of each kind from its own section, kinds in
// kind.All()'s order and targets in the file's order, each of the kind it
// is listed under. Nothing is dialled: New connects nowhere.
func TestNewBuildsEveryKind(t *testing.T) {
	cfg, err := config.Parse("test.yml", []byte(`
api:
  - {name: web, health_url: 'http://127.0.0.1:1/health'}
redis:
  - {name: cache, address: '127.0.0.1:1'}
  - {name: sessions, address: '127.0.0.1:2'}
pgbouncer:
  - {name: bouncer, dsn: 'postgres://pgbouncer@127.0.0.1:1/pgbouncer'}
postgres:
  - {name: primary, dsn: 'postgres://headroom@127.0.0.1:1/postgres'}
`))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(cfg, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	var got []string
	for _, r := range e.Runners() {
		got = append(got, string(r.Kind())+"/"+r.Name())
	}
	want := []string{"postgres/primary", "pgbouncer/bouncer", "redis/cache", "redis/sessions", "api/web"}
	if !slices.Equal(got, want) {
		t.Errorf("runners %v, want %v", got, want)
	}
}

// TargetsPerKind counts from the same table New builds from: every kind
// of kind.All() in its order, a kind the config leaves out at zero.
func TestTargetsPerKind(t *testing.T) {
	cfg, err := config.Parse("test.yml", []byte(`
api:
  - {name: web, health_url: 'http://127.0.0.1:1/health'}
redis:
  - {name: cache, address: '127.0.0.1:1'}
  - {name: sessions, address: '127.0.0.1:2'}
`))
	if err != nil {
		t.Fatal(err)
	}
	got := TargetsPerKind(cfg)
	want := []KindCount{{kind.Postgres, 0}, {kind.PgBouncer, 0}, {kind.Redis, 2}, {kind.API, 1}}
	if !slices.Equal(got, want) {
		t.Errorf("TargetsPerKind = %v, want %v", got, want)
	}
}

// A target New cannot build stops New with an error naming its kind and
// name, and the targets built before it are closed.
func TestNewNamesTheTargetItCannotBuild(t *testing.T) {
	notPEM := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("test.yml", []byte(`
postgres:
  - {name: primary, dsn: 'postgres://headroom@127.0.0.1:1/postgres'}
redis:
  - {name: cache, address: '127.0.0.1:1', tls: {ca_file: '`+notPEM+`'}}
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(cfg, prometheus.NewRegistry(), slog.New(slog.DiscardHandler))
	if err == nil {
		t.Fatal("New accepted a CA file with no certificate in it")
	}
	if want := `redis target "cache": tls.ca_file`; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q does not start with %q", err, want)
	}
}
