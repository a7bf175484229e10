package strongswan

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"secgw/internal/ike/engine"
	"secgw/internal/poll"
)

// Interop of the IKE lifecycle with charon: child SA and IKE SA
// rekeys initiated by each side (with and without PFS), make-before-break
// reauthentication initiated by each side, and DPD clear and restart
// after the peer disappears. Deletes from each side are in delete_test.go.

// newLifecycleSetup is newSetup with more charon settings (strongswan.conf
// charon section), a PFS group for both sides' ESP proposals if pfs is
// set, and more lines of our configuration.
func newLifecycleSetup(t *testing.T, charonExtra string, pfs bool, ourExtra ...string) *setup {
	t.Helper()
	requirePrerequisites(t)
	s := suiteGCM
	if pfs {
		s.charonESP += "-ecp256"
		s.ourESP += " dh-group ecp256"
	}
	top := newTopology(t)
	ch := startCharonWith(t, top.charon, charonExtra)
	ch.Load(t, swanctlConf(s, "interop-secret", top))
	lines := append(ourConf(s, "interop-secret", top), ourExtra...)
	return &setup{top: top, ch: ch, us: startOurs(t, top.ours, top.ourAddr, lines...)}
}

// ourSA returns our only IKE SA if it is established with one child SA.
func (st *setup) ourSA() (engine.SAState, bool) {
	s := st.us.e.Snapshot(false)
	if len(s) != 1 || s[0].State != "established" || len(s[0].Children) != 1 {
		return engine.SAState{}, false
	}
	return s[0], true
}

// charonSettled reports whether charon lists exactly one IKE SA,
// ESTABLISHED, whose only CHILD_SA is INSTALLED with c's SPIs swapped.
func (st *setup) charonSettled(c engine.ChildSA) bool {
	raw, _ := st.ch.Swanctl("--list-sas", "--raw")
	sas := listSAs(raw)
	return len(sas) == 1 && sas[0].state == "ESTABLISHED" && sas[0].spii == fmt.Sprintf("%016x", c.IKESPIi) &&
		len(sas[0].children) == 1 && sas[0].children[0].state == "INSTALLED" &&
		sas[0].children[0].spiIn == fmt.Sprintf("%08x", c.OutSPI)
}

// checkChildKeys compares the keys of c with the last child keys charon
// logged; weInitiated says whether we initiated the exchange that
// created c (its "initiator" keys are then our outbound ones).
func (st *setup) checkChildKeys(t *testing.T, c engine.ChildSA, weInitiated bool) {
	t.Helper()
	logged := loggedAll(st.ch.ReadLog())
	for _, x := range st.us.dp.Children() { // the keys, which Snapshot(false) leaves out
		if x.InSPI == c.InSPI {
			c = x
		}
	}
	ei, er := c.Out, c.In
	if !weInitiated {
		ei, er = c.In, c.Out
	}
	for _, k := range []struct {
		label string
		ours  []byte
	}{{"encryption initiator key", ei.Encr}, {"encryption responder key", er.Encr}} {
		all := logged[k.label]
		if len(all) == 0 || !bytes.Equal(all[len(all)-1], k.ours) {
			t.Errorf("%s: ours %x, charon's last of %d differs", k.label, k.ours, len(all))
		}
	}
}

// checkIKEKeys compares the keys of our last IKE SA with the last ones
// charon logged (a rekeyed IKE SA: SKEYSEED from the old SK_d, RFC 7296
// §2.18).
func (st *setup) checkIKEKeys(t *testing.T) {
	t.Helper()
	recs := st.us.logs.find("IKE SA keys")
	logged := loggedAll(st.ch.ReadLog())
	if len(recs) < 2 {
		t.Fatalf("%d IKE SA key records, want the first IKE SA's and the rekeyed one's", len(recs))
	}
	for _, k := range []struct{ charon, ours string }{{"Sk_d secret", "sk_d"}, {"Sk_ei secret", "sk_ei"}, {"Sk_er secret", "sk_er"}} {
		all := logged[k.charon]
		got := keyBytes(recs[len(recs)-1].attrs[k.ours])
		if len(all) < 2 || !bytes.Equal(all[len(all)-1], got) {
			t.Errorf("%s of the rekeyed IKE SA: ours %x differs from charon's last (%d logged)", k.ours, got, len(all))
		}
	}
}

