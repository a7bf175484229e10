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
// "$2a$...", "keys": ["ssh-ed25519 AAAA..."]}]}.
type Users struct {
	byName map[string]*User
	keys   map[string][]ssh.PublicKey
	// dummy is the bcrypt hash an unknown user's password is checked
	// against, computed on first use.
	dummy func() []byte
}

// LoadUsers reads the users file. When it does not exist, it is created
// with one admin account and a random password, which is returned (and
// never stored in clear) so that the daemon can print it once.
func LoadUsers(file string) (*Users, string, error) {
	b, err := os.ReadFile(file)
	created := ""
	if errors.Is(err, os.ErrNotExist) {
		pw := make([]byte, 15)
		if _, err := rand.Read(pw); err != nil {
			return nil, "", fmt.Errorf("netconf: %w", err)
		}
		created = base64.RawURLEncoding.EncodeToString(pw)
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
	u := &Users{byName: map[string]*User{}, keys: map[string][]ssh.PublicKey{}, dummy: sync.OnceValue(dummyHash)}
	for i := range f.Users {
		usr := &f.Users[i]
		if usr.Role != RoleAdmin && usr.Role != RoleReadOnly {
			return nil, fmt.Errorf("netconf: users file: user %q: role %q is neither %s nor %s", usr.Name, usr.Role, RoleAdmin, RoleReadOnly)
		}
		for _, k := range usr.Keys {
			pk, _, _, _, err := ssh.ParseAuthorizedKey([]byte(k))
			if err != nil {
				return nil, fmt.Errorf("netconf: users file: user %q: %w", usr.Name, err)
			}
			u.keys[usr.Name] = append(u.keys[usr.Name], pk)
		}
		u.byName[usr.Name] = usr
	}
	return u, nil
}

// PasswordAuth checks a password; it returns the user and role.
func (u *Users) PasswordAuth(user string, password []byte) (string, string, error) {
	usr := u.byName[user]
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
	for _, k := range u.keys[user] {
		if bytes.Equal(k.Marshal(), key.Marshal()) {
			return user, u.byName[user].Role, nil
		}
	}
	return "", "", errors.New("netconf: authentication failed")
}
