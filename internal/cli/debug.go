package cli

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Per-peer debug tracing, as Cisco's "debug crypto ikev2" with a peer
// condition: 'debug ike [vrf NAME] peer 198.51.100.1 [with-keys]' (or
// vpn NAME, identity ID), 'no debug ike [vrf NAME] peer ...', 'show debug
// [vrf NAME]', and 'monitor ike [vrf NAME] [count N]', which streams the
// traces, each naming its vrf. Filters are per vrf (each vrf's engine
// has its own); without vrf, main's. Each is the debug-ike RPC or the
// ike-debug notifications of secgw-ike-debug.yang: nothing the CLI does
// here is out of Ansible's reach.

// debugCommand runs 'debug ike ...' (remove false) or 'no debug ike ...'.
func (c *CLI) debugCommand(words []string, remove bool) error {
	verb := "debug"
	if remove {
		verb = "no debug"
	}
	if len(words) < 3 || words[0] != "ike" {
		return fmt.Errorf("cli: %s: expected ike [vrf NAME] peer ADDRESS|vpn NAME|identity ID [with-keys], as in: %s ike peer 198.51.100.1", verb, verb)
	}
	in := []string{"debug-ike"}
	if remove {
		in = append(in, "operation", "remove")
	}
	for i := 1; i < len(words); i++ {
		switch w := words[i]; w {
		case "vrf", "peer", "vpn", "identity":
			if i+1 >= len(words) {
				return fmt.Errorf("cli: %s ike %s: missing its value", verb, w)
			}
			in = append(in, w, words[i+1])
			i++
		case "with-keys":
			in = append(in, "with-keys", "true")
		default:
			return fmt.Errorf("cli: %s ike: unexpected word %q: expected vrf, peer, vpn, identity or with-keys", verb, w)
		}
	}
	return c.debugRPC(verb+" ike", in)
}

// showDebug runs 'show debug [vrf NAME]': the filters set in the vrf.
func (c *CLI) showDebug(words []string) error {
	in := []string{"debug-ike", "operation", "list"}
	switch {
	case len(words) == 2 && words[0] == "vrf":
		in = append(in, "vrf", words[1])
	case len(words) > 0:
		return fmt.Errorf("cli: show debug: unexpected word %q: expected nothing or vrf NAME", words[0])
	}
	return c.debugRPC("show debug", in)
}

// debugOutput is the output of debug-ike.
type debugOutput struct {
	Filters []string `xml:"filter"`
	Dropped uint64   `xml:"dropped"`
}

// debugRPC calls debug-ike with the input words and prints the filters.
func (c *CLI) debugRPC(what string, words []string) error {
	e := c.rpcEntry("ike", words[0])
	if e == nil {
		return fmt.Errorf("cli: %s: no RPC debug-ike in module secgw-ike", what)
	}
	body, err := rpcInput(e, words[1:])
	if err != nil {
		return err
	}
	out, err := c.be.Call(body)
	if err != nil {
		return err
	}
	var o debugOutput
	if err := xml.Unmarshal(append(append([]byte("<output>"), out...), "</output>"...), &o); err != nil {
		return fmt.Errorf("cli: reading the output of debug-ike: %w", err)
	}
	var b strings.Builder
	if len(o.Filters) == 0 {
		b.WriteString("No IKE debug filter is set.\n")
	} else {
		b.WriteString("IKE debug filters:\n")
		for _, f := range o.Filters {
			b.WriteString("  " + printable(f) + "\n")
		}
	}
	if o.Dropped > 0 {
		fmt.Fprintf(&b, "Trace records dropped by the rate bound: %d\n", o.Dropped)
	}
	_, err = io.WriteString(c.out, b.String())
	return err
}

// Notifier is a Backend that can stream the server's notifications (RFC
// 5277): the NETCONF backend.
type Notifier interface {
	Subscribe() error
	NextNotification() ([]byte, error)
}

// Subscribe implements Notifier.
func (nb *NetconfBackend) Subscribe() error {
	if err := nb.sess.Subscribe(); err != nil {
		return fmt.Errorf("cli: create-subscription: %w", err)
	}
	return nil
}

// NextNotification implements Notifier.
func (nb *NetconfBackend) NextNotification() ([]byte, error) { return nb.sess.NextNotification() }

// ikeDebugNotification is an ike-debug notification.
type ikeDebugNotification struct {
	EventTime string `xml:"eventTime"`
	Debug     *struct {
		VRF      string `xml:"vrf"`
		Peer     string `xml:"peer"`
		VPN      string `xml:"vpn"`
		UniqueID string `xml:"unique-id"`
		Trace    string `xml:"trace"`
	} `xml:"ike-debug"`
}

// monitor runs 'monitor ike [vrf NAME] [count N]': it subscribes to the
// notifications and prints each ike-debug trace as it comes (of vrf NAME
// only, when given), with its vrf, N of them or until the session ends
// (interrupt secgw to stop). The other notifications (sa-event...) are
// skipped.
func (c *CLI) monitor(words []string) error {
	if len(words) == 0 || words[0] != "ike" {
		return fmt.Errorf("cli: monitor: expected ike [vrf NAME] [count N]")
	}
	count, vrf := -1, ""
	for i := 1; i < len(words); i += 2 {
		if i+1 >= len(words) {
			return fmt.Errorf("cli: monitor ike %s: missing its value", words[i])
		}
		switch words[i] {
		case "count":
			n, err := strconv.Atoi(words[i+1])
			if err != nil || n < 1 {
				return fmt.Errorf("cli: monitor ike count: %q is not a positive number", words[i+1])
			}
			count = n
		case "vrf":
			vrf = words[i+1]
		default:
			return fmt.Errorf("cli: monitor ike: unexpected word %q: expected vrf NAME or count N", words[i])
		}
	}
	if _, dry := c.be.(dryBackend); dry {
		return nil // a script's dry run streams nothing
	}
	nb, ok := c.be.(Notifier)
	if !ok {
		return errors.New("cli: monitor ike needs a NETCONF session to secgwd")
	}
	if err := nb.Subscribe(); err != nil {
		return err
	}
	if _, err := io.WriteString(c.out, "Monitoring the IKE debug traces (set filters with debug ike peer ...):\n"); err != nil {
		return err
	}
	for count != 0 {
		msg, err := nb.NextNotification()
		if err != nil {
			return fmt.Errorf("cli: monitor ike: %w", err)
		}
		var n ikeDebugNotification
		if xml.Unmarshal(msg, &n) != nil || n.Debug == nil || vrf != "" && n.Debug.VRF != vrf {
			continue
		}
		line := fmt.Sprintf("%s vrf %s %s vpn %s ike-sa %s: %s\n", n.EventTime, printable(n.Debug.VRF), n.Debug.Peer, n.Debug.VPN,
			n.Debug.UniqueID, printable(n.Debug.Trace))
		if _, err := io.WriteString(c.out, line); err != nil {
			return err
		}
		if count > 0 {
			count--
		}
	}
	return nil
}
