package datastore

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// openRules opens dir with validation rules rules, snapshotting after
// every snapshotEvery commits.
func openRules(t *testing.T, dir, rules string, snapshotEvery int) *Store {
	t.Helper()
	open(t, t.TempDir()).Close() // loads tSchema and tValidator
	st, err := Open(Options{Dir: dir, Schema: tSchema, Validator: tValidator, RulesID: rules, SnapshotEvery: snapshotEvery})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func commitSet(t *testing.T, st *Store, line string) {
	t.Helper()
	if err := st.Edit(1, set(line)); err != nil {
		t.Fatal(err)
	}
	if err := st.Commit(CommitOptions{Session: 1}); err != nil {
		t.Fatal(err)
	}
}

func hasMain(st *Store) bool { return st.Snapshot(Running).Vrf["main"] != nil }

// TestSealSkipsValidationUnderSameRules: a snapshot is sealed as valid
// under the store's rules, and Open under the same rules trusts the seal
// and does not validate. The configuration committed here is invalid
// (vrf main deleted without validation, as a defect of the incremental
// validation could): under the same rules it is loaded as is, which
// proves no validation ran; under other rules (an upgrade) it is
// validated and recovered from, as without a seal.
func TestSealSkipsValidationUnderSameRules(t *testing.T) {
	dir := t.TempDir()
	st := openRules(t, dir, "r1", 1)
	commitSet(t, st, "/ vrf main ike global-options retransmit-tries 3")
	if err := st.Edit(1, deleteVRF("main")); err != nil {
		t.Fatal(err)
	}
	commitUnchecked(t, st)
	st.snapshotIfDue()
	st.Close()
	if _, err := os.Stat(filepath.Join(dir, sealFile)); err != nil {
		t.Fatalf("no seal after a snapshot: %v", err)
	}

	st = openRules(t, dir, "r1", 1)
	if st.Recovered() != "" || hasMain(st) {
		t.Fatalf("same rules: recovered %q, vrf main %v: the sealed configuration was validated", st.Recovered(), hasMain(st))
	}
	st.Close()

	st = openRules(t, dir, "r2", 1)
	if st.Recovered() == "" || !hasMain(st) || retries(st.Snapshot(Running)) != 3 {
		t.Fatalf("other rules: recovered %q, vrf main %v: want validated and recovered to commit 1", st.Recovered(), hasMain(st))
	}
	st.Close()
}

// TestSealCoversTheBytes: a seal matches only the bytes it was written
// for: a snapshot changed after it (here by one trailing space), or a
// seal file damaged, makes Open validate.
func TestSealCoversTheBytes(t *testing.T) {
	for name, damage := range map[string]func(dir string){
		"snapshot": func(dir string) { appendFile(t, filepath.Join(dir, runningFile), " ") },
		"seal": func(dir string) {
			b, _ := os.ReadFile(filepath.Join(dir, sealFile))
			b[len(b)-2] ^= 1
			os.WriteFile(filepath.Join(dir, sealFile), b, 0o600)
		},
		"no seal": func(dir string) { os.Remove(filepath.Join(dir, sealFile)) },
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			st := openRules(t, dir, "r1", 1)
			commitSet(t, st, "/ vrf main ike global-options retransmit-tries 3")
			if err := st.Edit(1, deleteVRF("main")); err != nil {
				t.Fatal(err)
			}
			commitUnchecked(t, st)
			st.snapshotIfDue()
			st.Close()
			damage(dir)
			st = openRules(t, dir, "r1", 1)
			defer st.Close()
			if st.Recovered() == "" || !hasMain(st) {
				t.Fatalf("recovered %q, vrf main %v: want validated", st.Recovered(), hasMain(st))
			}
		})
	}
}

func appendFile(t *testing.T, file, s string) {
	t.Helper()
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// TestSealAfterFullValidationCoversTheJournal: Open seals what it
// validated in full, snapshot and journal records; records journaled
// after it by a process of the same rules are trusted, and a process
// without rules validates and removes the seal.
func TestSealAfterFullValidationCoversTheJournal(t *testing.T) {
	dir := t.TempDir()
	st := openRules(t, dir, "", 1000)
	commitSet(t, st, "/ vrf main ike global-options retransmit-tries 3")
	commitSet(t, st, "/ vrf main ike global-options retransmit-tries 4")
	st.Close()

	st = openRules(t, dir, "r1", 1000) // validates, seals 2 records
	b, err := os.ReadFile(filepath.Join(dir, sealFile))
	if err != nil {
		t.Fatal(err)
	}
	if s, ok := parseSeal(b); !ok || s.records != 2 {
		t.Fatalf("seal %q: want 2 journal records covered", b)
	}
	if err := st.Edit(1, deleteVRF("main")); err != nil {
		t.Fatal(err)
	}
	commitUnchecked(t, st) // a third record, by a process of rules r1
	st.Close()

	st = openRules(t, dir, "r1", 1000)
	if st.Recovered() != "" || hasMain(st) {
		t.Fatalf("same rules: recovered %q, vrf main %v: want the seal trusted", st.Recovered(), hasMain(st))
	}
	st.Close()

	st = openRules(t, dir, "", 1000)
	if st.Recovered() == "" || retries(st.Snapshot(Running)) != 4 {
		t.Fatalf("no rules: recovered %q: want validated and recovered to commit 2", st.Recovered())
	}
	st.Close()
	if _, err := os.Stat(filepath.Join(dir, sealFile)); !os.IsNotExist(err) {
		t.Fatalf("a store without rules left the seal: %v", err)
	}
}

// TestSealRoundTrip: encode then parse gives the seal back, and every
// strict prefix of an encoded seal is refused.
func TestSealRoundTrip(t *testing.T) {
	s := seal{records: 12, digest: sealDigest("r", []byte("{}"), [][]byte{[]byte("x")})}
	b := s.encode()
	got, ok := parseSeal(b)
	if !ok || got != s {
		t.Fatalf("parseSeal(%q) = %v, %v", b, got, ok)
	}
	for i := range b {
		if _, ok := parseSeal(b[:i]); ok {
			t.Fatalf("prefix %q accepted", b[:i])
		}
	}
}

// TestSealDigestSeparatesInputs: moving bytes between the rules, the
// snapshot and the records changes the digest.
func TestSealDigestSeparatesInputs(t *testing.T) {
	a := sealDigest("ab", []byte("c"), nil)
	for _, d := range [][32]byte{
		sealDigest("a", []byte("bc"), nil),
		sealDigest("ab", nil, [][]byte{[]byte("c")}),
		sealDigest("ab", []byte("c"), [][]byte{nil}),
	} {
		if d == a {
			t.Fatal("two different inputs share a digest")
		}
	}
}

// FuzzParseSeal: parseSeal never panics, and what it accepts encodes
// back to the same bytes.
func FuzzParseSeal(f *testing.F) {
	f.Add(seal{records: 3, digest: sealDigest("r", nil, nil)}.encode())
	f.Add([]byte(sealVersion + " 0 00\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, ok := parseSeal(b)
		if ok && !bytes.Equal(s.encode(), b) {
			t.Fatalf("parseSeal(%q) = %v, which encodes as %q", b, s, s.encode())
		}
	})
}
