package radius

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	lr "layeh.com/radius"
	"layeh.com/radius/rfc2869"
)

func msDuration(ms int) time.Duration { return time.Duration(ms) * time.Millisecond }

// TestEAPRelay: two round trips of EAP (RFC 3579): the identity goes
// out with User-Name, NAS-Identifier and a valid Message-Authenticator;
// the Access-Challenge's EAP-Message and State come back; the State
// goes out again with the next response; the Access-Accept's MS-MPPE
// keys (RFC 2548, salt-encrypted with the request's authenticator)
// become the MSK as Recv-Key | Send-Key, and its Framed-IP-Address and
// MS DNS servers the session attributes.
func TestEAPRelay(t *testing.T) {
	const secret = "s3cret-of-the-test"
	send, recv := bytes.Repeat([]byte{0x5e}, 32), bytes.Repeat([]byte{0x7c}, 32)
	challenge := []byte{1, 7, 0, 22, 4, 16, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16}
	var round int
	f := newFake(t, secret, func(req *lr.Packet, raw []byte) []byte {
		if off, _ := findAttr(raw, typeMessageAuthenticator); off < 0 ||
			!bytes.Equal(messageAuthenticator(raw, raw[4:20], off, []byte(secret)), raw[off:off+16]) {
			t.Errorf("request %d: Message-Authenticator missing or wrong", round)
		}
		if got := string(req.Attributes.Get(typeUserName)); got != "alice" {
			t.Errorf("User-Name %q", got)
		}
		if got := string(req.Attributes.Get(typeNASIdentifier)); got != "gw-test" {
			t.Errorf("NAS-Identifier %q", got)
		}
		eap := rfc2869.EAPMessage_Get(req)
		round++
		switch round {
		case 1:
			if len(eap) < 5 || eap[0] != 2 || eap[4] != 1 {
				t.Errorf("first EAP message %x, want a Response/Identity", eap)
			}
			if _, ok := req.Attributes.Lookup(typeState); ok {
				t.Error("State in the first request")
			}
			return reply(req, lr.CodeAccessChallenge, []byte(secret), lr.Attributes{
				{Type: typeEAPMessage, Attribute: challenge}, {Type: typeState, Attribute: []byte("state-1")}}, true)
		default:
			if got := string(req.Attributes.Get(typeState)); got != "state-1" {
				t.Errorf("State %q, want the challenge's", got)
			}
			salt1, salt2 := []byte{0x80, 1}, []byte{0x80, 2}
			return reply(req, lr.CodeAccessAccept, []byte(secret), lr.Attributes{
				{Type: typeEAPMessage, Attribute: []byte{3, 7, 0, 4}},
				msVSA(msMPPESendKey, encryptSalted(send, salt1, []byte(secret), req.Authenticator[:])),
				msVSA(msMPPERecvKey, encryptSalted(recv, salt2, []byte(secret), req.Authenticator[:])),
				{Type: typeFramedIPAddress, Attribute: addr4("10.9.0.5")},
				msVSA(msPrimaryDNSServer, addr4("10.9.0.53")),
			}, true)
		}
	})
	c := New(Config{Servers: []Server{f.server(0, 1000)}, NASIdentifier: "gw-test"}, nil)
	r, err := c.EAP(context.Background(), EAPRequest{UserName: "alice", EAP: []byte{2, 7, 0, 10, 1, 'a', 'l', 'i', 'c', 'e'}})
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != Challenge || !bytes.Equal(r.EAP, challenge) || string(r.State) != "state-1" {
		t.Fatalf("first reply %+v", r)
	}
	r, err = c.EAP(context.Background(), EAPRequest{UserName: "alice", EAP: []byte{2, 7, 0, 6, 4, 0}, State: r.State})
	if err != nil {
		t.Fatal(err)
	}
	if r.Outcome != Accept || !bytes.Equal(r.EAP, []byte{3, 7, 0, 4}) {
		t.Fatalf("second reply %+v", r)
	}
	if !bytes.Equal(r.MSK, append(append([]byte(nil), recv...), send...)) {
		t.Errorf("MSK %x, want Recv-Key | Send-Key", r.MSK)
	}
	if r.Attributes.FramedIP != netip.MustParseAddr("10.9.0.5") || len(r.Attributes.DNS) != 1 || r.Attributes.DNS[0] != netip.MustParseAddr("10.9.0.53") {
		t.Errorf("attributes %+v", r.Attributes)
	}
}

