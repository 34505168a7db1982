package promtest

import (
	"fmt"
	"testing"
	"time"

	"github.com/headroom-dev/headroom/catalogue"
)

// BenchmarkGenerateScopes measures Bundle (the rules and their tests) for a
// trigger with 100 and 500 `where` scopes (make bench): seconds per
// bundle, and its size.
func BenchmarkGenerateScopes(b *testing.B) {
	for _, n := range []int{100, 500} {
		b.Run(fmt.Sprintf("scopes=%d", n), func(b *testing.B) {
			cfg, err := catalogue.LoadOnto("health-agent", []byte(manyScopesYAML(n)))
			if err != nil {
				b.Fatal(err)
			}
			var size int
			start := time.Now()
			for i := 0; i < b.N; i++ {
				files, err := Bundle(catalogue.MustBuild(cfg))
				if err != nil {
					b.Fatal(err)
				}
				size = 0
				for _, f := range files {
					size += len(f)
				}
			}
			b.ReportMetric(time.Since(start).Seconds()/float64(b.N), "s/generate")
			b.ReportMetric(float64(size)/1e6, "MB/bundle")
		})
	}
}
