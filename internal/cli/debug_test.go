package cli

import (
	"context"
	"strings"
	"testing"

	"secgw/internal/netconf"
)

// TestDebugCommands: 'debug ike peer ADDR with-keys', 'debug ike vpn
// NAME', 'show debug' and 'no debug ike peer ADDR' are the debug-ike RPC
// with operation add, list and remove, and print the filters the server
// returns; a malformed line is refused before anything is sent.
func TestDebugCommands(t *testing.T) {
	type input struct {
		Operation string `yang:"operation"`
		Peer      string `yang:"peer"`
		VPN       string `yang:"vpn"`
		Identity  string `yang:"identity"`
		WithKeys  bool   `yang:"with-keys"`
	}
	type output struct {
		Filters []string `yang:"filter"`
		Dropped uint64   `yang:"dropped"`
	}
	var filters []string
	var got []input
	sv := startServer(t, map[string]netconf.RPCHandler{
		"debug-ike": netconf.RPC(func(_ context.Context, in input) (output, error) {
			got = append(got, in)
			f := strings.TrimSpace(map[bool]string{true: "peer " + in.Peer, false: ""}[in.Peer != ""] +
				map[bool]string{true: " vpn " + in.VPN, false: ""}[in.VPN != ""] +
				map[bool]string{true: " with-keys", false: ""}[in.WithKeys])
			switch in.Operation {
			case "", "add": // the default, not sent
				filters = append(filters, f)
			case "remove":
				for i, g := range filters {
					if strings.TrimSuffix(g, " with-keys") == f {
						filters = append(filters[:i], filters[i+1:]...)
						break
					}
				}
			}
			return output{Filters: filters, Dropped: 3}, nil
		}),
	})
	c, buf := sv.cli(t)
	if out := mustRun(t, c, buf, "debug ike peer 198.51.100.1 with-keys"); out != "IKE debug filters:\n  peer 198.51.100.1 with-keys\nTrace records dropped by the rate bound: 3\n" {
		t.Errorf("debug ike peer: %q", out)
	}
	mustRun(t, c, buf, "debug ike vpn road")
	if out := mustRun(t, c, buf, "show debug"); !strings.HasPrefix(out, "IKE debug filters:\n  peer 198.51.100.1 with-keys\n  vpn road\n") {
		t.Errorf("show debug: %q", out)
	}
	mustRun(t, c, buf, "no debug ike peer 198.51.100.1")
	mustRun(t, c, buf, "no debug ike vpn road")
	if out := mustRun(t, c, buf, "show debug"); !strings.HasPrefix(out, "No IKE debug filter is set.\n") {
		t.Errorf("show debug after no debug: %q", out)
	}
	want := []input{{Peer: "198.51.100.1", WithKeys: true}, {VPN: "road"}, {Operation: "list"},
		{Operation: "remove", Peer: "198.51.100.1"}, {Operation: "remove", VPN: "road"}, {Operation: "list"}}
	if len(got) != len(want) {
		t.Fatalf("the server received %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"debug ike", "debug ike peer", "debug ike color red", "no debug", "no frobnicate", "monitor ike count 0", "monitor ipsec"} {
		if err := c.Run(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if len(got) != len(want) {
		t.Errorf("a refused line reached the server: %+v", got[len(want):])
	}
}
