package daemon

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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

// TestStartSealsTheStoredConfiguration: secgwd passes its rules to the
// datastore, so a start that validated the stored configuration seals
// it, the next start of the same build trusts the seal (and leaves it
// as it is), and a seal that no longer matches is written again after
// a full validation.
func TestStartSealsTheStoredConfiguration(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	seal := filepath.Join(dir, ConfigDir, "running.seal")
	start := func() {
		t.Helper()
		d, err := New(Config{Dir: dir, Listen: "127.0.0.1:0", Dataplane: DataplaneFake})
		if err != nil {
			t.Fatal(err)
		}
		if err := run(t, d)(); err != nil {
			t.Fatal(err)
		}
	}
	start()
	first, err := os.ReadFile(seal)
	if err != nil {
		t.Fatalf("no seal after a first start: %v", err)
	}
	fi, _ := os.Stat(seal)
	time.Sleep(10 * time.Millisecond)
	start()
	if fi2, err := os.Stat(seal); err != nil || !fi2.ModTime().Equal(fi.ModTime()) {
		t.Fatalf("the seal was written again by a start of the same build: %v", err)
	}
	damaged := bytes.Replace(first, []byte(" "), []byte("  "), 1)
	if err := os.WriteFile(seal, damaged, 0o600); err != nil {
		t.Fatal(err)
	}
	start()
	if again, _ := os.ReadFile(seal); !bytes.Equal(again, first) {
		t.Fatalf("seal after a damaged one: %q, want %q", again, first)
	}
}
