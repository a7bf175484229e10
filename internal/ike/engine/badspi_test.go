package engine_test

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"secgw/generated"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

// respondBadSPI sets global-options respond-bad-spi max-responses n.
func respondBadSPI(n uint8) func(*generated.SecgwVrf_Vrf_Ike) {
	return func(ike *generated.SecgwVrf_Vrf_Ike) {
		ike.GetOrCreateGlobalOptions().GetOrCreateRespondBadSpi().MaxResponses = ptr(n)
	}
}

// TestBadSPIResponse: with respond-bad-spi max-responses 2, ESP with an
// unknown SPI from the address of an established IKE SA's peer is
// answered with HDR, SK {N(INVALID_SPI)} carrying the SPI (RFC 7296
// §1.5, §3.10.1: Protocol ID 0, no SPI field, the SPI as the data), in
// an INFORMATIONAL request the peer answers; the third report within a
// minute is only counted (limited), and a minute later the peer is
// answered again. ESP from an address without IKE SA is not answered.
func TestBadSPIResponse(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, nil, respondBadSPI(2), nil)
		establish(t, a, b)

		// A sends ESP under an SPI B does not know (B lost the SA).
		const stale = 0xc0ffee01
		for i := range 2 {
			if !b.e.UnknownSPI(addrB, addrA, stale) {
				t.Fatalf("report %d not answered", i+1)
			}
			// INFORMATIONAL request: HDR, SK {N(INVALID_SPI)}.
			d, ok := b.net.Next()
			if !ok {
				t.Fatal("no INVALID_SPI sent")
			}
			h, ps := open(t, a, d)
			if h.Exchange != info || h.Flags.Response() || summary(ps) != "N(INVALID_SPI)" {
				t.Fatalf("got %v response=%v {%s}, want INFORMATIONAL {N(INVALID_SPI)}", h.Exchange, h.Flags.Response(), summary(ps))
			}
			n := ps[0].(*wire.Notify)
			if n.Protocol != 0 || len(n.SPI) != 0 || len(n.Data) != 4 || binary.BigEndian.Uint32(n.Data) != stale {
				t.Fatalf("notify %+v, want protocol 0, no SPI, data %08x", n, stale)
			}
			inject(a, d, nil, b)
			step(t, a, b, info, true, "") // <-- HDR, SK {}
		}
		if b.e.UnknownSPI(addrB, addrA, stale) {
			t.Fatal("third report within a minute answered, max-responses is 2")
		}
		if got := takeAll(b); len(got) != 0 {
			t.Fatalf("%d datagrams sent beyond max-responses", len(got))
		}
		// Unknown peer: nothing to answer over.
		if b.e.UnknownSPI(addrB, netip.MustParseAddr("10.0.0.99"), stale) {
			t.Fatal("answered a peer without IKE SA")
		}
		if got, want := b.e.BadSPIStats(), (engine.BadSPIStats{Reported: 4, Sent: 2, Limited: 1}); got != want {
			t.Fatalf("stats %+v, want %+v", got, want)
		}
		time.Sleep(time.Minute)
		if !b.e.UnknownSPI(addrB, addrA, stale) {
			t.Fatal("not answered a minute later")
		}
		step(t, b, a, info, false, "N(INVALID_SPI)")
	})
}

// TestBadSPIOff: without respond-bad-spi nothing is sent; the report is
// still counted.
func TestBadSPIOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, nil, nil, nil)
		establish(t, a, b)
		if b.e.UnknownSPI(addrB, addrA, 1234) {
			t.Fatal("answered without respond-bad-spi")
		}
		if got := takeAll(b); len(got) != 0 {
			t.Fatalf("%d datagrams sent", len(got))
		}
		if s := b.e.BadSPIStats(); s.Reported != 1 || s.Sent != 0 {
			t.Fatalf("stats %+v", s)
		}
	})
}
