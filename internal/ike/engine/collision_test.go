package engine_test

import (
	"bytes"
	"testing"
	"testing/synctest"
	"time"

	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

// lowest returns the index (0..3) of the lowest of four nonces, compared
// as octet strings (RFC 7296 §2.8.1).
func lowest(ns ...[]byte) int {
	best := 0
	for i, n := range ns {
		if bytes.Compare(n, ns[best]) < 0 {
			best = i
		}
	}
	return best
}

// next takes the next datagram p sent without delivering it.
func next(t testing.TB, p *peer) engine.Datagram {
	t.Helper()
	d, ok := p.net.Next()
	if !ok {
		t.Fatal("no datagram")
	}
	return d
}

// TestSimultaneousChildRekey: both peers rekey the same child SA and both
// notice (each answers the other's request while its own is
// outstanding). Two new child SAs exist for a moment; the one created
// with the lowest of the four nonces is deleted by the peer that created
// it, the old one by the other peer (RFC 7296 §2.8.1). Seeds are tried
// until both outcomes were seen.
func TestSimultaneousChildRekey(t *testing.T) {
	seen := map[string]bool{}
	for seed := uint64(1); seed < 40 && len(seen) < 2; seed++ {
		synctest.Test(t, func(t *testing.T) {
			a, b := pairOpts(t, nil, nil, seeded(seed), seeded(seed+1000))
			establish(t, a, b)
			old, _ := checkChildPair(t, a, b)
			a.e.RekeyChild(onlyChildUID(t, a))
			b.e.RekeyChild(onlyChildUID(t, b))
			reqA, reqB := next(t, a), next(t, b) // the two CREATE_CHILD_SA requests cross
			_, psReqB := open(t, a, reqB)
			inject(a, reqB, nil, b) // A answers B's rekey as usual, noting the collision
			_, psReqA := open(t, b, reqA)
			inject(b, reqA, nil, a)                             // B answers A's rekey
			psRespA := step(t, b, a, cc, true, "SA No TSi TSr") // A's rekey completes
			psRespB := step(t, a, b, cc, true, "SA No TSi TSr") // B's rekey completes
			// Exchange A: Ni(A), Nr(B); exchange B: Ni(B), Nr(A).
			l := lowest(nonceOf(t, psReqA), nonceOf(t, psRespA), nonceOf(t, psReqB), nonceOf(t, psRespB))
			aLoses := l < 2
			// Survivor: the child SA of the other exchange, named by the
			// SPIs proposed in it.
			wantInA := uint32(proposedSPI(t, psRespB)) // A's inbound SPI of B's exchange
			if !aLoses {
				wantInA = uint32(proposedSPI(t, psReqA))
			}
			// The loser deletes its redundant SA, the winner the old one:
			// two INFORMATIONAL exchanges, one from each side.
			step(t, a, b, info, false, "D(ESP)")
			step(t, b, a, info, false, "D(ESP)")
			step(t, b, a, info, true, "D(ESP)")
			step(t, a, b, info, true, "D(ESP)")
			silent(t, a, b)
			c, _ := checkChildPair(t, a, b)
			if c.InSPI != wantInA || c.InSPI == old.InSPI {
				t.Fatalf("surviving child SA in %08x, want %08x (A loses: %v)", c.InSPI, wantInA, aLoses)
			}
			if aLoses {
				seen["b-wins"] = true
			} else {
				seen["a-wins"] = true
			}
		})
	}
	if len(seen) != 2 {
		t.Errorf("outcomes seen %v, want both", seen)
	}
}

// TestSimultaneousChildRekeyOneSided: only A notices the collision: B's
// rekey completes before A's request reaches it, so B deletes the old
// child SA and answers A's late request with TEMPORARY_FAILURE while it
// is closing it, or CHILD_SA_NOT_FOUND once it is gone (RFC 7296
// §2.25.1, §2.25). A keeps B's new child SA and tries nothing more.
func TestSimultaneousChildRekeyOneSided(t *testing.T) {
	for _, tc := range []struct {
		name, answer string
		deleteFirst  bool
	}{
		{"delete-outstanding", "N(TEMPORARY_FAILURE)", false},
		{"delete-done", "N(CHILD_SA_NOT_FOUND)", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a, b := pair(t, nil, nil, nil)
				establish(t, a, b)
				a.e.RekeyChild(onlyChildUID(t, a))
				b.e.RekeyChild(onlyChildUID(t, b))
				reqA := next(t, a)                                    // held back in the network
				step(t, b, a, cc, false, "N(REKEY_SA) SA No TSi TSr") // A answers B's rekey, noting the collision
				step(t, a, b, cc, true, "SA No TSi TSr")              // B's rekey completes: it saw no collision
				if tc.deleteFirst {
					step(t, b, a, info, false, "D(ESP)") // B deletes the old child SA
					step(t, a, b, info, true, "D(ESP)")  // A answers with its half (§2.25.1: as usual)
					inject(b, reqA, nil, a)              // A's late rekey request
					step(t, b, a, cc, true, tc.answer)
				} else {
					delB := next(t, b)                  // B's delete of the old child SA, held back
					inject(b, reqA, nil, a)             // A's late rekey request
					step(t, b, a, cc, true, tc.answer)  // B is closing that child SA
					inject(a, delB, nil, b)             // B's delete
					step(t, a, b, info, true, "D(ESP)") // A answers as usual
				}
				silent(t, a, b)
				checkChildPair(t, a, b)
				// A does not try again: the child SA it rekeyed is gone and
				// the policy has B's new one.
				advance(a, 5*engine.TempFailureDelay)
				silent(t, a, b)
				checkChildPair(t, a, b)
			})
		})
	}
}

