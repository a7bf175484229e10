package cli

import (
	"bytes"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"secgw/internal/netconf"
	"secgw/internal/rpcerr"
)

// haNotifyInput is the input of secgw-ha's ha-notify RPC as the server
// decodes it.
type haNotifyInput struct {
	VRF   string `yang:"vrf"`
	Group string `yang:"group"`
	State string `yang:"state"`
}

// TestHANotifyCommand runs 'secgw ha-notify' as keepalived's notify
// runs it, against secgw's NETCONF server: both argument forms reach the
// ha-notify RPC with the vrf, group and state of the model, and the
// exit status says whether secgwd took the notification.
func TestHANotifyCommand(t *testing.T) {
	var got []haNotifyInput
	refuse := false
	sv := startServer(t, map[string]netconf.RPCHandler{
		"ha-notify": netconf.RPC(func(_ context.Context, in haNotifyInput) (struct{}, error) {
			got = append(got, in)
			if refuse {
				return struct{}{}, &rpcerr.Error{Type: rpcerr.TypeApplication, Tag: rpcerr.TagInvalidValue,
					Message: "ha: no VRRP group " + in.Group}
			}
			return struct{}{}, nil
		}),
	})
	host, port, _ := net.SplitHostPort(sv.addr)
	p, _ := strconv.Atoi(port)
	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		app := &App{Dial: DialConfig{Host: host, Port: p, User: "admin", Password: "test-admin-pw"}, Out: &out, Err: &errOut}
		code := app.Run(append([]string{"ha-notify"}, args...))
		return code, out.String(), errOut.String()
	}
	for _, c := range []struct {
		args []string
		want haNotifyInput
	}{
		// keepalived's notify of a vrrp_sync_group: TYPE NAME STATE, and
		// the priority keepalived 2.x appends.
		{[]string{"GROUP", "group1", "MASTER"}, haNotifyInput{"main", "group1", "master"}},
		{[]string{"GROUP", "group1", "BACKUP", "100"}, haNotifyInput{"main", "group1", "backup"}},
		{[]string{"GROUP", "group1", "FAULT"}, haNotifyInput{"main", "group1", "fault"}},
		{[]string{"--vrf", "main", "GROUP", "group1", "STOP"}, haNotifyInput{"main", "group1", "stop"}},
		// The flag form, in either case.
		{[]string{"--group", "group1", "--state", "master"}, haNotifyInput{"main", "group1", "master"}},
		{[]string{"-vrf", "main", "-group", "g.2", "-state", "BACKUP"}, haNotifyInput{"main", "g.2", "backup"}},
	} {
		got = nil
		code, out, errOut := run(c.args...)
		if code != 0 || out != "" || errOut != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q", c.args, code, out, errOut)
			continue
		}
		if len(got) != 1 || got[0] != c.want {
			t.Errorf("%v: the RPC got %+v, want %+v", c.args, got, c.want)
		}
	}
	// secgwd refusing the notification: exit 1 with its message, which
	// keepalived logs as the script's failure.
	refuse = true
	code, _, errOut := run("GROUP", "nogroup", "MASTER")
	if code != 1 || !strings.Contains(errOut, "ha: no VRRP group nogroup") {
		t.Errorf("refused: exit %d, stderr %q", code, errOut)
	}
}

// TestHANotifyUsage: arguments that are not a notification are refused
// before anything is dialled (exit 2, the synopsis printed), so a wrong
// notify line in keepalived.conf is seen at its first transition.
func TestHANotifyUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{nil, "--group is missing"},
		{[]string{"--group", "g"}, "--state is missing"},
		{[]string{"--group", "g", "--state", "active"}, `unknown state "active"`},
		{[]string{"INSTANCE", "vrrp0", "MASTER"}, "put the notify on the vrrp_sync_group"},
		{[]string{"GROUP", "g"}, "TYPE NAME STATE [PRIORITY], got 2 words"},
		{[]string{"--group", "g", "GROUP", "g", "MASTER"}, "not both"},
		{[]string{"--bogus"}, "flag provided but not defined: -bogus"},
	} {
		var out, errOut bytes.Buffer
		// Port 1 on loopback: nothing answers there, so a dial would
		// fail with status 2 too, but with another message.
		app := &App{Dial: DialConfig{Host: "127.0.0.1", Port: 1, User: "admin", Password: "x"}, Out: &out, Err: &errOut}
		code := app.Run(append([]string{"ha-notify"}, c.args...))
		if code != 2 || !strings.Contains(errOut.String(), c.want) || !strings.Contains(errOut.String(), "usage: secgw") {
			t.Errorf("%v: exit %d, stderr %q; want %q", c.args, code, errOut.String(), c.want)
		}
	}
	line, err := HANotifyLine([]string{"GROUP", "group 1", "MASTER"}, &bytes.Buffer{})
	if err != nil || line != `cmd ha ha-notify vrf main group "group 1" state master` {
		t.Errorf("line %q, %v", line, err)
	}
}

