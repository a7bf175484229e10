package engine_test

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"testing"
	"testing/synctest"

	"secgw/generated"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

// Receiving INVALID_SPI (RFC 7296 §1.5, §3.10.1): A is the initiator,
// B answers ESP with an unknown SPI (respond-bad-spi).

// loseDataplane simulates a restart of p's dataplane: its child SAs are
// gone from the dataplane while the engine still holds them, so ESP
// under their SPIs is unknown there.
func loseDataplane(t testing.TB, p *peer) {
	t.Helper()
	for _, c := range p.dp.Children() {
		if err := p.dp.DeleteChild(c); err != nil {
			t.Fatal(err)
		}
	}
}

// TestInvalidSPIResync: B's dataplane lost the child SA; A's ESP under
// the stale SPI makes B send N(INVALID_SPI) with it; A answers, deletes
// its child SA, tells B with D(ESP) of its inbound SPI (B drops its stale
// record and answers with D(ESP) of its own), and close-action start
// negotiates the child SA again on the same IKE SA with new SPIs.
func TestInvalidSPIResync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs, hook := recordLogs(t)
		a, b := pairOpts(t, closeAction(closeStart), respondBadSPI(2), hook, nil)
		establish(t, a, b)
		old, _ := checkChildPair(t, a, b)
		loseDataplane(t, b)

		// ESP from A under old.OutSPI reaches B's dataplane, unknown.
		if !b.e.UnknownSPI(addrB, addrA, old.OutSPI) {
			t.Fatal("B did not answer the unknown SPI")
		}
		step(t, b, a, info, false, "N(INVALID_SPI)") // HDR, SK {N(INVALID_SPI, old out)} -->
		step(t, a, b, info, true, "")                // <-- HDR, SK {}
		if n := len(a.dp.Children()); n != 0 {
			t.Fatalf("A still has %d child SAs after INVALID_SPI", n)
		}
		ps := step(t, a, b, info, false, "D(ESP)") // HDR, SK {D(ESP, old in)} -->
		if d := ps[0].(*wire.Delete); len(d.SPIs) != 1 || binary.BigEndian.Uint32(d.SPIs[0]) != old.InSPI {
			t.Fatalf("A's delete %+v, want its inbound SPI %08x", d, old.InSPI)
		}
		step(t, b, a, info, true, "D(ESP)")       // <-- HDR, SK {D(ESP, B's old in)}
		step(t, a, b, cc, false, "SA No TSi TSr") // CREATE_CHILD_SA on the same IKE SA
		step(t, b, a, cc, true, "SA No TSi TSr")
		silent(t, a, b)
		ca, _ := checkChildPair(t, a, b)
		if ca.InSPI == old.InSPI || ca.OutSPI == old.OutSPI {
			t.Fatalf("new child SA reuses the old SPIs %08x/%08x", ca.InSPI, ca.OutSPI)
		}
		if n := len(a.e.IKESAs()); n != 1 {
			t.Fatalf("A has %d IKE SAs, want the same one", n)
		}
		if got := a.e.BadSPIStats().Received; got != 1 {
			t.Fatalf("A counted %d INVALID_SPI received, want 1", got)
		}
		// Logged at the default level, naming the peer and the SPI.
		recs := logs.find("peer lost child SA (INVALID_SPI): deleting it")
		if len(recs) != 1 || recs[0]["level"] != "INFO" || recs[0]["remote"] != addrB.String() ||
			recs[0]["spi"] != fmt.Sprintf("%08x", old.OutSPI) {
			t.Fatalf("log records %v", recs)
		}
		if got := b.e.BadSPIStats(); got.Sent != 1 || got.Received != 0 {
			t.Fatalf("B stats %+v, want one sent, none received", got)
		}
	})
}

