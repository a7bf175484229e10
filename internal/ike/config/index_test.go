package config

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// TestApplyMatchesLiteral: random Deltas applied one after the other
// give the Config that lists the same VPNs from scratch: the same sorted
// VPNs, pass and drop policies, candidates of every peer (in name order,
// as the linear search of every VPN gave them) and VPN of every policy;
// unchanged VPNs keep their pointer, and the Config a Delta was applied
// to is left as it was.
func TestApplyMatchesLiteral(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	peers := []netip.Addr{{}, netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("2001:db8::1")}
	cur := &Config{}
	want := map[string]Entry{}
	for step := range 2000 {
		var d Delta
		seen := map[string]bool{}
		for range rng.IntN(4) + 1 {
			name := fmt.Sprintf("v%02d", rng.IntN(40))
			if seen[name] {
				continue
			}
			seen[name] = true
			if rng.IntN(3) == 0 {
				d.Remove = append(d.Remove, name)
				delete(want, name)
				continue
			}
			v := &VPN{Name: name, RemoteAddr: peers[rng.IntN(len(peers))], Policies: []SecurityPolicy{{Name: name + "-esp"}}}
			e := Entry{VPN: v, Uses: []string{fmt.Sprintf("t%d", rng.IntN(3))}}
			if rng.IntN(2) == 0 {
				e.Clear = []ClearPolicy{{VPN: name, SecurityPolicy: SecurityPolicy{Name: name + "-pass"}, Action: ClearPass}}
			}
			d.Put = append(d.Put, e)
			want[name] = e
		}
		before := slices.Clone(cur.VPNs)
		next := cur.Apply(d)
		if !reflect.DeepEqual(before, cur.VPNs) {
			t.Fatalf("step %d: Apply changed the Config it was applied to", step)
		}
		for _, v := range next.VPNs {
			if !seen[v.Name] && cur.VPN(v.Name) != v {
				t.Fatalf("step %d: unchanged VPN %s has a new pointer", step, v.Name)
			}
		}
		cur = next
		names := make([]string, 0, len(want))
		for n := range want {
			names = append(names, n)
		}
		slices.Sort(names)
		lit := &Config{}
		for _, n := range names {
			lit.VPNs = append(lit.VPNs, want[n].VPN)
			lit.Clear = append(lit.Clear, want[n].Clear...)
		}
		if !reflect.DeepEqual(lit.VPNs, cur.VPNs) || !slices.EqualFunc(lit.Clear, cur.Clear, func(a, b ClearPolicy) bool { return reflect.DeepEqual(a, b) }) {
			t.Fatalf("step %d: VPNs or pass and drop policies differ from the literal Config", step)
		}
		for _, p := range peers[1:] {
			var linear []*VPN
			for _, v := range lit.VPNs {
				if !v.RemoteAddr.IsValid() || v.RemoteAddr == p {
					linear = append(linear, v)
				}
			}
			if got := cur.Candidates(p); !slices.Equal(got, linear) || !slices.Equal(lit.Candidates(p), linear) {
				t.Fatalf("step %d: candidates of %v: %v, want %v", step, p, vpnNames(got), vpnNames(linear))
			}
		}
		for _, n := range names {
			if v, p := cur.PolicyVPN(n + "-esp"); v != want[n].VPN || p == nil {
				t.Fatalf("step %d: PolicyVPN(%s-esp) = %v", step, n, v)
			}
		}
		for k := range 3 {
			key := fmt.Sprintf("t%d", k)
			var users []string
			for _, n := range names {
				if want[n].Uses[0] == key {
					users = append(users, n)
				}
			}
			got := cur.Users(key)
			slices.Sort(got)
			if !slices.Equal(got, users) {
				t.Fatalf("step %d: Users(%s) = %v, want %v", step, key, got, users)
			}
		}
	}
}

func vpnNames(l []*VPN) string {
	var s []string
	for _, v := range l {
		s = append(s, v.Name)
	}
	return strings.Join(s, ",")
}

// BenchmarkUsers100k finds the VPNs of a template among 100k VPNs of
// two templates (what a commit that changes a template asks).
func BenchmarkUsers100k(b *testing.B) {
	const n = 100000
	uses := []string{"ike-policy-template t", "ipsec-policy-template p"}
	d := Delta{Put: make([]Entry, n)}
	for i := range d.Put {
		d.Put[i] = Entry{VPN: &VPN{Name: fmt.Sprintf("vpn%06d", i)}, Uses: uses}
	}
	c := (&Config{}).Apply(d)
	for b.Loop() {
		if got := c.Users(uses[0]); len(got) != n {
			b.Fatalf("%d users", len(got))
		}
	}
}
