package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeRefusesScrapeConcurrencyBelowOne: a cap that would let no
// target be scraped stops start-up, naming the flag.
func TestServeRefusesScrapeConcurrencyBelowOne(t *testing.T) {
	bin := headroomBinary(t)
	cfg := filepath.Join(t.TempDir(), "headroom.yml")
	if err := os.WriteFile(cfg, []byte("redis:\n  - {name: cache, address: '127.0.0.1:1'}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"0", "-3"} {
		out, err := exec.Command(bin, "serve", "--config.file="+cfg, "--web.listen-address=127.0.0.1:0", "--scrape.concurrency="+n).CombinedOutput()
		if err == nil {
			t.Fatalf("--scrape.concurrency=%s: started\n%s", n, out)
		}
		if !strings.Contains(string(out), "--scrape.concurrency") || !strings.Contains(string(out), "at least 1") {
			t.Errorf("--scrape.concurrency=%s: the error does not name the flag and its bound:\n%s", n, out)
		}
	}
}
