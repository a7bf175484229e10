package config

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net/netip"
	"secgw/internal/ipsec"
	"slices"
	"strconv"
	"strings"
	"time"

	"secgw/generated"
	"secgw/internal/ike/wire"
)

// Template defaults: the "refine default" statements of secgw-ike.yang and
// the defaults of secgw-ike-global.yang, which ygot's getters do not apply to
// templates.
const (
	DefaultIKERekeyTime   = 14400 * time.Second
	DefaultChildRekeyTime = 3600 * time.Second
	DefaultReplayWindow   = 32
	DefaultFragmentation  = true

	DefaultRetransmitTries   = 5
	DefaultRetransmitTimeout = 4 * time.Second
	DefaultRetransmitBase    = 1.8
	DefaultCookieThreshold   = 10
	DefaultBlockThreshold    = 5
	DefaultThreads           = 16
	DefaultSATableSize       = 1
	DefaultSATableSegments   = 1
	DefaultAcquireTimeout    = 30 * time.Second

	// Template defaults of ipsec-policy-template start-action (trap),
	// close-action (none) and dpd-action (restart).
	DefaultStartAction = ActionTrap
	DefaultCloseAction = ActionNone
	DefaultDPDAction   = ActionStart
)

// Config is the resolved IKE configuration of one vrf.
type Config struct {
	Global Global
	// VPNs are the enabled VPNs, sorted by name.
	VPNs []*VPN
	// PPKs are the ppk list, sorted by name: as responder, a PPK is
	// used only when the peer names one of these identities (RFC 8784
	// §3).
	PPKs []*PPK
	// Clear are the security policies of action pass and drop of the
	// enabled VPNs, by VPN then policy name. They need no child SA: the
	// dataplane installs them from the configuration. They are kept out
	// of VPN so that adding or changing one does not make the engine
	// tear the VPN's SAs down.
	Clear []ClearPolicy
}

// VPN returns the VPN called name, or nil.
func (c *Config) VPN(name string) *VPN {
	for _, v := range c.VPNs {
		if v.Name == name {
			return v
		}
	}
	return nil
}

// PPKByID returns the PPK whose identity is id, or nil.
func (c *Config) PPKByID(id []byte) *PPK {
	for _, p := range c.PPKs {
		if bytes.Equal(p.ID, id) {
			return p
		}
	}
	return nil
}

// DefaultIKEProposals are the proposals used when neither a VPN nor its
// template lists one (secgw-ike-vpn.yang, ike-proposal): aes256-gcm-128 with
// prf hmac-sha256, then aes128-cbc/hmac-sha256, with curve25519, ecp256,
// modp3072 (and modp2048 for the second).
func DefaultIKEProposals() []wire.Proposal {
	a := []algs{
		{Aead: []generated.E_SecgwIke_AeadAlgorithm{generated.SecgwIke_AeadAlgorithm_aes256_gcm_128},
			Prf: []generated.E_SecgwIke_PrfAlgorithm{generated.SecgwIke_PrfAlgorithm_hmac_sha256},
			DH:  []generated.E_SecgwIke_DhGroup{generated.SecgwIke_DhGroup_curve25519, generated.SecgwIke_DhGroup_ecp256, generated.SecgwIke_DhGroup_modp3072}},
		{Enc: []generated.E_SecgwIke_EncryptionAlgorithm{generated.SecgwIke_EncryptionAlgorithm_aes128_cbc},
			Auth: []generated.E_SecgwIke_IntegrityAlgorithm{generated.SecgwIke_IntegrityAlgorithm_hmac_sha256},
			DH:   []generated.E_SecgwIke_DhGroup{generated.SecgwIke_DhGroup_curve25519, generated.SecgwIke_DhGroup_ecp256, generated.SecgwIke_DhGroup_modp3072, generated.SecgwIke_DhGroup_modp2048}},
	}
	return mustProposals(a, wire.ProtocolIKE)
}

// DefaultESPProposals are the child SA proposals used when neither a VPN nor
// its template lists one: aes256-gcm-128, then aes128-cbc/hmac-sha256,
// without PFS and without ESN.
func DefaultESPProposals() []wire.Proposal {
	a := []algs{
		{Aead: []generated.E_SecgwIke_AeadAlgorithm{generated.SecgwIke_AeadAlgorithm_aes256_gcm_128}},
		{Enc: []generated.E_SecgwIke_EncryptionAlgorithm{generated.SecgwIke_EncryptionAlgorithm_aes128_cbc},
			Auth: []generated.E_SecgwIke_IntegrityAlgorithm{generated.SecgwIke_IntegrityAlgorithm_hmac_sha256}},
	}
	return mustProposals(a, wire.ProtocolESP)
}

