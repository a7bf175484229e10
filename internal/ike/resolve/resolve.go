// Package resolve is the daemon side of the IKE configuration: it reads a
// vrf's ike container (the ygot structs generated from
// yang/secgw-ike*.yang) and resolves it into the plain values of
// internal/ike/config that the IKEv2 engine negotiates with (Config), the
// route options (Routes), and maps negotiated suites back to the YANG
// enums of the operational state (EnumsOf).
//
// It owns every mapping between the YANG enums and the IANA transform IDs
// (algorithms.go), so the two directions cannot disagree. The engine never
// imports it: only the daemon, ikesvc and tests do, and they hand the engine
// a *config.Config.
//
// A VPN leaf that is not set takes its template's value; a template leaf
// that is not set takes the template default (the constants of
// internal/ike/config). Errors start with "config:": they are the reasons
// given to a NETCONF client whose commit of the configuration is refused.
package resolve

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"secgw/internal/ipsec"

	"secgw/generated"
	"secgw/internal/ike/config"
	"secgw/internal/ike/wire"
)

// Config computes the effective configuration of a vrf's ike container.
// It is the reference that Update, which a commit uses, is tested
// against.
func Config(ike *generated.SecgwVrf_Vrf_Ike) (*config.Config, error) {
	ppks, err := resolvePPKs(ike)
	if err != nil {
		return nil, err
	}
	g, err := resolveGlobalOptions(ike.GetGlobalOptions())
	if err != nil {
		return nil, err
	}
	d := config.Delta{Global: g, PPKs: ppks}
	names := make([]string, 0, len(ike.Vpn))
	for n := range ike.Vpn {
		names = append(names, n)
	}
	slices.Sort(names)
	entries, err := resolveEntries(ike, names, ppks)
	if err != nil {
		return nil, err
	}
	d.Put = entries
	return (&config.Config{}).Apply(d), nil
}

// parallelFrom is the number of VPNs from which resolveEntries spreads
// the work over the CPUs: a start with 100k VPNs, not a commit's few.
const parallelFrom = 4096

