package resolve

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/cliedit"
	"secgw/internal/datastore"
	"secgw/internal/ike/config"
	"secgw/internal/schema"
)

var (
	updSeed  = flag.Uint64("update.seed", 0, "seed of TestUpdateMatchesFull (0: a few fixed seeds)")
	updSteps = flag.Int("update.steps", 400, "edits per seed of TestUpdateMatchesFull")
)

// TestUpdateMatchesFull is a differential test of the incremental
// resolution a commit runs: random edits of a configuration (VPN leaves,
// security policies, templates, ppks, global options, enabled, deletions
// of entries, references to what does not exist, route options), each
// resolved by Update from the previous configuration and the commit's changes
// (datastore.Diff, as the datastore hands them to subscribers) and by
// Config from scratch. Both must refuse the same edits and, for the
// others, give the same VPNs, ppks, pass and drop policies and global
// options, and the same index answers; UpdateRoutes must agree with
// Routes. An accepted edit becomes the
// base of the next, a refused one is dropped, as a refused commit is.
func TestUpdateMatchesFull(t *testing.T) {
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	seeds := []uint64{1, 2, 3}
	if *updSeed != 0 {
		seeds = []uint64{*updSeed}
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0))
			dev := &generated.Device{}
			set(t, s, dev, "/ vrf main")
			prev := &config.Config{}
			prevRoutes := Routes(nil)
			var trail []string
			accepted, incremental := 0, 0
			for step := range *updSteps {
				next := datastore.Clone(dev)
				what := randomEdit(t, s, rng, next)
				trail = append(trail, what)
				paths := make([]schema.DataPath, 0)
				for _, c := range datastore.Diff(s, dev, next) {
					paths = append(paths, c.Path)
				}
				ike := next.Vrf["main"].GetIke()
				full, ferr := Config(ike)
				if ike == nil {
					full, ferr = &config.Config{}, nil
				}
				ch := ChangesOf("main", paths)
				r, ierr := Update(prev, ike, ch)
				// The routes follow every edit, refused or not: they
				// are resolved from the tree, without checks.
				routes, _ := UpdateRoutes(prevRoutes, dev.Vrf["main"].GetIke(), ike, ch)
				if want := Routes(ike); !reflect.DeepEqual(want, routes) {
					t.Fatalf("seed %d step %d: UpdateRoutes %+v, Routes %+v", seed, step, routes, want)
				}
				fail := func(f string, a ...any) {
					t.Fatalf("seed %d step %d: %s\nlast edits:\n  %s", seed, step, fmt.Sprintf(f, a...),
						strings.Join(trail[max(0, len(trail)-8):], "\n  "))
				}
				if (ferr == nil) != (ierr == nil) {
					fail("Update says %v, Config says %v", ierr, ferr)
				}
				if ferr != nil {
					continue
				}
				if !r.Full {
					incremental++
				}
				if err := sameConfig(full, r.Config); err != nil {
					fail("%v", err)
				}
				// What Update did not resolve again is the previous
				// configuration's, the same pointer.
				for _, v := range r.Config.VPNs {
					if r.Full || contains(r.Names, v.Name) {
						continue
					}
					if prev.VPN(v.Name) != v {
						fail("vpn %s was not resolved again but is not the previous one", v.Name)
					}
				}
				dev, prev, prevRoutes = next, r.Config, routes
				accepted++
			}
			t.Logf("seed %d: %d of %d edits accepted, %d resolved incrementally", seed, accepted, *updSteps, incremental)
			if accepted < *updSteps/4 || incremental < accepted/2 {
				t.Fatalf("seed %d: %d accepted, %d incremental: the walk tests too little", seed, accepted, incremental)
			}
		})
	}
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// sameConfig compares what the two configurations say, indexes included.
func sameConfig(want, got *config.Config) error {
	if !reflect.DeepEqual(want.Global, got.Global) {
		return fmt.Errorf("global %+v, want %+v", got.Global, want.Global)
	}
	if !reflect.DeepEqual(want.PPKs, got.PPKs) {
		return fmt.Errorf("ppks differ")
	}
	if len(want.VPNs) != len(got.VPNs) {
		return fmt.Errorf("%d vpns, want %d", len(got.VPNs), len(want.VPNs))
	}
	for i := range want.VPNs {
		if !reflect.DeepEqual(want.VPNs[i], got.VPNs[i]) {
			return fmt.Errorf("vpn %s:\n got %+v\nwant %+v", want.VPNs[i].Name, got.VPNs[i], want.VPNs[i])
		}
		w, g := want.VPNs[i], got.VPNs[i]
		if g.PPK != nil && got.PPKByID(g.PPK.ID) == nil {
			return fmt.Errorf("vpn %s: its ppk is not in the list", g.Name)
		}
		for _, p := range w.Policies {
			if v, _ := got.PolicyVPN(p.Name); v == nil || v.Name != w.Name {
				return fmt.Errorf("PolicyVPN(%s) = %v, want %s", p.Name, v, w.Name)
			}
		}
		if !reflect.DeepEqual(want.Candidates(w.RemoteAddr), got.Candidates(w.RemoteAddr)) {
			return fmt.Errorf("candidates of %v differ", w.RemoteAddr)
		}
	}
	if !reflect.DeepEqual(want.Clear, got.Clear) && (len(want.Clear) > 0 || len(got.Clear) > 0) {
		return fmt.Errorf("clear %+v, want %+v", got.Clear, want.Clear)
	}
	for _, k := range []string{ikeTemplateKey("it0"), ikeTemplateKey("it1"), ipsecTemplateKey("st0"), ppkKey("p0"), ppkKey("p1")} {
		a, b := want.Users(k), got.Users(k)
		if len(a) != len(b) {
			return fmt.Errorf("users of %s: %v, want %v", k, b, a)
		}
	}
	return nil
}

