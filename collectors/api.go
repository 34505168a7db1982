package collectors

import (
	"context"
	"errors"

	"github.com/headroom-dev/headroom/internal/config"
)

// STUB: replaced by the real collector.
type apiTarget struct{ name string }

// NewAPI builds a api target.
func NewAPI(c config.API) (Target, error) { return &apiTarget{name: c.Name}, nil }

func (t *apiTarget) Name() string { return t.name }
func (t *apiTarget) Kind() string { return config.KindAPI }
func (t *apiTarget) Close()       {}
func (t *apiTarget) Scrape(ctx context.Context, s *Scrape) error {
	return errors.New("not implemented")
}
