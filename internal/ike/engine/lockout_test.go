package engine_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"secgw/generated"
	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/proposal"
	"secgw/internal/ike/wire"
	"secgw/internal/logging/loglimit"
)

// block-threshold must not be something an off-path
// attacker can trigger against another address (dos.go), and the cookie
// secret rotates (cookie.go).

// initReq is one IKE_SA_INIT request of a scripted initiator: its SPIi
// and nonce stay the same when it returns a cookie (RFC 7296 §2.6).
type initReq struct {
	spi uint64
	ni  []byte
}

func newInitReq() initReq {
	var b [8]byte
	rand.Read(b[:])
	ni := make([]byte, 32)
	rand.Read(ni)
	return initReq{spi: binary.BigEndian.Uint64(b[:]) | 1, ni: ni}
}

// raw encodes the request with B's default proposals, a KE of their first
// group and, if cookie is set, N(COOKIE) as the first payload.
func (r initReq) raw(t testing.TB, cookie []byte) []byte {
	t.Helper()
	props := config.DefaultIKEProposals()
	g := proposal.Groups(props[0])[0]
	dh, err := ikecrypto.NewDH(g, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var ps []wire.Payload
	if cookie != nil {
		ps = append(ps, wire.NewNotify(wire.NotifyCookie, cookie))
	}
	ps = append(ps, &wire.SA{Proposals: props}, &wire.KE{Group: g, Data: dh.PublicKey()}, &wire.Nonce{Data: r.ni})
	m := &wire.Message{Header: wire.Header{SPIi: r.spi, MajorVersion: wire.MajorVersion,
		Exchange: wire.ExchangeIKESAInit, Flags: wire.FlagInitiator}, Payloads: ps}
	raw, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// send hands the request (with cookie, if set) from from to B and
// returns B's answer as floodAnswer names it, and the cookie it carried.
func (r initReq) send(t testing.TB, b *peer, from netip.AddrPort, cookie []byte) (answer string, got []byte) {
	t.Helper()
	b.e.HandleDatagram(engine.Datagram{Local: netip.AddrPortFrom(addrB, 500), Remote: from, Data: r.raw(t, cookie)})
	for _, d := range takeAll(b) {
		_, m := message(t, d)
		if m.Header.SPIi != r.spi {
			t.Fatalf("B answered SPIi %016x to a request with %016x", m.Header.SPIi, r.spi)
		}
		switch n, ok := m.Payloads[0].(*wire.Notify); {
		case ok && n.NotifyType == wire.NotifyCookie:
			answer, got = "cookie", n.Data
		case ok:
			answer = n.NotifyType.String()
		default:
			answer = "sa"
		}
	}
	return answer, got
}

// withCookie sends a new request from from and, if B asks for a cookie,
// sends it again with the cookie, as an initiator that receives what is
// sent to from does; it returns B's last answer.
func withCookie(t testing.TB, b *peer, from netip.AddrPort) string {
	t.Helper()
	r := newInitReq()
	answer, c := r.send(t, b, from, nil)
	if answer != "cookie" {
		return answer
	}
	answer, _ = r.send(t, b, from, c)
	return answer
}

// TestBlockThresholdNeedsReturnRoutability: block-threshold 5 (the
// default), cookies otherwise off. An address gets 5 half-open IKE SAs
// without a cookie; its sixth request gets a COOKIE instead of being
// blocked (an off-path attacker may be using the address). Requests that
// return their cookie prove the address answers: 5 of those are let in,
// the sixth is blocked. Other addresses are not affected.
func TestBlockThresholdNeedsReturnRoutability(t *testing.T) {
	b := responder(t, &dosProtection{CookieThreshold: generated.UnionUint32(0)}, nil)
	peer := netip.MustParseAddrPort("203.0.113.7:500")
	for i := range 5 {
		if got, _ := newInitReq().send(t, b, netip.AddrPortFrom(peer.Addr(), uint16(1000+i)), nil); got != "sa" {
			t.Fatalf("request %d without cookie: %q", i, got)
		}
	}
	if got, _ := newInitReq().send(t, b, peer, nil); got != "cookie" {
		t.Fatalf("sixth request without cookie: answered %q, want a COOKIE", got)
	}
	for i := range 5 {
		if got := withCookie(t, b, peer); got != "sa" {
			t.Fatalf("request %d returning its cookie: %q", i, got)
		}
	}
	if got := withCookie(t, b, peer); got != "" {
		t.Fatalf("sixth verified half-open IKE SA of one address: answered %q", got)
	}
	if got, _ := newInitReq().send(t, b, spoofed(6), nil); got != "sa" {
		t.Fatalf("another address: %q", got)
	}
	if st := b.e.DoSStats(); st.Blocked != 1 || st.HalfOpen != 11 || st.PeerCookies != 7 || st.Cookies != 7 {
		t.Fatalf("%+v", st)
	}
}

// TestSpoofedLockout is the spoofed lock-out attack: an off-path
// attacker sends IKE_SA_INIT requests with A's address as source to B
// (default dos-protection: cookie-threshold 10, block-threshold 5), five
// first, then twenty per round while A connects. The attacker never sees
// B's answers, A does (they go to its address) and drops them. A gets a
// COOKIE for its own request, returns it and its IKE SA and child SA
// come up; B holds no more than block-threshold half-open SAs for the
// spoofed requests.
func TestSpoofedLockout(t *testing.T) {
	a, b := pair(t, nil, nil, nil)
	victim := netip.AddrPortFrom(addrA, 500)
	spoof := func(n int) {
		for range n {
			b.e.HandleDatagram(engine.Datagram{Local: netip.AddrPortFrom(addrB, 500), Remote: victim, Data: floodInit(t)})
		}
	}
	spoof(5)
	if st := b.e.DoSStats(); st.HalfOpen != 5 {
		t.Fatalf("B after 5 spoofed requests: %+v", st)
	}
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		spoof(20)
		for _, d := range takeAll(a) {
			inject(b, d, nil, a)
		}
		for _, d := range takeAll(b) {
			inject(a, d, nil, b) // answers to A's requests and to the spoofed ones
		}
	}
	pump(t, a, b, nil)
	checkChildPair(t, a, b)
	if _, info := onlySA(t, a); info.State != "established" {
		t.Fatalf("A's IKE SA is %s", info.State)
	}
	st := b.e.DoSStats()
	if st.Established != 1 || st.HalfOpen != 5 || st.Blocked != 0 || st.PeerCookies != 200+1 {
		t.Fatalf("B: %+v", st)
	}
}

// TestCookieRotation: the cookie secret is replaced every
// CookieSecretLifetime (RFC 7296 §2.6: "periodically changed"); a cookie
// made with the previous secret is accepted for CookieSecretGrace after
// the rotation, then answered with a new COOKIE. Time is synctest's.
func TestCookieRotation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newPeer(t, anyConfig(), addrB, func(o *engine.Options) { o.RequireCookies = true })
		from := spoofed(1)
		r1, r2 := newInitReq(), newInitReq()
		_, c1 := r1.send(t, b, from, nil)
		_, c2 := r2.send(t, b, from, nil)
		if c1 == nil || c2 == nil || c1[0] != c2[0] {
			t.Fatalf("cookies %x and %x", c1, c2)
		}
		// The same request gets the same cookie while the secret lives.
		time.Sleep(engine.CookieSecretLifetime - time.Second)
		if _, again := r2.send(t, b, from, nil); !bytes.Equal(again, c2) {
			t.Fatal("a new cookie within the secret's lifetime")
		}
		time.Sleep(time.Second)
		// Rotated: the same request now gets another cookie, of another
		// version; the old one is still good for r1.
		if _, fresh := r2.send(t, b, from, nil); bytes.Equal(fresh, c2) || fresh[0] == c2[0] {
			t.Fatalf("after the lifetime: cookie %x, before %x", fresh, c2)
		}
		if got, _ := r1.send(t, b, from, c1); got != "sa" {
			t.Fatalf("the previous secret's cookie within the grace: %q", got)
		}
		time.Sleep(engine.CookieSecretGrace)
		synctest.Wait() // r1's half-open timeout, due now too, has fired
		got, fresh := r2.send(t, b, from, c2)
		if got != "cookie" || bytes.Equal(fresh, c2) {
			t.Fatalf("the previous secret's cookie after the grace: %q %x", got, fresh)
		}
		if got, _ := r2.send(t, b, from, fresh); got != "sa" {
			t.Fatalf("the new cookie: %q", got)
		}
		if st := b.e.DoSStats(); st.CookieRotations != 1 || st.HalfOpen != 1 || st.HalfOpenTimeouts != 1 { // r1's timed out meanwhile
			t.Fatalf("%+v", st)
		}
		// A cookie of an unknown version or of the wrong length is no
		// cookie.
		r3 := newInitReq()
		_, c3 := r3.send(t, b, from, nil)
		bad := bytes.Clone(c3)
		bad[0]++
		for _, c := range [][]byte{bad, c3[:len(c3)-1]} {
			if got, _ := r3.send(t, b, from, c); got != "cookie" {
				t.Fatalf("cookie %x: %q", c, got)
			}
		}
	})
}

