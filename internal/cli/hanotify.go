package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// 'secgw ha-notify' is the command keepalived's notify script runs at
// each transition of a VRRP sync group (VRRP is
// keepalived's, secgwd only hears its verdict). It calls secgw-ha's
// ha-notify RPC over NETCONF like every other command, so that it is the
// same operation an operator or Ansible can run with netconf_rpc:
//
//	secgw ha-notify [--vrf main] --group G --state master|backup|fault|stop
//	secgw ha-notify [--vrf main] GROUP G MASTER [PRIORITY]
//
// The second form is the arguments keepalived appends to a notify
// command (keepalived.conf(5), "notify": TYPE NAME STATE PRIORITY), so a
// vrrp_sync_group's notify can be the command itself, with no script in
// between. Only TYPE GROUP is accepted: secgwd binds a VRRP group (vrf
// main vrrp group G), not a single instance, to its HA group, and an
// instance's notify would report one instance of the group, which may
// not be the group's state.
//
// A notification must not be lost while secgwd starts: keepalived sees
// secgwd's process (or its TUN device) before secgwd serves NETCONF, and
// tells the group's state once. With --retry D, ha-notify keeps dialling
// for up to D while secgwd cannot be reached. keepalived runs each notify
// in its own process, so two transitions may both be retrying: with
// --state-dir, each invocation records itself as the group's latest
// notification (a file per vrf and group), and one that finds a later
// invocation recorded there gives up (exit 0, "superseded"): the last
// state keepalived reported is the one secgwd gets last.

// HANotifyUsage is the synopsis ha-notify prints on a usage error.
const HANotifyUsage = `usage: secgw [connection flags] ha-notify [--vrf VRF] [--retry DURATION --state-dir DIR] --group GROUP --state master|backup|fault|stop
       secgw [connection flags] ha-notify [--vrf VRF] [--retry DURATION --state-dir DIR] GROUP GROUP-NAME MASTER|BACKUP|FAULT|STOP [PRIORITY]
  (the second form is what keepalived appends to a vrrp_sync_group's notify command)`

// haStates maps the states keepalived reports (upper case) and the RPC's
// enumeration (lower case) to the RPC's enumeration. keepalived reports
// DELETED for an instance removed by a reload: the group no longer runs
// VRRP here, as with stop.
var haStates = map[string]string{
	"master": "master", "backup": "backup", "fault": "fault", "stop": "stop", "deleted": "stop",
}

// HANotify is one parsed 'secgw ha-notify'.
type HANotify struct {
	// Line is the operational command line that calls the RPC: "cmd ha
	// ha-notify vrf VRF group G state S".
	Line string
	// Retry bounds the dialling while secgwd cannot be reached (0: one
	// try).
	Retry time.Duration
	// StateDir, when set, holds the latest notification of each group
	// (Record, Superseded).
	StateDir string

	vrf, group, state string
	mark              string // what Record wrote
}

// ParseHANotify parses the arguments of 'secgw ha-notify' (the words
// after ha-notify). Usage errors say what is wrong; help output (-h)
// goes to errOut.
func ParseHANotify(args []string, errOut io.Writer) (*HANotify, error) {
	fs := flag.NewFlagSet("ha-notify", flag.ContinueOnError)
	// The caller prints the error and the synopsis; -h prints both and
	// the flags.
	fs.SetOutput(io.Discard)
	vrf := fs.String("vrf", "main", "the vrf of the VRRP group")
	group := fs.String("group", "", "the VRRP group (vrf main vrrp group NAME)")
	state := fs.String("state", "", "the group's new state: master, backup, fault or stop")
	retry := fs.Duration("retry", 0, "keep dialling secgwd for this long while it cannot be reached (e.g. 10s)")
	stateDir := fs.String("state-dir", "", "directory recording each group's latest notification, so that a retrying notification superseded by a later one gives up")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(errOut, HANotifyUsage)
			fs.SetOutput(errOut)
			fs.PrintDefaults()
			return nil, err
		}
		return nil, fmt.Errorf("cli: ha-notify: %w", err)
	}
	pos := fs.Args()
	switch {
	case len(pos) == 0:
		// The flag form.
	case *group != "" || *state != "":
		return nil, fmt.Errorf("cli: ha-notify: give --group and --state, or keepalived's TYPE NAME STATE, not both")
	case len(pos) < 3 || len(pos) > 4:
		return nil, fmt.Errorf("cli: ha-notify: expected keepalived's notify arguments TYPE NAME STATE [PRIORITY], got %d words", len(pos))
	case pos[0] != "GROUP":
		return nil, fmt.Errorf("cli: ha-notify: keepalived reported %s %q: put the notify on the vrrp_sync_group (TYPE GROUP), which secgwd binds with vrf %s vrrp group NAME", pos[0], pos[1], *vrf)
	default:
		*group, *state = pos[1], pos[2]
	}
	if *group == "" {
		return nil, errors.New("cli: ha-notify: --group is missing")
	}
	if *state == "" {
		return nil, errors.New("cli: ha-notify: --state is missing")
	}
	s, ok := haStates[strings.ToLower(*state)]
	if !ok {
		return nil, fmt.Errorf("cli: ha-notify: unknown state %q: expected master, backup, fault or stop", *state)
	}
	if *retry < 0 {
		return nil, fmt.Errorf("cli: ha-notify: --retry %v: negative", *retry)
	}
	return &HANotify{
		Line:  JoinWords([]string{"cmd", "ha", "ha-notify", "vrf", *vrf, "group", *group, "state", s}),
		Retry: *retry, StateDir: *stateDir, vrf: *vrf, group: *group, state: s,
	}, nil
}

// HANotifyLine is ParseHANotify's command line.
func HANotifyLine(args []string, errOut io.Writer) (string, error) {
	n, err := ParseHANotify(args, errOut)
	if err != nil {
		return "", err
	}
	return n.Line, nil
}

// stateFile is the file of the group's latest notification. The names
// are not trusted as path elements: they are quoted into one.
func (n *HANotify) stateFile() string {
	name := fmt.Sprintf("ha-notify.%q.%q", n.vrf, n.group)
	name = strings.NewReplacer("/", "%2F", `"`, "").Replace(name)
	return filepath.Join(n.StateDir, name)
}

// Record writes this notification as the group's latest (write to a
// temporary file, rename: a reader sees the old or the new one whole).
// Without StateDir it does nothing.
func (n *HANotify) Record() error {
	if n.StateDir == "" {
		return nil
	}
	n.mark = fmt.Sprintf("%d %d %s\n", time.Now().UnixNano(), os.Getpid(), n.state)
	f, err := os.CreateTemp(n.StateDir, ".ha-notify-*")
	if err != nil {
		return fmt.Errorf("cli: ha-notify: %w", err)
	}
	_, err = f.WriteString(n.mark)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), n.stateFile())
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("cli: ha-notify: %w", err)
	}
	return nil
}

// Superseded reports whether a later notification of the group was
// recorded since Record.
func (n *HANotify) Superseded() bool {
	if n == nil || n.StateDir == "" || n.mark == "" {
		return false
	}
	b, err := os.ReadFile(n.stateFile())
	return err == nil && string(b) != n.mark
}
