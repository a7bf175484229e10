package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"secgw/internal/netconf"
)

// TestDebugCommands: 'debug ike peer ADDR with-keys', 'debug ike vpn
// NAME', 'show debug' and 'no debug ike peer ADDR' are the debug-ike RPC
// with operation add, list and remove, and print the filters the server
// returns; a malformed line is refused before anything is sent.
func TestDebugCommands(t *testing.T) {
	type input struct {
		VRF       string `yang:"vrf"`
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
	// The filters of another vrf's engine.
	mustRun(t, c, buf, "debug ike vrf cust vpn road")
	mustRun(t, c, buf, "show debug vrf cust")
	mustRun(t, c, buf, "no debug ike vrf cust vpn road")
	want := []input{{Peer: "198.51.100.1", WithKeys: true}, {VPN: "road"}, {Operation: "list"},
		{Operation: "remove", Peer: "198.51.100.1"}, {Operation: "remove", VPN: "road"}, {Operation: "list"},
		{VRF: "cust", VPN: "road"}, {VRF: "cust", Operation: "list"}, {VRF: "cust", Operation: "remove", VPN: "road"}}
	if len(got) != len(want) {
		t.Fatalf("the server received %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d: %+v, want %+v", i, got[i], want[i])
		}
	}
	for _, bad := range []string{"debug ike", "debug ike peer", "debug ike color red", "no debug", "no frobnicate", "monitor ike count 0", "monitor ipsec",
		"debug ike vrf", "show debug vrf", "show debug cust", "monitor ike vrf", "monitor ike color red"} {
		if err := c.Run(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if len(got) != len(want) {
		t.Errorf("a refused line reached the server: %+v", got[len(want):])
	}
}

// TestMonitorVRF: 'monitor ike' prints each ike-debug trace with its
// vrf; 'monitor ike vrf NAME' prints that vrf's only.
func TestMonitorVRF(t *testing.T) {
	type record struct {
		VRF      string `yang:"vrf"`
		Peer     string `yang:"peer"`
		VPN      string `yang:"vpn"`
		UniqueID uint32 `yang:"unique-id"`
		Trace    string `yang:"trace"`
	}
	sv := startServer(t, nil)
	for _, c := range []struct{ line, want, not string }{
		{"monitor ike count 2", " vrf main 192.0.2.1:500 vpn v ike-sa 1: main's trace\n", ""},
		{"monitor ike vrf cust count 2", " vrf cust 192.0.2.2:500 vpn w ike-sa 2: cust's trace\n", "main's trace"},
	} {
		cl, buf := sv.cli(t)
		done := make(chan error, 1)
		go func() { done <- cl.Run(c.line) }()
		// Sent until the monitor has read its count: it subscribes
		// after the command starts.
		tick := time.NewTicker(20 * time.Millisecond)
		deadline := time.After(10 * time.Second)
	wait:
		for {
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("%s: %v", c.line, err)
				}
				break wait
			case <-deadline:
				t.Fatalf("%s: still running", c.line)
			case <-tick.C:
				_ = sv.srv.Notify("ike-debug", record{VRF: "main", Peer: "192.0.2.1:500", VPN: "v", UniqueID: 1, Trace: "main's trace"})
				_ = sv.srv.Notify("ike-debug", record{VRF: "cust", Peer: "192.0.2.2:500", VPN: "w", UniqueID: 2, Trace: "cust's trace"})
			}
		}
		tick.Stop()
		out := buf.String()
		if !strings.Contains(out, c.want) || c.not != "" && strings.Contains(out, c.not) {
			t.Errorf("%s:\n%s", c.line, out)
		}
	}
}