// TestEAPMessageSplit: an EAP message longer than 253 octets goes out
// in several EAP-Message attributes, in order (RFC 3579 §3.1).
func TestEAPMessageSplit(t *testing.T) {
	msg := make([]byte, 600)
	msg[0], msg[2], msg[3] = 2, 600>>8, 600&0xff
	for i := 4; i < len(msg); i++ {
		msg[i] = byte(i)
	}
	f := newFake(t, "k", func(req *lr.Packet, raw []byte) []byte {
		var n int
		for _, a := range req.Attributes {
			if a.Type == typeEAPMessage {
				n++
			}
		}
		if n != 3 || !bytes.Equal(rfc2869.EAPMessage_Get(req), msg) {
			t.Errorf("%d EAP-Message attributes, joined %d octets", n, len(rfc2869.EAPMessage_Get(req)))
		}
		return reply(req, lr.CodeAccessReject, []byte("k"), lr.Attributes{{Type: typeEAPMessage, Attribute: []byte{4, 0, 0, 4}}}, true)
	})
	c := New(Config{Servers: []Server{f.server(0, 1000)}}, nil)
	r, err := c.EAP(context.Background(), EAPRequest{UserName: "bob", EAP: msg})
	if err != nil || r.Outcome != Reject {
		t.Fatalf("reply %+v, %v", r, err)
	}
}

// TestWrongSecretDropped: replies whose Response Authenticator or
// Message-Authenticator do not verify are dropped (and counted), never
// taken for the server's answer; the request then fails as unanswered.
func TestWrongSecretDropped(t *testing.T) {
	for _, tc := range []struct {
		name string
		mk   func(req *lr.Packet) []byte
	}{
		{"response authenticator", func(req *lr.Packet) []byte {
			return reply(req, lr.CodeAccessAccept, []byte("not-the-secret"), lr.Attributes{{Type: typeEAPMessage, Attribute: []byte{3, 1, 0, 4}}}, true)
		}},
		{"message authenticator", func(req *lr.Packet) []byte {
			b := reply(req, lr.CodeAccessAccept, []byte("secret"), lr.Attributes{{Type: typeEAPMessage, Attribute: []byte{3, 1, 0, 4}}}, true)
			b[25] ^= 1                                               // inside the Message-Authenticator...
			return resign(b, req.Authenticator[:], []byte("secret")) // ...with a valid Response Authenticator
		}},
		{"no message authenticator with EAP", func(req *lr.Packet) []byte {
			return reply(req, lr.CodeAccessAccept, []byte("secret"), lr.Attributes{{Type: typeEAPMessage, Attribute: []byte{3, 1, 0, 4}}}, false)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, "secret", func(req *lr.Packet, raw []byte) []byte { return tc.mk(req) })
			c := New(Config{Servers: []Server{f.server(1, 150)}}, nil)
			_, err := c.EAP(context.Background(), EAPRequest{UserName: "alice", EAP: []byte{2, 1, 0, 4}})
			if !errors.Is(err, ErrNoServer) {
				t.Fatalf("err %v, want ErrNoServer", err)
			}
			if c.Dropped.Load() != 2 {
				t.Errorf("dropped %d replies, want 2 (one per try)", c.Dropped.Load())
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("error names the secret: %v", err)
			}
		})
	}
}

