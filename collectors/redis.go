package collectors

import (
	"context"
	"errors"

	"github.com/headroom-dev/headroom/internal/config"
)

// STUB: replaced by the real collector.
type redisTarget struct{ name string }

// NewRedis builds a redis target.
func NewRedis(c config.Redis) (Target, error) { return &redisTarget{name: c.Name}, nil }

func (t *redisTarget) Name() string { return t.name }
func (t *redisTarget) Kind() string { return config.KindRedis }
func (t *redisTarget) Close()       {}
func (t *redisTarget) Scrape(ctx context.Context, s *Scrape) error {
	return errors.New("not implemented")
}