// TestRekeyInterop rekeys the child SA (with and without PFS) and the IKE
// SA, initiated by our engine and by charon (swanctl --rekey): afterwards
// both sides hold exactly the new SAs, charon's logged keys equal ours,
// and our dataplane installed the new child SA before it deleted the old.
func TestRekeyInterop(t *testing.T) {
	for _, tc := range []struct {
		name      string
		ike, pfs  bool
		oursRekey bool
	}{
		{"child/ours", false, false, true}, {"child/charon", false, false, false},
		{"child-pfs/ours", false, true, true}, {"child-pfs/charon", false, true, false},
		{"ike/ours", true, false, true}, {"ike/charon", true, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			st := newLifecycleSetup(t, "", tc.pfs)
			old := st.establish(t, true)
			sa, _ := st.ourSA()
			switch {
			case tc.oursRekey && tc.ike:
				if err := st.us.e.RekeyIKE(sa.UniqueID); err != nil {
					t.Fatal(err)
				}
			case tc.oursRekey:
				if err := st.us.e.RekeyChild(sa.Children[0].UniqueID); err != nil {
					t.Fatal(err)
				}
			case tc.ike:
				if out, err := st.ch.Swanctl("--rekey", "--ike", "secgw"); err != nil {
					t.Fatalf("swanctl --rekey --ike: %v\n%s", err, out)
				}
			default:
				if out, err := st.ch.Swanctl("--rekey", "--child", "net"); err != nil {
					t.Fatalf("swanctl --rekey --child: %v\n%s", err, out)
				}
			}
			var cur engine.SAState
			poll.Require(t, 10*time.Second, "the rekey on both sides", func() bool {
				var ok bool
				cur, ok = st.ourSA()
				if !ok || (tc.ike && cur.SPIi == sa.SPIi) || (!tc.ike && cur.Children[0].InSPI == old.InSPI) {
					return false
				}
				return st.charonSettled(cur.Children[0].ChildSA)
			})
			c := cur.Children[0].ChildSA
			st.checkCharonSAs(t, c)
			if tc.ike {
				if c.InSPI != old.InSPI || cur.UniqueID == sa.UniqueID || len(st.us.dp.Ops()) != 1 {
					t.Errorf("IKE SA rekey touched the child SA: %+v", cur)
				}
				st.checkIKEKeys(t)
				return
			}
			if tc.pfs && c.Suite.Group == 0 {
				t.Errorf("rekeyed child SA without PFS: %v", c.Suite)
			}
			st.checkChildKeys(t, c, tc.oursRekey)
			ops := st.us.dp.Ops()
			in, del := slices.Index(ops, fmt.Sprintf("install %08x", c.InSPI)), slices.Index(ops, fmt.Sprintf("delete %08x", old.InSPI))
			if in < 0 || del < 0 || in > del {
				t.Errorf("our dataplane %v: want the new child SA before the old one's delete", ops)
			}
		})
	}
}

