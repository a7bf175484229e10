package gateway

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// hybridVPN is the VPN of one of two secgwd (local and remote swapped on
// the other) with the hybrid IKE proposal addke and a child SA with PFS
// and the same additional key exchange.
func hybridVPN(local, remote, localID, remoteID, localNet, remoteNet, ike, esp string) []string {
	p := "vpn hybrid "
	return []string{
		p + "local-address " + local + " remote-address " + remote,
		p + "local-id " + localID + " remote-id " + remoteID,
		p + "ike-policy pre-shared-key " + testPSK,
		p + "ike-policy ike-proposal 1 " + ike,
		p + "ipsec-policy esp-proposal 1 " + esp,
		p + "security-policy " + policy4.name + " local-ts subnet " + localNet,
		p + "security-policy " + policy4.name + " remote-ts subnet " + remoteNet,
	}
}

// TestHybridSecgwd: two secgwd, configured over NETCONF (the secgw CLI),
// with hybrid post-quantum IKE (RFC 9370, RFC 9242): an ECDH key exchange
// in IKE_SA_INIT, then ML-KEM in IKE_INTERMEDIATE, whose request goes in
// IKE fragments (RFC 7383): ML-KEM-1024's key is 1,568 octets, and
// ML-KEM-768's 1,184 just exceed the default fragment size of 1,280 on
// port 4500 (the userspace dataplane encapsulates ESP in UDP). The tunnel comes up, `show
// ike ike-sa details` and <get> list the ML-KEM method on both sides,
// ping and TCP pass; a child SA rekey (PFS with ML-KEM, IKE_FOLLOWUP_KE)
// and an IKE SA rekey keep it working.
func TestHybridSecgwd(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, ike, esp, algs string
	}{
		{"x25519+mlkem768", "aead-alg aes256-gcm-128 prf-alg hmac-sha256 dh-group curve25519 additional-key-exchange-1 mlkem768",
			"aead-alg aes256-gcm-128 dh-group curve25519 additional-key-exchange-1 mlkem768",
			"aes256-gcm-128/prf:hmac-sha256/curve25519/mlkem768"},
		{"ecp384+mlkem1024", "aead-alg aes256-gcm-128 prf-alg hmac-sha384 dh-group ecp384 additional-key-exchange-1 mlkem1024",
			"aead-alg aes256-gcm-128 dh-group ecp384 additional-key-exchange-1 mlkem1024",
			"aes256-gcm-128/prf:hmac-sha384/ecp384/mlkem1024"},
	} {
		t.Run(c.name, func(t *testing.T) {
			requirePrerequisites(t)
			top := newTopology(t)
			// Log level 3 shows how many datagrams each request took.
			gw := startGateway(t, top.gw, "-log-level", "3")
			peer := startGateway(t, top.charon, "-log-level", "3")
			gw.configure(t, hybridVPN(gwOuter.String(), charonOuter.String(), gwID, charonID, gwNet4, charonNet4, c.ike, c.esp)...)
			peer.configure(t, hybridVPN(charonOuter.String(), gwOuter.String(), charonID, gwID, charonNet4, gwNet4, c.ike, c.esp)...)
			out := gw.mustCLI(t, "", "cmd", "ike", "initiate", "child-sa", "security-policy", policy4.name)
			if !strings.Contains(out, "established") {
				t.Fatalf("cmd ike initiate:\n%s", out)
			}
			line := regexp.MustCompile(`(?m)^  ` + regexp.QuoteMeta(c.algs) + `$`)
			for name, g := range map[string]*gateway{"initiator": gw, "responder": peer} {
				if show := g.mustCLI(t, "", "show", "ike", "ike-sa", "details"); !line.MatchString(show) {
					t.Errorf("%s: show ike ike-sa details has no line %q:\n%s", name, c.algs, show)
				}
				if get := g.rpc(t, getFilter); !strings.Contains(get, "<additional-key-exchange>"+c.algs[strings.LastIndex(c.algs, "/")+1:]+"</additional-key-exchange>") {
					t.Errorf("%s: <get> has no additional-key-exchange:\n%s", name, get)
				}
			}
			frag := regexp.MustCompile(`msg="sending request".*exchange=IKE_INTERMEDIATE.*fragments=([2-9]|\d\d)`)
			if !frag.MatchString(gw.readLog()) {
				t.Errorf("the IKE_INTERMEDIATE request did not go in fragments")
			}
			ping(t, top.gw, gwInner4, charonIn4)
			tcpEcho(t, top.gw, gwInner4, top.charon, charonIn4)

			// Child SA rekey with PFS: CREATE_CHILD_SA, then IKE_FOLLOWUP_KE.
			before := spis(gw.mustCLI(t, "", "show", "ike", "ike-sa", "details"))
			gw.mustCLI(t, "", "cmd", "ike", "rekey", "child-sa", "security-policy", policy4.name)
			if !eventually(10*time.Second, func() bool {
				after := spis(gw.mustCLI(t, "", "show", "ike", "ike-sa", "details"))
				return after != "" && after != before
			}) {
				t.Fatalf("child SA not rekeyed:\n%s", gw.mustCLI(t, "", "show", "ike", "ike-sa", "details"))
			}
			ping(t, top.gw, gwInner4, charonIn4)
			// IKE SA rekey from the responder's side.
			peer.mustCLI(t, "", "cmd", "ike", "rekey", "ike-sa", "vpn", "hybrid")
			if !eventually(10*time.Second, func() bool {
				return strings.Contains(peer.readLog(), "IKE SA rekeyed") && strings.Contains(gw.readLog(), "IKE SA rekeyed")
			}) {
				t.Fatalf("IKE SA not rekeyed")
			}
			for name, g := range map[string]*gateway{"initiator": gw, "responder": peer} {
				if show := g.mustCLI(t, "", "show", "ike", "ike-sa", "details"); !line.MatchString(show) {
					t.Errorf("%s after the IKE SA rekey: no line %q:\n%s", name, c.algs, show)
				}
			}
			ping(t, top.charon, charonIn4, gwInner4)
		})
	}
}

