package daemon

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"os"
)

// rulesID names the validation rules of this executable for the
// datastore's seal (datastore.Options.RulesID): the Go build ID of the
// running binary, a hash of everything it was built from, the YANG
// modules and the validator included (the modules are embedded). A
// stored configuration sealed as valid by one build is validated again
// by any other: an upgrade may have made the rules stricter. "" (no
// ELF note found: the seal is not used, and every start validates in
// full) when it cannot be read.
func rulesID() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	f, err := elf.Open(exe)
	if err != nil {
		return ""
	}
	defer f.Close()
	sec := f.Section(".note.go.buildid")
	if sec == nil {
		return ""
	}
	b, err := sec.Data()
	if err != nil || len(b) == 0 {
		return ""
	}
	sum := sha256.Sum256(b)
	return "go-build-" + hex.EncodeToString(sum[:])
}
