package engine_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
	"testing/synctest"

	"secgw/generated"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

// RFC 8784 (Post-quantum Preshared Keys) between two engines. A ("to-b")
// initiates, B ("from-a") responds; each step is one message.

const (
	ppkSecret = "0x000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
	ppkOther  = "0x1f1e1d1c1b1a191817161514131211100f0e0d0c0b0a09080706050403020100"
)

// withPPK adds a ppk entry (id, or id-hex when hexID) to a gateway's list.
func withPPK(ike *generated.SecgwVrf_Vrf_Ike, name, id string, hexID bool, secret string) {
	p := &generated.SecgwVrf_Vrf_Ike_Ppk{Name: ptr(name), Secret: ptr(secret)}
	if hexID {
		p.IdHex = ptr(id)
	} else {
		p.Id = ptr(id)
	}
	if ike.Ppk == nil {
		ike.Ppk = map[string]*generated.SecgwVrf_Vrf_Ike_Ppk{}
	}
	ike.Ppk[name] = p
}

// usePPK makes the gateway's only VPN name ppk (require: require-ppk).
func usePPK(ike *generated.SecgwVrf_Vrf_Ike, ppk string, require bool) {
	for _, v := range ike.Vpn {
		v.Ppk = ptr(ppk)
		if require {
			v.IkePolicy.RequirePpk = ptr(true)
		}
	}
}

// ppkStep hands the next datagram of from to to and returns its payloads:
// IKE_SA_INIT in clear, the others decrypted with to's keys.
func ppkStep(t *testing.T, from, to *peer) (wire.Header, []wire.Payload) {
	t.Helper()
	d, ok := from.net.Next()
	if !ok {
		t.Fatal("no datagram to deliver")
	}
	_, m := message(t, d)
	h, ps := m.Header, m.Payloads
	if h.Exchange != wire.ExchangeIKESAInit {
		h, ps = open(t, to, d)
	}
	inject(to, d, nil, from)
	return h, ps
}

// ppkRun is the outcome of one IKE_SA_INIT + IKE_AUTH between A and B.
type ppkRun struct {
	a, b                       *peer
	logA, logB                 *logRecorder
	evA, evB                   events
	initReq, initResp          []wire.Payload
	authReq, authResp          []wire.Payload
	authRespMissing, initAbort bool
}

// runPPK configures A and B with modA and modB, then runs IKE_SA_INIT and
// IKE_AUTH one message at a time. It stops early when a side sends
// nothing: A after an IKE_SA_INIT response it refuses (initAbort).
func runPPK(t *testing.T, modA, modB func(*generated.SecgwVrf_Vrf_Ike)) *ppkRun {
	t.Helper()
	r := &ppkRun{}
	var hookA, hookB func(*engine.Options)
	r.logA, hookA = recordLogs(t)
	r.logB, hookB = recordLogs(t)
	r.logA.keys, r.logB.keys = true, true
	r.a, r.b = pairOpts(t, modA, modB, func(o *engine.Options) {
		hookA(o)
		r.evA.hook()(o)
		o.LogKeys = true
	}, func(o *engine.Options) {
		hookB(o)
		r.evB.hook()(o)
		o.LogKeys = true
	})
	if err := r.a.e.Initiate("to-b"); err != nil {
		t.Fatal(err)
	}
	_, r.initReq = ppkStep(t, r.a, r.b)  // IKE_SA_INIT request: SA, KE, Ni, N(NAT_D*), N(FRAG), [N(USE_PPK)]
	_, r.initResp = ppkStep(t, r.b, r.a) // IKE_SA_INIT response: SA, KE, Nr, N(NAT_D*), N(FRAG), [N(USE_PPK)]
	if r.a.net.Len() == 0 {
		r.initAbort = true
		return r
	}
	_, r.authReq = ppkStep(t, r.a, r.b)  // IKE_AUTH request: SK{IDi, IDr, AUTH, [N(PPK_IDENTITY), N(NO_PPK_AUTH)], SA, TSi, TSr}
	_, r.authResp = ppkStep(t, r.b, r.a) // IKE_AUTH response: SK{IDr, AUTH, [N(PPK_IDENTITY)], SA, TSi, TSr} or N(AUTHENTICATION_FAILED)
	return r
}