func mustProposals(a []algs, p wire.ProtocolID) []wire.Proposal {
	ps, err := proposals(a, p)
	if err != nil {
		panic(err) // the defaults above are constants
	}
	return ps
}

func proposals(a []algs, p wire.ProtocolID) ([]wire.Proposal, error) {
	var out []wire.Proposal
	for i, x := range a {
		pr, err := x.proposal(uint8(i+1), p)
		if err != nil {
			return nil, err
		}
		out = append(out, pr)
	}
	return out, nil
}

// Resolve computes the effective configuration of a vrf's ike container.
func Resolve(ike *generated.SecgwVrf_Vrf_Ike) (*Config, error) {
	c := &Config{Global: resolveGlobal(ike.GetGlobalOptions())}
	ppks, err := resolvePPKs(ike)
	if err != nil {
		return nil, err
	}
	c.PPKs = ppks
	names := make([]string, 0, len(ike.Vpn))
	for n := range ike.Vpn {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		v := ike.Vpn[n]
		if v.Enabled != nil && !*v.Enabled {
			continue
		}
		rv, clear, err := resolveVPN(ike, v, ppks)
		if err != nil {
			return nil, fmt.Errorf("config: vpn %s: %w", n, err)
		}
		c.VPNs = append(c.VPNs, rv)
		c.Clear = append(c.Clear, clear...)
	}
	return c, nil
}

func resolveGlobal(g *generated.SecgwVrf_Vrf_Ike_GlobalOptions) Global {
	out := Global{
		Retransmit:     Retransmit{Tries: DefaultRetransmitTries, Timeout: DefaultRetransmitTimeout, Base: DefaultRetransmitBase},
		Cookies:        CookiePolicy{Threshold: DefaultCookieThreshold},
		DoS:            DoSLimits{BlockThreshold: DefaultBlockThreshold},
		AcquireTimeout: DefaultAcquireTimeout,
		Threads:        DefaultThreads,
		SATableSize:    DefaultSATableSize, SATableSegments: DefaultSATableSegments,
	}
	if g == nil {
		return out
	}
	if g.InitiatorOnly != nil {
		out.InitiatorOnly = *g.InitiatorOnly
	}
	if g.AcquireTimeout != nil {
		out.AcquireTimeout = time.Duration(*g.AcquireTimeout) * time.Second
	}
	if g.MakeBeforeBreak != nil {
		out.MakeBeforeBreak = *g.MakeBeforeBreak
	}
	r := &out.Retransmit
	if g.RetransmitTries != nil {
		r.Tries = int(*g.RetransmitTries)
	}
	if g.RetransmitTimeout != nil {
		r.Timeout = time.Duration(*g.RetransmitTimeout * float64(time.Second))
	}
	if g.RetransmitBase != nil {
		r.Base = *g.RetransmitBase
	}
	if g.RetransmitJitter != nil {
		r.JitterPct = int(*g.RetransmitJitter)
	}
	if g.RetransmitLimit != nil {
		r.Limit = time.Duration(*g.RetransmitLimit) * time.Second
	}
	if d := g.DosProtection; d != nil {
		switch t := d.CookieThreshold.(type) {
		case generated.UnionUint32:
			out.Cookies.Threshold = uint32(t)
		case generated.E_SecgwVrf_Vrf_Ike_GlobalOptions_DosProtection_CookieThreshold:
			out.Cookies.Always = t != 0
		}
		for _, l := range []struct {
			src *uint32
			dst *uint32
		}{
			{d.BlockThreshold, &out.DoS.BlockThreshold}, {d.InitLimitHalfOpen, &out.DoS.InitLimitHalfOpen},
			{d.InitLimitJobLoad, &out.DoS.InitLimitJobLoad}, {d.IkeSaLimit, &out.DoS.IKESALimit},
		} {
			if l.src != nil {
				*l.dst = *l.src
			}
		}
	}
	// threads, sa-table-size and sa-table-segments are 1..max in the
	// model; a value the int cannot hold is capped.
	for _, l := range []struct {
		src *uint32
		dst *int
	}{{g.Threads, &out.Threads}, {g.SaTableSize, &out.SATableSize}, {g.SaTableSegments, &out.SATableSegments}} {
		if l.src != nil && *l.src > 0 {
			*l.dst = int(min(uint64(*l.src), 1<<31-1))
		}
	}
	return out
}

