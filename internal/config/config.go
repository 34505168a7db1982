// Package config loads and validates the exporter's target file.
//
// Every error names the file, the target and the field, so that a bad
// config stops start-up with a message an operator can act on.
package config

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/common/model"

	"github.com/headroom-dev/headroom/internal/kind"
	"github.com/headroom-dev/headroom/internal/strictyaml"
)

// Config is the whole target file: one section per kind of target, keyed
// by the kind's name (TestSectionsAreKinds holds the two lists together).
type Config struct {
	Postgres  []Postgres  `yaml:"postgres"`
	PgBouncer []PgBouncer `yaml:"pgbouncer"`
	Redis     []Redis     `yaml:"redis"`
	API       []API       `yaml:"api"`
}

// Secret holds a password given inline, by environment variable or by file.
// Only one of the three may be set. The resolved value never appears in
// String() output, logs or errors.
type Secret struct {
	Value string `yaml:"password"`
	Env   string `yaml:"password_env"`
	File  string `yaml:"password_file"`
}

// Limits caps the label values one target may produce, so that a database
// with thousands of roles cannot explode the series count.
type Limits struct {
	Databases  int `yaml:"databases"`
	Roles      int `yaml:"roles"`
	Pools      int `yaml:"pools"`
	Replicas   int `yaml:"replicas"`
	Slots      int `yaml:"slots"`
	Components int `yaml:"components"`
}

// DefaultLimits are generous for a real deployment and still bound the
// worst case to a few thousand series per target.
var DefaultLimits = Limits{Databases: 100, Roles: 100, Pools: 100, Replicas: 20, Slots: 50, Components: 50}

// Postgres is a PostgreSQL server (primary or replica, detected at scrape time).
type Postgres struct {
	Name   string `yaml:"name"`
	DSN    string `yaml:"dsn"`
	Secret `yaml:",inline"`
	// Pools maps an application_name (or, failing that, a user name) to the
	// size of the client-side pool it runs, e.g. {api: 13}.
	Pools            map[string]int `yaml:"pools"`
	DatabaseSizes    bool           `yaml:"database_sizes"`
	MaxConnections   int            `yaml:"max_connections"`
	StatementTimeout model.Duration `yaml:"statement_timeout"`
	LockTimeout      model.Duration `yaml:"lock_timeout"`
	// QueryTTL is how long a collector's last answer is served again
	// instead of running its query, by collector; 0 runs it every scrape.
	// Only the collectors in DefaultQueryTTL may be cached.
	QueryTTL map[string]model.Duration `yaml:"query_ttl"`
	Limits   Limits                    `yaml:"limits"`
}

// DefaultQueryTTL lists the PostgreSQL collectors whose answers may be
// served from a cache, with their default TTLs. Database sizes walk every
// database's files (about 34 ms of server time per scrape at 300 clients
// and 20 databases, docs/benchmark.md) and change over hours, not
// seconds. The others are cheap, so they run every scrape unless asked.
// The databases, roles and connections collectors are not listed: they
// are one picture (backends zero-filled for the databases and roles
// seen), and the backends are the signal a scrape is for.
var DefaultQueryTTL = map[string]time.Duration{
	"database_sizes":    5 * time.Minute,
	"settings":          0,
	"replication_slots": 0,
}

// PgBouncer is a PgBouncer admin console.
type PgBouncer struct {
	Name   string `yaml:"name"`
	DSN    string `yaml:"dsn"`
	Secret `yaml:",inline"`
	Limits Limits `yaml:"limits"`
}

