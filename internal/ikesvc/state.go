package ikesvc

import (
	"fmt"
	"secgw/internal/ipsec"
	"time"

	"secgw/generated"
	"secgw/internal/ike/config"
	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/resolve"
)

// State returns the operational state of vrf main's ike container: ike-sa
// with its child-sa entries, the dataplane in use and the global
// statistics, in a fresh container that holds nothing else. With keys the
// secret leaves (sk-*, child keys) are filled; the NETCONF layer still
// omits them for users without the right to see secrets.
func (s *Service) State(keys bool) *generated.SecgwVrf_Vrf_Ike {
	now := time.Now()
	ike := &generated.SecgwVrf_Vrf_Ike{IkeSa: map[uint32]*generated.SecgwVrf_Vrf_Ike_IkeSa{}}
	switch s.o.DataplaneKind {
	case "kernel":
		ike.Dataplane = generated.SecgwVrf_Vrf_Ike_Dataplane_kernel_xfrm
	case "userspace":
		ike.Dataplane = generated.SecgwVrf_Vrf_Ike_Dataplane_userspace_esp
	}
	var established, halfOpen, children uint32
	reqids, _ := s.o.Dataplane.(engine.ReqIDs)
	enums := suiteEnums{}
	for _, sa := range s.eng.Snapshot(keys) {
		e := ikeSAState(sa, now, keys, enums)
		for _, c := range sa.Children {
			cs := childState(c, now, keys, enums)
			cs.Mobike = ptr(sa.MOBIKE) // the child SAs move with their IKE SA
			if reqids != nil {
				// The dataplane's reqid, which the child SA's rekeys
				// keep (the guide's "reqid 1" of #3 and then #4).
				if id, ok := reqids.ReqID(c.InSPI); ok {
					cs.Reqid = &id
				}
			}
			if s.o.Counters != nil {
				in, out := s.o.Counters(c.ChildSA)
				cs.BytesIn, cs.PacketsIn, cs.BytesOut, cs.PacketsOut = &in.Bytes, &in.Packets, &out.Bytes, &out.Packets
				cs.ReplayErrorsIn, cs.IntegrityErrorsIn = &in.ReplayErrors, &in.IntegrityErrors
			}
			cs.VpnMonitor = s.mon.monitorState(c.UniqueID) // vpnmon.go
			e.ChildSa[c.UniqueID] = cs
			if sa.State != "passive" { // the HA standby's: installed nowhere
				children++
			}
		}
		switch sa.State {
		case "established":
			established++
		case "created":
			halfOpen++
		}
		ike.IkeSa[sa.UniqueID] = e
	}
	s.mu.Lock()
	ike.Pki = pkiState(s.cfg, now) // pki.go
	s.mu.Unlock()
	ike.Statistics = &generated.SecgwVrf_Vrf_Ike_Statistics{
		IkeSaEstablished: &established, IkeSaHalfOpen: &halfOpen, ChildSaInstalled: &children,
	}
	s.stats.fill(ike.Statistics)
	r := s.eng.RedirectStats() // RFC 5685 (engine/redirect.go)
	ike.Statistics.RedirectsSent, ike.Statistics.RedirectsFollowed = &r.Sent, &r.Followed
	ike.Statistics.RedirectsRefused = &r.LoopRefused
	bs := s.eng.BadSPIStats() // respond-bad-spi (engine/badspi.go)
	ike.Statistics.UnknownSpiReported, ike.Statistics.InvalidSpiSent = &bs.Reported, &bs.Sent
	ike.Statistics.InvalidSpiLimited, ike.Statistics.InvalidSpiReceived = &bs.Limited, &bs.Received
	ops := s.eng.OpStats() // engine/opstats.go
	ike.Statistics.DpdTimeouts = &ops.DPDTimeouts
	ike.Statistics.DpdSent, ike.Statistics.Retransmissions = &ops.DPDSent, &ops.Retransmissions
	s.poolState(ike) // pools.go
	return ike
}

// suiteEnums memoizes resolve.EnumsOf, which tries every enum value, for
// the few suites of one State: one call per suite rather than per SA.
// A nil suiteEnums memoizes nothing.
type suiteEnums map[ikecrypto.Suite]resolve.SuiteEnums

