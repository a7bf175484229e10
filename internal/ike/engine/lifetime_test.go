package engine_test

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"secgw/internal/ike/engine"
)

// jitter fixes the engine's random numbers (retransmission jitter, rekey
// margin) to r.
func jitter(r float64) func(*engine.Options) {
	return func(o *engine.Options) { o.Jitter = func() float64 { return r } }
}

func childLife(rekey, life uint32) func(*ipsecPolicy) {
	return func(p *ipsecPolicy) {
		p.RekeyTime, p.LifeTime = ptr(rekey), ptr(life)
	}
}

// TestChildSoftLifetime: a child SA is rekeyed at rekey-time minus the
// random margin (RekeyMarginPct of rekey-time times the random number),
// here 100 s - 10% x 0.5 = 95 s, and the new one gets fresh lifetimes.
// B, with no margin, would rekey at 100 s: its old child SA is gone by
// then.
func TestChildSoftLifetime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		life := withIPsec(childLife(100, 200))
		a, b := pairOpts(t, life, life, jitter(0.5), jitter(0))
		start := time.Now()
		establish(t, a, b)
		c := saState(t, a).Children[0]
		if !c.RekeyAt.Equal(start.Add(95*time.Second)) || !c.ExpireAt.Equal(start.Add(200*time.Second)) {
			t.Fatalf("rekey at %v, expire at %v", c.RekeyAt.Sub(start), c.ExpireAt.Sub(start))
		}
		if got := advance(a, 95*time.Second-time.Millisecond); len(got) != 0 {
			t.Fatal("rekeyed before the soft lifetime")
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		step(t, a, b, cc, false, "N(REKEY_SA) SA No TSi TSr")
		step(t, b, a, cc, true, "SA No TSi TSr")
		step(t, a, b, info, false, "D(ESP)")
		step(t, b, a, info, true, "D(ESP)")
		checkChildPair(t, a, b)
		if got := advance(b, 10*time.Second); len(got) != 0 {
			t.Fatal("B rekeyed the deleted child SA")
		}
		if c := saState(t, a).Children[0]; !c.RekeyAt.Equal(start.Add(190 * time.Second)) {
			t.Errorf("new child SA rekey at %v", c.RekeyAt.Sub(start))
		}
	})
}

// TestChildHardLifetime: without rekey (rekey-time 0), the child SA leaves
// the dataplane at its life-time and the peer is told with an
// INFORMATIONAL delete (RFC 7296 §1.4.1); the IKE SA stays.
func TestChildHardLifetime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var evA events
		a, b := pairOpts(t, withIPsec(childLife(0, 50)), withIPsec(childLife(0, 0)), evA.hook(), nil)
		establish(t, a, b)
		time.Sleep(50 * time.Second)
		synctest.Wait()
		if len(a.dp.Children()) != 0 {
			t.Fatal("child SA still in A's dataplane")
		}
		step(t, a, b, info, false, "D(ESP)")
		step(t, b, a, info, true, "D(ESP)")
		if len(b.dp.Children()) != 0 || saState(t, a).State != "established" {
			t.Fatal("after the hard lifetime")
		}
		if got := evA.kinds(); got != "ike-up child-up child-down" {
			t.Errorf("events %q", got)
		}
	})
}

