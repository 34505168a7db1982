package collectors

import "context"

// DefaultScrapeConcurrency is how many targets an exporter scrapes at once
// unless told otherwise (--scrape.concurrency). Targets are scraped in
// parallel so that a scrape takes about as long as its slowest target,
// not the sum of all; the cap bounds the queries headroom has in flight,
// which matters where many targets are databases of one server. 128 runs
// a config of a hundred-odd targets in one wave; a larger one waits for
// slots, and the wait counts against the scrape's deadline.
const DefaultScrapeConcurrency = 128

// scrapeSlots caps the targets whose queries are in flight at once,
// across every scrape an exporter serves: concurrent scrapes of the same
// target share one round of queries (Runner.Collect), so they take one
// slot. A nil scrapeSlots has no cap.
type scrapeSlots chan struct{}

func newScrapeSlots(n int) scrapeSlots { return make(scrapeSlots, n) }

// acquire takes a slot, or returns ctx's cause when ctx ends first.
func (s scrapeSlots) acquire(ctx context.Context) error {
	if s == nil {
		return nil
	}
	// A slot freed at the deadline goes to no one: select would pick at
	// random between it and the expired context.
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	select {
	case s <- struct{}{}:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

func (s scrapeSlots) release() {
	if s != nil {
		<-s
	}
}
