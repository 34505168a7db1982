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
	"github.com/prometheus/common/expfmt"
)

// TestServeWritesWholeTextInChunks: a response many times textChunk, from
// many targets whose series interleave in every family, arrives whole and
// byte for byte what expfmt writes of the families Gather merges from the
// same series, compressed or not, scrape after scrape through the kept
// buffers.
func TestServeWritesWholeTextInChunks(t *testing.T) {
	var sources []Source
	for i := range 120 {
		i = (i * 7) % 120 // not in name order
		var metrics []prometheus.Metric
		for j := range 60 {
			metrics = append(metrics, NewSample(backendsDesc, float64(j), fmt.Sprintf("db%03d", j), "idle"))
		}
		sources = append(sources, fixedSource{fmt.Sprintf("pg%02d", i), metrics})
	}
	g := NewGatherer(context.Background(), nil, NewSources(sources...))
	fams, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	for _, f := range fams {
		if _, err := expfmt.MetricFamilyToText(&want, f); err != nil {
			t.Fatal(err)
		}
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
			t.Errorf("%s: %d bytes served differ from expfmt's %d", encoding, len(got), want.Len())
		}
	}
}
