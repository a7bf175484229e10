package charontest

import (
	"fmt"
	"strings"
)

// Conn is one connection of a test charon's swanctl.conf: version 2, one
// child "net" that the test initiates (start_action = none). The tests'
// charons differ only in these fields, so one renderer serves all of
// them (road warriors of test/gateway, the peers of test/strongswan).
type Conn struct {
	// Name is the connection's name (swanctl --terminate --ike Name).
	Name string
	// LocalAddrs and RemoteAddrs are local_addrs and remote_addrs.
	LocalAddrs, RemoteAddrs string
	// VIP asks the peer for a virtual IPv4 address (vips = 0.0.0.0,
	// RFC 7296 §3.15.1 INTERNAL_IP4_ADDRESS with no value).
	VIP bool
	// Proposals and ESPProposals are the IKE and ESP proposals.
	Proposals, ESPProposals string
	// Local and Remote are the local and remote authentication rounds.
	Local, Remote Auth
	// LocalTS and RemoteTS are the child's traffic selectors; empty
	// leaves charon's default (dynamic).
	LocalTS, RemoteTS string
	// Children, if any, replace the one child "net" of LocalTS,
	// RemoteTS and ESPProposals.
	Children []Child
	// Secrets are the secrets section's entries (PSK, EAP), as written
	// by PSKSecret and EAPSecret; none leaves the section out.
	Secrets []string
}

// Child is one child of a connection, initiated by the test
// (start_action = none).
type Child struct {
	Name, LocalTS, RemoteTS, ESPProposals string
}

// Auth is one authentication round of a connection.
type Auth struct {
	// Method is auth (psk, eap-mschapv2, eap-tls...).
	Method string
	// ID is the IKE identity.
	ID string
	// EAPID is eap_id, set for an EAP client.
	EAPID string
	// Extra holds more settings of the round, one "key = value" a line
	// (e.g. "certs = carol.pem\naaa_id = radius.example").
	Extra string
}

// PSKSecret is a secrets entry name holding key for the IKE identities
// ids (an "ike-name { id-1 = ... secret = ... }" section).
func PSKSecret(name, key string, ids ...string) string {
	return secret("ike-"+name, key, ids...)
}

// EAPSecret is a secrets entry name holding the EAP password of id.
func EAPSecret(name, id, password string) string {
	return secret("eap-"+name, password, id)
}

func secret(section, key string, ids ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\t%s {\n", section)
	for i, id := range ids {
		if len(ids) == 1 {
			fmt.Fprintf(&b, "\t\tid = %s\n", id)
		} else {
			fmt.Fprintf(&b, "\t\tid-%d = %s\n", i+1, id)
		}
	}
	fmt.Fprintf(&b, "\t\tsecret = \"%s\"\n\t}\n", key)
	return b.String()
}

// String renders the connection, and its secrets section if any, as
// swanctl.conf text for Charon.Load.
func (c Conn) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "connections {\n\t%s {\n\t\tversion = 2\n", c.Name)
	fmt.Fprintf(&b, "\t\tlocal_addrs = %s\n\t\tremote_addrs = %s\n", c.LocalAddrs, c.RemoteAddrs)
	if c.VIP {
		b.WriteString("\t\tvips = 0.0.0.0\n")
	}
	fmt.Fprintf(&b, "\t\tproposals = %s\n", c.Proposals)
	c.Local.write(&b, "local")
	c.Remote.write(&b, "remote")
	children := c.Children
	if len(children) == 0 {
		children = []Child{{Name: "net", LocalTS: c.LocalTS, RemoteTS: c.RemoteTS, ESPProposals: c.ESPProposals}}
	}
	b.WriteString("\t\tchildren {\n")
	for _, ch := range children {
		fmt.Fprintf(&b, "\t\t\t%s {\n", ch.Name)
		setting(&b, "\t\t\t\t", "local_ts", ch.LocalTS)
		setting(&b, "\t\t\t\t", "remote_ts", ch.RemoteTS)
		fmt.Fprintf(&b, "\t\t\t\tesp_proposals = %s\n\t\t\t\tstart_action = none\n\t\t\t}\n", ch.ESPProposals)
	}
	b.WriteString("\t\t}\n\t}\n}\n")
	if len(c.Secrets) > 0 {
		b.WriteString("secrets {\n")
		for _, s := range c.Secrets {
			b.WriteString(s)
		}
		b.WriteString("}\n")
	}
	return b.String()
}

func (a Auth) write(b *strings.Builder, round string) {
	fmt.Fprintf(b, "\t\t%s {\n", round)
	setting(b, "\t\t\t", "auth", a.Method)
	setting(b, "\t\t\t", "id", a.ID)
	setting(b, "\t\t\t", "eap_id", a.EAPID)
	for _, l := range strings.Split(a.Extra, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			fmt.Fprintf(b, "\t\t\t%s\n", l)
		}
	}
	b.WriteString("\t\t}\n")
}

// setting writes "key = value" at indent, nothing if value is empty.
func setting(b *strings.Builder, indent, key, value string) {
	if value != "" {
		fmt.Fprintf(b, "%s%s = %s\n", indent, key, value)
	}
}