// TestInvalidSPICloseAction: with close-action none the child SA the
// peer lost is deleted (D(ESP) to the peer) and nothing is negotiated;
// with trap a trap policy takes its place.
func TestInvalidSPICloseAction(t *testing.T) {
	for _, tc := range []struct {
		name   string
		action generated.E_SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_CloseAction
		traps  int
	}{{"none", closeNone, 0}, {"trap", closeTrap, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a, b := pair(t, closeAction(tc.action), respondBadSPI(2), nil)
				establish(t, a, b)
				old, _ := checkChildPair(t, a, b)
				loseDataplane(t, b)
				b.e.UnknownSPI(addrB, addrA, old.OutSPI)
				step(t, b, a, info, false, "N(INVALID_SPI)")
				step(t, a, b, info, true, "")
				step(t, a, b, info, false, "D(ESP)")
				step(t, b, a, info, true, "D(ESP)")
				silent(t, a, b)
				if len(a.dp.Children()) != 0 || len(b.dp.Children()) != 0 || len(a.dp.Traps()) != tc.traps {
					t.Fatalf("children A %d B %d, traps %d, want none, none, %d",
						len(a.dp.Children()), len(b.dp.Children()), len(a.dp.Traps()), tc.traps)
				}
				if n := len(a.e.IKESAs()); n != 1 {
					t.Fatalf("A has %d IKE SAs, want the IKE SA kept", n)
				}
			})
		})
	}
}

// TestInvalidSPIUnknown: N(INVALID_SPI) naming an SPI that is not one of
// our outbound SPIs (here B's inbound one, and a made-up one) is answered
// and has no effect.
func TestInvalidSPIUnknown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, closeAction(closeStart), respondBadSPI(2), nil)
		establish(t, a, b)
		old, _ := checkChildPair(t, a, b)
		for _, spi := range []uint32{old.InSPI, 0xdeadbeef} {
			b.e.UnknownSPI(addrB, addrA, spi)
			step(t, b, a, info, false, "N(INVALID_SPI)")
			step(t, a, b, info, true, "")
			silent(t, a, b)
		}
		if now, _ := checkChildPair(t, a, b); now.InSPI != old.InSPI {
			t.Fatal("A's child SA changed")
		}
		if got := a.e.BadSPIStats().Received; got != 0 {
			t.Fatalf("A counted %d INVALID_SPI received, want 0", got)
		}
	})
}

// TestInvalidSPIUnauthenticated: N(INVALID_SPI) with the SPI of A's
// child SA in an IKE_SA_INIT request, or in an INFORMATIONAL without SK
// payload on A's IKE SA, is never acted on: anyone can forge them (RFC
// 7296 §1.5: outside an IKE SA a mere hint).
func TestInvalidSPIUnauthenticated(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, closeAction(closeStart), nil, nil)
		establish(t, a, b)
		old, _ := checkChildPair(t, a, b)
		notify := &wire.Notify{NotifyType: wire.NotifyInvalidSPI, Data: binary.BigEndian.AppendUint32(nil, old.OutSPI)}
		from := engine.Datagram{Local: netip.AddrPortFrom(addrA, 500), Remote: netip.AddrPortFrom(addrB, 500)}

		// An unprotected INFORMATIONAL request on the established IKE SA.
		_, info0 := onlySA(t, a)
		m := &wire.Message{Header: wire.Header{SPIi: info0.SPIi, SPIr: info0.SPIr, MajorVersion: 2,
			Exchange: info, MessageID: 2}, Payloads: []wire.Payload{notify}}
		raw, err := m.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		from.Data = raw
		a.e.HandleDatagram(from)
		if a.net.Len() != 0 {
			t.Fatal("A answered an unprotected INFORMATIONAL")
		}

		// An IKE_SA_INIT request from B's address carrying the notify.
		c, _ := pair(t, nil, nil, nil)
		_, m = initRequest(t, c)
		m.Payloads = append(m.Payloads, notify)
		if raw, err = m.Marshal(); err != nil {
			t.Fatal(err)
		}
		from.Data = raw
		a.e.HandleDatagram(from)
		takeAll(a) // whatever A answers to the new IKE_SA_INIT
		if now, _ := checkChildPair(t, a, b); now.InSPI != old.InSPI {
			t.Fatal("A's child SA changed")
		}
		if got := a.e.BadSPIStats().Received; got != 0 {
			t.Fatalf("A counted %d INVALID_SPI received, want 0", got)
		}
	})
}
