package strongswan

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"secgw/internal/ipsec"
	"secgw/internal/poll"
	"secgw/test/charontest"

	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/engine"
)

// suite is one algorithm suite in charon's and in our vsr syntax, with
// the suites both sides must report once it is negotiated.
type suite struct {
	name                 string // charon's IKE proposal, the subtest name
	charonIKE, charonESP string // swanctl proposals
	ourIKE, ourESP       string // ike-proposal 1 / esp-proposal 1 leaves
	ike, esp             ikecrypto.Suite
}

var (
	suiteGCM = suite{"aes256gcm16-prfsha256-ecp256", "aes256gcm16-prfsha256-ecp256", "aes256gcm16",
		"aead-alg aes256-gcm-128 prf-alg hmac-sha256 dh-group ecp256", "aead-alg aes256-gcm-128",
		ikecrypto.Suite{Encr: ipsec.EncrAESGCM16, KeyBits: 256, PRF: ipsec.PRFHMACSHA2_256, Group: ipsec.GroupECP256},
		ikecrypto.Suite{Encr: ipsec.EncrAESGCM16, KeyBits: 256}}
	suiteCBC = suite{"aes256-sha256-modp2048", "aes256-sha256-modp2048", "aes256-sha256",
		"enc-alg aes256-cbc auth-alg hmac-sha256 prf-alg hmac-sha256 dh-group modp2048",
		"enc-alg aes256-cbc auth-alg hmac-sha256",
		ikecrypto.Suite{Encr: ipsec.EncrAESCBC, KeyBits: 256, Integ: ipsec.IntegHMACSHA2_256_128, PRF: ipsec.PRFHMACSHA2_256, Group: ipsec.GroupMODP2048},
		ikecrypto.Suite{Encr: ipsec.EncrAESCBC, KeyBits: 256, Integ: ipsec.IntegHMACSHA2_256_128}}
	suiteCBC128 = suite{"aes128-sha256-modp2048", "aes128-sha256-modp2048", "aes128-sha256",
		"enc-alg aes128-cbc auth-alg hmac-sha256 prf-alg hmac-sha256 dh-group modp2048",
		"enc-alg aes128-cbc auth-alg hmac-sha256",
		ikecrypto.Suite{Encr: ipsec.EncrAESCBC, KeyBits: 128, Integ: ipsec.IntegHMACSHA2_256_128, PRF: ipsec.PRFHMACSHA2_256, Group: ipsec.GroupMODP2048},
		ikecrypto.Suite{Encr: ipsec.EncrAESCBC, KeyBits: 128, Integ: ipsec.IntegHMACSHA2_256_128}}
	suiteChaCha = suite{"chacha20poly1305-prfsha256-x25519", "chacha20poly1305-prfsha256-x25519", "chacha20poly1305",
		"aead-alg chacha20-poly1305 prf-alg hmac-sha256 dh-group curve25519", "aead-alg chacha20-poly1305",
		ikecrypto.Suite{Encr: ipsec.EncrChaCha20Poly1305, PRF: ipsec.PRFHMACSHA2_256, Group: ipsec.GroupCurve25519},
		ikecrypto.Suite{Encr: ipsec.EncrChaCha20Poly1305}}
	suiteCBC384 = suite{"aes256-sha384-ecp384", "aes256-sha384-ecp384", "aes256-sha384",
		"enc-alg aes256-cbc auth-alg hmac-sha384 prf-alg hmac-sha384 dh-group ecp384",
		"enc-alg aes256-cbc auth-alg hmac-sha384",
		ikecrypto.Suite{Encr: ipsec.EncrAESCBC, KeyBits: 256, Integ: ipsec.IntegHMACSHA2_384_192, PRF: ipsec.PRFHMACSHA2_384, Group: ipsec.GroupECP384},
		ikecrypto.Suite{Encr: ipsec.EncrAESCBC, KeyBits: 256, Integ: ipsec.IntegHMACSHA2_384_192}}

	// allSuites are the IKE and ESP suites of the interop acceptance, plus AES-CBC-256
	// with SHA-256.
	allSuites = []suite{suiteGCM, suiteCBC128, suiteChaCha, suiteCBC384, suiteCBC}
)

const (
	ourID, charonID = "secgw.example", "charon.example"
	ourNet          = "192.168.1.0/24"
	charonNet       = "192.168.2.0/24"
)

