package netconf

import (
	"errors"
	"fmt"
	"sort"
	"sync"
	"unicode/utf8"

	"golang.org/x/crypto/bcrypt"

	"secgw/generated"
	"secgw/internal/datastore"
	"secgw/internal/nacm"
	"secgw/internal/xmlcodec"
)

// modelUsers returns the accounts of /aaa in d, or nil when it has none
// (the users file is then in use).
func modelUsers(d *generated.Device) []User {
	aaa := d.GetAaa()
	if aaa == nil || len(aaa.User) == 0 {
		return nil
	}
	names := make([]string, 0, len(aaa.User))
	for n := range aaa.User {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]User, 0, len(names))
	for _, n := range names {
		u := aaa.User[n]
		role := RoleReadOnly
		if u.Role == generated.SecgwAaa_Aaa_User_Role_admin {
			role = RoleAdmin
		}
		out = append(out, User{Name: n, Role: role, Password: u.GetPasswordHash(), Keys: u.AuthorizedKey})
	}
	return out
}

// lockoutCheck refuses accounts that leave no admin able to log in: at
// least one admin must have a password hash or a key. The operator who
// commits them would otherwise lock everyone out of the gateway, with
// no way back but the data directory.
func lockoutCheck(users []User) error {
	for _, u := range users {
		if u.Role == RoleAdmin && (u.Password != "" || len(u.Keys) > 0) {
			return nil
		}
	}
	return errors.New("aaa: the commit would leave no admin able to log in (an admin user with a password or an authorized-key is needed); refused")
}

// accounts is the datastore subscriber that applies /aaa: the accounts
// of the configuration replace the users file's while it has any.
type accounts struct {
	srv *Server

	mu       sync.Mutex
	next     *userSet            // prepared for the commit in progress
	prev     map[uint64]*userSet // before Apply, for Abort; nil entry: none
	nextNACM *nacm.Policy        // prepared /nacm
	prevNACM map[uint64]*nacm.Policy
}

// Name implements datastore.Subscriber.
func (a *accounts) Name() string { return "aaa" }

// Prepare implements datastore.Subscriber: the keys must parse, and an
// admin must be able to log in. Removing every account of /aaa once it
// had some is the same lockout: the users file, maybe stale, would
// silently come back.
func (a *accounts) Prepare(tx *datastore.Tx) error {
	users := modelUsers(tx.New)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.next = nil
	pol, err := policyOf(tx.New, a.srv.validator())
	if err != nil {
		return err
	}
	a.nextNACM = nil
	if tx.New.GetNacm() != nil {
		a.nextNACM = pol
		check := users
		if check == nil {
			check = a.srv.cfg.Users.fileUsers()
		}
		if err := nacmLockout(pol, check); err != nil {
			return err
		}
	}
	if users == nil {
		if modelUsers(tx.Old) != nil {
			return errors.New("aaa: the commit removes every account of /aaa (the users file would be in use again); keep at least one admin")
		}
		return nil
	}
	if err := lockoutCheck(users); err != nil {
		return err
	}
	set, err := newUserSet(users, "aaa")
	if err != nil {
		return err
	}
	a.next = set
	return nil
}

// Apply implements datastore.Subscriber. Logins use the new set at once;
// sessions of users removed or whose role changed end, each after the
// reply to the RPC it is running (the committing session may be one of
// them: its reply goes out first).
func (a *accounts) Apply(tx *datastore.Tx) error {
	a.mu.Lock()
	if a.prev == nil {
		a.prev = map[uint64]*userSet{}
	}
	clear(a.prev)
	a.prev[tx.ID] = a.srv.cfg.Users.model.Load()
	a.srv.cfg.Users.model.Store(a.next)
	if a.prevNACM == nil {
		a.prevNACM = map[uint64]*nacm.Policy{}
	}
	clear(a.prevNACM)
	a.prevNACM[tx.ID] = a.srv.nacm.Load()
	a.srv.nacm.Store(a.nextNACM)
	a.mu.Unlock()
	// Not here: ending a session runs its hooks, which release its
	// datastore locks, and the commit holds the store.
	go a.srv.endStaleSessions()
	return nil
}

// Abort implements datastore.Subscriber.
func (a *accounts) Abort(tx *datastore.Tx) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if prev, ok := a.prev[tx.ID]; ok {
		a.srv.cfg.Users.model.Store(prev)
		delete(a.prev, tx.ID)
	}
	if prev, ok := a.prevNACM[tx.ID]; ok {
		a.srv.nacm.Store(prev)
		delete(a.prevNACM, tx.ID)
	}
	a.next = nil
	a.nextNACM = nil
}

// startAccounts takes the accounts of running and subscribes to the
// commits that change them.
func (srv *Server) startAccounts() error {
	if srv.cfg.Store == nil || srv.cfg.Users == nil {
		return nil
	}
	running := srv.cfg.Store.Snapshot(datastore.Running)
	pol, err := policyOf(running, srv.validator())
	if err != nil {
		return err
	}
	if running.GetNacm() != nil {
		srv.nacm.Store(pol)
	}
	if users := modelUsers(running); users != nil {
		set, err := newUserSet(users, "aaa")
		if err != nil {
			return err
		}
		srv.cfg.Users.model.Store(set)
	}
	srv.cfg.Store.Subscribe(&accounts{srv: srv})
	return nil
}

// hashPasswords rewrites the edits of /aaa/user/password into edits of
// password-hash with the password's bcrypt hash: the password itself
// reaches no datastore, journal or history, and is never read back. A
// delete or remove of password deletes or removes the hash.
func hashPasswords(edits []xmlcodec.Edit) error {
	for i := range edits {
		e := &edits[i]
		if len(e.Path) != 3 || e.Path[0].Name != "aaa" || e.Path[1].Name != "user" || e.Path[2].Name != "password" {
			continue
		}
		path := append(e.Path[:2:2], e.Path[2])
		path[2].Name = "password-hash"
		e.Path = path
		if e.Op == xmlcodec.OpDelete || e.Op == xmlcodec.OpRemove {
			continue
		}
		switch {
		case utf8.RuneCountInString(e.Value) < 8:
			return opError("application", "invalid-value", fmt.Sprintf("aaa: the password of user %s is shorter than 8 characters", e.Path[1].Key), map[string]string{"bad-element": "password"})
		case len(e.Value) > 72:
			return opError("application", "invalid-value", fmt.Sprintf("aaa: the password of user %s is longer than 72 bytes", e.Path[1].Key), map[string]string{"bad-element": "password"})
		}
		h, err := bcrypt.GenerateFromPassword([]byte(e.Value), bcrypt.DefaultCost)
		if err != nil {
			return opError("application", "operation-failed", "aaa: hashing the password failed", nil)
		}
		e.Value = string(h)
	}
	return nil
}