// unreachable is a Conn with no route anywhere: every send fails as
// sendto(2) does for a spoofed source address that has no route back.
type unreachable struct{}

func (unreachable) Send(engine.Datagram) error {
	return errors.New("udpconn: sendto: network is unreachable")
}

func (unreachable) Receive(ctx context.Context) (engine.Datagram, error) {
	<-ctx.Done()
	return engine.Datagram{}, ctx.Err()
}

// lockedBuffer collects log lines from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// count returns how many lines contain s.
func (l *lockedBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// TestSpoofedFloodLogsRateLimited: 10,000 IKE_SA_INIT requests in 5 s from
// spoofed addresses with no route back (every answer fails to send) give
// loglimit.DefaultBurst "send failed" warnings, not one per packet, and
// one summary line with the count of the others once the interval ends.
func TestSpoofedFloodLogsRateLimited(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out lockedBuffer
		b := newPeer(t, anyConfig(), addrB, func(o *engine.Options) {
			o.Conn = unreachable{}
			o.Logger = slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo}))
		})
		for s := range 5 {
			for i := range 2000 {
				b.e.HandleDatagram(engine.Datagram{Local: netip.AddrPortFrom(addrB, 500), Remote: spoofed(s*2000 + i), Data: floodInit(t)})
			}
			time.Sleep(time.Second)
		}
		if n := out.count(`msg="send failed"`); n != loglimit.DefaultBurst {
			t.Fatalf("%d send failed warnings during the flood, want %d", n, loglimit.DefaultBurst)
		}
		time.Sleep(loglimit.DefaultInterval)
		synctest.Wait()
		want := `msg="send failed ... 9995 more suppressed"`
		if n := out.count(want); n != 1 {
			t.Fatalf("%d summary lines %s", n, want)
		}
		if n := strings.Count(out.b.String(), "\n"); n > 2*loglimit.DefaultBurst+config.DefaultCookieThreshold+1 {
			t.Fatalf("%d lines in all:\n%s", n, out.b.String())
		}
	})
}