func has(ps []wire.Payload, n wire.NotifyType) bool { return findN(ps, n) != nil }

// checkNotifies checks which PPK notifications each message carried.
func (r *ppkRun) checkNotifies(t *testing.T, initReq, initResp, ppkID, noPPKAuth, respPPKID bool) {
	t.Helper()
	for _, c := range []struct {
		what string
		ps   []wire.Payload
		n    wire.NotifyType
		want bool
	}{
		{"IKE_SA_INIT request USE_PPK", r.initReq, wire.NotifyUsePPK, initReq},
		{"IKE_SA_INIT response USE_PPK", r.initResp, wire.NotifyUsePPK, initResp},
		{"IKE_AUTH request PPK_IDENTITY", r.authReq, wire.NotifyPPKIdentity, ppkID},
		{"IKE_AUTH request NO_PPK_AUTH", r.authReq, wire.NotifyNoPPKAuth, noPPKAuth},
		{"IKE_AUTH response PPK_IDENTITY", r.authResp, wire.NotifyPPKIdentity, respPPKID},
	} {
		if got := has(c.ps, c.n); got != c.want {
			t.Errorf("%s: %v, want %v", c.what, got, c.want)
		}
	}
}

// checkUp checks that both sides hold an established IKE SA with paired
// child SAs and the given ppk-used.
func (r *ppkRun) checkUp(t *testing.T, ppkUsed bool) {
	t.Helper()
	checkChildPair(t, r.a, r.b)
	for _, p := range []*peer{r.a, r.b} {
		if s := saState(t, p); s.State != "established" || s.PPKUsed != ppkUsed {
			t.Errorf("IKE SA %s, ppk-used %v; want established, %v", s.State, s.PPKUsed, ppkUsed)
		}
	}
	ka, kb := r.a.e.Snapshot(true)[0].Keys, r.b.e.Snapshot(true)[0].Keys
	if !bytes.Equal(ka.SKd, kb.SKd) {
		t.Error("SK_d differs between the peers")
	}
	for _, l := range []*logRecorder{r.logA, r.logB} {
		if got := len(l.find("using PPK")); got != map[bool]int{true: 1}[ppkUsed] {
			t.Errorf("%d \"using PPK\" records, ppk used %v", got, ppkUsed)
		}
	}
}

// checkFailedPPK checks that nobody holds an SA, that side (the one that
// refused) logged reason, and that its IKEFailed event says "PPK
// required" (the statistics' ppk-required).
func (r *ppkRun) checkFailedPPK(t *testing.T, side *peer, ev *events, logs *logRecorder, msg, reason string) {
	t.Helper()
	for _, p := range []*peer{r.a, r.b} {
		// After an abort in IKE_SA_INIT, B's half-open SA waits for its
		// timeout: A sent it nothing more.
		if n := len(p.e.Snapshot(false)); n != 0 && !(r.initAbort && p == r.b) {
			t.Errorf("%d IKE SAs left", n)
		}
		if n := len(p.dp.Children()); n != 0 {
			t.Errorf("%d child SAs installed", n)
		}
	}
	found := false
	for _, rec := range logs.find(msg) {
		found = found || strings.Contains(rec["reason"]+rec["err"], reason)
	}
	if !found {
		t.Errorf("no %q record with %q", msg, reason)
	}
	var failed []string
	for _, e := range ev.list {
		if e.Kind == engine.IKEFailed {
			failed = append(failed, e.Reason)
		}
	}
	if len(failed) != 1 || !strings.Contains(failed[0], "PPK required") || !strings.Contains(failed[0], "AUTHENTICATION_FAILED") {
		t.Errorf("IKEFailed reasons %q, want one with AUTHENTICATION_FAILED and PPK required", failed)
	}
	if side == r.a && r.initAbort && len(r.b.e.Snapshot(false)) != 1 {
		t.Error("B holds no half-open SA")
	}
}