// resign recomputes the Response Authenticator of reply b to a request
// of authenticator reqAuth (RFC 2865 §3).
func resign(b, reqAuth, secret []byte) []byte {
	out := append([]byte(nil), b...)
	copy(out[4:20], reqAuth)
	copy(out[4:20], responseAuth(out, secret))
	return out
}

// TestTimeoutThenFailover: a server that never answers gets
// timeout x (retries + 1) and no more; the next server answers, and stays
// the first one asked afterwards.
func TestTimeoutThenFailover(t *testing.T) {
	silent := newFake(t, "k", func(*lr.Packet, []byte) []byte { return nil })
	good := newFake(t, "k", func(req *lr.Packet, raw []byte) []byte {
		return reply(req, lr.CodeAccessReject, []byte("k"), nil, true)
	})
	c := New(Config{Servers: []Server{silent.server(2, 100), good.server(0, 1000)}}, nil)
	start := time.Now()
	r, err := c.EAP(context.Background(), EAPRequest{UserName: "alice", EAP: []byte{2, 1, 0, 4}})
	if err != nil || r.Outcome != Reject {
		t.Fatalf("reply %+v, %v", r, err)
	}
	if n := silent.requests.Load(); n != 3 {
		t.Errorf("the silent server got %d tries, want retries+1 = 3", n)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("failed over after %v, before 3 timeouts of 100ms", d)
	}
	if c.Timeouts.Load() != 3 {
		t.Errorf("timeouts %d, want 3", c.Timeouts.Load())
	}
	if _, err := c.EAP(context.Background(), EAPRequest{UserName: "alice", EAP: []byte{2, 1, 0, 4}}); err != nil {
		t.Fatal(err)
	}
	if n := silent.requests.Load(); n != 3 {
		t.Errorf("the silent server was asked again (%d tries): failover should stick", n)
	}
}

// TestAllServersDown: no server answers (nothing listens: ICMP port
// unreachable): ErrNoServer naming every server tried.
func TestAllServersDown(t *testing.T) {
	var servers []Server
	for range 2 {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		ap := c.LocalAddr().(*net.UDPAddr).AddrPort()
		c.Close()
		servers = append(servers, Server{Addr: ap.Addr(), AuthPort: ap.Port(), Secret: []byte("k"), Timeout: 200 * time.Millisecond})
	}
	c := New(Config{Servers: servers}, nil)
	_, err := c.EAP(context.Background(), EAPRequest{UserName: "alice", EAP: []byte{2, 1, 0, 4}})
	if !errors.Is(err, ErrNoServer) {
		t.Fatalf("err %v, want ErrNoServer", err)
	}
	for _, s := range servers {
		if !strings.Contains(err.Error(), s.authAddr()) {
			t.Errorf("error %q does not name %s", err, s.authAddr())
		}
	}
	if _, err := New(Config{}, nil).EAP(context.Background(), EAPRequest{UserName: "a", EAP: []byte{2, 1, 0, 4}}); err == nil {
		t.Error("no server configured: no error")
	}
}

