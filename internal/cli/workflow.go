package cli

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The safe change workflow of configuration mode, over NETCONF only.
//
// Locking. The candidate datastore is shared by every session (RFC 6241
// §8.3), so a commit makes running whatever it holds, whoever typed it.
// 'edit running' therefore takes the lock of the candidate, then of
// running (<lock>, §7.5), and configuration mode is refused while
// another session holds either: with the candidate locked nobody else
// can edit it (in-use) or load a rollback into it, and with running
// locked nobody else can commit it, half-made edits included. Leaving
// configuration mode ('exit', end of input, Ctrl-D) releases both; a
// session that ends without (a killed secgw, a lost connection) has its
// locks released by secgwd, and with the candidate's lock its
// uncommitted changes are discarded (§8.3.5.2).
//
// Commits. 'commit' may carry 'confirmed [SECONDS]' (§8.4: running
// reverts after SECONDS, default 600, unless a later 'commit' confirms
// it; ending the session first reverts it too), 'comment TEXT' (kept in
// config-history) and 'check' (validate only, like 'validate').

// NSConfig is the namespace of secgw-config: config-history, rollback,
// and the commit comment.
const NSConfig = "urn:secgw:yang:secgw-config"

// lockOrder is the order in which configuration mode locks datastores;
// they are released in the reverse order.
var lockOrder = []string{"candidate", "running"}

// enterConfig enters configuration mode: lock the candidate and running.
func (c *CLI) enterConfig() error {
	for _, ds := range lockOrder {
		if err := c.be.Lock(ds); err != nil {
			c.releaseLocks()
			return lockError(ds, err)
		}
		c.locked = append(c.locked, ds)
	}
	c.config, c.ctx, c.dirty = true, nil, false
	return c.refresh()
}

// releaseLocks releases the locks configuration mode holds, newest
// first. Releasing the candidate's discards what it still holds.
func (c *CLI) releaseLocks() error {
	var first error
	for i := len(c.locked) - 1; i >= 0; i-- {
		if err := c.be.Unlock(c.locked[i]); err != nil && first == nil {
			first = err
		}
	}
	c.locked = nil
	return first
}

// leaveConfig leaves configuration mode, releasing its locks.
func (c *CLI) leaveConfig() error {
	c.config, c.ctx, c.invalid, c.dirty = false, nil, false, false
	return c.releaseLocks()
}

// lockError explains a refused lock of datastore ds: who holds it, by
// session-id (the error-info of lock-denied, RFC 6241 §7.5) and by user
// when secgwd's message names one ("... (user alice)").
func lockError(ds string, err error) error {
	var rerr RPCErrors
	if !errors.As(err, &rerr) || !(rerr.Has("lock-denied") || rerr.Has("in-use")) {
		return err
	}
	e := rerr[0]
	msg := strings.TrimPrefix(e.Error(), "cli: ")
	sid := e.Info["session-id"]
	if sid == "" || sid == "0" {
		// Not a lock: the candidate holds changes of a session that did
		// not lock it (a NETCONF client), which a lock would discard.
		return fmt.Errorf("cli: configuration mode is not available: %s (see them with 'show config diff'; "+
			"'discard' drops them)", msg)
	}
	who := "NETCONF session " + sid
	if m := userRE.FindStringSubmatch(msg); m != nil {
		who += " (user " + m[1] + ")"
	}
	if !rerr.Has("lock-denied") {
		return fmt.Errorf("cli: configuration mode is taken: %s holds the lock of the %s datastore: "+
			"its changes are not yours to drop", who, ds)
	}
	return fmt.Errorf("cli: configuration mode is taken: %s holds the lock of the %s datastore: "+
		"its changes are not yours to commit; try again when it leaves configuration mode", who, ds)
}

// userRE finds the user secgwd names in a lock-denied message.
var userRE = regexp.MustCompile(`\(user ([^()]*)\)`)

// commitCommand runs 'commit [check] [confirmed [SECONDS]] [comment TEXT]'.
func (c *CLI) commitCommand(words []string) error {
	var opt CommitOptions
	check := false
	for i := 0; i < len(words); i++ {
		switch words[i] {
		case "check":
			check = true
		case "confirmed":
			opt.Confirmed = true
			if i+1 < len(words) {
				if n, err := strconv.ParseUint(words[i+1], 10, 32); err == nil {
					if n == 0 {
						return fmt.Errorf("cli: commit confirmed: the timeout is a number of seconds from 1")
					}
					opt.Timeout = time.Duration(n) * time.Second
					i++
				}
			}
		case "comment":
			if i+1 >= len(words) {
				return fmt.Errorf("cli: commit comment needs a text, as in: commit comment \"why\"")
			}
			opt.Comment = words[i+1]
			i++
		default:
			return fmt.Errorf("cli: unexpected word %q after commit: expected check, confirmed [SECONDS] or comment TEXT", words[i])
		}
	}
	if check {
		if opt.Confirmed || opt.Comment != "" {
			return fmt.Errorf("cli: commit check only validates: it takes neither confirmed nor comment")
		}
		return c.validateCommand()
	}
	confirming := c.confirmPending()
	if err := c.be.Commit(opt); err != nil {
		c.refreshQuiet()
		return err
	}
	c.dirty = false
	switch {
	case opt.Confirmed:
		timeout := opt.Timeout
		if timeout == 0 {
			timeout = defaultConfirmTimeout
		}
		c.confirmUntil = time.Now().Add(timeout)
		if _, err := fmt.Fprintf(c.out, "Committed. secgwd rolls it back in %s unless confirmed by 'commit' "+
			"(or when this session ends first).\n", timeout); err != nil {
			return err
		}
	case confirming:
		c.confirmUntil = time.Time{}
		if _, err := io.WriteString(c.out, "The confirmed commit is confirmed.\n"); err != nil {
			return err
		}
	}
	return c.refresh()
}

// defaultConfirmTimeout is the confirm-timeout of RFC 6241 §8.4.5.1.
const defaultConfirmTimeout = 600 * time.Second

// validateCommand runs 'validate' and 'commit check'.
func (c *CLI) validateCommand() error {
	err := c.be.Validate()
	c.invalid = err != nil
	if err == nil {
		_, err = io.WriteString(c.out, "The candidate configuration is valid.\n")
	}
	return err
}

// confirmPending reports whether a confirmed commit of this session may
// still wait for its confirmation.
func (c *CLI) confirmPending() bool { return !c.confirmUntil.IsZero() }

// checkConfirm tells the operator, once, that secgwd rolled back this
// session's confirmed commit, when its time is over and config-history
// shows the rollback; the rollback also dropped the candidate's
// uncommitted changes.
func (c *CLI) checkConfirm() {
	if !c.confirmPending() || time.Now().Before(c.confirmUntil) {
		return
	}
	hist, err := c.history()
	if err != nil || len(hist) == 0 {
		return
	}
	last := hist[len(hist)-1]
	if !strings.HasPrefix(last.Comment, "rollback of a confirmed commit") {
		return // not yet: secgwd's timer is a little behind ours
	}
	c.confirmUntil = time.Time{}
	c.dirty = false
	fmt.Fprintf(c.out, "The confirmed commit was not confirmed in time: secgwd rolled it back (commit %d, %s).\n", last.ID, last.Comment)
	c.refreshQuiet()
}