// resolveVPN resolves one enabled VPN, and its pass and drop policies.
func resolveVPN(ike *generated.SecgwVrf_Vrf_Ike, v *generated.SecgwVrf_Vrf_Ike_Vpn, ppks []*PPK) (*VPN, []ClearPolicy, error) {
	ip := v.IkePolicy
	if ip == nil {
		ip = &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy{}
	}
	sp := v.IpsecPolicy
	if sp == nil {
		sp = &generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy{}
	}
	var it *generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate
	if ip.Template != nil {
		if it = ike.IkePolicyTemplate[*ip.Template]; it == nil {
			return nil, nil, fmt.Errorf("unknown ike-policy-template %q", *ip.Template)
		}
	} else {
		it = &generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate{}
	}
	var st *generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate
	if sp.Template != nil {
		if st = ike.IpsecPolicyTemplate[*sp.Template]; st == nil {
			return nil, nil, fmt.Errorf("unknown ipsec-policy-template %q", *sp.Template)
		}
	} else {
		st = &generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate{}
	}
	out := &VPN{Name: v.GetName(), Fragmentation: DefaultFragmentation}
	var err error
	if v.LocalAddress != nil {
		if out.LocalAddr, err = netip.ParseAddr(*v.LocalAddress); err != nil {
			return nil, nil, fmt.Errorf("local-address: %w", err)
		}
	}
	if v.RemoteAddress != nil {
		if out.RemoteAddr, err = netip.ParseAddr(*v.RemoteAddress); err != nil {
			return nil, nil, fmt.Errorf("remote-address: %w", err)
		}
	}
	if v.LocalId != nil {
		if out.LocalID, err = ParseIdentity(*v.LocalId); err != nil {
			return nil, nil, err
		}
	}
	if v.RemoteId != nil {
		if out.RemoteID, err = ParseIdentity(*v.RemoteId); err != nil {
			return nil, nil, err
		}
	}
	if psk := pick(ip.PreSharedKey, it.PreSharedKey); psk != nil {
		if out.PSK, err = DecodePSK(*psk); err != nil {
			return nil, nil, err
		}
	}
	if b := pick(ip.Fragmentation, it.Fragmentation); b != nil {
		out.Fragmentation = *b
	}
	if v.Ppk != nil {
		for _, p := range ppks {
			if p.Name == *v.Ppk {
				out.PPK = p
			}
		}
		if out.PPK == nil {
			return nil, nil, fmt.Errorf("unknown ppk %q", *v.Ppk)
		}
	}
	if b := pick(ip.RequirePpk, it.RequirePpk); b != nil {
		out.RequirePPK = *b
	}

	// IKE proposals: the VPN's, else the template's, else the defaults.
	var ia []algs
	where := "ike-proposal"
	for _, id := range sortedKeys(ip.IkeProposal) {
		p := ip.IkeProposal[id]
		ia = append(ia, algs{ID: id, Enc: p.EncAlg, Auth: p.AuthAlg, Aead: p.AeadAlg, Prf: p.PrfAlg, DH: p.DhGroup})
	}
	if len(ia) == 0 {
		if ip.Template != nil {
			where = fmt.Sprintf("ike-policy-template %s ike-proposal", *ip.Template)
		}
		for _, id := range sortedKeys(it.IkeProposal) {
			p := it.IkeProposal[id]
			ia = append(ia, algs{ID: id, Enc: p.EncAlg, Auth: p.AuthAlg, Aead: p.AeadAlg, Prf: p.PrfAlg, DH: p.DhGroup})
		}
	}
	for i := range ia {
		w, err := ia[i].dropESPOnly(where)
		if err != nil {
			return nil, nil, err
		}
		out.Warnings = append(out.Warnings, w...)
	}
	if out.IKEProposals, err = proposals(ia, wire.ProtocolIKE); err != nil {
		return nil, nil, err
	}
	if len(out.IKEProposals) == 0 {
		out.IKEProposals = DefaultIKEProposals()
	}
	var ea []algs
	for _, id := range sortedKeys(sp.EspProposal) {
		p := sp.EspProposal[id]
		ea = append(ea, algs{Enc: p.EncAlg, Auth: p.AuthAlg, Aead: p.AeadAlg, DH: p.DhGroup, ESN: p.Esn})
	}
	if len(ea) == 0 {
		for _, id := range sortedKeys(st.EspProposal) {
			p := st.EspProposal[id]
			ea = append(ea, algs{Enc: p.EncAlg, Auth: p.AuthAlg, Aead: p.AeadAlg, DH: p.DhGroup, ESN: p.Esn})
		}
	}
	if out.ESPProposals, err = proposals(ea, wire.ProtocolESP); err != nil {
		return nil, nil, err
	}
	if len(out.ESPProposals) == 0 {
		out.ESPProposals = DefaultESPProposals()
	}

	out.IKE.RekeyTime = secs(pick(ip.RekeyTime, it.RekeyTime), DefaultIKERekeyTime)
	out.IKE.ReauthTime = secs(pick(ip.ReauthTime, it.ReauthTime), 0)
	if d := pick(ip.DpdDelay, it.DpdDelay); d != nil {
		if out.IKE.DPDDelay, err = ParseDuration(*d); err != nil {
			return nil, nil, fmt.Errorf("dpd-delay: %w", err)
		}
	}
	out.IKE.DPDMode = dpdMode(pickEnum(ip.DpdMode, it.DpdMode))
	out.Unique = uniquePolicy(pickEnum(ip.UniqueSa, it.UniqueSa))
	if th := pick(ip.DpdThreshold, it.DpdThreshold); th != nil {
		out.IKE.DPDThreshold = int(*th)
	}
	out.StartAction = startAction(pickEnum(sp.StartAction, st.StartAction))
	out.CloseAction = closeAction(pickEnum(sp.CloseAction, st.CloseAction))
	out.DPDAction = dpdAction(pickEnum(sp.DpdAction, st.DpdAction))
	ch := &out.Child
	ch.RekeyTime = secs(pick(sp.RekeyTime, st.RekeyTime), DefaultChildRekeyTime)
	ch.LifeTime = secs(pick(sp.LifeTime, st.LifeTime), ch.RekeyTime+ch.RekeyTime/10)
	ch.RekeyBytes = deref(pick(sp.RekeyBytes, st.RekeyBytes))
	ch.LifeBytes = deref(pick(sp.LifeBytes, st.LifeBytes))
	ch.RekeyPackets = deref(pick(sp.RekeyPackets, st.RekeyPackets))
	ch.LifePackets = deref(pick(sp.LifePackets, st.LifePackets))
	ch.ReplayWindow = DefaultReplayWindow
	if w := pick(sp.ReplayWindow, st.ReplayWindow); w != nil {
		ch.ReplayWindow = *w
	}

	family := out.RemoteAddr
	if !family.IsValid() {
		family = out.LocalAddr
	}
	spNames := make([]string, 0, len(v.SecurityPolicy))
	for n := range v.SecurityPolicy {
		spNames = append(spNames, n)
	}
	slices.Sort(spNames)
	var clear []ClearPolicy
	for _, n := range spNames {
		p := v.SecurityPolicy[n]
		rp := SecurityPolicy{Name: n, Priority: p.GetPriority(), IfIDIn: p.GetSvtiIdIn(), IfIDOut: p.GetSvtiIdOut()}
		if p.Mode == generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_Mode_transport {
			rp.Mode = ModeTransport
		}
		var lt, rt *generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_LocalTs
		lt = p.LocalTs
		if p.RemoteTs != nil {
			rt = &generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_LocalTs{Subnet: p.RemoteTs.Subnet, Protocol: p.RemoteTs.Protocol, Port: p.RemoteTs.Port}
		}
		if rp.Local, err = selector(lt, rt, family); err != nil {
			return nil, nil, fmt.Errorf("security-policy %s local-ts: %w", n, err)
		}
		if rp.Remote, err = selector(rt, lt, family); err != nil {
			return nil, nil, fmt.Errorf("security-policy %s remote-ts: %w", n, err)
		}
		switch p.Action {
		case generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_Action_pass:
			clear = append(clear, ClearPolicy{VPN: out.Name, SecurityPolicy: rp, Action: ClearPass})
		case generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_Action_drop:
			clear = append(clear, ClearPolicy{VPN: out.Name, SecurityPolicy: rp, Action: ClearDrop})
		default:
			out.Policies = append(out.Policies, rp)
		}
	}
	return out, clear, nil
}