// noSecretInLogs fails if a PPK value shows in a record below level 4.
func noSecretInLogs(t *testing.T, logs ...*logRecorder) {
	t.Helper()
	for _, l := range logs {
		l.mu.Lock()
		for _, rec := range l.recs {
			if rec["level"] == "DEBUG+4" || rec["level"] == "DEBUG-4" {
				continue
			}
			for k, v := range rec {
				for _, s := range []string{ppkSecret, ppkOther, ppkSecret[2:], ppkOther[2:]} {
					if strings.Contains(v, s) {
						t.Errorf("record %q attribute %s holds a PPK", rec["msg"], k)
					}
				}
			}
		}
		l.mu.Unlock()
	}
}

// TestPPKUsed: both sides have the PPK, A names it in its VPN, B knows it
// as id-hex (the same bytes as A's id): USE_PPK both ways, PPK_IDENTITY
// and NO_PPK_AUTH from A (optional PPK), an empty PPK_IDENTITY back; SK_d
// is SK_d' = prf+(PPK, SK_d) on both sides (RFC 8784 §3), checked
// against the SK_d each logged at level 4 before the PPK, and the child
// SA keys come from it.
func TestPPKUsed(t *testing.T) {
	for _, require := range []bool{false, true} {
		t.Run(map[bool]string{false: "optional", true: "required"}[require], func(t *testing.T) {
			r := runPPK(t, func(ike *generated.SecgwVrf_Vrf_Ike) {
				withPPK(ike, "k1", "bar", false, ppkSecret)
				usePPK(ike, "k1", require)
			}, func(ike *generated.SecgwVrf_Vrf_Ike) {
				withPPK(ike, "other", "626172", true, ppkSecret) // id-hex 626172 is id bar
			})
			r.checkNotifies(t, true, true, true, !require, true)
			if n := findN(r.authReq, wire.NotifyPPKIdentity); n == nil || !bytes.Equal(n.Data, []byte("\x02bar")) {
				t.Errorf("PPK_IDENTITY %+v, want PPK_ID_FIXED (2) then \"bar\" (RFC 8784 §5.1)", n)
			}
			if n := findN(r.authResp, wire.NotifyPPKIdentity); n == nil || len(n.Data) != 0 {
				t.Errorf("responder's PPK_IDENTITY %+v, want empty", n)
			}
			r.checkUp(t, true)
			// SK_d' = prf+(PPK, SK_d) with prf HMAC-SHA-256 (the default
			// proposal): one block, T1 = HMAC(PPK, SK_d | 0x01).
			for _, l := range []*logRecorder{r.logA, r.logB} {
				before, after := l.find("IKE SA keys"), l.find("IKE SA keys with PPK")
				if len(before) != 1 || len(after) != 1 {
					t.Fatalf("%d key records before the PPK, %d after", len(before), len(after))
				}
				skd, _ := hex.DecodeString(before[0]["sk_d"])
				ppk, _ := hex.DecodeString(ppkSecret[2:])
				m := hmac.New(sha256.New, ppk)
				m.Write(skd)
				m.Write([]byte{1})
				if got := after[0]["sk_d"]; got != hex.EncodeToString(m.Sum(nil)) {
					t.Errorf("SK_d' %s, want prf+(PPK, SK_d) %x", got, m.Sum(nil))
				}
			}
			noSecretInLogs(t, r.logA, r.logB)
		})
	}
}