// swanctlConf is charon's side: connection "secgw", child "net", one PSK.
func swanctlConf(s suite, psk string, top *topology) string {
	return charontest.Conn{Name: "secgw", LocalAddrs: top.charonAddr.String(), RemoteAddrs: top.ourAddr.String(),
		Proposals: s.charonIKE, ESPProposals: s.charonESP, LocalTS: charonNet, RemoteTS: ourNet,
		Local: charontest.Auth{Method: "psk", ID: charonID}, Remote: charontest.Auth{Method: "psk", ID: ourID},
		Secrets: []string{charontest.PSKSecret("secgw", psk, charonID, ourID)}}.String()
}

// ourConf is our side, VPN "v1", in vsr CLI lines under "/ vrf main ike".
func ourConf(s suite, psk string, top *topology) []string {
	p := "vpn v1 "
	return []string{
		p + "local-address " + top.ourAddr.String(), p + "remote-address " + top.charonAddr.String(),
		p + "local-id " + ourID, p + "remote-id " + charonID,
		p + "ike-policy pre-shared-key " + psk,
		p + "ike-policy ike-proposal 1 " + s.ourIKE,
		p + "ipsec-policy esp-proposal 1 " + s.ourESP,
		p + "security-policy net local-ts subnet " + ourNet,
		p + "security-policy net remote-ts subnet " + charonNet,
	}
}

// setup is one test's topology, charon and engine.
type setup struct {
	top *topology
	ch  *charontest.Charon
	us  *ours
}

func newSetup(t *testing.T, s suite, ourPSK, charonPSK string) *setup {
	t.Helper()
	return newSetupFor(t, s, ourPSK, charonPSK, false)
}

// newSetupFor is newSetup with IPv6 outer addresses if ipv6 is set.
func newSetupFor(t *testing.T, s suite, ourPSK, charonPSK string, ipv6 bool) *setup {
	t.Helper()
	requirePrerequisites(t)
	top := newTopologyFor(t, ipv6)
	ch := startCharon(t, top.charon)
	ch.Load(t, swanctlConf(s, charonPSK, top))
	return &setup{top: top, ch: ch, us: startOurs(t, top.ours, top.ourAddr, ourConf(s, ourPSK, top)...)}
}

// waitChild waits up to d for our dataplane to hold exactly one child SA.
func (st *setup) waitChild(t *testing.T, d time.Duration) engine.ChildSA {
	t.Helper()
	var cs []engine.ChildSA
	poll.Until(d, func() bool { cs = st.us.dp.Children(); return len(cs) > 0 })
	if len(cs) != 1 {
		t.Fatalf("our dataplane has %d child SAs, want 1; our IKE SAs: %+v", len(cs), st.us.e.IKESAs())
	}
	return cs[0]
}

// checkCharonSAs checks that charon has one IKE SA, ESTABLISHED, with our
// SPIs, and one CHILD_SA, INSTALLED, whose SPIs are ours swapped.
func (st *setup) checkCharonSAs(t *testing.T, c engine.ChildSA) {
	t.Helper()
	raw, err := st.ch.Swanctl("--list-sas", "--raw")
	if err != nil {
		t.Fatalf("swanctl --list-sas: %v\n%s", err, raw)
	}
	sas := listSAs(raw)
	if len(sas) != 1 {
		t.Fatalf("charon has %d IKE SAs, want 1:\n%s", len(sas), raw)
	}
	sa := sas[0]
	spii, spir := fmt.Sprintf("%016x", c.IKESPIi), fmt.Sprintf("%016x", c.IKESPIr)
	if sa.state != "ESTABLISHED" || sa.spii != spii || sa.spir != spir {
		t.Errorf("charon IKE SA %s %s/%s, want ESTABLISHED %s/%s", sa.state, sa.spii, sa.spir, spii, spir)
	}
	if lh, rh := sa.kv["local-host"], sa.kv["remote-host"]; lh != st.top.charonAddr.String() || rh != st.top.ourAddr.String() {
		t.Errorf("charon IKE SA %s -> %s, want %s -> %s", lh, rh, st.top.charonAddr, st.top.ourAddr)
	}
	if c.Local.Addr() != st.top.ourAddr || c.Remote.Addr() != st.top.charonAddr {
		t.Errorf("our child SA %v -> %v, want %v -> %v", c.Local, c.Remote, st.top.ourAddr, st.top.charonAddr)
	}
	if len(sa.children) != 1 {
		t.Fatalf("charon has %d CHILD_SAs, want 1:\n%s", len(sa.children), raw)
	}
	ch := sa.children[0]
	in, out := fmt.Sprintf("%08x", c.OutSPI), fmt.Sprintf("%08x", c.InSPI)
	if ch.state != "INSTALLED" || ch.spiIn != in || ch.spiOut != out {
		t.Errorf("charon CHILD_SA %s in %s out %s, want INSTALLED in %s out %s (ours swapped)",
			ch.state, ch.spiIn, ch.spiOut, in, out)
	}
	// kernel-libipsec fakes a NAT so that ESP goes in UDP (NOTES.md): both
	// sides must agree on the encapsulation.
	if ch.encap != "yes" || !c.Encap {
		t.Errorf("UDP encapsulation: charon %q, ours %v; want both on", ch.encap, c.Encap)
	}
	if c.Local.Port() != engine.PortNATT || c.Remote.Port() != engine.PortNATT {
		t.Errorf("our child SA endpoints %v -> %v, want port 4500", c.Local, c.Remote)
	}
}

