package radius

import (
	"crypto/md5"
	"net"
	"net/netip"
	"sync/atomic"
	"testing"

	lr "layeh.com/radius"
)

// fakeServer is a RADIUS server on loopback for the tests: handle gets
// each request (already parsed with the server's secret) and returns
// the reply to send, or nil to stay silent.
type fakeServer struct {
	conn     *net.UDPConn
	secret   []byte
	handle   func(req *lr.Packet, raw []byte) []byte
	requests atomic.Int32
}

func newFake(t *testing.T, secret string, handle func(req *lr.Packet, raw []byte) []byte) *fakeServer {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeServer{conn: c, secret: []byte(secret), handle: handle}
	t.Cleanup(func() { c.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, from, err := c.ReadFromUDP(buf)
			if err != nil {
				return
			}
			f.requests.Add(1)
			raw := append([]byte(nil), buf[:n]...)
			req, err := lr.Parse(raw, f.secret)
			if err != nil {
				continue
			}
			if out := f.handle(req, raw); out != nil {
				c.WriteToUDP(out, from)
			}
		}
	}()
	return f
}

// server is the Server entry of the fake, with the given timing.
func (f *fakeServer) server(retries int, timeoutMS int) Server {
	ap := f.conn.LocalAddr().(*net.UDPAddr).AddrPort()
	return Server{Addr: ap.Addr(), AuthPort: ap.Port(), AcctPort: ap.Port(), Secret: f.secret,
		Timeout: msDuration(timeoutMS), Retries: retries}
}

// reply encodes a reply to req signed with secret: the attributes, a
// Message-Authenticator when withMA (RFC 3579 §3.2: computed over the
// packet with the Request Authenticator, before the Response
// Authenticator), and the Response Authenticator (RFC 2865 §3).
func reply(req *lr.Packet, code lr.Code, secret []byte, attrs lr.Attributes, withMA bool) []byte {
	p := &lr.Packet{Code: code, Identifier: req.Identifier, Secret: secret, Authenticator: req.Authenticator}
	if withMA {
		p.Attributes = append(p.Attributes, &lr.AVP{Type: typeMessageAuthenticator, Attribute: make([]byte, 16)})
	}
	p.Attributes = append(p.Attributes, attrs...)
	b, err := p.MarshalBinary()
	if err != nil {
		panic(err)
	}
	if withMA {
		copy(b[22:38], messageAuthenticator(b, req.Authenticator[:], 22, secret))
	}
	h := md5.New()
	h.Write(b[:4])
	h.Write(req.Authenticator[:])
	h.Write(b[20:])
	h.Write(secret)
	copy(b[4:20], h.Sum(nil))
	return b
}

// msVSA is a Microsoft Vendor-Specific attribute.
func msVSA(typ byte, value []byte) *lr.AVP {
	v := append([]byte{0, 0, 0x01, 0x37, typ, byte(2 + len(value))}, value...)
	return &lr.AVP{Type: typeVendorSpecific, Attribute: v}
}

func addr4(s string) lr.Attribute {
	a := netip.MustParseAddr(s).As4()
	return a[:]
}