// TestSimultaneousIKERekey: both peers rekey the IKE SA and both notice.
// The new IKE SA with the lowest nonce is deleted by the peer that
// created it, the other inherits the child SAs, and the old IKE SA is
// deleted by the winner (RFC 7296 §2.8.2).
func TestSimultaneousIKERekey(t *testing.T) {
	seen := map[string]bool{}
	for seed := uint64(1); seed < 40 && len(seen) < 2; seed++ {
		synctest.Test(t, func(t *testing.T) {
			a, b := pairOpts(t, nil, nil, seeded(seed), seeded(seed+1000))
			establish(t, a, b)
			child, _ := checkChildPair(t, a, b)
			a.e.RekeyIKE(saState(t, a).UniqueID)
			b.e.RekeyIKE(saState(t, b).UniqueID)
			reqA, reqB := next(t, a), next(t, b)
			_, psReqB := open(t, a, reqB)
			inject(a, reqB, nil, b)
			_, psReqA := open(t, b, reqA)
			inject(b, reqA, nil, a)
			psRespA := step(t, b, a, cc, true, "SA(IKE) No KE")
			psRespB := step(t, a, b, cc, true, "SA(IKE) No KE")
			l := lowest(nonceOf(t, psReqA), nonceOf(t, psRespA), nonceOf(t, psReqB), nonceOf(t, psRespB))
			aLoses := l < 2
			// The surviving IKE SA: B's exchange (SPIi B's) if A loses.
			wantSPIi := proposedSPI(t, psReqA)
			if aLoses {
				wantSPIi = proposedSPI(t, psReqB)
			}
			// Each side sends one D(IKE): the loser on its new IKE SA, the
			// winner on the old one.
			step(t, a, b, info, false, "D(IKE)")
			step(t, b, a, info, false, "D(IKE)")
			step(t, b, a, info, true, "")
			step(t, a, b, info, true, "")
			silent(t, a, b)
			sa, sb := saState(t, a), saState(t, b)
			if sa.SPIi != wantSPIi || sb.SPIi != wantSPIi || sa.SPIr != sb.SPIr {
				t.Fatalf("surviving IKE SAs %016x/%016x and %016x, want SPIi %016x (A loses: %v)", sa.SPIi, sa.SPIr, sb.SPIi, wantSPIi, aLoses)
			}
			if len(sa.Children) != 1 || len(sb.Children) != 1 || sa.Children[0].InSPI != child.InSPI {
				t.Fatalf("child SAs not inherited by the survivor: %+v / %+v", sa.Children, sb.Children)
			}
			// The survivor works.
			rekeyChild(t, a, b, "N(REKEY_SA) SA No TSi TSr", "SA No TSi TSr")
			if aLoses {
				seen["b-wins"] = true
			} else {
				seen["a-wins"] = true
			}
		})
	}
	if len(seen) != 2 {
		t.Errorf("outcomes seen %v, want both", seen)
	}
}

