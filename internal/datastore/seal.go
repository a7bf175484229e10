package datastore

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// The seal lets Open skip the full validation of a stored running
// configuration that is known to be valid: at 100k VPNs that validation
// is most of the start's CPU (about 1.5 s) and of its garbage (about
// 600 MB allocated).
//
// The seal file names the rules (Options.RulesID: the build of the
// validator and its schema), a number k of journal records, and the
// SHA-256 of the rules, the stored snapshot's bytes and the first k
// journal records' payloads. It is written when what those bytes load
// is known to be valid under those rules:
//
//   - by Open, after a full validation of running passed (k is the number
//     of journal records it replayed);
//   - by snapshotIfDue, after running was written in full and the
//     journal emptied (k = 0): running is then the result of commits,
//     each of which passed the validation of its changes, which the
//     datastore's incremental validation holds equivalent to a full one
//     (the contract validate's policy index relies on too).
//
// Open skips the validation only when the seal names the same rules and
// the digest of what it read matches. The journal records after the
// first k were appended by commits of a process that opened the store
// with the same rules (a process with other rules, or none, finds the
// seal not matching, validates, and writes its own seal or removes this
// one before it journals anything), so they too were validated by these
// rules. Anything else (another build, a snapshot or journal edited or
// damaged, a seal lost in a crash) makes the digest differ or the seal
// unreadable, and Open validates in full as before: a seal that does not
// match is never harmful, only slower. The seal is not a defence against
// someone who can write the data directory (they can write a matching
// seal as well as a configuration); the directory is the owner's only.
//
// The trade-off: a defect of the incremental validation that let an
// invalid commit through is caught at the next start only after an
// upgrade (new rules), no longer at every restart of the same build.
const sealFile = "running.seal"

// sealVersion starts the seal file; a file that does not start with it
// is ignored.
const sealVersion = "secgw-seal-1"

// sealDigest is the SHA-256 of rules, snapshot and the payloads of recs,
// each length-prefixed so that no two inputs share a digest.
func sealDigest(rules string, snapshot []byte, recs [][]byte) [sha256.Size]byte {
	h := sha256.New()
	var n [8]byte
	put := func(b []byte) {
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	put([]byte(rules))
	put(snapshot)
	binary.BigEndian.PutUint64(n[:], uint64(len(recs)))
	h.Write(n[:])
	for _, r := range recs {
		put(r)
	}
	var d [sha256.Size]byte
	h.Sum(d[:0])
	return d
}

// seal is the content of the seal file: the number of journal records
// covered and the digest.
type seal struct {
	records int
	digest  [sha256.Size]byte
}

func (s seal) encode() []byte {
	return fmt.Appendf(nil, "%s %d %s\n", sealVersion, s.records, hex.EncodeToString(s.digest[:]))
}

// parseSeal decodes a seal file; ok is false for anything else.
func parseSeal(b []byte) (s seal, ok bool) {
	f := bytes.Fields(b)
	if len(f) != 3 || string(f[0]) != sealVersion {
		return seal{}, false
	}
	n, err := strconv.Atoi(string(f[1]))
	if err != nil || n < 0 {
		return seal{}, false
	}
	d, err := hex.DecodeString(string(f[2]))
	if err != nil || len(d) != sha256.Size {
		return seal{}, false
	}
	s.records = n
	copy(s.digest[:], d)
	// Exactly as written: no other spacing or case of the same values.
	return s, bytes.Equal(s.encode(), b)
}

// sealed reports whether the seal in dir proves that snapshot and recs,
// as Open read them, load a configuration valid under rules.
func sealed(dir, rules string, snapshot []byte, recs [][]byte) bool {
	if rules == "" {
		return false
	}
	b, err := os.ReadFile(filepath.Join(dir, sealFile))
	if err != nil {
		return false
	}
	s, ok := parseSeal(b)
	if !ok || s.records > len(recs) {
		return false
	}
	return sealDigest(rules, snapshot, recs[:s.records]) == s.digest
}

// writeSeal records that snapshot and recs load a configuration valid
// under rules; with no rules it removes any seal, so that the journal
// records this process appends are never taken for validated by the
// rules of an older seal. The write needs no fsync of its own: a seal
// lost or torn in a crash only fails to match.
func writeSeal(dir, rules string, snapshot []byte, recs [][]byte) error {
	file := filepath.Join(dir, sealFile)
	if rules == "" {
		if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("datastore: %w", err)
		}
		return nil
	}
	s := seal{records: len(recs), digest: sealDigest(rules, snapshot, recs)}
	return writeAtomic(file, s.encode(), nil)
}

// removeSeal deletes the seal of dir.
func removeSeal(dir string) error { return writeSeal(dir, "", nil, nil) }