// TLS configures a client TLS connection.
type TLS struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	ServerName         string `yaml:"server_name"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// Redis is a Redis (or Valkey) server.
type Redis struct {
	Name     string `yaml:"name"`
	Address  string `yaml:"address"`
	Username string `yaml:"username"`
	Secret   `yaml:",inline"`
	DB       int `yaml:"db"`
	TLS      TLS `yaml:"tls"`
	// MemoryLimitBytes is the denominator for memory use when maxmemory is 0,
	// typically the container's memory limit.
	MemoryLimitBytes int64  `yaml:"memory_limit_bytes"`
	MaxConnections   int    `yaml:"max_connections"`
	Limits           Limits `yaml:"limits"`
}

// JSONField maps one numeric field of the API's JSON metrics document to a
// gauge.
type JSONField struct {
	Name string `yaml:"name"`
	// Path is a dot-separated path into the document, e.g.
	// database.pool_utilization_percent.
	Path string `yaml:"path"`
}

// API is an HTTP service with a health endpoint.
type API struct {
	Name           string         `yaml:"name"`
	HealthURL      string         `yaml:"health_url"`
	MetricsURL     string         `yaml:"metrics_url"`
	ExpectedStatus int            `yaml:"expected_status"`
	Timeout        model.Duration `yaml:"timeout"`
	JSONFields     []JSONField    `yaml:"json_fields"`
	Limits         Limits         `yaml:"limits"`
}

// TargetName is the target's configured name: what every kind's section
// has in common, for code that handles each kind alike (the exporter's
// table of constructors).
func (p Postgres) TargetName() string { return p.Name }

// TargetName is the target's configured name.
func (b PgBouncer) TargetName() string { return b.Name }

// TargetName is the target's configured name.
func (r Redis) TargetName() string { return r.Name }

// TargetName is the target's configured name.
func (a API) TargetName() string { return a.Name }

// Error is a validation error that names where in which file it is.
type Error struct {
	File   string
	Target string // "postgres[0] (primary)"; empty for file-level errors
	Field  string
	Err    error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Target != "" {
		b.WriteString(": ")
		b.WriteString(e.Target)
	}
	if e.Field != "" {
		b.WriteString(": field ")
		b.WriteString(e.Field)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Load reads, defaults and validates a config file.
func Load(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Err: err}
	}
	return Parse(path, raw)
}

// Parse is Load for bytes already read; path is only used in errors.
func Parse(path string, raw []byte) (*Config, error) {
	var c Config
	if err := strictyaml.Decode(raw, &c); err != nil {
		return nil, &Error{File: path, Err: err}
	}
	if err := c.validate(path); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) validate(file string) error {
	names := map[string]string{}
	checkName := func(where, name string) error {
		if name == "" {
			return &Error{File: file, Target: where, Field: "name", Err: errors.New("is required")}
		}
		if prev, dup := names[name]; dup {
			return &Error{File: file, Target: where, Field: "name", Err: fmt.Errorf("%q is already used by %s", name, prev)}
		}
		names[name] = where
		return nil
	}
	if len(c.Postgres)+len(c.PgBouncer)+len(c.Redis)+len(c.API) == 0 {
		return &Error{File: file, Err: fmt.Errorf("no targets: list at least one under %s", orList(kind.All()))}
	}
	for i := range c.Postgres {
		p := &c.Postgres[i]
		where := targetWhere(kind.Postgres, i, p.Name)
		fail := func(field string, err error) error { return &Error{File: file, Target: where, Field: field, Err: err} }
		if err := checkName(where, p.Name); err != nil {
			return err
		}
		if err := checkDSN(p.DSN); err != nil {
			return fail("dsn", err)
		}
		if field, err := p.Secret.validate(); err != nil {
			return fail(field, err)
		}
		for pool, size := range p.Pools {
			if size <= 0 {
				return fail("pools."+pool, fmt.Errorf("pool size must be positive, got %d", size))
			}
		}
		if p.MaxConnections < 0 {
			return fail("max_connections", fmt.Errorf("must be positive, got %d", p.MaxConnections))
		}
		if p.MaxConnections == 0 {
			p.MaxConnections = 2
		}
		if p.StatementTimeout == 0 {
			p.StatementTimeout = model.Duration(5 * time.Second)
		}
		if p.LockTimeout == 0 {
			p.LockTimeout = model.Duration(time.Second)
		}
		for collector := range p.QueryTTL {
			if _, ok := DefaultQueryTTL[collector]; !ok {
				return fail("query_ttl."+collector, fmt.Errorf("not a collector whose answers may be cached; those are %s", strings.Join(slices.Sorted(maps.Keys(DefaultQueryTTL)), ", ")))
			}
		}
		if p.QueryTTL == nil {
			p.QueryTTL = map[string]model.Duration{}
		}
		for collector, ttl := range DefaultQueryTTL {
			if _, set := p.QueryTTL[collector]; !set {
				p.QueryTTL[collector] = model.Duration(ttl)
			}
		}
		if err := p.Limits.defaults(); err != nil {
			return fail("limits", err)
		}
	}
	for i := range c.PgBouncer {
		b := &c.PgBouncer[i]
		where := targetWhere(kind.PgBouncer, i, b.Name)
		fail := func(field string, err error) error { return &Error{File: file, Target: where, Field: field, Err: err} }
		if err := checkName(where, b.Name); err != nil {
			return err
		}
		if err := checkDSN(b.DSN); err != nil {
			return fail("dsn", err)
		}
		if field, err := b.Secret.validate(); err != nil {
			return fail(field, err)
		}
		if err := b.Limits.defaults(); err != nil {
			return fail("limits", err)
		}
	}
	for i := range c.Redis {
		r := &c.Redis[i]
		where := targetWhere(kind.Redis, i, r.Name)
		fail := func(field string, err error) error { return &Error{File: file, Target: where, Field: field, Err: err} }
		if err := checkName(where, r.Name); err != nil {
			return err
		}
		if r.Address == "" {
			return fail("address", errors.New("is required (host:port)"))
		}
		if strings.Contains(r.Address, "@") {
			// A URL's userinfo, user:password@host:port, is not an address;
			// the value is not quoted, since the password is in it.
			return fail("address", errors.New("want host:port, without a user or password (set username and password)"))
		}
		if _, _, err := net.SplitHostPort(r.Address); err != nil {
			var addrErr *net.AddrError
			if errors.As(err, &addrErr) {
				err = errors.New(addrErr.Err)
			}
			return fail("address", fmt.Errorf("want host:port: %w", err))
		}
		if field, err := r.Secret.validate(); err != nil {
			return fail(field, err)
		}
		if r.DB < 0 {
			return fail("db", fmt.Errorf("must be 0 or more, got %d", r.DB))
		}
		if r.MemoryLimitBytes < 0 {
			return fail("memory_limit_bytes", fmt.Errorf("must be 0 or more, got %d", r.MemoryLimitBytes))
		}
		if (r.TLS.CertFile == "") != (r.TLS.KeyFile == "") {
			return fail("tls", errors.New("cert_file and key_file go together"))
		}
		for field, f := range map[string]string{"tls.ca_file": r.TLS.CAFile, "tls.cert_file": r.TLS.CertFile, "tls.key_file": r.TLS.KeyFile} {
			if f == "" {
				continue
			}
			if _, err := os.Stat(f); err != nil {
				return fail(field, err)
			}
		}
		if r.MaxConnections < 0 {
			return fail("max_connections", fmt.Errorf("must be positive, got %d", r.MaxConnections))
		}
		if r.MaxConnections == 0 {
			r.MaxConnections = 2
		}
		if err := r.Limits.defaults(); err != nil {
			return fail("limits", err)
		}
	}
	for i := range c.API {
		a := &c.API[i]
		where := targetWhere(kind.API, i, a.Name)
		fail := func(field string, err error) error { return &Error{File: file, Target: where, Field: field, Err: err} }
		if err := checkName(where, a.Name); err != nil {
			return err
		}
		if err := checkHTTPURL(a.HealthURL, true); err != nil {
			return fail("health_url", err)
		}
		if err := checkHTTPURL(a.MetricsURL, false); err != nil {
			return fail("metrics_url", err)
		}
		if a.ExpectedStatus == 0 {
			a.ExpectedStatus = 200
		}
		if a.ExpectedStatus < 100 || a.ExpectedStatus > 599 {
			return fail("expected_status", fmt.Errorf("not an HTTP status: %d", a.ExpectedStatus))
		}
		if a.Timeout < 0 {
			return fail("timeout", errors.New("must be positive"))
		}
		if a.Timeout == 0 {
			a.Timeout = model.Duration(5 * time.Second)
		}
		if len(a.JSONFields) > 0 && a.MetricsURL == "" {
			return fail("json_fields", errors.New("needs metrics_url"))
		}
		seen := map[string]bool{}
		for j, f := range a.JSONFields {
			field := fmt.Sprintf("json_fields[%d]", j)
			if !model.IsValidLegacyMetricName(f.Name) || strings.Contains(f.Name, ":") {
				return fail(field+".name", fmt.Errorf("%q is not a valid label value for a field name (letters, digits, underscores)", f.Name))
			}
			if seen[f.Name] {
				return fail(field+".name", fmt.Errorf("%q is listed twice", f.Name))
			}
			seen[f.Name] = true
			if f.Path == "" {
				return fail(field+".path", errors.New("is required"))
			}
		}
		if err := a.Limits.defaults(); err != nil {
			return fail("limits", err)
		}
	}
	return nil
}

// targetWhere names a target in errors as the file has it: its kind's
// section, its index there and its name, e.g. "postgres[0] (primary)".
func targetWhere(k kind.Kind, i int, name string) string {
	return fmt.Sprintf("%s[%d] (%s)", k, i, name)
}

// orList is "a, b, c or d".
func orList(kinds []kind.Kind) string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = string(k)
	}
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

func (l *Limits) defaults() error {
	fields := []struct {
		name string
		v    *int
		def  int
	}{
		{"databases", &l.Databases, DefaultLimits.Databases},
		{"roles", &l.Roles, DefaultLimits.Roles},
		{"pools", &l.Pools, DefaultLimits.Pools},
		{"replicas", &l.Replicas, DefaultLimits.Replicas},
		{"slots", &l.Slots, DefaultLimits.Slots},
		{"components", &l.Components, DefaultLimits.Components},
	}
	for _, f := range fields {
		if *f.v < 0 {
			return fmt.Errorf("%s must be positive, got %d", f.name, *f.v)
		}
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	return nil
}

func (s Secret) validate() (field string, err error) {
	set := 0
	for _, v := range []string{s.Value, s.Env, s.File} {
		if v != "" {
			set++
		}
	}
	if set > 1 {
		return "password", errors.New("set at most one of password, password_env and password_file")
	}
	if s.Env != "" {
		if _, ok := os.LookupEnv(s.Env); !ok {
			return "password_env", fmt.Errorf("environment variable %s is not set", s.Env)
		}
	}
	if s.File != "" {
		if _, err := readSecretFile(s.File); err != nil {
			return "password_file", err
		}
	}
	return "", nil
}

// maxSecretFile bounds what is read of a password file: a password is
// short, and a password_file pointed at /dev/zero or a log file must fail
// rather than fill the memory.
const maxSecretFile = 64 << 10

func readSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, err
	}
	if len(raw) > maxSecretFile {
		return nil, fmt.Errorf("%s: larger than %d bytes, not a password", path, maxSecretFile)
	}
	return raw, nil
}

// Password resolves the secret; files are read each time so that a rotated
// secret is picked up on the next connection.
func (s Secret) Password() (string, bool, error) {
	switch {
	case s.Value != "":
		return s.Value, true, nil
	case s.Env != "":
		v, ok := os.LookupEnv(s.Env)
		return v, ok, nil
	case s.File != "":
		raw, err := readSecretFile(s.File)
		if err != nil {
			return "", false, err
		}
		return strings.TrimRight(string(raw), "\r\n"), true, nil
	}
	return "", false, nil
}

func checkDSN(dsn string) error {
	if dsn == "" {
		return errors.New("is required")
	}
	// pgconn's own parser, so that what passes here also connects; its
	// errors never carry the password.
	if _, err := pgconn.ParseConfig(dsn); err != nil {
		return fmt.Errorf("cannot parse: %s", RedactDSNError(err))
	}
	return nil
}

// RedactDSNError keeps the cause of a DSN parse error but not the DSN,
// which pgconn quotes with only best-effort password redaction.
func RedactDSNError(err error) string {
	inner := errors.Unwrap(err)
	if inner != nil {
		return URLCause(inner).Error()
	}
	return "not a URL or key=value connection string"
}

// RedactedURL is raw with any password replaced, or a placeholder when raw
// does not parse (its text may hold a password that cannot be found).
func RedactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an address that is not a URL)"
	}
	return u.Redacted()
}

// URLCause is what is wrong with a URL that did not parse, without the URL:
// url.Error quotes it whole, password included, and an invalid escape
// quotes the bytes after its %, which may be part of the password.
func URLCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var esc url.EscapeError
	if errors.As(err, &esc) {
		return errors.New("invalid URL escape: a % not followed by two hex digits (write a literal % as %25)")
	}
	return err
}

func checkHTTPURL(raw string, required bool) error {
	if raw == "" {
		if required {
			return errors.New("is required")
		}
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("cannot parse: %w", URLCause(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("scheme must be http or https, got %q", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("has no host")
	}
	return nil
}