// TestAccounting: Start and Stop records (RFC 2866) with an authentic
// Request Authenticator, the session id, Framed-IP-Address, and on Stop
// the counters with their Gigawords (RFC 2869 §5.1) and the session
// time.
func TestAccounting(t *testing.T) {
	var got []*lr.Packet
	f := newFake(t, "k", func(req *lr.Packet, raw []byte) []byte {
		if !lr.IsAuthenticRequest(raw, []byte("k")) {
			t.Error("Accounting-Request with a wrong Request Authenticator")
		}
		got = append(got, req)
		return reply(req, lr.CodeAccountingResponse, []byte("k"), nil, false)
	})
	c := New(Config{Servers: []Server{f.server(0, 1000)}}, nil)
	ip := netip.MustParseAddr("10.9.0.5")
	for _, r := range []Record{
		{Status: AcctStart, SessionID: "s1", UserName: "alice", FramedIP: ip},
		{Status: AcctStop, SessionID: "s1", UserName: "alice", FramedIP: ip, InOctets: 5<<32 + 7, OutOctets: 9,
			InPackets: 3, OutPackets: 4, Duration: 61 * time.Second, Cause: CauseUserRequest},
	} {
		if err := c.Account(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 2 {
		t.Fatalf("%d records", len(got))
	}
	integer := func(p *lr.Packet, typ lr.Type) uint32 {
		v, err := lr.Integer(p.Attributes.Get(typ))
		if err != nil {
			t.Fatalf("attribute %d: %v", typ, err)
		}
		return v
	}
	if integer(got[0], typeAcctStatusType) != 1 || integer(got[1], typeAcctStatusType) != 2 {
		t.Error("Acct-Status-Type")
	}
	for _, p := range got {
		if string(p.Attributes.Get(typeAcctSessionID)) != "s1" || !bytes.Equal(p.Attributes.Get(typeFramedIPAddress), addr4("10.9.0.5")) {
			t.Error("session id or Framed-IP-Address")
		}
	}
	if _, ok := got[0].Attributes.Lookup(typeAcctInputOctets); ok {
		t.Error("counters in a Start")
	}
	stop := got[1]
	if integer(stop, typeAcctInputOctets) != 7 || integer(stop, typeAcctInputGigawords) != 5 || integer(stop, typeAcctOutputOctets) != 9 ||
		integer(stop, typeAcctInputPackets) != 3 || integer(stop, typeAcctOutputPackets) != 4 || integer(stop, typeAcctSessionTime) != 61 ||
		integer(stop, typeAcctTerminateCause) != CauseUserRequest {
		t.Errorf("Stop attributes %v", stop.Attributes)
	}
}

// TestPSK: pre-shared key lookup: User-Password encrypted (RFC 2865
// §5.2), the key from the Access-Accept's Tunnel-Password (RFC 2868
// §3.5); an Access-Reject is ErrRejected, an Access-Accept without
// Tunnel-Password ErrNoPSK.
func TestPSK(t *testing.T) {
	f := newFake(t, "k", func(req *lr.Packet, raw []byte) []byte {
		pw, err := lr.UserPassword(req.Attributes.Get(typeUserPassword), []byte("k"), req.Authenticator[:])
		if err != nil || string(pw) != "pw" {
			t.Errorf("User-Password %q, %v", pw, err)
		}
		if string(req.Attributes.Get(typeUserName)) == "nobody" {
			return reply(req, lr.CodeAccessReject, []byte("k"), nil, true)
		}
		if string(req.Attributes.Get(typeUserName)) == "notp" {
			return reply(req, lr.CodeAccessAccept, []byte("k"), lr.Attributes{{Type: typeFramedIPAddress, Attribute: addr4("10.0.0.1")}}, true)
		}
		tp, err := lr.NewTunnelPassword([]byte("the-psk-of-alice"), []byte{0x80, 9}, []byte("k"), req.Authenticator[:])
		if err != nil {
			t.Fatal(err)
		}
		return reply(req, lr.CodeAccessAccept, []byte("k"), lr.Attributes{{Type: typeTunnelPassword, Attribute: append([]byte{0}, tp...)}}, true)
	})
	c := New(Config{Servers: []Server{f.server(0, 1000)}}, nil)
	psk, _, err := c.PSK(context.Background(), "alice", "pw", netip.Addr{}, netip.Addr{})
	if err != nil || string(psk) != "the-psk-of-alice" {
		t.Fatalf("PSK %q, %v", psk, err)
	}
	if _, _, err := c.PSK(context.Background(), "nobody", "pw", netip.Addr{}, netip.Addr{}); !errors.Is(err, ErrRejected) {
		t.Errorf("Access-Reject: %v, want ErrRejected", err)
	}
	if _, _, err := c.PSK(context.Background(), "notp", "pw", netip.Addr{}, netip.Addr{}); !errors.Is(err, ErrNoPSK) {
		t.Errorf("Access-Accept without Tunnel-Password: %v, want ErrNoPSK", err)
	}
}
