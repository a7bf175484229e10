// Package access holds the end-to-end tests of accounts, logins and
// packaging: secgwd and secgw built from this tree, driven as an operator
// would (signals, the real OpenSSH client, ssh-keygen keys, dpkg).
package access

import (
	"testing"

	"secgw/test/secgwdtest"
)

// bin is the directory holding the secgwd and secgw binaries TestMain built.
var bin string

func TestMain(m *testing.M) {
	secgwdtest.Main(m, "access", func(dir string) { bin = dir }, "secgwd", "secgw")
}
