package daemon

import (
	"strings"
	"testing"
)

// TestRulesIDNamesTheBuild: the test binary, like secgwd, carries a Go
// build ID, so the seal of the stored configuration is used; the same
// binary gives the same ID.
func TestRulesIDNamesTheBuild(t *testing.T) {
	id := rulesID()
	if !strings.HasPrefix(id, "go-build-") || len(id) != len("go-build-")+64 {
		t.Fatalf("rulesID() = %q, want go-build- and a SHA-256", id)
	}
	if again := rulesID(); again != id {
		t.Fatalf("rulesID() = %q then %q", id, again)
	}
}
