package netconf

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"secgw/internal/netconf/transport"
	"secgw/internal/schema"
	"secgw/internal/xmlcodec"
)

// NSAAA is the namespace of secgw-aaa (set-password).
const NSAAA = "urn:secgw:yang:secgw-aaa"

// setPasswordInput is the input of secgw-aaa's set-password.
type setPasswordInput struct {
	User     string `yang:"user"`
	Password string `yang:"password"`
}

// setPassword runs set-password for session s (an admin: HandleRPC lets
// no other role run it). The password never reaches a log or an error:
// the input is decoded here, hashed, and dropped.
func (srv *Server) setPassword(s *transport.Session, rpc *transport.RPC) error {
	if srv.cfg.UsersFile == "" || srv.cfg.Users == nil {
		return unsupported(rpc.Operation)
	}
	entry := srv.cfg.Schema.RPCs["set-password"]
	if entry == nil {
		return unsupported(rpc.Operation)
	}
	var in setPasswordInput
	if err := xmlcodec.DecodeInput(entry, rpc.Body, &in); err != nil {
		return err
	}
	if srv.cfg.Users.FromModel() {
		// The configuration's accounts change by commit, as the rest of
		// it: a password outside it would be lost at the next commit.
		return opError("application", "operation-not-supported",
			"set-password: the accounts are in the configuration (/aaa): set aaa user "+in.User+" password ... and commit", nil)
	}
	// The codec checks types, not mandatory or length: done here, as
	// the module says (RFC 6241 Appendix A missing-element and
	// invalid-value). bcrypt reads at most 72 bytes where YANG's length
	// counts characters.
	switch n := utf8.RuneCountInString(in.Password); {
	case in.User == "":
		return opError("protocol", "missing-element", "set-password: user is missing", map[string]string{"bad-element": "user"})
	case in.Password == "":
		return opError("protocol", "missing-element", "set-password: password is missing", map[string]string{"bad-element": "password"})
	case n < 8:
		return opError("application", "invalid-value", "set-password: the password is shorter than 8 characters", map[string]string{"bad-element": "password"})
	case len(in.Password) > 72:
		return opError("application", "invalid-value", "set-password: the password is longer than 72 bytes", map[string]string{"bad-element": "password"})
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(in.Password), bcrypt.DefaultCost)
	if err != nil {
		return opError("application", "operation-failed", "set-password: hashing failed", nil)
	}
	if err := srv.cfg.Users.SetPasswordHash(srv.cfg.UsersFile, in.User, string(hash)); err != nil {
		return opError("application", "invalid-value", err.Error(), nil)
	}
	srv.log.Info("password set", "user", in.User, "by", s.User(), "session-id", s.ID())
	return nil
}

// SetPasswordHash stores hash as user's password in the users file and
// in u. The file is rewritten whole, through a temporary file, fsync and
// rename, so that a crash leaves the old file or the new one. The file
// is read again first, so that edits made by hand since the last SIGHUP
// are kept, not overwritten by the set u holds.
func (u *Users) SetPasswordHash(file, user, hash string) error {
	u.fileMu.Lock()
	defer u.fileMu.Unlock()
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("netconf: users file: %w", err)
	}
	var f struct {
		Users []User `json:"users"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return fmt.Errorf("netconf: users file: %w", err)
	}
	i := slices.IndexFunc(f.Users, func(x User) bool { return x.Name == user })
	if i < 0 {
		return fmt.Errorf("netconf: no user %q", user)
	}
	f.Users[i].Password = hash
	out, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("netconf: %w", err)
	}
	out = append(out, '\n')
	n, err := ParseUsers(out)
	if err != nil {
		return err
	}
	if err := writeFileAtomic(file, out); err != nil {
		return err
	}
	u.Replace(n)
	return nil
}

// writeFileAtomic replaces file with data (mode 0600).
func writeFileAtomic(file string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(file), ".users-*")
	if err != nil {
		return fmt.Errorf("netconf: users file: %w", err)
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if err != nil {
		return fmt.Errorf("netconf: users file: %w", err)
	}
	if d, err := os.Open(filepath.Dir(file)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// migrateUsers is secgw-aaa's migrate-users: the users file's accounts
// merged into the candidate as /aaa users, through the session's edit
// (its candidate lock rules apply), for the operator to review and
// commit. The hashes move as they are; no password is involved.
func (srv *Server) migrateUsers(s *transport.Session) error {
	if srv.cfg.UsersFile == "" || srv.cfg.Users == nil {
		return opError("application", "operation-not-supported", "migrate-users: no users file", nil)
	}
	set := srv.cfg.Users.set.Load()
	var edits []xmlcodec.Edit
	names := make([]string, 0, len(set.byName))
	for n := range set.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		u := set.byName[n]
		entry := schema.DataPath{{Name: "aaa"}, {Name: "user", KeyName: "name", Key: n}}
		leaf := func(name, v string) {
			edits = append(edits, xmlcodec.Edit{Path: append(entry[:2:2], schema.Elem{Name: name}), Op: xmlcodec.OpMerge, Value: v})
		}
		leaf("role", u.Role)
		if u.Password != "" {
			leaf("password-hash", u.Password)
		}
		for _, k := range u.Keys {
			leaf("authorized-key", k)
		}
	}
	return srv.cfg.Store.Edit(s.ID(), func(root schema.Node) error {
		return xmlcodec.ApplyNode(srv.cfg.Schema, root, edits, xmlcodec.OpMerge)
	})
}
