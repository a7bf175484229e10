package ikesvc

import (
	"context"
	"net/netip"

	"secgw/internal/ike/engine"
)

// DebugInput is the input of the debug-ike RPC (secgw-ike-debug.yang):
// add, remove or list the engine's debug filters.
type DebugInput struct {
	VRF       string `yang:"vrf"`
	Operation string `yang:"operation"`
	Peer      string `yang:"peer"`
	VPN       string `yang:"vpn"`
	Identity  string `yang:"identity"`
	WithKeys  bool   `yang:"with-keys"`
}

// DebugOutput is the output of debug-ike: the filters set after the
// operation and the trace records dropped by the rate bound.
type DebugOutput struct {
	Filters []string `yang:"filter"`
	Dropped uint64   `yang:"dropped"`
}

// DebugRecord is one trace record as the ike-debug notification carries
// it ('monitor ike').
type DebugRecord struct {
	VRF      string `yang:"vrf"`
	Peer     string `yang:"peer"`
	VPN      string `yang:"vpn"`
	UniqueID uint32 `yang:"unique-id"`
	Trace    string `yang:"trace"`
}

// NewDebugRecord is the ike-debug notification of a record of the
// engine of vrf (empty: main).
func NewDebugRecord(vrf string, r engine.DebugRecord) DebugRecord {
	if vrf == "" {
		vrf = VRF
	}
	return DebugRecord{VRF: vrf, Peer: r.Peer.String(), VPN: r.VPN, UniqueID: r.IKESA, Trace: r.Text}
}

// DebugIKE adds, removes or lists the debug filters ('debug ike peer
// 198.51.100.1', 'no debug ike peer ...', 'show debug').
func (s *Service) DebugIKE(_ context.Context, in DebugInput) (DebugOutput, error) {
	if err := s.checkVRF(in.VRF); err != nil {
		return DebugOutput{}, err
	}
	f := engine.DebugFilter{VPN: in.VPN, Identity: in.Identity, WithKeys: in.WithKeys}
	if in.Peer != "" {
		a, err := netip.ParseAddr(in.Peer)
		if err != nil {
			return DebugOutput{}, invalid("peer", "debug-ike: peer "+in.Peer+" is not an IP address")
		}
		f.Peer = a
	}
	switch in.Operation {
	case "", "add":
		if err := s.eng.AddDebugFilter(f); err != nil {
			return DebugOutput{}, invalid("peer", "debug-ike: a filter needs peer, vpn or identity, and at most 32 filters are set")
		}
		s.log.Info("debug filter added", "filter", f.String())
	case "remove":
		if !s.eng.RemoveDebugFilter(f) {
			return DebugOutput{}, invalid("peer", "debug-ike: no filter "+f.String())
		}
		s.log.Info("debug filter removed", "filter", f.String())
	case "list":
	default:
		return DebugOutput{}, invalid("operation", "debug-ike: unknown operation "+in.Operation)
	}
	out := DebugOutput{Filters: []string{}, Dropped: s.eng.DebugDropped()}
	for _, g := range s.eng.DebugFilters() {
		out.Filters = append(out.Filters, g.String())
	}
	return out, nil
}
