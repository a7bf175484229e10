package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// 'secgw ha-notify' is the command keepalived's notify script runs at
// each transition of a VRRP sync group (ha-design decision 1: VRRP is
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

// HANotifyUsage is the synopsis ha-notify prints on a usage error.
const HANotifyUsage = `usage: secgw [connection flags] ha-notify [--vrf VRF] --group GROUP --state master|backup|fault|stop
       secgw [connection flags] ha-notify [--vrf VRF] GROUP GROUP-NAME MASTER|BACKUP|FAULT|STOP [PRIORITY]
  (the second form is what keepalived appends to a vrrp_sync_group's notify command)`

// haStates maps the states keepalived reports (upper case) and the RPC's
// enumeration (lower case) to the RPC's enumeration. keepalived reports
// DELETED for an instance removed by a reload: the group no longer runs
// VRRP here, as with stop.
var haStates = map[string]string{
	"master": "master", "backup": "backup", "fault": "fault", "stop": "stop", "deleted": "stop",
}

// HANotifyLine turns the arguments of 'secgw ha-notify' (the words after
// ha-notify) into the operational command line that calls the RPC:
// "cmd ha ha-notify vrf VRF group G state S". Usage errors say what is
// wrong; help output (-h) goes to errOut.
func HANotifyLine(args []string, errOut io.Writer) (string, error) {
	fs := flag.NewFlagSet("ha-notify", flag.ContinueOnError)
	// The caller prints the error and the synopsis; -h prints both and
	// the flags.
	fs.SetOutput(io.Discard)
	vrf := fs.String("vrf", "main", "the vrf of the VRRP group")
	group := fs.String("group", "", "the VRRP group (vrf main vrrp group NAME)")
	state := fs.String("state", "", "the group's new state: master, backup, fault or stop")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(errOut, HANotifyUsage)
			fs.SetOutput(errOut)
			fs.PrintDefaults()
			return "", err
		}
		return "", fmt.Errorf("cli: ha-notify: %w", err)
	}
	pos := fs.Args()
	switch {
	case len(pos) == 0:
		// The flag form.
	case *group != "" || *state != "":
		return "", fmt.Errorf("cli: ha-notify: give --group and --state, or keepalived's TYPE NAME STATE, not both")
	case len(pos) < 3 || len(pos) > 4:
		return "", fmt.Errorf("cli: ha-notify: expected keepalived's notify arguments TYPE NAME STATE [PRIORITY], got %d words", len(pos))
	case pos[0] != "GROUP":
		return "", fmt.Errorf("cli: ha-notify: keepalived reported %s %q: put the notify on the vrrp_sync_group (TYPE GROUP), which secgwd binds with vrf %s vrrp group NAME", pos[0], pos[1], *vrf)
	default:
		*group, *state = pos[1], pos[2]
	}
	if *group == "" {
		return "", errors.New("cli: ha-notify: --group is missing")
	}
	if *state == "" {
		return "", errors.New("cli: ha-notify: --state is missing")
	}
	s, ok := haStates[strings.ToLower(*state)]
	if !ok {
		return "", fmt.Errorf("cli: ha-notify: unknown state %q: expected master, backup, fault or stop", *state)
	}
	return JoinWords([]string{"cmd", "ha", "ha-notify", "vrf", *vrf, "group", *group, "state", s}), nil
}