// resolvePPKs decodes the ppk list, sorted by name. id and id-hex name
// the same kind of bytes: 'id-hex 626172' is 'id bar'. Errors never hold
// the secret.
func resolvePPKs(ike *generated.SecgwVrf_Vrf_Ike) ([]*PPK, error) {
	names := make([]string, 0, len(ike.Ppk))
	for n := range ike.Ppk {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]*PPK, 0, len(names))
	for _, n := range names {
		p := ike.Ppk[n]
		r := &PPK{Name: n}
		switch {
		case p.Id != nil:
			r.ID = []byte(*p.Id)
		case p.IdHex != nil:
			b, err := hex.DecodeString(*p.IdHex)
			if err != nil || len(b) == 0 {
				return nil, fmt.Errorf("config: ppk %s: bad id-hex", n)
			}
			r.ID = b
		default:
			return nil, fmt.Errorf("config: ppk %s: no id", n)
		}
		if p.Secret == nil {
			return nil, fmt.Errorf("config: ppk %s: no secret", n)
		}
		b, err := decodeSecret("ppk "+n+" secret", *p.Secret)
		if err != nil {
			return nil, err
		}
		r.Secret = b
		out = append(out, r)
	}
	return out, nil
}

// selector converts one side of a security policy into a traffic selector
// (RFC 7296 §3.13.1). An unset subnet covers every address of the family of
// the other side's subnet, or else of the VPN's addresses, or else IPv4.
func selector(ts, other *generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_LocalTs, family netip.Addr) (ipsec.TrafficSelector, error) {
	var proto uint8
	start, end := uint16(0), uint16(65535)
	var pfx netip.Prefix
	if ts != nil {
		if ts.Protocol != nil {
			proto = *ts.Protocol
		}
		if ts.Port != nil {
			start, end = *ts.Port, *ts.Port
		}
		if ts.Subnet != nil {
			var err error
			if pfx, err = netip.ParsePrefix(*ts.Subnet); err != nil {
				return ipsec.TrafficSelector{}, err
			}
		}
	}
	if !pfx.IsValid() {
		v6 := family.IsValid() && family.Unmap().Is6()
		if other != nil && other.Subnet != nil {
			v6 = strings.Contains(*other.Subnet, ":")
		}
		pfx = netip.MustParsePrefix("0.0.0.0/0")
		if v6 {
			pfx = netip.MustParsePrefix("::/0")
		}
	}
	return ipsec.SelectorFromPrefix(pfx, proto, start, end), nil
}

