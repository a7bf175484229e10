package validate

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"secgw/generated"
)

// scope narrows the cross checks to what one change can break. A nil scope
// checks everything.
type scope struct {
	vrf string
	vpn string // empty: the whole vrf
}

// crossChecks verifies the references YANG cannot express.
func (w *walker) crossChecks(d *generated.Device, sc *scope) {
	if sc == nil {
		w.checkNACM(d)
	}
	// Whatever the scope: a change can be the deletion of vrf main.
	if d.Vrf["main"] == nil {
		w.errs = append(w.errs, &Error{Path: "/vrf[name='main']", Kind: KindMandatory, Message: "vrf main must exist: it holds the gateway's default routing domain"})
	}
	for _, name := range sortedKeys(d.Vrf) {
		if sc != nil && sc.vrf != name {
			continue
		}
		vrf := d.Vrf[name]
		if vrf.Ike == nil {
			continue
		}
		base := "/vrf[name='" + name + "']/ike"
		ike := vrf.Ike
		if sc == nil || sc.vpn == "" {
			w.checkPools(base, ike)
			w.checkPPKs(base, ike)
			for _, vn := range sortedKeys(ike.Vpn) {
				w.checkVPN(base, ike, vn)
			}
			w.checkPolicyNames(name, base, ike, "")
			continue
		}
		if ike.Vpn[sc.vpn] != nil {
			w.checkVPN(base, ike, sc.vpn)
			w.checkPolicyNames(name, base, ike, sc.vpn)
		}
	}
}

func (w *walker) add(path string, k Kind, format string, args ...any) {
	if len(w.errs) < maxErrors {
		w.errs = append(w.errs, &Error{Path: path, Kind: k, Message: fmt.Sprintf(format, args...)})
	}
}

// checkVPN checks the references of one VPN: its virtual IP pools, and a
// PPK when its effective policy requires one.
func (w *walker) checkVPN(base string, ike *generated.SecgwVrf_Vrf_Ike, name string) {
	vpn := ike.Vpn[name]
	vpath := base + "/vpn[name='" + name + "']"
	for _, pool := range vpn.VipPool {
		switch {
		case pool == "radius":
		case ike.Ha != nil && ike.Ha.Pool[pool] != nil:
		case ike.Pool[pool] != nil:
			if ike.Ha != nil {
				w.add(vpath+"/vip-pool", KindReference, "pool %q is not synchronized with the HA peer: with IKE HA enabled, use a pool of the ha container", pool)
			}
		default:
			w.add(vpath+"/vip-pool", KindReference, "no pool named %q exists (an ike pool, an ha pool, or 'radius')", pool)
		}
	}
	// require-ppk: the VPN's own value wins over its template's.
	require := false
	if vpn.IkePolicy != nil && vpn.IkePolicy.RequirePpk != nil {
		require = *vpn.IkePolicy.RequirePpk
	} else if vpn.IkePolicy != nil && vpn.IkePolicy.Template != nil {
		if t := ike.IkePolicyTemplate[*vpn.IkePolicy.Template]; t != nil && t.RequirePpk != nil {
			require = *t.RequirePpk
		}
	}
	if require && vpn.Ppk == nil {
		w.add(vpath+"/ppk", KindReference, "require-ppk is true for this VPN but it names no ppk")
	}
}

// checkPolicyNames enforces that security policy names are unique in the
// vrf: 'cmd ike initiate child-sa security-policy NAME' names one without
// its VPN. With only set, just the policies of that VPN are checked, through
// the name index of the vrf (see policyIndex), in time independent of the
// number of VPNs.
func (w *walker) checkPolicyNames(vrf, base string, ike *generated.SecgwVrf_Vrf_Ike, only string) {
	idx := w.v.policies
	idx.mu.Lock()
	defer idx.mu.Unlock()
	if only != "" {
		names := idx.names(vrf, ike)
		for sp := range ike.Vpn[only].SecurityPolicy {
			owner, ok := names[sp]
			if ok && owner != only {
				// The index may be stale: confirm on the live tree.
				if o := ike.Vpn[owner]; o != nil && o.SecurityPolicy[sp] != nil {
					w.add(base+"/vpn[name='"+only+"']/security-policy[name='"+sp+"']", KindReference,
						"security-policy %q also exists in vpn %q: names are unique in the vrf", sp, owner)
					continue
				}
			}
			names[sp] = only
		}
		return
	}
	owner := make(map[string]string, policyCount(ike))
	for _, vn := range sortedKeys(ike.Vpn) {
		for _, sp := range sortedKeys(ike.Vpn[vn].SecurityPolicy) {
			if prev, dup := owner[sp]; dup {
				w.add(base+"/vpn[name='"+vn+"']/security-policy[name='"+sp+"']", KindReference,
					"security-policy %q also exists in vpn %q: names are unique in the vrf", sp, prev)
				continue
			}
			owner[sp] = vn
		}
	}
	idx.byVRF[vrf] = policyNames{owner: owner}
}