var spiRE = regexp.MustCompile(`(?m)^    in  [0-9a-f]{8},`)

// spis returns the inbound SPIs of the child SAs in `show ike ike-sa
// details`.
func spis(show string) string { return strings.Join(spiRE.FindAllString(show, -1), "\n") }

// TestHybridCharonClassical: charon 5.9.8, which has no RFC 9370, offers
// no additional key exchange and refuses a proposal with transform types
// it does not know. Against an ike-proposal that lists none among them
// the IKE SA comes up classically (no ML-KEM in the state) and traffic
// passes, whoever initiates (secgwd adds a copy of its proposal without
// them); against one that requires ML-KEM-768 charon's IKE_SA_INIT is
// answered NO_PROPOSAL_CHOSEN and secgwd says why.
func TestHybridCharonClassical(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name              string
		required, gwInits bool
	}{
		{"optional-charon-initiates", false, false},
		{"optional-secgwd-initiates", false, true},
		{"required", true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := newSetup(t, suiteChaCha, policy4)
			p := "vpn " + ourVPNName + " ike-policy ike-proposal 1 "
			lines := []string{p + "additional-key-exchange-1 mlkem768"}
			if !c.required {
				lines = append(lines, p+"additional-key-exchange-1 none")
			}
			st.gw.configure(t, lines...)
			if c.required {
				out, err := st.ch.Swanctl("--initiate", "--child", policy4.name, "--timeout", "10")
				if err == nil {
					t.Fatalf("charon's initiate succeeded against a policy requiring ML-KEM:\n%s", out)
				}
				if !strings.Contains(out, "NO_PROPOSAL_CHOSEN") {
					t.Errorf("charon did not get NO_PROPOSAL_CHOSEN:\n%s", out)
				}
				if !eventually(5*time.Second, func() bool {
					return strings.Contains(st.gw.readLog(), "IKE_SA_INIT refused") && strings.Contains(st.gw.readLog(), "NO_PROPOSAL_CHOSEN")
				}) {
					t.Errorf("secgwd did not log the refusal")
				}
				return
			}
			if c.gwInits {
				st.gwInitiate(t, policy4)
			} else {
				st.ch.initiate(t, policy4.name)
			}
			show := st.gw.mustCLI(t, "", "show", "ike", "ike-sa", "details")
			if !regexp.MustCompile(`(?m)^  `+regexp.QuoteMeta(suiteChaCha.ikeAlgs)+`$`).MatchString(show) || strings.Contains(show, "mlkem") {
				t.Errorf("show ike ike-sa details, want %s without ML-KEM:\n%s", suiteChaCha.ikeAlgs, show)
			}
			ping(t, st.top.gw, gwInner4, charonIn4)
		})
	}
}