// TestSimultaneousIKERekeyOneSided: B's rekey completes before it sees
// A's request, so B deletes the old IKE SA and answers A's late request
// with TEMPORARY_FAILURE (RFC 7296 §2.25.2). A, which noticed the
// collision, learns from B's delete that B did not: the IKE SA B created
// inherits the child SAs and A forgets its own rekey (§2.8.2), whichever
// of B's answer and B's delete arrives first.
func TestSimultaneousIKERekeyOneSided(t *testing.T) {
	for _, deleteFirst := range []bool{false, true} {
		t.Run(map[bool]string{false: "answer-first", true: "delete-first"}[deleteFirst], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				a, b := pair(t, nil, nil, nil)
				establish(t, a, b)
				child, _ := checkChildPair(t, a, b)
				a.e.RekeyIKE(saState(t, a).UniqueID)
				b.e.RekeyIKE(saState(t, b).UniqueID)
				reqA := next(t, a)                        // held back
				step(t, b, a, cc, false, "SA(IKE) No KE") // A answers B's rekey, noting the collision
				step(t, a, b, cc, true, "SA(IKE) No KE")  // B's rekey completes
				delB := next(t, b)                        // B deletes the old IKE SA
				inject(b, reqA, nil, a)                   // A's late rekey request on the old IKE SA
				tempFail := next(t, b)                    // TEMPORARY_FAILURE: B is closing it (§2.25.2)
				if _, m := message(t, tempFail); m.Header.Exchange != cc || !m.Header.Flags.Response() {
					t.Fatalf("B answered %v", m.Header)
				}
				if deleteFirst {
					inject(a, delB, nil, b)
					inject(a, tempFail, nil, b) // for an IKE SA A no longer has
				} else {
					inject(a, tempFail, nil, b)
					inject(a, delB, nil, b)
				}
				step(t, a, b, info, true, "") // A answers B's delete
				silent(t, a, b)
				sa, sb := saState(t, a), saState(t, b)
				if sa.SPIi != sb.SPIi || sa.SPIr != sb.SPIr || !sb.Initiator || len(sa.Children) != 1 || sa.Children[0].InSPI != child.InSPI {
					t.Fatalf("after the one-sided collision: A %+v, B %+v", sa, sb)
				}
				advance(a, 5*engine.TempFailureDelay)
				silent(t, a, b)
				rekeyChild(t, a, b, "N(REKEY_SA) SA No TSi TSr", "SA No TSi TSr")
			})
		})
	}
}

// TestChildRekeyVersusDelete: A rekeys a child SA while B deletes it. A
// answers the delete as usual (with its Delete payload) and B answers the
// rekey of a child SA it is closing with TEMPORARY_FAILURE (RFC 7296
// §2.25.1); A does not retry. No child SA is left, the IKE SA stays.
func TestChildRekeyVersusDelete(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, nil, nil, nil)
		establish(t, a, b)
		a.e.RekeyChild(onlyChildUID(t, a))
		b.e.DeleteChildByUID(onlyChildUID(t, b))
		reqA := next(t, a)
		step(t, b, a, info, false, "D(ESP)") // B's delete reaches A first
		inject(b, reqA, nil, a)
		step(t, a, b, info, true, "D(ESP)")
		step(t, b, a, cc, true, "N(TEMPORARY_FAILURE)")
		silent(t, a, b)
		if len(a.dp.Children())+len(b.dp.Children()) != 0 {
			t.Fatal("child SA left")
		}
		if saState(t, a).State != "established" || saState(t, b).State != "established" {
			t.Error("IKE SA lost")
		}
		advance(a, 5*engine.TempFailureDelay)
		silent(t, a, b)
	})
}

