package routes_test

import (
	"path/filepath"
	"testing"

	goldenfile "secgw/internal/golden"
)

// golden compares got with testdata/name.golden (go test -update rewrites it).
func golden(t *testing.T, name, got string) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", name+".golden"), []byte(got))
}