// TestPPKPeerWithoutPPK: a responder without PPKs ignores USE_PPK (RFC
// 8784 §3): an optional PPK is not used; a required one makes A abort
// after IKE_SA_INIT. An initiator whose VPN names no PPK sends no USE_PPK,
// and a responder with PPKs (optional) proceeds without.
func TestPPKPeerWithoutPPK(t *testing.T) {
	t.Run("optional", func(t *testing.T) {
		r := runPPK(t, func(ike *generated.SecgwVrf_Vrf_Ike) {
			withPPK(ike, "k1", "bar", false, ppkSecret)
			usePPK(ike, "k1", false)
		}, nil)
		r.checkNotifies(t, true, false, false, false, false)
		r.checkUp(t, false)
	})
	t.Run("required", func(t *testing.T) {
		r := runPPK(t, func(ike *generated.SecgwVrf_Vrf_Ike) {
			withPPK(ike, "k1", "bar", false, ppkSecret)
			usePPK(ike, "k1", true)
		}, nil)
		if !r.initAbort {
			t.Fatal("A went on to IKE_AUTH without USE_PPK from the peer")
		}
		r.checkFailedPPK(t, r.a, &r.evA, r.logA, "IKE SA failed", "no USE_PPK")
		// B's half-open SA goes when it times out; A sent it nothing.
	})
	t.Run("required-by-template", func(t *testing.T) {
		r := runPPK(t, func(ike *generated.SecgwVrf_Vrf_Ike) {
			withPPK(ike, "k1", "bar", false, ppkSecret)
			usePPK(ike, "k1", false)
			ike.IkePolicyTemplate = map[string]*generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate{
				"it1": {Name: ptr("it1"), RequirePpk: ptr(true)},
			}
			ike.Vpn["to-b"].IkePolicy.Template = ptr("it1")
		}, nil)
		if !r.initAbort {
			t.Fatal("A went on to IKE_AUTH without USE_PPK from the peer")
		}
		r.checkFailedPPK(t, r.a, &r.evA, r.logA, "IKE SA failed", "no USE_PPK")
	})
	t.Run("initiator-without", func(t *testing.T) {
		r := runPPK(t, nil, func(ike *generated.SecgwVrf_Vrf_Ike) {
			withPPK(ike, "k1", "bar", false, ppkSecret)
		})
		r.checkNotifies(t, false, false, false, false, false)
		r.checkUp(t, false)
	})
}

// TestPPKMismatchedID: B has a PPK, but not the one A names. Optional on
// A: B verifies NO_PPK_AUTH and both proceed without PPK. Required on A
// (no NO_PPK_AUTH): B answers AUTHENTICATION_FAILED and says why.
func TestPPKMismatchedID(t *testing.T) {
	modB := func(ike *generated.SecgwVrf_Vrf_Ike) { withPPK(ike, "k1", "baz", false, ppkSecret) }
	t.Run("optional", func(t *testing.T) {
		r := runPPK(t, func(ike *generated.SecgwVrf_Vrf_Ike) {
			withPPK(ike, "k1", "bar", false, ppkSecret)
			usePPK(ike, "k1", false)
		}, modB)
		r.checkNotifies(t, true, true, true, true, false)
		r.checkUp(t, false)
		if len(r.logB.find("the peer's PPK is not configured here: authenticated with NO_PPK_AUTH")) != 1 {
			t.Error("B did not log the NO_PPK_AUTH fallback")
		}
	})
	t.Run("required", func(t *testing.T) {
		r := runPPK(t, func(ike *generated.SecgwVrf_Vrf_Ike) {
			withPPK(ike, "k1", "bar", false, ppkSecret)
			usePPK(ike, "k1", true)
		}, modB)
		r.checkNotifies(t, true, true, true, false, false)
		if !has(r.authResp, wire.NotifyAuthenticationFailed) {
			t.Fatalf("IKE_AUTH response %s, want N(AUTHENTICATION_FAILED)", summary(r.authResp))
		}
		r.checkFailedPPK(t, r.b, &r.evB, r.logB, "authentication of peer failed", "no NO_PPK_AUTH")
		noSecretInLogs(t, r.logA, r.logB)
	})
}

// TestPPKResponderRequires: B's VPN names k1 and requires it. A peer that
// names no PPK, or another PPK B has (the guide: a VPN that names a ppk
// accepts no other), fails with AUTHENTICATION_FAILED; with require-ppk
// false, the other PPK falls back on NO_PPK_AUTH.
func TestPPKResponderRequires(t *testing.T) {
	modB := func(require bool) func(*generated.SecgwVrf_Vrf_Ike) {
		return func(ike *generated.SecgwVrf_Vrf_Ike) {
			withPPK(ike, "k1", "bar", false, ppkSecret)
			withPPK(ike, "k2", "baz", false, ppkOther)
			usePPK(ike, "k1", require)
		}
	}
	t.Run("no-ppk", func(t *testing.T) {
		r := runPPK(t, nil, modB(true))
		r.checkNotifies(t, false, false, false, false, false)
		r.checkFailedPPK(t, r.b, &r.evB, r.logB, "authentication of peer failed", "no USE_PPK")
	})
	t.Run("other-ppk", func(t *testing.T) {
		r := runPPK(t, func(ike *generated.SecgwVrf_Vrf_Ike) {
			withPPK(ike, "k2", "baz", false, ppkOther)
			usePPK(ike, "k2", false)
		}, modB(true))
		r.checkNotifies(t, true, true, true, true, false)
		r.checkFailedPPK(t, r.b, &r.evB, r.logB, "authentication of peer failed", "not one this VPN accepts")
	})
	t.Run("other-ppk-optional", func(t *testing.T) {
		r := runPPK(t, func(ike *generated.SecgwVrf_Vrf_Ike) {
			withPPK(ike, "k2", "baz", false, ppkOther)
			usePPK(ike, "k2", false)
		}, modB(false))
		r.checkNotifies(t, true, true, true, true, false)
		r.checkUp(t, false)
	})
	t.Run("same-ppk", func(t *testing.T) {
		r := runPPK(t, func(ike *generated.SecgwVrf_Vrf_Ike) {
			withPPK(ike, "mine", "bar", false, ppkSecret)
			usePPK(ike, "mine", true)
		}, modB(true))
		r.checkUp(t, true)
	})
}

