package collectors

import (
	"context"
	"errors"

	"github.com/headroom-dev/headroom/internal/config"
)

type postgresTarget struct{ name string }

func NewPostgres(c config.Postgres) (Target, error) { return &postgresTarget{name: c.Name}, nil }

func (t *postgresTarget) Name() string { return t.name }
func (t *postgresTarget) Kind() string { return config.KindPostgres }
func (t *postgresTarget) Close()       {}
func (t *postgresTarget) Scrape(ctx context.Context, s *Scrape) error {
	return errors.New("not implemented")
}