func set(t *testing.T, s *schema.Schema, d *generated.Device, line string) error {
	t.Helper()
	_, err := (&cliedit.Editor{S: s}).Set(d, nil, cliedit.Fields(line))
	return err
}

// randomEdit makes one random edit of d and says what it was. Names come
// from small pools so that edits meet: VPNs v0..v7 with policies
// sp<vpn>_0..2, templates it0, it1,
// st0, st1, ppks p0, p1.
func randomEdit(t *testing.T, s *schema.Schema, rng *rand.Rand, d *generated.Device) string {
	vi := rng.IntN(8)
	vpn := fmt.Sprintf("/ vrf main ike vpn v%d ", vi)
	// Policy names are unique in a vrf (the validation's rule): each
	// VPN has its own.
	sp := func() string { return fmt.Sprintf("sp%d_%d", vi, rng.IntN(3)) }
	it := fmt.Sprintf("it%d", rng.IntN(2))
	st := fmt.Sprintf("st%d", rng.IntN(2))
	ppk := fmt.Sprintf("p%d", rng.IntN(2))
	n := rng.IntN(250) + 1
	lines := []string{
		vpn + fmt.Sprintf("remote-address 192.0.2.%d", rng.IntN(4)),
		vpn + fmt.Sprintf("local-address 198.51.100.%d", rng.IntN(3)),
		vpn + "ike-policy template " + it,
		vpn + "ipsec-policy template " + st,
		vpn + "ike-policy pre-shared-key 0x0102",
		vpn + fmt.Sprintf("ike-policy rekey-time %d", n),
		vpn + "ipsec-policy start-action start",
		vpn + "ppk " + ppk,
		vpn + fmt.Sprintf("enabled %v", rng.IntN(2) == 0),
		vpn + fmt.Sprintf("security-policy %s local-ts subnet 10.%d.0.0/16", sp(), n),
		vpn + fmt.Sprintf("security-policy %s remote-ts subnet 10.%d.1.0/24", sp(), n),
		vpn + fmt.Sprintf("security-policy %s svti-id-out %d", sp(), n),
		vpn + fmt.Sprintf("security-policy %s inject-routes next-hop 192.0.2.%d", sp(), n),
		vpn + fmt.Sprintf("security-policy %s inject-routes table %d", sp(), n),
		"/ vrf main ike global-options " + fmt.Sprintf("routing-table %d", n),
		"/ vrf main ike global-options install-routes true",
		vpn + fmt.Sprintf("security-policy %s action %s", sp(), []string{"pass", "drop", "esp"}[rng.IntN(3)]),
		"/ vrf main ike ike-policy-template " + it + " ike-proposal 1 enc-alg aes128-cbc",
		"/ vrf main ike ike-policy-template " + it + " ike-proposal 1 auth-alg hmac-sha256",
		"/ vrf main ike ike-policy-template " + it + " ike-proposal 1 dh-group modp2048",
		"/ vrf main ike ike-policy-template " + it + fmt.Sprintf(" dpd-delay %ds", n),
		"/ vrf main ike ike-policy-template " + it + " require-ppk true",
		"/ vrf main ike ipsec-policy-template " + st + fmt.Sprintf(" replay-window %d", n),
		"/ vrf main ike ipsec-policy-template " + st + " start-action none",
		"/ vrf main ike ipsec-policy-template " + st + " esp-proposal 1 enc-alg aes128-cbc",
		"/ vrf main ike ppk " + ppk + fmt.Sprintf(" id id%d", rng.IntN(3)),
		"/ vrf main ike ppk " + ppk + fmt.Sprintf(" secret 0x%04x", n),
		"/ vrf main ike global-options " + fmt.Sprintf("retransmit-tries %d", rng.IntN(10)),
		"/ vrf main ike global-options " + fmt.Sprintf("threads %d", rng.IntN(4)+1),
		fmt.Sprintf("/ vrf main ike enabled %v", rng.IntN(4) != 0),
		"/ vrf other ike vpn x remote-address 192.0.2.9",
	}
	if r := rng.IntN(8); r < 6 {
		l := lines[rng.IntN(len(lines))]
		if err := set(t, s, d, l); err != nil {
			return "refused by the editor: " + l
		}
		return "set " + l
	}
	// Delete an entry (or a security policy) of the ike container.
	ike := d.Vrf["main"].GetOrCreateIke()
	switch rng.IntN(5) {
	case 0:
		n := fmt.Sprintf("v%d", rng.IntN(8))
		delete(ike.Vpn, n)
		return "del vpn " + n
	case 1:
		n := fmt.Sprintf("v%d", vi)
		if v := ike.Vpn[n]; v != nil {
			delete(v.SecurityPolicy, sp())
		}
		return "del security-policy of " + n
	case 2:
		delete(ike.IkePolicyTemplate, it)
		return "del ike-policy-template " + it
	case 3:
		delete(ike.IpsecPolicyTemplate, st)
		return "del ipsec-policy-template " + st
	default:
		delete(ike.Ppk, ppk)
		return "del ppk " + ppk
	}
}