// policyIndex remembers, per vrf, which VPN owns each security policy name.
// A full validation rebuilds it from the tree it checks; each incremental
// check adds the names of its VPN. Entries left stale by deletions, or
// by another tree, are confirmed against the live tree before an error is
// reported, so a stale entry never causes a false error. It misses no
// conflict as long as every change made to the validated tree since its
// last full validation went through ValidateChange — the datastore's
// contract (it validates its running tree in full at start, then each
// change of the candidate, whose content differs from running only by
// those changes). A start that skips the full validation (a stored
// configuration sealed as valid, datastore's seal.go) leaves the index
// to names, which builds it from that tree at the first incremental
// check: a valid tree has no duplicate, so the index is the one a full
// validation would have built.
type policyIndex struct {
	mu    sync.Mutex
	byVRF map[string]policyNames
}

type policyNames struct {
	owner map[string]string
}

func (idx *policyIndex) names(vrf string, ike *generated.SecgwVrf_Vrf_Ike) map[string]string {
	if pn, ok := idx.byVRF[vrf]; ok {
		return pn.owner
	}
	owner := make(map[string]string, policyCount(ike))
	for vn, vpn := range ike.Vpn {
		for sp := range vpn.SecurityPolicy {
			if prev, ok := owner[sp]; !ok || vn < prev {
				owner[sp] = vn
			}
		}
	}
	idx.byVRF[vrf] = policyNames{owner: owner}
	return owner
}

// policyCount is the number of security policies of ike's VPNs: the
// index is made that size at once, rather than grown to up to twice it
// (it is kept between commits: at 100k VPNs it holds 400k names).
func policyCount(ike *generated.SecgwVrf_Vrf_Ike) int {
	n := 0
	for _, vpn := range ike.Vpn {
		n += len(vpn.SecurityPolicy)
	}
	return n
}

// checkPPKs enforces that PPK identities differ whatever their form: id bar
// and id-hex 626172 are the same identity.
func (w *walker) checkPPKs(base string, ike *generated.SecgwVrf_Vrf_Ike) {
	seen := map[string]string{}
	for _, name := range sortedKeys(ike.Ppk) {
		p := ike.Ppk[name]
		var id string
		switch {
		case p.Id != nil:
			id = *p.Id
		case p.IdHex != nil:
			b, err := hex.DecodeString(*p.IdHex)
			if err != nil {
				continue // the pattern check reports it
			}
			id = string(b)
		default:
			continue
		}
		if prev, dup := seen[id]; dup {
			w.add(base+"/ppk[name='"+name+"']", KindReference, "ppk %q has the same identity as ppk %q (id and id-hex name the same bytes)", name, prev)
			continue
		}
		seen[id] = name
	}
}

// checkPools checks that every address item of every pool is a valid
// address, range or subnet.
func (w *walker) checkPools(base string, ike *generated.SecgwVrf_Vrf_Ike) {
	check := func(path string, addrs []string) {
		for _, a := range addrs {
			if msg := checkPoolAddress(a); msg != "" {
				w.add(path+"/address", KindType, "%s", msg)
			}
		}
	}
	for _, name := range sortedKeys(ike.Pool) {
		check(base+"/pool[name='"+name+"']", ike.Pool[name].Address)
	}
	if ike.Ha != nil {
		for _, name := range sortedKeys(ike.Ha.Pool) {
			check(base+"/ha/pool[name='"+name+"']", ike.Ha.Pool[name].Address)
		}
	}
}

// checkPoolAddress returns what is wrong with one pool item, or "".
func checkPoolAddress(s string) string {
	if first, last, ok := strings.Cut(s, "-"); ok {
		a, err1 := netip.ParseAddr(first)
		b, err2 := netip.ParseAddr(last)
		switch {
		case err1 != nil || err2 != nil:
			return fmt.Sprintf("%q is not a range of two addresses", s)
		case a.Is4() != b.Is4():
			return fmt.Sprintf("range %q mixes IPv4 and IPv6", s)
		case b.Less(a):
			return fmt.Sprintf("range %q ends before it starts", s)
		}
		return ""
	}
	if strings.Contains(s, "/") {
		if _, err := netip.ParsePrefix(s); err != nil {
			return fmt.Sprintf("%q is not a subnet", s)
		}
		return ""
	}
	if _, err := netip.ParseAddr(s); err != nil {
		return fmt.Sprintf("%q is not an address", s)
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