// TestInterop establishes an IKE SA with its child SA with charon in both
// roles and all suites, checks the SAs and algorithms on both sides and
// compares the keys our engine derived with those charon logged. When
// charon initiates, the datagrams it sent are decrypted with the keys it
// logged (see capture_test.go).
func TestInterop(t *testing.T) {
	for _, s := range allSuites {
		t.Run(s.name, func(t *testing.T) {
			testBothRoles(t, s, false)
		})
	}
}

// TestInteropIPv6 is TestInterop for one suite over IPv6 outer addresses.
func TestInteropIPv6(t *testing.T) {
	testBothRoles(t, suiteGCM, true)
}

func testBothRoles(t *testing.T, s suite, ipv6 bool) {
	t.Run("ours-initiates", func(t *testing.T) {
		t.Parallel()
		st := newSetupFor(t, s, "interop-secret", "interop-secret", ipv6)
		c := st.establish(t, true)
		st.checkCharonSAs(t, c)
		st.checkAlgs(t, s, c, true)
		st.checkKeys(t, c, true)
	})
	t.Run("charon-initiates", func(t *testing.T) {
		t.Parallel()
		st := newSetupFor(t, s, "interop-secret", "interop-secret", ipv6)
		c := st.establish(t, false)
		st.checkCharonSAs(t, c)
		st.checkAlgs(t, s, c, false)
		st.checkKeys(t, c, false)
		st.checkCapture(t, s)
	})
}

// establish sets up the IKE SA and its child SA, initiated by our engine
// if ours is set, by charon otherwise, and returns our child SA.
func (st *setup) establish(t *testing.T, ours bool) engine.ChildSA {
	t.Helper()
	if ours {
		if err := st.us.e.Initiate("v1"); err != nil {
			t.Fatal(err)
		}
		return st.waitChild(t, 10*time.Second)
	}
	if out, err := st.ch.Swanctl("--initiate", "--child", "net", "--timeout", "10"); err != nil {
		t.Fatalf("swanctl --initiate: %v\n%s", err, out)
	}
	return st.waitChild(t, 5*time.Second)
}

// TestWrongPSK checks that both sides report a PSK mismatch, whoever
// initiates: no SA anywhere, AUTHENTICATION_FAILED in charon's log.
func TestWrongPSK(t *testing.T) {
	t.Run("ours-initiates", func(t *testing.T) {
		t.Parallel()
		st := newSetup(t, suiteGCM, "our-secret", "charon-secret")
		if err := st.us.e.Initiate("v1"); err != nil {
			t.Fatal(err)
		}
		// charon as responder: MAC mismatch, answered with N(AUTH_FAILED).
		if !st.ch.WaitLog("N(AUTH_FAILED)", 10*time.Second) {
			t.Fatalf("charon did not send AUTHENTICATION_FAILED\n%s", tail(st.ch.ReadLog(), 30))
		}
		st.checkFailed(t, "IKE SA failed", "AUTHENTICATION_FAILED")
	})
	t.Run("charon-initiates", func(t *testing.T) {
		t.Parallel()
		st := newSetup(t, suiteGCM, "our-secret", "charon-secret")
		out, err := st.ch.Swanctl("--initiate", "--child", "net", "--timeout", "10")
		if err == nil {
			t.Errorf("swanctl --initiate succeeded with a wrong PSK:\n%s", out)
		}
		if !st.ch.WaitLog("received AUTHENTICATION_FAILED notify error", 5*time.Second) {
			t.Fatalf("charon did not log AUTHENTICATION_FAILED\n%s", tail(st.ch.ReadLog(), 30))
		}
		st.checkFailed(t, "authentication of peer failed", "")
	})
}

