package program

import (
	"secgw/generated"
	"secgw/internal/dataplane/xfrm"
)

// SPDHashFromConfig reads global-options sp-hash-ipv4 and sp-hash-ipv6
// (their YANG defaults, the kernel's, when unset) for
// xfrm.Dataplane.SetSPDHash: local is the local prefix length threshold,
// remote the remote one.
func SPDHashFromConfig(g *generated.SecgwVrf_Vrf_Ike_GlobalOptions) xfrm.SPDHash {
	return xfrm.SPDHash{
		IPv4Local: g.GetSpHashIpv4().GetLocal(), IPv4Remote: g.GetSpHashIpv4().GetRemote(),
		IPv6Local: g.GetSpHashIpv6().GetLocal(), IPv6Remote: g.GetSpHashIpv6().GetRemote(),
	}
}