// TestReauthInterop reauthenticates make-before-break, initiated by our
// engine (global-options make-before-break true) and by charon
// (make_before_break = yes, swanctl --rekey --reauth): a new IKE SA and
// child SA, then the old ones deleted, so that our dataplane never lacks a
// child SA.
func TestReauthInterop(t *testing.T) {
	for _, ours := range []bool{true, false} {
		t.Run(map[bool]string{true: "ours", false: "charon"}[ours], func(t *testing.T) {
			t.Parallel()
			st := newLifecycleSetup(t, "make_before_break = yes", false, "global-options make-before-break true")
			old := st.establish(t, true)
			sa, _ := st.ourSA()
			if ours {
				if err := st.us.e.Reauth(sa.UniqueID); err != nil {
					t.Fatal(err)
				}
			} else if out, err := st.ch.Swanctl("--rekey", "--ike", "secgw", "--reauth"); err != nil {
				t.Fatalf("swanctl --rekey --reauth: %v\n%s", err, out)
			}
			var cur engine.SAState
			poll.Require(t, 10*time.Second, "the reauthentication on both sides", func() bool {
				var ok bool
				cur, ok = st.ourSA()
				return ok && cur.UniqueID != sa.UniqueID && cur.SPIi != sa.SPIi && st.charonSettled(cur.Children[0].ChildSA)
			})
			c := cur.Children[0].ChildSA
			st.checkCharonSAs(t, c)
			if cur.Initiator != ours {
				t.Errorf("new IKE SA initiator %v", cur.Initiator)
			}
			ops := st.us.dp.Ops()
			in, del := slices.Index(ops, fmt.Sprintf("install %08x", c.InSPI)), slices.Index(ops, fmt.Sprintf("delete %08x", old.InSPI))
			if in < 0 || del < 0 || in > del {
				t.Errorf("our dataplane %v: make-before-break wants the new child SA before the old one's delete", ops)
			}
		})
	}
}

// dpdLines make our engine probe after 1 s without traffic and give up
// after 3 retransmissions 0.5 s apart (2 s).
var dpdLines = []string{"vpn v1 ike-policy dpd-delay 1s", "global-options retransmit-tries 3",
	"global-options retransmit-timeout 0.5", "global-options retransmit-base 1.0"}

// TestDPDInterop: the peer disappears. With dpd-action clear (charon is
// killed) our engine declares it dead and removes its SAs, and starts
// nothing. With dpd-action restart (the link to charon's namespace goes
// down) it negotiates a fresh IKE SA with the child SA at once, which
// comes up as soon as the link is back.
func TestDPDInterop(t *testing.T) {
	t.Run("clear", func(t *testing.T) {
		t.Parallel()
		st := newLifecycleSetup(t, "", false, append(dpdLines, "vpn v1 ipsec-policy dpd-action clear")...)
		st.establish(t, true)
		st.ch.Kill() // the peer disappears
		poll.Require(t, 10*time.Second, "the peer declared dead", func() bool {
			return len(st.us.e.IKESAs()) == 0 && len(st.us.dp.Children()) == 0
		})
		if recs := st.us.logs.find("dpd-action clear: child SAs closed"); len(recs) != 1 {
			t.Errorf("dpd-action clear logged %d times", len(recs))
		}
		time.Sleep(1500 * time.Millisecond)
		if sas := st.us.e.IKESAs(); len(sas) != 0 {
			t.Errorf("dpd-action clear started something: %+v", sas)
		}
	})
	t.Run("restart", func(t *testing.T) {
		t.Parallel()
		st := newLifecycleSetup(t, "", false, append(dpdLines, "vpn v1 ipsec-policy dpd-action restart")...)
		first := st.establish(t, true)
		link := func(state string) { run(t, "ip", "-n", st.top.charon, "link", "set", "veth-charon", state) }
		link("down")
		var restarted engine.SAState
		poll.Require(t, 10*time.Second, "the restart after the peer was declared dead", func() bool {
			s := st.us.e.Snapshot(false)
			if len(s) != 1 || s[0].SPIi == first.IKESPIi {
				return false
			}
			restarted = s[0]
			return true
		})
		if n := len(st.us.dp.Children()); n != 0 {
			t.Fatalf("old child SA left: %d", n)
		}
		link("up")
		poll.Require(t, 10*time.Second, "the restarted IKE SA and child SA", func() bool {
			cur, ok := st.ourSA()
			return ok && cur.UniqueID == restarted.UniqueID
		})
		raw, _ := st.ch.Swanctl("--list-sas", "--raw")
		found := false
		for _, sa := range listSAs(raw) {
			if sa.spii == fmt.Sprintf("%016x", restarted.SPIi) && sa.state == "ESTABLISHED" && len(sa.children) == 1 {
				found = true
			}
		}
		if !found {
			t.Errorf("charon does not list the restarted IKE SA %016x:\n%s", restarted.SPIi, raw)
		}
	})
}
