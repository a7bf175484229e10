package cli

import (
	"context"
	"encoding/xml"
	"strings"
	"testing"

	"secgw/internal/netconf"
)

// TestRedirectCommand: 'cmd ike redirect ike-sa vpn NAME gateway ADDR'
// is the redirect RPC of secgw-ike-rpc.yang, with the selector and the
// gateway as the model puts them; its messages print as they come.
func TestRedirectCommand(t *testing.T) {
	type selector struct {
		VPN      string  `yang:"vpn" xml:"vpn,omitempty"`
		UniqueID *uint32 `yang:"unique-id" xml:"unique-id,omitempty"`
	}
	type input struct {
		VRF     string    `yang:"vrf" xml:"vrf,omitempty"`
		IKESA   *selector `yang:"ike-sa" xml:"ike-sa"`
		Gateway string    `yang:"gateway" xml:"gateway"`
	}
	type output struct {
		Count    *uint32  `yang:"count"`
		Messages []string `yang:"message"`
	}
	var got []string
	one := uint32(1)
	sv := startServer(t, map[string]netconf.RPCHandler{
		"redirect": netconf.RPC(func(_ context.Context, in input) (output, error) {
			b, _ := xml.Marshal(in)
			got = append(got, string(b))
			return output{Count: &one, Messages: []string{"Redirected 1 IKE SA to " + in.Gateway + "."}}, nil
		}),
	})
	c, buf := sv.cli(t)
	out := mustRun(t, c, buf, "cmd ike redirect ike-sa vpn road gateway 192.0.2.7")
	if out != "Redirected 1 IKE SA to 192.0.2.7.\n" {
		t.Errorf("redirect: %q", out)
	}
	out = mustRun(t, c, buf, "cmd ike redirect gateway gw2.example.com ike-sa unique-id 4")
	if out != "Redirected 1 IKE SA to gw2.example.com.\n" {
		t.Errorf("redirect by name: %q", out)
	}
	if len(got) != 2 || !strings.Contains(got[0], "<vpn>road</vpn>") || !strings.Contains(got[0], "<gateway>192.0.2.7</gateway>") ||
		!strings.Contains(got[1], "<unique-id>4</unique-id>") || !strings.Contains(got[1], "<gateway>gw2.example.com</gateway>") {
		t.Errorf("the server received: %q", got)
	}
	if err := c.Run("cmd ike redirect ike-sa vpn road"); err == nil || !strings.Contains(err.Error(), "gateway") {
		t.Errorf("redirect without gateway: %v", err)
	}
}