// logAuthLines logs charon's lines about the failed authentication.
func (st *setup) logAuthLines(t *testing.T) {
	t.Helper()
	for _, l := range strings.Split(st.ch.ReadLog(), "\n") {
		if strings.Contains(l, "AUTH_FAILED") || strings.Contains(l, "AUTHENTICATION_FAILED") || strings.Contains(l, "MAC mismatch") {
			t.Logf("charon: %s", l)
		}
	}
}

// checkFailed checks that our engine logged msg (with an err attribute
// containing errText, if set) and holds no SA, and that charon holds no
// IKE SA.
func (st *setup) checkFailed(t *testing.T, msg, errText string) {
	t.Helper()
	var recs []record
	poll.Until(5*time.Second, func() bool { recs = st.us.logs.find(msg); return len(recs) > 0 })
	st.logAuthLines(t)
	if len(recs) == 0 {
		t.Fatalf("our engine did not log %q", msg)
	}
	if errText != "" && !strings.Contains(fmt.Sprint(recs[0].attrs["err"]), errText) {
		t.Errorf("our engine logged %q with err %v, want %s", msg, recs[0].attrs["err"], errText)
	}
	if n := len(st.us.dp.Children()); n != 0 {
		t.Errorf("our dataplane has %d child SAs", n)
	}
	if sas := st.us.e.IKESAs(); len(sas) != 0 {
		t.Errorf("our engine kept IKE SAs %+v", sas)
	}
	raw, _ := st.ch.Swanctl("--list-sas", "--raw")
	if sas := listSAs(raw); len(sas) != 0 {
		t.Errorf("charon kept IKE SAs: %s", raw)
	}
}

// checkKeys is the known-answer check: the keys charon logged at ike=4 /
// chd=4 must equal the ones our engine derived, the IKE SA keys from our
// "IKE SA keys" record at engine.LevelKeys and the child keys from the
// recording dataplane. initiator says whether we initiated.
func (st *setup) checkKeys(t *testing.T, c engine.ChildSA, initiator bool) {
	t.Helper()
	logged := loggedSecrets(st.ch.ReadLog())
	recs := st.us.logs.find("IKE SA keys")
	if len(recs) != 1 {
		t.Fatalf("our engine logged %d \"IKE SA keys\" records at level %v, want 1", len(recs), engine.LevelKeys)
	}
	ours := recs[0].attrs
	compared := 0
	for _, k := range []struct{ charon, ours string }{
		{"Sk_d secret", "sk_d"},
		{"Sk_ei secret", "sk_ei"}, {"Sk_er secret", "sk_er"},
		{"Sk_ai secret", "sk_ai"}, {"Sk_ar secret", "sk_ar"},
	} {
		want, ok := logged[k.charon]
		got := keyBytes(ours[k.ours])
		switch {
		case !ok && len(got) == 0:
			// AEAD suites have no SK_a: charon logs none.
		case !ok:
			t.Errorf("charon logged no %q", k.charon)
		case !bytes.Equal(got, want):
			t.Errorf("%s: ours %x, charon %x", k.ours, got, want)
		default:
			compared++
		}
	}
	ei, er := c.Out, c.In // initiator's and responder's sending keys
	if !initiator {
		ei, er = c.In, c.Out
	}
	for _, k := range []struct {
		charon string
		ours   []byte
	}{
		{"encryption initiator key", ei.Encr}, {"encryption responder key", er.Encr},
		{"integrity initiator key", ei.Integ}, {"integrity responder key", er.Integ},
	} {
		want, ok := logged[k.charon]
		switch {
		case !ok && len(k.ours) == 0:
			// no integrity key with AES-GCM
		case !ok:
			t.Errorf("charon logged no %q", k.charon)
		case !bytes.Equal(k.ours, want):
			t.Errorf("%s: ours %x, charon %x", k.charon, k.ours, want)
		default:
			compared++
		}
	}
	t.Logf("known answer: %d keys equal to charon's", compared)
	if len(logged["encryption initiator key"]) == 0 || len(logged["Sk_ei secret"]) == 0 {
		t.Error("nothing compared: charon's log has no keys")
	}
}
