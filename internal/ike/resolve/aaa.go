package resolve

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"time"

	"secgw/generated"
	"secgw/internal/ike/config"
)

// remoteAAA is the VPN's remote-auth-method (its own, else its
// template's) when the RADIUS servers serve it.
func remoteAAA(vpn, tmpl generated.E_SecgwIke_AuthMethod) config.AAAMethod {
	switch pickEnum(vpn, tmpl) {
	case generated.SecgwIke_AuthMethod_eap_radius:
		return config.AAAEAP
	case generated.SecgwIke_AuthMethod_pre_shared_key_radius:
		return config.AAAPSK
	}
	return config.AAANone
}

// RADIUS resolves the radius container of a vrf's ike (nil: none):
// the servers in their configured order.
func RADIUS(ike *generated.SecgwVrf_Vrf_Ike) (config.RADIUS, error) {
	var out config.RADIUS
	if ike == nil || ike.Radius == nil {
		return out, nil
	}
	r := ike.Radius
	if r.NasIdentifier != nil {
		out.NASIdentifier = *r.NasIdentifier
	}
	out.Accounting = r.Accounting != nil && *r.Accounting
	if r.InterimInterval != nil {
		out.InterimInterval = time.Duration(*r.InterimInterval) * time.Second
	}
	// By priority, then address (the list's key order).
	servers := slices.SortedFunc(maps.Values(r.Server), func(a, b *generated.SecgwVrf_Vrf_Ike_Radius_Server) int {
		return cmp.Or(cmp.Compare(prio(a.Priority), prio(b.Priority)), cmp.Compare(a.GetAddress(), b.GetAddress()))
	})
	for _, s := range servers {
		a, err := netip.ParseAddr(s.GetAddress())
		if err != nil {
			return out, fmt.Errorf("config: radius server %q: %w", s.GetAddress(), err)
		}
		rs := config.RADIUSServer{Addr: a, AuthPort: 1812, AcctPort: 1813, Timeout: 3 * time.Second, Retries: 2}
		if s.AuthPort != nil {
			rs.AuthPort = *s.AuthPort
		}
		if s.AcctPort != nil {
			rs.AcctPort = *s.AcctPort
		}
		if s.Timeout != nil {
			rs.Timeout = time.Duration(*s.Timeout) * time.Second
		}
		if s.Retries != nil {
			rs.Retries = int(*s.Retries)
		}
		if s.Secret != nil {
			rs.Secret = []byte(*s.Secret)
		}
		out.Servers = append(out.Servers, rs)
	}
	return out, nil
}

// prio is a server's priority, 100 when unset (the model's default).
func prio(p *uint8) int {
	if p == nil {
		return 100
	}
	return int(*p)
}
