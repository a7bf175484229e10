package charontest

import (
	"strings"
	"testing"
)

// TestConnString: a road warrior's PSK connection renders as the
// swanctl.conf text the tests wrote by hand before (one child "net",
// start_action none, a secrets section).
func TestConnString(t *testing.T) {
	c := Conn{Name: "rw", LocalAddrs: "198.18.1.2", RemoteAddrs: "198.18.1.1", VIP: true,
		Proposals: "aes256gcm16-prfsha256-x25519", ESPProposals: "aes256gcm16",
		Local:  Auth{Method: "eap-tls", ID: "carol", EAPID: "carol", Extra: "certs = carol.pem\naaa_id = radius.example"},
		Remote: Auth{Method: "psk", ID: "gw.example"}, RemoteTS: "10.1.0.0/24",
		Secrets: []string{PSKSecret("rw", "k", "carol", "gw.example"), EAPSecret("carol", "carol", "p")}}
	want := `connections {
	rw {
		version = 2
		local_addrs = 198.18.1.2
		remote_addrs = 198.18.1.1
		vips = 0.0.0.0
		proposals = aes256gcm16-prfsha256-x25519
		local {
			auth = eap-tls
			id = carol
			eap_id = carol
			certs = carol.pem
			aaa_id = radius.example
		}
		remote {
			auth = psk
			id = gw.example
		}
		children {
			net {
				remote_ts = 10.1.0.0/24
				esp_proposals = aes256gcm16
				start_action = none
			}
		}
	}
}
secrets {
	ike-rw {
		id-1 = carol
		id-2 = gw.example
		secret = "k"
	}
	eap-carol {
		id = carol
		secret = "p"
	}
}
`
	if got := c.String(); got != want {
		t.Errorf("Conn.String:\n%s\nwant\n%s", got, want)
	}
	two := Conn{Name: "s", Children: []Child{{Name: "a", LocalTS: "1", RemoteTS: "2", ESPProposals: "e"}, {Name: "b", ESPProposals: "f"}}}.String()
	if want := "\t\tchildren {\n\t\t\ta {\n\t\t\t\tlocal_ts = 1\n\t\t\t\tremote_ts = 2\n\t\t\t\tesp_proposals = e\n\t\t\t\tstart_action = none\n\t\t\t}\n" +
		"\t\t\tb {\n\t\t\t\tesp_proposals = f\n\t\t\t\tstart_action = none\n\t\t\t}\n\t\t}\n"; !strings.Contains(two, want) {
		t.Errorf("Conn.String with two children:\n%s\nwant\n%s", two, want)
	}
	if got := (Conn{Name: "c", LocalTS: "a", RemoteTS: "b"}).String(); got != "connections {\n\tc {\n\t\tversion = 2\n\t\tlocal_addrs = \n\t\tremote_addrs = \n\t\tproposals = \n\t\tlocal {\n\t\t}\n\t\tremote {\n\t\t}\n\t\tchildren {\n\t\t\tnet {\n\t\t\t\tlocal_ts = a\n\t\t\t\tremote_ts = b\n\t\t\t\tesp_proposals = \n\t\t\t\tstart_action = none\n\t\t\t}\n\t\t}\n\t}\n}\n" {
		t.Errorf("Conn.String without secrets or vips:\n%s", got)
	}
}
