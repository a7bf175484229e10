package netconf

import (
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"secgw/internal/schema"
	"secgw/internal/xmlcodec"
)

func userPath(name, leaf string) schema.DataPath {
	return schema.DataPath{{Name: "aaa"}, {Name: "user", KeyName: "name", Key: name}, {Name: leaf}}
}

// TestHashPasswords: an edit of /aaa/user/password becomes one of
// password-hash with its bcrypt hash; delete and remove move to the
// hash; other edits are untouched; bad lengths are refused without the
// password in the message.
func TestHashPasswords(t *testing.T) {
	const pw = "correct-horse-1"
	edits := []xmlcodec.Edit{
		{Path: userPath("a", "password"), Op: xmlcodec.OpMerge, Value: pw},
		{Path: userPath("a", "role"), Value: "admin"},
		{Path: userPath("b", "password"), Op: xmlcodec.OpDelete},
	}
	orig := edits[0].Path
	if err := hashPasswords(edits); err != nil {
		t.Fatal(err)
	}
	if edits[0].Path.String() != "/aaa/user[name='a']/password-hash" || bcrypt.CompareHashAndPassword([]byte(edits[0].Value), []byte(pw)) != nil {
		t.Errorf("edit 0: %s = %q", edits[0].Path, edits[0].Value)
	}
	if orig[2].Name != "password" {
		t.Error("the decoded path was changed in place")
	}
	if edits[1].Path[2].Name != "role" || edits[1].Value != "admin" {
		t.Errorf("edit 1 changed: %+v", edits[1])
	}
	if edits[2].Path[2].Name != "password-hash" || edits[2].Value != "" {
		t.Errorf("edit 2: %+v", edits[2])
	}
	for _, bad := range []string{"x7!q", strings.Repeat("é", 37)} {
		err := hashPasswords([]xmlcodec.Edit{{Path: userPath("a", "password"), Value: bad}})
		if err == nil || strings.Contains(err.Error(), bad) {
			t.Errorf("password %q: %v", bad, err)
		}
	}
}

// TestLockoutCheck: an admin with a hash or a key is needed.
func TestLockoutCheck(t *testing.T) {
	for _, c := range []struct {
		users []User
		ok    bool
	}{
		{[]User{{Name: "a", Role: RoleAdmin, Password: "$2a$..."}}, true},
		{[]User{{Name: "a", Role: RoleAdmin, Keys: []string{"ssh-ed25519 AAAA"}}}, true},
		{[]User{{Name: "a", Role: RoleAdmin}}, false},
		{[]User{{Name: "r", Role: RoleReadOnly, Password: "$2a$..."}}, false},
		{nil, false},
	} {
		if err := lockoutCheck(c.users); (err == nil) != c.ok {
			t.Errorf("%+v: %v, want ok %v", c.users, err, c.ok)
		}
	}
}