// TestRekeyMargin: the margin spreads the rekeys of SAs set up together
// over the last RekeyMarginPct percent of rekey-time: from rekey-time
// itself (random 0) to 90% of it (random close to 1), IKE SA and child SA
// alike; the IKE SA's maximum lifetime is its rekey plus 10% of
// rekey-time (the vsr guide: rekeying in 13328s, maximum lifetime 14768s).
func TestRekeyMargin(t *testing.T) {
	for _, r := range []float64{0, 0.25, 0.999} {
		synctest.Test(t, func(t *testing.T) {
			a, b := pairOpts(t, nil, nil, jitter(r), nil)
			start := time.Now()
			establish(t, a, b)
			s := saState(t, a)
			ike := time.Duration(float64(14400*time.Second) * (1 - 0.1*r))
			child := time.Duration(float64(3600*time.Second) * (1 - 0.1*r))
			if got := s.RekeyAt.Sub(start); got != ike {
				t.Errorf("r=%v: IKE rekey after %v, want %v", r, got, ike)
			}
			if got := s.ExpireAt.Sub(start); got != ike+1440*time.Second {
				t.Errorf("r=%v: IKE maximum lifetime %v, want %v", r, got, ike+1440*time.Second)
			}
			if got := s.Children[0].RekeyAt.Sub(start); got != child {
				t.Errorf("r=%v: child rekey after %v, want %v", r, got, child)
			}
			if got := s.Children[0].ExpireAt.Sub(start); got != 3960*time.Second {
				t.Errorf("r=%v: child expires after %v, want the default life-time 3960 s", r, got)
			}
		})
	}
}

// TestIKELifetimes: the IKE SA is rekeyed at rekey-time minus the margin;
// when that rekey never completes, the IKE SA is dropped at its maximum
// lifetime.
func TestIKELifetimes(t *testing.T) {
	rekey := withIKE(func(p *ikePolicy) { p.RekeyTime = ptr(uint32(1000)) })
	never := withIKE(func(p *ikePolicy) { p.RekeyTime = ptr(uint32(0)) })
	clear := withIPsec(func(p *ipsecPolicy) { p.DpdAction = dpdClear })
	synctest.Test(t, func(t *testing.T) {
		a, b := pairOpts(t, chain(rekey, clear), never, jitter(0.5), nil)
		start := time.Now()
		establish(t, a, b)
		if got := advance(a, 950*time.Second-time.Millisecond); len(got) != 0 {
			t.Fatal("rekeyed early")
		}
		time.Sleep(time.Millisecond)
		synctest.Wait()
		step(t, a, b, cc, false, "SA(IKE) No KE")
		step(t, b, a, cc, true, "SA(IKE) No KE")
		step(t, a, b, info, false, "D(IKE)")
		step(t, b, a, info, true, "")
		s := saState(t, a)
		if s.RekeyAt.Sub(start) != 1900*time.Second || s.ExpireAt.Sub(start) != 2000*time.Second {
			t.Errorf("new IKE SA: rekey at %v, maximum lifetime %v", s.RekeyAt.Sub(start), s.ExpireAt.Sub(start))
		}
		// The next rekey goes unanswered: at 2000 s the IKE SA is
		// dropped although its rekey is still being retransmitted.
		if got := advance(a, 1900*time.Second-950*time.Second); len(got) != 1 {
			t.Fatalf("%d datagrams at the second rekey", len(got))
		}
		advance(a, 100*time.Second-time.Millisecond)
		if len(a.e.IKESAs()) != 1 {
			t.Fatal("dropped before its maximum lifetime")
		}
		advance(a, time.Millisecond)
		if len(a.e.IKESAs()) != 0 || len(a.dp.Children()) != 0 {
			t.Fatal("IKE SA kept past its maximum lifetime")
		}
	})
}

