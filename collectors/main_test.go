package collectors

import (
	"os"
	"testing"

	"github.com/headroom-dev/headroom/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

// readOnlyPostgres is the primary of the tests that only read from it and
// count nothing that another test's connections or objects would change:
// they share it rather than start one each. Nothing may create a role or
// database in it, change its HBA or configuration, stop or freeze it, or
// attach a replica; a test that does starts its own, and says why.
var readOnlyPostgres = testenv.Share(func(t testenv.TB) *testenv.Postgres {
	return testenv.StartPostgres(t, testenv.PostgresOptions{})
})

// Redis is not shared: a server starts in a tenth of a second, and of the
// tests that only read from one, no two want the same options.
