package collectors

import (
	"context"
	"errors"

	"github.com/headroom-dev/headroom/internal/config"
)

// STUB: replaced by the real collector.
type pgbouncerTarget struct{ name string }

// NewPgBouncer builds a pgbouncer target.
func NewPgBouncer(c config.PgBouncer) (Target, error) { return &pgbouncerTarget{name: c.Name}, nil }

func (t *pgbouncerTarget) Name() string { return t.name }
func (t *pgbouncerTarget) Kind() string { return config.KindPgBouncer }
func (t *pgbouncerTarget) Close()       {}
func (t *pgbouncerTarget) Scrape(ctx context.Context, s *Scrape) error {
	return errors.New("not implemented")
}