// TestExpireFromDataplane: the bytes and packets limits are the
// dataplane's: a soft expiry it reports rekeys the child SA, a hard one
// removes it and deletes it with the peer. An SA is named by inbound SPI
// (Expire) or as the dataplane names it, destination and SPI (ExpireSA),
// the outbound SA included.
func TestExpireFromDataplane(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, nil, nil, nil)
		establish(t, a, b)
		old, _ := checkChildPair(t, a, b)
		if err := a.e.ExpireSA(addrB, old.OutSPI, false); err != nil { // soft, outbound SA
			t.Fatal(err)
		}
		a.e.Expire(old.InSPI, false) // the inbound SA's soft expiry: already rekeying
		step(t, a, b, cc, false, "N(REKEY_SA) SA No TSi TSr")
		step(t, b, a, cc, true, "SA No TSi TSr")
		step(t, a, b, info, false, "D(ESP)")
		step(t, b, a, info, true, "D(ESP)")
		silent(t, a, b)
		cur, _ := checkChildPair(t, a, b)
		if err := a.e.Expire(old.InSPI, true); err != engine.ErrNoSA {
			t.Errorf("expiry of a deleted child SA: %v", err)
		}
		if err := b.e.ExpireSA(addrB, cur.OutSPI, true); err != nil { // hard, B's inbound SA
			t.Fatal(err)
		}
		if len(b.dp.Children()) != 0 {
			t.Fatal("B kept the hard-expired child SA")
		}
		step(t, b, a, info, false, "D(ESP)")
		step(t, a, b, info, true, "D(ESP)")
		if len(a.dp.Children()) != 0 {
			t.Fatal("A kept the child SA")
		}
		if err := a.e.ExpireSA(addrA, 12345, true); err != engine.ErrNoSA {
			t.Errorf("unknown SA: %v", err)
		}
	})
}

// TestExpireSAIndexed: ExpireSA finds an outbound SA by the engine's
// index of outbound SPIs, through an IKE SA rekey that moves the child SA
// to the new IKE SA, and answers an expiry of an SA no child SA holds
// (the dataplane's late report of one already deleted) with ErrNoSA
// without visiting the IKE SAs: OutScannedForTest stays 0 (visiting
// them counts one per IKE SA and call).
func TestExpireSAIndexed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, nil, nil, nil)
		establish(t, a, b)
		old, _ := checkChildPair(t, a, b)
		unknown := func(when string) {
			t.Helper()
			for _, spi := range []uint32{12345, old.InSPI ^ 1, old.OutSPI ^ 1} {
				for _, dst := range []netip.Addr{addrA, addrB} {
					if err := a.e.ExpireSA(dst, spi, true); err != engine.ErrNoSA {
						t.Errorf("%s: expiry of unknown SA %s spi %08x: %v", when, dst, spi, err)
					}
				}
			}
		}
		unknown("established")
		if old.InSPI != old.OutSPI {
			if err := a.e.ExpireSA(addrB, old.InSPI, true); err != engine.ErrNoSA {
				t.Errorf("inbound SPI named with the peer's address: %v", err)
			}
		}
		// The IKE SA rekey moves the child SA: its outbound SPI now
		// names the new IKE SA.
		if err := a.e.RekeyIKE(saState(t, a).UniqueID); err != nil {
			t.Fatal(err)
		}
		pump(t, a, b, nil)
		if got, _ := checkChildPair(t, a, b); got.OutSPI != old.OutSPI {
			t.Fatalf("the IKE SA rekey changed the child SA: out %08x, was %08x", got.OutSPI, old.OutSPI)
		}
		unknown("after the IKE SA rekey")
		if err := a.e.ExpireSA(addrB, old.OutSPI, false); err != nil { // soft, outbound SA
			t.Fatal(err)
		}
		pump(t, a, b, nil)
		cur, _ := checkChildPair(t, a, b)
		if cur.OutSPI == old.OutSPI {
			t.Fatal("the soft expiry of the outbound SA did not rekey the child SA")
		}
		// The replaced child SA is gone from the index, the new one in it.
		if err := a.e.ExpireSA(addrB, old.OutSPI, true); err != engine.ErrNoSA {
			t.Errorf("expiry of the replaced outbound SA: %v", err)
		}
		if err := a.e.ExpireSA(addrB, cur.OutSPI, true); err != nil {
			t.Fatalf("hard expiry of the new outbound SA: %v", err)
		}
		pump(t, a, b, nil)
		if len(a.dp.Children()) != 0 || len(b.dp.Children()) != 0 {
			t.Errorf("child SAs left after the hard expiry: A %d, B %d", len(a.dp.Children()), len(b.dp.Children()))
		}
		if n := a.e.OutScannedForTest(); n != 0 {
			t.Errorf("ExpireSA visited %d IKE SAs; the index tells every SPI here", n)
		}
	})
}
