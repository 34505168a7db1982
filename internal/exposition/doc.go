// Package exposition answers a scrape: it turns headroom's series into the
// Prometheus text format with its own encoder (other formats through
// promhttp) and compresses it with gzip at the fastest level.
//
// It exists for speed alone. promhttp's path made every series a protobuf
// message, had a registry hash and check each one, and wrote text only
// after the slowest target had answered: most of what a scrape added to
// its queries' time, and most of what it allocated. Here each target's
// series become text in the target's own goroutine as soon as it answers,
// samples go straight to text, and buffers and gzip writers are kept
// between scrapes. The measure is BenchmarkScrape's "scrape/direct" in
// `make bench` (a scrape's median time over the same queries run
// directly); the output stays byte for byte what promhttp writes for the
// same series (TestTextMatchesPromhttp).
//
// Collectors see a small API. NewDesc declares a family: name, help, type
// (Gauge, Counter or Histogram) and variable labels; nothing is guessed
// from a name. NewSample is a gauge's or a counter's value of a
// descriptor; NewHistogram builds a target's histogram. NewSources makes,
// once for every scrape, the sources with the target label of each (its
// name); a Gatherer scrapes them concurrently, every series labelled with
// its source's, and Serve answers an HTTP scrape from it.
//
// Samples are never changed once made (a histogram is written as it
// stands at each scrape), so a source may hand the same ones to any
// number of scrapes, as concurrent scrapes of a target already share one
// round of queries: a source that serves cached values returns its last
// ones again, with a sample of its own for their age. Further down, a
// source's series are encoded into one part, and the parts are merged
// family by family, series by series, as the response is written; a
// target's encoded part could be kept the same way and served again
// beside a one-series part for its age.
package exposition