// TestChildDeleteBothSides: both peers delete the same child SA: each
// answers the other's delete without a Delete payload (RFC 7296 §2.25.1).
func TestChildDeleteBothSides(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, nil, nil, nil)
		establish(t, a, b)
		a.e.DeleteChildByUID(onlyChildUID(t, a))
		b.e.DeleteChildByUID(onlyChildUID(t, b))
		reqA := next(t, a)
		step(t, b, a, info, false, "D(ESP)")
		inject(b, reqA, nil, a)
		step(t, a, b, info, true, "")
		step(t, b, a, info, true, "")
		silent(t, a, b)
		if len(a.dp.Children())+len(b.dp.Children()) != 0 {
			t.Fatal("child SA left")
		}
	})
}

// TestIKERekeyVersusDelete: A rekeys the IKE SA while B deletes it. A
// answers the delete and forgets its rekey; B answers the rekey of an IKE
// SA it is closing with TEMPORARY_FAILURE (RFC 7296 §2.25.2). Nothing is
// left, and A's reserved SPI is free again.
func TestIKERekeyVersusDelete(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var evA events
		a, b := pairOpts(t, nil, nil, evA.hook(), nil)
		establish(t, a, b)
		a.e.RekeyIKE(saState(t, a).UniqueID)
		b.e.DeleteIKE(mustSPI(t, b))
		reqA := next(t, a)
		step(t, b, a, info, false, "D(IKE)") // B's delete reaches A first
		inject(b, reqA, nil, a)
		step(t, a, b, info, true, "")
		d := next(t, b) // TEMPORARY_FAILURE, for an SA A no longer has
		if _, m := message(t, d); m.Header.Exchange != cc || !m.Header.Flags.Response() {
			t.Fatalf("B sent %v", m.Header)
		}
		inject(a, d, nil, b)
		silent(t, a, b)
		if len(a.e.IKESAs())+len(b.e.IKESAs()) != 0 || len(a.dp.Children())+len(b.dp.Children()) != 0 {
			t.Fatal("SAs left")
		}
		if got := evA.kinds(); got != "ike-up child-up child-down ike-down" {
			t.Errorf("events %q", got)
		}
	})
}

// TestIKERekeyWhileChildExchange: a peer asked to rekey the IKE SA while
// its own child SA exchange is outstanding answers TEMPORARY_FAILURE (RFC
// 7296 §2.25) and the initiator tries again after a while.
func TestIKERekeyWhileChildExchange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pairOpts(t, nil, nil, noJitter, nil)
		establish(t, a, b)
		b.e.RekeyChild(onlyChildUID(t, b))
		a.e.RekeyIKE(saState(t, a).UniqueID)
		reqB := next(t, b)                              // B's child rekey, held back
		step(t, a, b, cc, false, "SA(IKE) No KE")       // A's IKE SA rekey
		step(t, b, a, cc, true, "N(TEMPORARY_FAILURE)") // B: its child exchange is outstanding
		inject(a, reqB, nil, b)
		step(t, a, b, cc, true, "SA No TSi TSr")
		step(t, b, a, info, false, "D(ESP)")
		step(t, a, b, info, true, "D(ESP)")
		silent(t, a, b)
		if _, info := onlySA(t, a); info.LastError != wire.NotifyTemporaryFailure {
			t.Errorf("last error %v", info.LastError)
		}
		// RFC 7296 §2.25: not immediately; after TempFailureDelay (plus
		// a random delay, zero here), A tries again and succeeds.
		if got := advance(a, engine.TempFailureDelay-1); len(got) != 0 {
			t.Fatal("retried too early")
		}
		time.Sleep(1)
		synctest.Wait()
		step(t, a, b, cc, false, "SA(IKE) No KE")
		step(t, b, a, cc, true, "SA(IKE) No KE")
		step(t, a, b, info, false, "D(IKE)")
		step(t, b, a, info, true, "")
		checkChildPair(t, a, b)
		if saState(t, a).SPIi != saState(t, b).SPIi {
			t.Error("IKE SAs differ")
		}
	})
}

// noJitter makes the engine's random delays zero.
func noJitter(o *engine.Options) { o.Jitter = func() float64 { return 0 } }
