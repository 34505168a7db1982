package exposition

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestServeWritesWholeTextInChunks: a response many times textChunk, as
// 120 targets make, arrives whole and byte for byte what writeText makes
// of the same parts, compressed or not, scrape after scrape through the
// kept buffers.
func TestServeWritesWholeTextInChunks(t *testing.T) {
	var sources []Source
	for i := range 40 {
		var metrics []prometheus.Metric
		for j := range 200 {
			metrics = append(metrics, NewSample(backendsDesc, float64(j), fmt.Sprintf("db%03d", j), "idle"))
		}
		sources = append(sources, fixedSource{fmt.Sprintf("pg%02d", i), metrics})
	}
	g := NewGatherer(context.Background(), nil, NewSources(sources...))
	var want bytes.Buffer
	if err := writeText(&want, g.gatherText()); err != nil {
		t.Fatal(err)
	}
	if want.Len() < 4*textChunk {
		t.Fatalf("the text is %d bytes, want many chunks of %d", want.Len(), textChunk)
	}
	for _, encoding := range []string{"gzip", "identity", "gzip", "identity"} {
		req := httptest.NewRequest("GET", "/metrics", nil)
		req.Header.Set("Accept-Encoding", encoding)
		rec := httptest.NewRecorder()
		Serve(rec, req, g, slog.New(slog.DiscardHandler))
		var body io.Reader = rec.Body
		if rec.Header().Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(rec.Body)
			if err != nil {
				t.Fatal(err)
			}
			body = zr
		}
		got, err := io.ReadAll(body)
		if err != nil {
			t.Fatalf("%s: %v", encoding, err)
		}
		if !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%s: %d bytes served, writeText made %d", encoding, len(got), want.Len())
		}
	}
}