// resolveEntries resolves the enabled VPNs of names, in that order. Each
// VPN is resolved on its own (from its tree, its templates and ppks,
// which nothing writes into meanwhile; the sharing tables lock), so
// large configurations are cut into one run of names per CPU. The error
// is that of the first VPN in names that fails, as one after the other.
func resolveEntries(ike *generated.SecgwVrf_Vrf_Ike, names []string, ppks []*config.PPK) ([]config.Entry, error) {
	entries := make([]config.Entry, len(names))
	errs := make([]error, len(names))
	run := func(lo, hi int) {
		memo := newProposalMemo() // one per worker: not shared
		for i := lo; i < hi; i++ {
			v := ike.Vpn[names[i]]
			if v.Enabled != nil && !*v.Enabled {
				continue // VPN nil: left out below
			}
			if entries[i], errs[i] = resolveEntry(ike, v, ppks, memo); errs[i] != nil {
				return // the error of a later VPN would not be the first
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), len(names)/parallelFrom+1)
	var wg sync.WaitGroup
	for w := range workers {
		lo, hi := len(names)*w/workers, len(names)*(w+1)/workers
		wg.Add(1)
		go func() { defer wg.Done(); run(lo, hi) }()
	}
	wg.Wait()
	out := entries[:0]
	for i, e := range entries {
		if errs[i] != nil {
			return nil, errs[i]
		}
		if e.VPN != nil {
			out = append(out, e)
		}
	}
	return out, nil
}

// resolveEntry resolves one enabled VPN into its entry of a
// config.Delta: the VPN, its pass and drop policies, and the keys of
// what it inherits from (uses).
func resolveEntry(ike *generated.SecgwVrf_Vrf_Ike, v *generated.SecgwVrf_Vrf_Ike_Vpn, ppks []*config.PPK, memo *proposalMemo) (config.Entry, error) {
	rv, clear, err := resolveVPN(ike, v, ppks, memo)
	if err != nil {
		return config.Entry{}, fmt.Errorf("config: vpn %s: %w", v.GetName(), err)
	}
	return config.Entry{VPN: rv, Clear: clear, Uses: uses(v)}, nil
}

// resolveGlobalOptions resolves global-options, redirect included.
func resolveGlobalOptions(g *generated.SecgwVrf_Vrf_Ike_GlobalOptions) (config.Global, error) {
	out := resolveGlobal(g)
	if err := resolveRedirect(g.GetRedirect(), &out.Redirect); err != nil {
		return config.Global{}, fmt.Errorf("config: global-options redirect gateway: %w", err)
	}
	return out, nil
}

func resolveGlobal(g *generated.SecgwVrf_Vrf_Ike_GlobalOptions) config.Global {
	out := config.Global{
		Retransmit:     config.Retransmit{Tries: config.DefaultRetransmitTries, Timeout: config.DefaultRetransmitTimeout, Base: config.DefaultRetransmitBase},
		Cookies:        config.CookiePolicy{Threshold: config.DefaultCookieThreshold},
		DoS:            config.DoSLimits{BlockThreshold: config.DefaultBlockThreshold},
		AcquireTimeout: config.DefaultAcquireTimeout,
		InitiateRate:   config.DefaultInitiateRate,
		Threads:        config.DefaultThreads,
		SATableSize:    config.DefaultSATableSize, SATableSegments: config.DefaultSATableSegments,
		WindowSize: config.DefaultWindowSize,
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
	if g.InitiateRate != nil {
		out.InitiateRate = int(*g.InitiateRate)
	}
	if g.MakeBeforeBreak != nil {
		out.MakeBeforeBreak = *g.MakeBeforeBreak
	}
	if g.WindowSize != nil {
		out.WindowSize = int(*g.WindowSize)
	}
	out.ListenTCP = g.GetListenTcp()
	if g.TcpPort != nil {
		out.TCPPort = *g.TcpPort
	}
	if g.MobikePreferBestPath != nil {
		out.MOBIKEPreferBestPath = *g.MobikePreferBestPath
	}
	if r := g.GetRespondBadSpi(); r != nil {
		out.RespondBadSPI = int(r.GetMaxResponses())
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
func resolveVPN(ike *generated.SecgwVrf_Vrf_Ike, v *generated.SecgwVrf_Vrf_Ike_Vpn, ppks []*config.PPK, memo *proposalMemo) (*config.VPN, []config.ClearPolicy, error) {
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
	out := &config.VPN{Name: v.GetName(), Fragmentation: config.DefaultFragmentation}
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
		if out.LocalID, err = memo.localID(*v.LocalId); err != nil {
			return nil, nil, err
		}
	}
	if v.RemoteId != nil {
		if out.RemoteID, err = config.ParseIdentity(*v.RemoteId); err != nil {
			return nil, nil, err
		}
	}
	if psk := pick(ip.PreSharedKey, it.PreSharedKey); psk != nil {
		if out.PSK, err = config.DecodePSK(*psk); err != nil {
			return nil, nil, err
		}
	}
	out.RemoteAAA = remoteAAA(ip.RemoteAuthMethod, it.RemoteAuthMethod) // aaa.go
	if b := pick(ip.Fragmentation, it.Fragmentation); b != nil {
		out.Fragmentation = *b
	}
	if b := pick(ip.Mobike, it.Mobike); b != nil {
		out.MOBIKE = *b
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
	if err := resolveAuth(out, ip, it); err != nil {
		return nil, nil, err
	}
	if b := pick(ip.FollowRedirect, it.FollowRedirect); b != nil {
		out.FollowRedirect = *b
	}
	if g := pick(ip.RedirectTo, it.RedirectTo); g != nil {
		gw, err := wire.ParseGateway(*g)
		if err != nil {
			return nil, nil, fmt.Errorf("redirect-to: %w", err)
		}
		out.RedirectTo = &gw
	}
	if len(v.VipPool) > 0 || len(v.VipRequest) > 0 {
		// RFC 7296 §2.19: the names are looked up in the pools at each
		// request (the IKE service owns them), so that a change of a
		// pool does not touch the VPNs naming it.
		out.VIP = &config.VIP{Pools: slices.Clone(v.VipPool)}
		for _, s := range v.VipRequest {
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, nil, fmt.Errorf("vip-request: %w", err)
			}
			out.VIP.Request = append(out.VIP.Request, a)
		}
	}

	// IKE and ESP proposals: the VPN's, else the template's, else the
	// defaults. A template's are resolved once per memo.
	var ike2 templateProposals
	if len(ip.IkeProposal) == 0 && memo != nil && ip.Template != nil {
		if r, ok := memo.ike[it]; ok {
			ike2 = r
		} else {
			ike2 = resolveIKEProposals(ip, it)
			memo.ike[it] = ike2
		}
	} else {
		ike2 = resolveIKEProposals(ip, it)
	}
	if ike2.err != nil {
		return nil, nil, ike2.err
	}
	out.IKEProposals = ike2.ps
	out.Warnings = append(out.Warnings, ike2.warnings...)
	var esp templateProposals
	if len(sp.EspProposal) == 0 && memo != nil && sp.Template != nil {
		if r, ok := memo.esp[st]; ok {
			esp = r
		} else {
			esp = resolveESPProposals(sp, st)
			memo.esp[st] = esp
		}
	} else {
		esp = resolveESPProposals(sp, st)
	}
	if esp.err != nil {
		return nil, nil, esp.err
	}
	out.ESPProposals = esp.ps

	out.IKE.RekeyTime = secs(pick(ip.RekeyTime, it.RekeyTime), config.DefaultIKERekeyTime)
	out.IKE.ReauthTime = secs(pick(ip.ReauthTime, it.ReauthTime), 0)
	if d := pick(ip.DpdDelay, it.DpdDelay); d != nil {
		if out.IKE.DPDDelay, err = config.ParseDuration(*d); err != nil {
			return nil, nil, fmt.Errorf("dpd-delay: %w", err)
		}
	}
	out.IKE.DPDMode = dpdMode(pickEnum(ip.DpdMode, it.DpdMode))
	out.Unique = uniquePolicy(pickEnum(ip.UniqueSa, it.UniqueSa))
	out.Transport = transport(pickEnum(ip.Transport, it.Transport))
	if th := pick(ip.DpdThreshold, it.DpdThreshold); th != nil {
		out.IKE.DPDThreshold = *th
	}
	out.StartAction = startAction(pickEnum(sp.StartAction, st.StartAction))
	out.CloseAction = closeAction(pickEnum(sp.CloseAction, st.CloseAction))
	out.DPDAction = dpdAction(pickEnum(sp.DpdAction, st.DpdAction))
	ch := &out.Child
	ch.RekeyTime = secs(pick(sp.RekeyTime, st.RekeyTime), config.DefaultChildRekeyTime)
	ch.LifeTime = secs(pick(sp.LifeTime, st.LifeTime), ch.RekeyTime+ch.RekeyTime/10)
	ch.RekeyBytes = deref(pick(sp.RekeyBytes, st.RekeyBytes))
	ch.LifeBytes = deref(pick(sp.LifeBytes, st.LifeBytes))
	ch.RekeyPackets = deref(pick(sp.RekeyPackets, st.RekeyPackets))
	ch.LifePackets = deref(pick(sp.LifePackets, st.LifePackets))
	ch.ReplayWindow = config.DefaultReplayWindow
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
	var clear []config.ClearPolicy
	// Most policies are esp ones: one allocation, not one per doubling.
	out.Policies = make([]config.SecurityPolicy, 0, len(spNames))
	for _, n := range spNames {
		p := v.SecurityPolicy[n]
		rp := config.SecurityPolicy{Name: n, Priority: p.GetPriority(), IfIDIn: p.GetSvtiIdIn(), IfIDOut: p.GetSvtiIdOut()}
		if p.Mode == generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_Mode_transport {
			rp.Mode = config.ModeTransport
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
			clear = append(clear, config.ClearPolicy{VPN: out.Name, SecurityPolicy: rp, Action: config.ClearPass})
		case generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_Action_drop:
			clear = append(clear, config.ClearPolicy{VPN: out.Name, SecurityPolicy: rp, Action: config.ClearDrop})
		default:
			out.Policies = append(out.Policies, rp)
		}
	}
	if len(out.Policies) == 0 {
		out.Policies = nil // none is nil, as in a VPN without policies
	}
	return out, clear, nil
}

// resolvePPKs decodes the ppk list, sorted by name. id and id-hex name
// the same kind of bytes: 'id-hex 626172' is 'id bar'. Errors never hold
// the secret.
func resolvePPKs(ike *generated.SecgwVrf_Vrf_Ike) ([]*config.PPK, error) {
	names := make([]string, 0, len(ike.Ppk))
	for n := range ike.Ppk {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]*config.PPK, 0, len(names))
	for _, n := range names {
		p := ike.Ppk[n]
		r := &config.PPK{Name: n}
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
		b, err := config.DecodeSecret("ppk "+n+" secret", *p.Secret)
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
func selector(ts, other *generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_LocalTs, family netip.Addr) (config.Selector, error) {
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
				return config.Selector{}, err
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
	return config.NewSelector(ipsec.SelectorFromPrefix(pfx, proto, start, end))
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

func dpdMode(m generated.E_SecgwVrf_Vrf_Ike_IkePolicyTemplate_DpdMode) config.DPDMode {
	switch m {
	case generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_DpdMode_optimized:
		return config.DPDOptimized
	case generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_DpdMode_always_send:
		return config.DPDAlwaysSend
	}
	return config.DPDProbeIdle
}

// uniquePolicy maps unique-sa; unset is the template default no.
func uniquePolicy(u generated.E_SecgwVrf_Vrf_Ike_IkePolicyTemplate_UniqueSa) config.UniquePolicy {
	switch u {
	case generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_UniqueSa_never:
		return config.UniqueNever
	case generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_UniqueSa_keep:
		return config.UniqueKeep
	case generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_UniqueSa_replace:
		return config.UniqueReplace
	}
	return config.UniqueNo
}

func startAction(a generated.E_SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_StartAction) config.Action {
	switch a {
	case generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_StartAction_none:
		return config.ActionNone
	case generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_StartAction_start:
		return config.ActionStart
	}
	return config.DefaultStartAction
}

func closeAction(a generated.E_SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_CloseAction) config.Action {
	switch a {
	case generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_CloseAction_trap:
		return config.ActionTrap
	case generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_CloseAction_start:
		return config.ActionStart
	}
	return config.DefaultCloseAction
}

func dpdAction(a generated.E_SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_DpdAction) config.Action {
	switch a {
	case generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_DpdAction_clear:
		return config.ActionNone
	case generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_DpdAction_trap:
		return config.ActionTrap
	}
	return config.DefaultDPDAction
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

// resolveRedirect reads global-options redirect (RFC 5685).
func resolveRedirect(r *generated.SecgwVrf_Vrf_Ike_GlobalOptions_Redirect, out *config.Redirect) error {
	if r == nil {
		return nil
	}
	if r.Gateway != nil {
		g, err := wire.ParseGateway(*r.Gateway)
		if err != nil {
			return err
		}
		out.To = g
	}
	if r.Always != nil {
		out.Always = *r.Always
	}
	if r.HalfOpenThreshold != nil {
		out.HalfOpenThreshold = *r.HalfOpenThreshold
	}
	if r.ActiveThreshold != nil {
		out.ActiveThreshold = *r.ActiveThreshold
	}
	if r.MaxRedirects != nil {
		out.MaxRedirects = int(*r.MaxRedirects)
	}
	if r.LoopPeriod != nil {
		out.LoopPeriod = time.Duration(*r.LoopPeriod) * time.Second
	}
	return nil
}

// transport maps ike-policy transport; unset is the template default udp.
func transport(t generated.E_SecgwVrf_Vrf_Ike_IkePolicyTemplate_Transport) config.Transport {
	switch t {
	case generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_Transport_tcp:
		return config.TransportTCP
	case generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_Transport_udp_then_tcp:
		return config.TransportUDPThenTCP
	}
	return config.TransportUDP
}

// templateProposals are the resolved proposals of an ike-policy or
// ipsec-policy (shared lists, see share), the warnings of their
// resolution, or its error.
type templateProposals struct {
	ps       []wire.Proposal
	warnings []string
	err      error
}

// proposalMemo holds the proposals of the templates resolved so far by
// one resolution of many VPNs, for the VPNs that inherit them: at 100k
// VPNs of one template, building the same lists again for each made a
// hundred megabytes of garbage. It lives as long as that resolution, on
// one tree, which nothing writes into: a template's proposals do not
// change under it. It also hands out one identity per local-id (the
// engine never writes into an Identity's Data). Not safe for
// concurrent use.
type proposalMemo struct {
	ike      map[*generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate]templateProposals
	esp      map[*generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate]templateProposals
	localIDs map[string]config.Identity
}

func newProposalMemo() *proposalMemo {
	return &proposalMemo{ike: map[*generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate]templateProposals{},
		esp: map[*generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate]templateProposals{}, localIDs: map[string]config.Identity{}}
}

// maxLocalIDs bounds the local-ids a memo keeps: a gateway has few.
const maxLocalIDs = 256

// localID parses local-id s, the identity parsed before for the same s
// when m has it (m may be nil).
func (m *proposalMemo) localID(s string) (config.Identity, error) {
	if m == nil {
		return config.ParseIdentity(s)
	}
	if id, ok := m.localIDs[s]; ok {
		return id, nil
	}
	id, err := config.ParseIdentity(s)
	if err == nil && len(m.localIDs) < maxLocalIDs {
		m.localIDs[s] = id
	}
	return id, err
}

// resolveIKEProposals resolves the IKE proposals of a VPN's ike-policy
// ip: its own, else those of its template it, else the defaults.
func resolveIKEProposals(ip *generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy, it *generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate) templateProposals {
	var out templateProposals
	var ia []algs
	where := "ike-proposal"
	for _, id := range sortedKeys(ip.IkeProposal) {
		p := ip.IkeProposal[id]
		ia = append(ia, algs{ID: id, Enc: p.EncAlg, Auth: p.AuthAlg, Aead: p.AeadAlg, Prf: p.PrfAlg, DH: p.DhGroup, AddKE: addKEOf(p)})
	}
	if len(ia) == 0 {
		if ip.Template != nil {
			where = fmt.Sprintf("ike-policy-template %s ike-proposal", *ip.Template)
		}
		for _, id := range sortedKeys(it.IkeProposal) {
			p := it.IkeProposal[id]
			ia = append(ia, algs{ID: id, Enc: p.EncAlg, Auth: p.AuthAlg, Aead: p.AeadAlg, Prf: p.PrfAlg, DH: p.DhGroup, AddKE: addKEOf(p)})
		}
	}
	for i := range ia {
		w, err := ia[i].dropESPOnly(where)
		if err != nil {
			return templateProposals{err: err}
		}
		out.warnings = append(out.warnings, w...)
	}
	ps, err := proposals(ia, wire.ProtocolIKE)
	switch {
	case err != nil:
		return templateProposals{err: err}
	case len(ps) == 0:
		out.ps = defaultIKEProposals
	default:
		out.ps = share(ps)
	}
	return out
}

// resolveESPProposals resolves the ESP proposals of a VPN's ipsec-policy
// sp: its own, else those of its template st, else the defaults.
func resolveESPProposals(sp *generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy, st *generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate) templateProposals {
	var ea []algs
	for _, id := range sortedKeys(sp.EspProposal) {
		p := sp.EspProposal[id]
		ea = append(ea, algs{Enc: p.EncAlg, Auth: p.AuthAlg, Aead: p.AeadAlg, DH: p.DhGroup, ESN: p.Esn, AddKE: addKEOf(p)})
	}
	if len(ea) == 0 {
		for _, id := range sortedKeys(st.EspProposal) {
			p := st.EspProposal[id]
			ea = append(ea, algs{Enc: p.EncAlg, Auth: p.AuthAlg, Aead: p.AeadAlg, DH: p.DhGroup, ESN: p.Esn, AddKE: addKEOf(p)})
		}
	}
	ps, err := proposals(ea, wire.ProtocolESP)
	switch {
	case err != nil:
		return templateProposals{err: err}
	case len(ps) == 0:
		return templateProposals{ps: defaultESPProposals}
	}
	return templateProposals{ps: share(ps)}
}
