package security

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
	"golang.org/x/crypto/ssh"

	"secgw/internal/netconf"
	"secgw/test/secgwdtest"
)

// TestPasswordGuessing performs password guessing: 1,002 wrong passwords
// for admin, each on a new SSH connection, from 32 workers on four
// addresses (127.0.0.2-5), against accounts hashed at bcrypt's default
// cost (secgwdtest's minimum cost would make the attack free). secgwd
// must check only the first few of them (the free failures, then one per
// doubling delay), refuse the rest without bcrypt, log it, and keep a
// fresh admin login from 127.0.0.1 within 2 s and an established
// session's <get> within 1 s. Before, every guess ran bcrypt and real
// logins took 2.4 s.
func TestPasswordGuessing(t *testing.T) {
	dir := secgwdtest.NewDataDir(t)
	writeUsersAtDefaultCost(t, dir)
	d := launch(t, dir)
	probe := startProbe(t, d)
	stopLogins := loginProbe(t, d.Addr, secgwdtest.AdminPassword, 500*time.Millisecond)

	const (
		attempts = 1002
		workers  = 32
		sources  = 4
	)
	var next, refused atomic.Int64
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		src := fmt.Sprintf("127.0.0.%d", 2+w%sources)
		wg.Go(func() {
			for {
				n := next.Add(1)
				if n > attempts || time.Since(start) > 40*time.Second {
					return
				}
				nc, err := dialFrom(src, d.Addr)
				if err != nil {
					t.Errorf("dial from %s: %v", src, err)
					return
				}
				cfg := &ssh.ClientConfig{User: secgwdtest.AdminUser, Auth: []ssh.AuthMethod{ssh.Password(fmt.Sprintf("guess-%06d", n))},
					HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 10 * time.Second}
				_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
				c, _, _, err := ssh.NewClientConn(nc, d.Addr, cfg)
				if err == nil {
					c.Close()
					t.Errorf("guess %d logged in", n)
				} else if strings.Contains(err.Error(), "unable to authenticate") {
					refused.Add(1)
				}
				nc.Close()
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	stopLogins()
	probe.stop()

	logs := d.Logs()
	checked := strings.Count(logs, `err="netconf: authentication failed"`)
	throttled := strings.Count(logs, `err="netconf: too many failed authentications`)
	busy := strings.Count(logs, `err="netconf: too many authentications in progress`)
	t.Logf("%d guesses in %v (%.0f/s), %d refused; secgwd ran bcrypt for %d, refused %d unchecked after failures, %d as busy",
		attempts, took.Round(time.Millisecond), float64(attempts)/took.Seconds(), refused.Load(), checked, throttled, busy)
	if refused.Load() != attempts {
		t.Errorf("%d of %d guesses refused", refused.Load(), attempts)
	}
	if checked > 80 {
		t.Errorf("secgwd checked %d of %d guesses with bcrypt, want only the free failures and one per delay", checked, attempts)
	}
	if throttled < attempts-100 {
		t.Errorf("secgwd logged %d guesses refused for the failures before them, want nearly all %d", throttled, attempts)
	}
	if !strings.Contains(logs, `msg="netconf authentication failures: source delayed"`) {
		t.Error("secgwd did not log the delayed sources")
	}
	if strings.Contains(logs, "guess-") {
		t.Error("a guessed password is in secgwd's log")
	}
}

// writeUsersAtDefaultCost replaces secgwdtest's users file with one whose
// hashes cost what real ones do.
func writeUsersAtDefaultCost(t *testing.T, dir string) {
	t.Helper()
	hash := func(pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.DefaultCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	b, err := json.Marshal(struct {
		Users []netconf.User `json:"users"`
	}{[]netconf.User{
		{Name: secgwdtest.AdminUser, Role: netconf.RoleAdmin, Password: hash(secgwdtest.AdminPassword)},
		{Name: secgwdtest.ReaderUser, Role: netconf.RoleReadOnly, Password: hash(secgwdtest.ReaderPassword)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}
