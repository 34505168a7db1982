package exposition

import (
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"
)

// Serve answers one scrape from g: the text format written by the encoder
// (encode.go says why), any other format by promhttp, either compressed
// when the client accepts gzip. What g could not gather is logged to
// logger and left out; the rest is served, as promhttp's ContinueOnError
// does.
func Serve(w http.ResponseWriter, r *http.Request, g *Gatherer, logger *slog.Logger) {
	format := expfmt.NegotiateAccept(r.Header, expfmt.DefaultAcceptedFormats()...)
	if format.FormatType() == expfmt.TypeTextPlain {
		serveText(w, r, g, format, logger)
		return
	}
	h := promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(logger.Handler(), slog.LevelError),
		ErrorHandling: promhttp.ContinueOnError,
		// Compressed below, faster: promhttp's gzip runs at the default
		// level, which cost more CPU per scrape than all of a target's
		// queries, for a few kilobytes saved. klauspost/compress (already
		// in client_golang's module graph) compresses a scrape at
		// BestSpeed in about half the time of the standard library's,
		// and smaller.
		DisableCompression: true,
	})
	if !acceptsGzip(r) {
		h.ServeHTTP(w, r)
		return
	}
	gz, done := gzipTo(w)
	h.ServeHTTP(gzipResponse{ResponseWriter: w, w: gz}, r)
	done()
}

// serveText writes the text format itself, with the headers promhttp
// would send.
func serveText(w http.ResponseWriter, r *http.Request, g *Gatherer, format expfmt.Format, logger *slog.Logger) {
	parts := g.gatherText()
	w.Header().Add("Vary", "Accept")
	w.Header().Set("Content-Type", string(format))
	out, done := io.Writer(w), func() error { return nil }
	if acceptsGzip(r) {
		out, done = gzipTo(w)
	}
	// Written through a buffer of textChunk bytes: a thousand small
	// writes to the compressor cost more than the copy. Not the whole
	// text at once: kept between scrapes, that buffer was the size of the
	// largest response, 16 MB at 120 targets (BenchmarkManyTargets).
	text := textBuffers.get()
	text.Reset(out)
	defer textBuffers.put(text)
	err := writeText(text, parts, r.URL.Query()["name[]"]...)
	for _, p := range parts {
		p.release()
	}
	if ferr := text.Flush(); err == nil {
		err = ferr
	}
	// The kept buffer must not keep this response alive.
	text.Reset(io.Discard)
	if cerr := done(); err == nil {
		err = cerr
	}
	if err != nil {
		logger.Error("error gathering metrics", "err", err)
	}
}

// gzipTo starts a gzip response; done ends the stream and keeps the
// writer for the next scrape.
func gzipTo(w http.ResponseWriter) (*gzip.Writer, func() error) {
	w.Header().Set("Content-Encoding", "gzip")
	w.Header().Add("Vary", "Accept-Encoding")
	gz := gzipWriters.get()
	gz.Reset(w)
	return gz, func() error {
		err := gz.Close()
		// The kept writer must not keep this response alive.
		gz.Reset(io.Discard)
		gzipWriters.put(gz)
		return err
	}
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") && !refused(params) {
			return true
		}
	}
	return false
}

// refused says whether Accept-Encoding parameters give a weight of zero
// (q=0, q=0.0, q=0.000).
func refused(params string) bool {
	q, ok := strings.CutPrefix(strings.ReplaceAll(params, " ", ""), "q=")
	if !ok {
		return false
	}
	v, err := strconv.ParseFloat(q, 64)
	return err == nil && v == 0
}

type gzipResponse struct {
	http.ResponseWriter
	w io.Writer
}

func (g gzipResponse) Write(b []byte) (int, error) { return g.w.Write(b) }
