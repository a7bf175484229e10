package strongswan

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"secgw/internal/golden"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/wire"
)

// fragmentSize is the IKE fragment size (whole IP datagram) of both
// sides in TestFragmentation: small enough that IKE_AUTH, about 220 to 260
// octets with a PSK, is split in both directions with every suite (300
// would leave charon's response whole).
const fragmentSize = 160

// newFragSetup is newSetup with IKE fragmentation (RFC 7383) at
// fragmentSize on both sides: charon.fragment_size and fragmentation=yes
// in the connection, our engine's FragmentSize (its vpn fragmentation
// leaf defaults to true).
func newFragSetup(t *testing.T, s suite) *setup {
	t.Helper()
	requirePrerequisites(t)
	top := newTopologyFor(t, false)
	ch := startCharonWith(t, top.charon, fmt.Sprintf("\tfragment_size = %d", fragmentSize))
	conf := swanctlConf(s, "interop-secret", top)
	fconf := strings.Replace(conf, "\t\tversion = 2\n", "\t\tversion = 2\n\t\tfragmentation = yes\n", 1)
	if fconf == conf {
		t.Fatal("strongswan: no place for fragmentation = yes in swanctl.conf")
	}
	ch.Load(t, fconf)
	us := startOursWith(t, top.ours, top.ourAddr, func(o *engine.Options) { o.FragmentSize = fragmentSize },
		ourConf(s, "interop-secret", top)...)
	return &setup{top: top, ch: ch, us: us}
}

// TestFragmentation sets up the IKE SA and its child SA with charon in
// both roles while IKE_AUTH is fragmented in both directions: our engine
// sends and reassembles SKF messages (RFC 7383), charon does the same, and
// the SAs, algorithms and keys agree as in TestInterop.
func TestFragmentation(t *testing.T) {
	for _, s := range []suite{suiteGCM, suiteCBC} {
		t.Run(s.name, func(t *testing.T) {
			for _, ours := range []bool{true, false} {
				name := "charon-initiates"
				if ours {
					name = "ours-initiates"
				}
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					st := newFragSetup(t, s)
					c := st.establish(t, ours)
					st.checkCharonSAs(t, c)
					st.checkAlgs(t, s, c, ours)
					st.checkKeys(t, c, ours)
					st.checkFragmented(t, ours, s)
				})
			}
		})
	}
}

// checkFragmented checks that IKE_AUTH went as fragments both ways, each
// within fragmentSize, and that charon says it reassembled ours and split
// its own. With -update the fragments charon sent become seeds of
// wire.FuzzParse.
func (st *setup) checkFragmented(t *testing.T, ours bool, s suite) {
	t.Helper()
	in, sent := st.us.conn.datagrams()
	// Our IKE_AUTH message is the request when we initiate.
	mine, nMine := fragments(t, sent, false, !ours)
	theirs, nTheirs := fragments(t, in, true, ours)
	for _, f := range []struct {
		who string
		ds  []engine.Datagram
		n   int
	}{{"our", mine, nMine}, {"charon's", theirs, nTheirs}} {
		// Retransmissions may add copies, never fewer.
		if f.n < 2 || len(f.ds) < f.n {
			t.Errorf("%s IKE_AUTH message went in %d SKF datagram(s) of %d fragments, want at least 2", f.who, len(f.ds), f.n)
		}
		for _, d := range f.ds {
			if n := len(d.Data) + 20 + 8; n > fragmentSize {
				t.Errorf("%s fragment makes a %d-octet IP datagram, limit %d", f.who, n, fragmentSize)
			}
		}
	}
	// charon logs "received fragment #i of n, reassembled fragmented IKE
	// message (k bytes)" and "splitting IKE message (k bytes) into n
	// fragments".
	// charon's threads may handle the fragments in any order.
	log := st.ch.ReadLog()
	for _, want := range []string{
		fmt.Sprintf(`received fragment #\d+ of %d, reassembled fragmented IKE message`, nMine),
		fmt.Sprintf(`splitting IKE message \(\d+ bytes\) into %d fragments`, nTheirs),
	} {
		if !regexp.MustCompile(want).MatchString(log) {
			t.Errorf("charon's log lacks %q", want)
		}
	}
	t.Logf("IKE_AUTH: ours in %d fragments, charon's in %d", nMine, nTheirs)
	if golden.Update() && !ours && s.name == corpusSuite && !t.Failed() {
		for i, d := range theirs[:nTheirs] {
			msg, _ := ikeMessage(d, true)
			writeFile(t, filepath.Join(wireTestdata, fmt.Sprintf("fuzz/FuzzParse/strongswan-ike-auth-skf-%d", i+1)), corpusFile(msg))
		}
	}
}

// fragments returns the IKE_AUTH datagrams among ds that carry an SKF
// payload, requests or responses as asked, and the Total Fragments they
// announce; local says whether ds were received (their Local address is
// ours).
func fragments(t *testing.T, ds []engine.Datagram, local, response bool) (out []engine.Datagram, total int) {
	t.Helper()
	for _, d := range ds {
		b, ok := ikeMessage(d, local)
		if !ok {
			continue
		}
		m, err := wire.Parse(b)
		if err != nil || m.Header.Exchange != wire.ExchangeIKEAuth || m.Header.Flags.Response() != response {
			continue
		}
		if f, ok := m.Payloads[len(m.Payloads)-1].(*wire.EncryptedFragment); ok {
			out = append(out, d)
			total = int(f.TotalFragments)
		}
	}
	return out, total
}
