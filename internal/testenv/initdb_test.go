package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// TestClustersFromTheTemplateAreIndependent: servers started from the
// shared initdb template are copies, not links: what one writes, the
// other does not see, and the template stays as initdb left it.
func TestClustersFromTheTemplateAreIndependent(t *testing.T) {
	first := StartPostgres(t, PostgresOptions{})
	second := StartPostgres(t, PostgresOptions{})
	first.Exec(t, "postgres", "CREATE TABLE only_in_first (id int)")
	if n := second.QueryInt(t, "postgres", "SELECT count(*) FROM pg_class WHERE relname = 'only_in_first'"); n != 0 {
		t.Fatalf("a table made in the first cluster is in the second: the clusters share their data")
	}
	template, err := clusterTemplate()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(template), templateReady)); err != nil {
		t.Fatalf("the template has no ready mark: %v", err)
	}
	if _, err := os.Stat(filepath.Join(template, "postmaster.pid")); !os.IsNotExist(err) {
		t.Fatalf("the template holds a postmaster.pid (a server ran in it): %v", err)
	}
}