func (m suiteEnums) of(s ikecrypto.Suite) resolve.SuiteEnums {
	if en, ok := m[s]; ok {
		return en
	}
	en := resolve.EnumsOf(s)
	if m != nil {
		m[s] = en
	}
	return en
}

func ikeSAState(sa engine.SAState, now time.Time, keys bool, enums suiteEnums) *generated.SecgwVrf_Vrf_Ike_IkeSa {
	e := &generated.SecgwVrf_Vrf_Ike_IkeSa{
		UniqueId: ptr(sa.UniqueID), Name: ptr(sa.VPN), Version: ptr(uint8(2)),
		Initiator: ptr(sa.Initiator), UdpEncap: ptr(sa.UDPEncap), Mobike: ptr(sa.MOBIKE), PpkUsed: ptr(sa.PPKUsed),
		InitiatorSpi: ptr(fmt.Sprintf("%016x", sa.SPIi)), ResponderSpi: ptr(fmt.Sprintf("%016x", sa.SPIr)),
		ChildSa: map[uint32]*generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa{},
	}
	switch sa.State {
	case "established":
		e.State = generated.SecgwVrf_Vrf_Ike_IkeSa_State_established
	case "connecting":
		e.State = generated.SecgwVrf_Vrf_Ike_IkeSa_State_connecting
	case "created":
		e.State = generated.SecgwVrf_Vrf_Ike_IkeSa_State_created
	case "rekeying":
		e.State = generated.SecgwVrf_Vrf_Ike_IkeSa_State_rekeying
	case "rekeyed":
		e.State = generated.SecgwVrf_Vrf_Ike_IkeSa_State_rekeyed
	case "passive":
		// Held by the HA standby (engine/ha.go), not active here.
		e.State = generated.SecgwVrf_Vrf_Ike_IkeSa_State_passive
	default:
		e.State = generated.SecgwVrf_Vrf_Ike_IkeSa_State_deleting
	}
	if sa.Local.IsValid() {
		e.LocalAddress, e.LocalPort = ptr(sa.Local.Addr().String()), ptr(sa.Local.Port())
	}
	if sa.Remote.IsValid() {
		e.RemoteAddress, e.RemotePort = ptr(sa.Remote.Addr().String()), ptr(sa.Remote.Port())
	}
	if !sa.LocalID.IsZero() {
		e.LocalId = ptr(sa.LocalID.String())
	}
	if !sa.RemoteID.IsZero() {
		e.RemoteId = ptr(sa.RemoteID.String())
	}
	for _, a := range sa.LocalVIPs {
		e.LocalVip = append(e.LocalVip, a.String())
	}
	for _, a := range sa.RemoteVIPs {
		e.RemoteVip = append(e.RemoteVip, a.String())
	}
	if sa.Suite.Encr != 0 {
		en := enums.of(sa.Suite)
		e.EncAlg, e.AuthAlg, e.AeadAlg, e.PrfAlg, e.DhGroup = en.Enc, en.Auth, en.Aead, en.Prf, en.DH
		e.AdditionalKeyExchange = resolve.KeyExchangeEnums(sa.AddKEs)
	}
	if !sa.Established.IsZero() {
		e.EstablishedTime = ptr(uint64(now.Sub(sa.Established) / time.Second))
	}
	if !sa.RekeyAt.IsZero() {
		e.RekeyTime = ptr(uint64(max(sa.RekeyAt.Sub(now), 0) / time.Second))
	}
	if !sa.ReauthAt.IsZero() {
		e.ReauthTime = ptr(uint64(max(sa.ReauthAt.Sub(now), 0) / time.Second))
	}
	// The SA's own counters (engine/opstats.go).
	e.Statistics = &generated.SecgwVrf_Vrf_Ike_IkeSa_Statistics{
		RequestsSent: ptr(sa.Stats.Requests), Retransmissions: ptr(sa.Stats.Retransmissions),
		ChildRekeys: ptr(sa.Stats.ChildRekeys), DpdSent: ptr(sa.Stats.DPDSent),
	}
	if keys && sa.Keys != nil {
		e.SkEi, e.SkEr = hexPtr(sa.Keys.SKei), hexPtr(sa.Keys.SKer)
		e.SkAi, e.SkAr = hexPtr(sa.Keys.SKai), hexPtr(sa.Keys.SKar)
	}
	return e
}

