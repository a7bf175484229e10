// Package security performs attacks against a real secgwd and asserts the
// defended outcome: a read-only NETCONF account probing for
// secrets or freezing management, clients exhausting memory, file
// descriptors or bcrypt, and off-path attackers on the IKE port. During
// every attack a second session's <get> must be answered within a bound.
package security

import (
	"path/filepath"
	"testing"

	"secgw/test/secgwdtest"
)

// secgwdBin is the daemon built once by TestMain for every test.
var secgwdBin string

func TestMain(m *testing.M) {
	secgwdtest.Main(m, "security", func(dir string) { secgwdBin = filepath.Join(dir, "secgwd") }, "secgwd")
}
