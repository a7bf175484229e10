package netconf

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/ssh"
)

// Roles. An admin may do everything; a reader may get and get-config, and
// never sees secrets.
const (
	RoleAdmin    = "admin"
	RoleReadOnly = "read-only"
)

// User is one account of the users file.
type User struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// Password is a bcrypt hash; empty disables password login.
	Password string `json:"password,omitempty"`
	// Keys are public keys in authorized_keys format.
	Keys []string `json:"keys,omitempty"`
}

// Users is the set of accounts, read from a JSON file of the data
// directory: {"users": [{"name": "admin", "role": "admin", "password":
// "$2a$...", "keys": ["ssh-ed25519 AAAA..."]}]}. Replace swaps the whole
// set at once (SIGHUP re-reads the file): a login checks against one set,
// never a mix of the old and the new.
type Users struct {
	// set is the users file's accounts; model, when not nil, the
	// configuration's (/aaa), which then are the accounts in use.
	set   atomic.Pointer[userSet]
	model atomic.Pointer[userSet]
	// fileMu serialises the rewrites of the users file (set-password).
	fileMu sync.Mutex
	// dummy is the bcrypt hash an unknown user's password is checked
	// against, computed on first use.
	dummy func() []byte
}

// userSet is one version of the accounts; never changed once built.
type userSet struct {
	byName map[string]*User
	keys   map[string][]ssh.PublicKey
}

// LoadUsers reads the users file. When it does not exist, it is created
// with one admin account whose password is initial, or a random one when
// initial is empty; the password is returned (and never stored in clear)
// so that the daemon can show it once.
func LoadUsers(file, initial string) (*Users, string, error) {
	b, err := os.ReadFile(file)
	created := ""
	if errors.Is(err, os.ErrNotExist) {
		created = initial
		if created == "" {
			pw := make([]byte, 15)
			if _, err := rand.Read(pw); err != nil {
				return nil, "", fmt.Errorf("netconf: %w", err)
			}
			created = base64.RawURLEncoding.EncodeToString(pw)
		}
		hash, err := bcrypt.GenerateFromPassword([]byte(created), bcrypt.DefaultCost)
		if err != nil {
			return nil, "", fmt.Errorf("netconf: %w", err)
		}
		b, _ = json.MarshalIndent(struct {
			Users []User `json:"users"`
		}{[]User{{Name: "admin", Role: RoleAdmin, Password: string(hash)}}}, "", "  ")
		if err := os.WriteFile(file, append(b, '\n'), 0o600); err != nil {
			return nil, "", fmt.Errorf("netconf: %w", err)
		}
	} else if err != nil {
		return nil, "", fmt.Errorf("netconf: %w", err)
	}
	u, err := ParseUsers(b)
	return u, created, err
}

// LoadUsersIfPresent reads the users file, or gives no accounts when
// there is none: the configuration's (/aaa) are in use.
func LoadUsersIfPresent(file string) (*Users, error) {
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		b = []byte(`{"users": []}`)
	} else if err != nil {
		return nil, fmt.Errorf("netconf: %w", err)
	}
	return ParseUsers(b)
}

// ParseUsers parses the content of a users file.
func ParseUsers(b []byte) (*Users, error) {
	var f struct {
		Users []User `json:"users"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("netconf: users file: %w", err)
	}
	u, err := newUserSet(f.Users, "users file")
	if err != nil {
		return nil, err
	}
	users := &Users{dummy: sync.OnceValue(dummyHash)}
	users.set.Store(u)
	return users, nil
}

// newUserSet checks and indexes accounts; where names the source in
// errors.
func newUserSet(users []User, where string) (*userSet, error) {
	u := &userSet{byName: map[string]*User{}, keys: map[string][]ssh.PublicKey{}}
	for i := range users {
		usr := &users[i]
		if usr.Role != RoleAdmin && usr.Role != RoleReadOnly {
			return nil, fmt.Errorf("netconf: %s: user %q: role %q is neither %s nor %s", where, usr.Name, usr.Role, RoleAdmin, RoleReadOnly)
		}
		for _, k := range usr.Keys {
			pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k))
			if err != nil {
				return nil, fmt.Errorf("netconf: %s: user %q: authorized key: %w", where, usr.Name, err)
			}
			u.keys[usr.Name] = append(u.keys[usr.Name], pk)
		}
		if _, dup := u.byName[usr.Name]; dup {
			return nil, fmt.Errorf("netconf: %s: user %q appears twice", where, usr.Name)
		}
		u.byName[usr.Name] = usr
	}
	return u, nil
}

// ReloadUsers re-reads the users file into u (SIGHUP). A file that does
// not parse leaves u as it was; unlike LoadUsers, a missing file is an
// error, not a first start.
func (u *Users) ReloadUsers(file string) error {
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("netconf: %w", err)
	}
	n, err := ParseUsers(b)
	if err != nil {
		return err
	}
	u.Replace(n)
	return nil
}

// Replace makes n's accounts u's. Logins from then on use them; sessions
// already open are the caller's to end (see Server.EndSessionsOf).
func (u *Users) Replace(n *Users) { u.set.Store(n.set.Load()) }

// current is the set logins check: the configuration's when it has
// accounts, else the users file's.
func (u *Users) current() *userSet {
	if m := u.model.Load(); m != nil {
		return m
	}
	return u.set.Load()
}

// FromModel reports whether the accounts in use are the configuration's.
func (u *Users) FromModel() bool { return u.model.Load() != nil }

// Role returns the role of user name, and false when there is no such
// user.
func (u *Users) Role(name string) (string, bool) {
	usr := u.current().byName[name]
	if usr == nil {
		return "", false
	}
	return usr.Role, true
}

// PasswordAuth checks a password; it returns the user and role.
func (u *Users) PasswordAuth(user string, password []byte) (string, string, error) {
	usr := u.current().byName[user]
	if usr == nil || usr.Password == "" {
		// Spend the time of a check anyway, so that timing does not tell
		// which user names exist.
		_ = bcrypt.CompareHashAndPassword(u.dummy(), password)
		return "", "", errors.New("netconf: authentication failed")
	}
	if bcrypt.CompareHashAndPassword([]byte(usr.Password), password) != nil {
		return "", "", errors.New("netconf: authentication failed")
	}
	return usr.Name, usr.Role, nil
}

// dummyHash is a bcrypt hash of a password nobody has, at the cost real
// ones use.
func dummyHash() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("no such user"), bcrypt.DefaultCost)
	return h
}

// PublicKeyAuth checks a public key; it returns the user and role.
func (u *Users) PublicKeyAuth(user string, key ssh.PublicKey) (string, string, error) {
	set := u.current()
	for _, k := range set.keys[user] {
		if bytes.Equal(k.Marshal(), key.Marshal()) {
			return user, set.byName[user].Role, nil
		}
	}
	return "", "", errors.New("netconf: authentication failed")
}