// TestPPKWrongSecret: same PPK identity, different PPK values: the AUTH
// computed with SK_pi' does not verify (RFC 8784 §3), whatever NO_PPK_AUTH
// says.
func TestPPKWrongSecret(t *testing.T) {
	r := runPPK(t, func(ike *generated.SecgwVrf_Vrf_Ike) {
		withPPK(ike, "k1", "bar", false, ppkSecret)
		usePPK(ike, "k1", false)
	}, func(ike *generated.SecgwVrf_Vrf_Ike) { withPPK(ike, "k1", "bar", false, ppkOther) })
	if !has(r.authResp, wire.NotifyAuthenticationFailed) {
		t.Fatalf("IKE_AUTH response %s, want N(AUTHENTICATION_FAILED)", summary(r.authResp))
	}
	if n := len(r.b.e.Snapshot(false)) + len(r.a.e.Snapshot(false)); n != 0 {
		t.Errorf("%d IKE SAs left", n)
	}
}

// TestPPKRekeyInherits: child SAs and IKE SA rekeys derive from SK_d'
// (RFC 8784 §3): after a child rekey and an IKE rekey from either side,
// the keys still pair (they would not if one side had dropped the PPK)
// and the new IKE SA reports ppk-used.
func TestPPKRekeyInherits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := runPPK(t, func(ike *generated.SecgwVrf_Vrf_Ike) {
			withPPK(ike, "k1", "bar", false, ppkSecret)
			usePPK(ike, "k1", true)
		}, func(ike *generated.SecgwVrf_Vrf_Ike) { withPPK(ike, "k1", "bar", false, ppkSecret) })
		r.checkUp(t, true)
		a, b := r.a, r.b
		rekeyChild(t, a, b, "N(REKEY_SA) SA No TSi TSr", "SA No TSi TSr")
		for _, x := range []*peer{a, b} {
			y := b
			if x == b {
				y = a
			}
			old := saState(t, x)
			if err := x.e.RekeyIKE(old.UniqueID); err != nil {
				t.Fatal(err)
			}
			step(t, x, y, cc, false, "SA(IKE) No KE") // CREATE_CHILD_SA request
			step(t, y, x, cc, true, "SA(IKE) No KE")  // CREATE_CHILD_SA response
			step(t, x, y, info, false, "D(IKE)")      // INFORMATIONAL on the old IKE SA
			step(t, y, x, info, true, "")             // its empty response
			silent(t, a, b)
			sx, sy := saState(t, x), saState(t, y)
			if sx.UniqueID == old.UniqueID || !sx.PPKUsed || !sy.PPKUsed {
				t.Errorf("after the IKE rekey: unique-id %d (was %d), ppk-used %v/%v, want new and true", sx.UniqueID, old.UniqueID, sx.PPKUsed, sy.PPKUsed)
			}
			kx, ky := x.e.Snapshot(true)[0].Keys, y.e.Snapshot(true)[0].Keys
			if !bytes.Equal(kx.SKd, ky.SKd) || !bytes.Equal(kx.SKei, ky.SKei) {
				t.Error("the rekeyed IKE SA keys differ between the peers")
			}
			rekeyChild(t, a, b, "N(REKEY_SA) SA No TSi TSr", "SA No TSi TSr")
		}
	})
}
