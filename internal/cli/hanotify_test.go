package cli

import (
	"bytes"
	"context"
	"net"
	"strconv"
	"strings"
	"testing"

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