func childState(c engine.ChildState, now time.Time, keys bool, enums suiteEnums) *generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa {
	cs := &generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa{
		UniqueId: ptr(c.UniqueID), Name: ptr(c.Policy),
		State:    generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_State_installed,
		Protocol: generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_Protocol_esp,
		Mode:     generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_Mode_tunnel,
		UdpEncap: ptr(c.Encap), Mobike: ptr(false), Esn: ptr(c.ESN),
		SpiIn: ptr(fmt.Sprintf("%08x", c.InSPI)), SpiOut: ptr(fmt.Sprintf("%08x", c.OutSPI)),
	}
	if c.Mode == config.ModeTransport {
		cs.Mode = generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_Mode_transport
	}
	en := enums.of(ikecrypto.Suite{Encr: c.Suite.Encr, KeyBits: c.Suite.KeyBits, Integ: c.Suite.Integ, Group: c.Suite.Group})
	cs.EncAlg, cs.AuthAlg, cs.AeadAlg, cs.DhGroup = en.Enc, en.Auth, en.Aead, en.DH
	switch c.State {
	case "rekeying":
		cs.State = generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_State_rekeying
	case "rekeyed":
		cs.State = generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_State_rekeyed
	case "deleting":
		cs.State = generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_State_deleting
	case "passive":
		// Of a passive IKE SA (HA standby, engine/ha.go): in no
		// dataplane.
		cs.State = generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_State_passive
	}
	if !c.Installed.IsZero() {
		cs.InstalledTime = ptr(uint64(now.Sub(c.Installed) / time.Second))
	}
	// The engine's lifetimes, random margin included (the vsr guide's
	// "rekeying in 3342s, expires in 3959s").
	if !c.RekeyAt.IsZero() {
		cs.RekeyTime = ptr(uint64(max(c.RekeyAt.Sub(now), 0) / time.Second))
	}
	if !c.ExpireAt.IsZero() {
		cs.LifeTime = ptr(uint64(max(c.ExpireAt.Sub(now), 0) / time.Second))
	}
	if len(c.LocalTS) > 0 {
		t := c.LocalTS[0]
		cs.LocalTs = &generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_LocalTs{Subnet: ptr(tsSubnet(t)), Protocol: tsProto(t), Port: tsPort(t)}
	}
	if len(c.RemoteTS) > 0 {
		t := c.RemoteTS[0]
		cs.RemoteTs = &generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_RemoteTs{Subnet: ptr(tsSubnet(t)), Protocol: tsProto(t), Port: tsPort(t)}
	}
	if keys {
		cs.EncrKeyIn, cs.EncrKeyOut = hexPtr(c.In.Encr), hexPtr(c.Out.Encr)
		cs.IntegKeyIn, cs.IntegKeyOut = hexPtr(c.In.Integ), hexPtr(c.Out.Integ)
	}
	return cs
}

// tsSubnet is the selector's range as the prefix it is (configured
// selectors are prefixes), or else the smallest prefix that covers it.
func tsSubnet(t ipsec.TrafficSelector) string {
	ps, err := t.Prefixes()
	switch {
	case err != nil:
		return t.StartAddr.String()
	case len(ps) == 1:
		return ps[0].String()
	}
	for l := t.StartAddr.BitLen(); l >= 0; l-- {
		if p, _ := t.StartAddr.Prefix(l); p.Contains(t.EndAddr) {
			return p.String()
		}
	}
	return t.StartAddr.String()
}

func tsProto(t ipsec.TrafficSelector) *uint8 {
	if t.IPProtocol == 0 {
		return nil
	}
	return ptr(t.IPProtocol)
}

func tsPort(t ipsec.TrafficSelector) *uint16 {
	if t.StartPort == t.EndPort {
		return ptr(t.StartPort)
	}
	return nil
}

func hexPtr(b []byte) *string {
	if len(b) == 0 {
		return nil
	}
	return ptr(fmt.Sprintf("%x", b))
}

func ptr[T any](v T) *T { return &v }