// TestNewCookieAfterRestart: the initiator returns a cookie, but the
// responder no longer knows its secret (it restarted; the same happens
// when a cookie outlives CookieSecretGrace) and answers with a new
// COOKIE; the initiator returns the new one (RFC 7296 §2.6) and the IKE
// SA comes up.
func TestNewCookieAfterRestart(t *testing.T) {
	require := func(o *engine.Options) { o.RequireCookies = true }
	a, b := pair(t, nil, nil, require)
	if err := a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	deliver(t, a, b) // IKE_SA_INIT request
	deliver(t, b, a) // N(COOKIE)
	_, b2 := pair(t, nil, nil, require)
	deliver(t, a, b2) // IKE_SA_INIT request with the old N(COOKIE) first
	if _, m := message(t, deliver(t, b2, a)); m.Payloads[0].(*wire.Notify).NotifyType != wire.NotifyCookie {
		t.Fatal("the restarted responder accepted a cookie of its previous life")
	}
	deliver(t, a, b2) // IKE_SA_INIT request with the new N(COOKIE)
	deliver(t, b2, a) // IKE_SA_INIT response
	deliver(t, a, b2) // IKE_AUTH request
	deliver(t, b2, a) // IKE_AUTH response
	checkChildPair(t, a, b2)
}