// TestHANotifyRetry: secgwd starts listening only after keepalived ran
// the notify (it saw secgwd's process or TUN first): with --retry the
// notification still arrives.
func TestHANotifyRetry(t *testing.T) {
	var got []haNotifyInput
	var mu sync.Mutex
	sv := startServer(t, map[string]netconf.RPCHandler{
		"ha-notify": netconf.RPC(func(_ context.Context, in haNotifyInput) (struct{}, error) {
			mu.Lock()
			got = append(got, in)
			mu.Unlock()
			return struct{}{}, nil
		}),
	})
	// A port where nothing listens yet; a forwarder to the server opens
	// there 600 ms after the notify started.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	go func() {
		time.Sleep(600 * time.Millisecond)
		fwd, err := net.Listen("tcp", addr)
		if err != nil {
			t.Error(err)
			return
		}
		t.Cleanup(func() { fwd.Close() })
		for {
			c, err := fwd.Accept()
			if err != nil {
				return
			}
			go func() {
				s, err := net.Dial("tcp", sv.addr)
				if err != nil {
					c.Close()
					return
				}
				go func() { io.Copy(s, c); s.Close() }()
				io.Copy(c, s)
				c.Close()
			}()
		}
	}()
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	var out, errOut bytes.Buffer
	app := &App{Dial: DialConfig{Host: host, Port: p, User: "admin", Password: "test-admin-pw"}, Out: &out, Err: &errOut}
	start := time.Now()
	code := app.Run([]string{"ha-notify", "--retry", "5s", "--state-dir", t.TempDir(), "GROUP", "group1", "BACKUP", "100"})
	mu.Lock()
	defer mu.Unlock()
	if code != 0 || len(got) != 1 || got[0] != (haNotifyInput{"main", "group1", "backup"}) {
		t.Fatalf("exit %d after %v, stderr %q, the RPC got %+v", code, time.Since(start), errOut.String(), got)
	}
	// Without --retry, the same gives up at once (status 2).
	app = &App{Dial: DialConfig{Host: "127.0.0.1", Port: 1, User: "admin", Password: "x"}, Out: &out, Err: &errOut}
	if code := app.Run([]string{"ha-notify", "GROUP", "group1", "BACKUP"}); code != 2 {
		t.Errorf("no --retry, nothing listening: exit %d", code)
	}
}

// TestHANotifySuperseded: two notifications of one group retry while
// secgwd is away (keepalived runs each notify in its own process); the
// earlier one gives up once the later one is recorded, so that secgwd
// ends with the group's last state.
func TestHANotifySuperseded(t *testing.T) {
	dir := t.TempDir()
	var errOut bytes.Buffer
	app := &App{Dial: DialConfig{Host: "127.0.0.1", Port: 1, User: "admin", Password: "x"}, Out: io.Discard, Err: &errOut}
	done := make(chan int, 1)
	go func() {
		done <- app.Run([]string{"ha-notify", "--retry", "10s", "--state-dir", dir, "GROUP", "g1", "BACKUP"})
	}()
	time.Sleep(300 * time.Millisecond)
	later, err := ParseHANotify([]string{"--state-dir", dir, "GROUP", "g1", "MASTER"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := later.Record(); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 || !strings.Contains(errOut.String(), "superseded by a later notification") {
			t.Errorf("exit %d, stderr %q", code, errOut.String())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the superseded notification kept retrying")
	}
	// Another group's notification supersedes nothing.
	other, _ := ParseHANotify([]string{"--state-dir", dir, "GROUP", "g2", "MASTER"}, io.Discard)
	other.Record()
	if later.Superseded() {
		t.Error("g1's notification superseded by g2's")
	}
}
