package ikesvc

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	lr "layeh.com/radius"

	"secgw/internal/ike/config"
	"secgw/internal/ike/engine"
)

// pskServer answers Access-Requests on loopback for pre-shared-key-radius:
// carol with her key in Tunnel-Password (tag 0) and a Framed-IP-Address,
// dave with an Access-Accept without Tunnel-Password, anyone else with an
// Access-Reject. It checks the User-Password secgwd sends.
func pskServer(t *testing.T, secret string) netip.AddrPort {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			p, err := lr.Parse(buf[:n], []byte(secret))
			if err != nil {
				continue
			}
			pw, err := lr.UserPassword(p.Attributes.Get(2), []byte(secret), p.Authenticator[:])
			if err != nil || string(pw) != "secgw" {
				t.Errorf("User-Password %q, %v, want secgw", pw, err)
			}
			var r *lr.Packet
			switch string(p.Attributes.Get(1)) {
			case "carol@vpn.example":
				r = p.Response(lr.CodeAccessAccept)
				tp, _ := lr.NewTunnelPassword([]byte("carol-key"), []byte{0x81, 0x02}, []byte(secret), p.Authenticator[:])
				r.Attributes.Add(69, append(lr.Attribute{0}, tp...))
				r.Attributes.Add(8, lr.Attribute{10, 9, 0, 7})
			case "dave.example":
				r = p.Response(lr.CodeAccessAccept)
			default:
				r = p.Response(lr.CodeAccessReject)
			}
			out, _ := r.Encode()
			c.WriteToUDP(out, from)
		}
	}()
	return c.LocalAddr().(*net.UDPAddr).AddrPort()
}

// TestAAAPSK: the engine's PSK request through the RADIUS client: the key
// and Framed-IP-Address of an Access-Accept, an Accept without
// Tunnel-Password (Accept, no key), an Access-Reject (Reject), no server
// answering (Err).
func TestAAAPSK(t *testing.T) {
	ap := pskServer(t, "k")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := newAAA(ctx, slog.New(slog.DiscardHandler), nil)
	set := func(port uint16) {
		a.mu.Lock()
		a.cfg = config.RADIUS{Servers: []config.RADIUSServer{{Addr: ap.Addr(), AuthPort: port, Secret: []byte("k"), Timeout: 300 * time.Millisecond}}}
		a.client.SetConfig(clientConfig(a.cfg))
		a.mu.Unlock()
	}
	ask := func(user string) engine.AAAReply {
		ch := make(chan engine.AAAReply, 1)
		a.PSK(engine.AAARequest{VPN: "rw", UserName: user, Peer: netip.MustParseAddr("198.18.1.2")}, func(r engine.AAAReply) { ch <- r })
		select {
		case r := <-ch:
			return r
		case <-time.After(5 * time.Second):
			t.Fatal("the AAA never answered")
		}
		return engine.AAAReply{}
	}
	set(ap.Port())
	if r := ask("carol@vpn.example"); r.Err != nil || r.Outcome != engine.AAAAccept || string(r.PSK) != "carol-key" ||
		r.Attrs.FramedIP != netip.MustParseAddr("10.9.0.7") {
		t.Errorf("carol: %+v, want Accept with her key and 10.9.0.7", r)
	}
	if r := ask("dave.example"); r.Err != nil || r.Outcome != engine.AAAAccept || r.PSK != nil {
		t.Errorf("dave: %+v, want Accept without a key", r)
	}
	if r := ask("mallory@vpn.example"); r.Err != nil || r.Outcome != engine.AAAReject {
		t.Errorf("mallory: %+v, want Reject", r)
	}
	// A port where nothing listens: no verdict.
	l, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	silent := uint16(l.LocalAddr().(*net.UDPAddr).Port)
	defer l.Close()
	set(silent)
	if r := ask("carol@vpn.example"); r.Err == nil || r.PSK != nil {
		t.Errorf("silent server: %+v, want an error", r)
	}
}