// ParseDuration parses the sgt:duration syntax: a number followed by ms, s
// (the default unit), m, h or d.
func ParseDuration(s string) (time.Duration, error) {
	units := []struct {
		suffix string
		unit   time.Duration
	}{{"ms", time.Millisecond}, {"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", 24 * time.Hour}}
	unit := time.Second
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			s, unit = n, u.unit
			break
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("config: bad duration %q", s)
	}
	return time.Duration(n) * unit, nil
}

func pick[T any](vpn, tmpl *T) *T {
	if vpn != nil {
		return vpn
	}
	return tmpl
}

// pickEnum is pick for enumerations, whose unset value is 0.
func pickEnum[T ~int64](vpn, tmpl T) T {
	if vpn != 0 {
		return vpn
	}
	return tmpl
}

func dpdMode(m generated.E_SecgwVrf_Vrf_Ike_IkePolicyTemplate_DpdMode) DPDMode {
	switch m {
	case generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_DpdMode_optimized:
		return DPDOptimized
	case generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_DpdMode_always_send:
		return DPDAlwaysSend
	}
	return DPDProbeIdle
}

// uniquePolicy maps unique-sa; unset is the template default no.
func uniquePolicy(u generated.E_SecgwVrf_Vrf_Ike_IkePolicyTemplate_UniqueSa) UniquePolicy {
	switch u {
	case generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_UniqueSa_never:
		return UniqueNever
	case generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_UniqueSa_keep:
		return UniqueKeep
	case generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_UniqueSa_replace:
		return UniqueReplace
	}
	return UniqueNo
}

func startAction(a generated.E_SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_StartAction) Action {
	switch a {
	case generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_StartAction_none:
		return ActionNone
	case generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_StartAction_start:
		return ActionStart
	}
	return DefaultStartAction
}

func closeAction(a generated.E_SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_CloseAction) Action {
	switch a {
	case generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_CloseAction_trap:
		return ActionTrap
	case generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_CloseAction_start:
		return ActionStart
	}
	return DefaultCloseAction
}

func dpdAction(a generated.E_SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_DpdAction) Action {
	switch a {
	case generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_DpdAction_clear:
		return ActionNone
	case generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_DpdAction_trap:
		return ActionTrap
	}
	return DefaultDPDAction
}

func secs(v *uint32, def time.Duration) time.Duration {
	if v == nil {
		return def
	}
	return time.Duration(*v) * time.Second
}

func deref[T any](v *T) T {
	var z T
	if v == nil {
		return z
	}
	return *v
}

func sortedKeys[V any](m map[uint8]V) []uint8 {
	ks := make([]uint8, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
