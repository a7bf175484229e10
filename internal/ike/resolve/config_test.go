package resolve

import (
	"testing"
	"time"

	"secgw/generated"
	"secgw/internal/ike/config"
	"secgw/internal/ike/wire"
)

func ptr[T any](v T) *T { return &v }

func TestResolveDefaultsAndTemplates(t *testing.T) {
	ike := &generated.SecgwVrf_Vrf_Ike{
		IkePolicyTemplate: map[string]*generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate{
			"t": {Name: ptr("t"), PreSharedKey: ptr("0x0102"), DpdDelay: ptr("30s")},
		},
		Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{
			"v": {Name: ptr("v"), RemoteAddress: ptr("192.0.2.1"), LocalId: ptr("keyid:abc"), RemoteId: ptr("peer@example.com"),
				IkePolicy: &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy{Template: ptr("t")},
				SecurityPolicy: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy{
					"sp": {Name: ptr("sp"), LocalTs: &generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_LocalTs{Subnet: ptr("10.1.0.0/16"), Protocol: ptr(uint8(6)), Port: ptr(uint16(80))}},
				}},
			"off": {Name: ptr("off"), Enabled: ptr(false)},
		},
		GlobalOptions: &generated.SecgwVrf_Vrf_Ike_GlobalOptions{RetransmitLimit: ptr(uint8(40)), RetransmitJitter: ptr(uint8(20)),
			DosProtection: &generated.SecgwVrf_Vrf_Ike_GlobalOptions_DosProtection{CookieThreshold: generated.SecgwVrf_Vrf_Ike_GlobalOptions_DosProtection_CookieThreshold_always}},
	}
	c, err := Config(ike)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.VPNs) != 1 {
		t.Fatalf("%d vpns", len(c.VPNs))
	}
	v := c.VPNs[0]
	if string(v.PSK) != "\x01\x02" || v.IKE.DPDDelay != 30*time.Second || v.IKE.RekeyTime != 4*time.Hour {
		t.Errorf("ike policy: %+v", v.IKE)
	}
	if v.LocalID.Type != wire.IDKeyID || v.RemoteID.Type != wire.IDRFC822Addr || !v.Initiator() {
		t.Errorf("identities %v %v", v.LocalID, v.RemoteID)
	}
	if len(v.IKEProposals) != 2 || len(v.ESPProposals) != 2 {
		t.Fatalf("default proposals: %d IKE, %d ESP", len(v.IKEProposals), len(v.ESPProposals))
	}
	if got := v.IKEProposals[0].Transforms[0].String(); got != "ENCR:AES_GCM_16/256" {
		t.Errorf("first IKE transform %s", got)
	}
	if v.Child.LifeTime != 3960*time.Second || v.Child.ReplayWindow != 32 {
		t.Errorf("child lifetimes %+v", v.Child)
	}
	sp := v.Policies[0]
	if sp.Local.TS().StartAddr.String() != "10.1.0.0" || sp.Local.TS().IPProtocol != 6 || sp.Local.TS().StartPort != 80 || sp.Remote.TS().EndAddr.String() != "255.255.255.255" {
		t.Errorf("selectors %+v %+v", sp.Local, sp.Remote)
	}
	g := c.Global
	if g.Retransmit.Tries != 5 || g.Retransmit.Timeout != 4*time.Second || g.Retransmit.Limit != 40*time.Second || g.Retransmit.JitterPct != 20 || !g.Cookies.Required(0) {
		t.Errorf("global %+v", g)
	}
}

func TestProposalPRFFromInteg(t *testing.T) {
	p, err := algs{Enc: []generated.E_SecgwIke_EncryptionAlgorithm{generated.SecgwIke_EncryptionAlgorithm_aes256_cbc},
		Auth: []generated.E_SecgwIke_IntegrityAlgorithm{generated.SecgwIke_IntegrityAlgorithm_hmac_sha384},
		DH:   []generated.E_SecgwIke_DhGroup{generated.SecgwIke_DhGroup_ecp384}}.proposal(1, wire.ProtocolIKE)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tr := range p.Transforms {
		got = append(got, tr.String())
	}
	want := "[ENCR:AES_CBC/256 PRF:HMAC_SHA2_384 INTEG:HMAC_SHA2_384_192 KE:ECP_384]"
	if s := fmtList(got); s != want {
		t.Errorf("got %s, want %s", s, want)
	}
}

func fmtList(s []string) string {
	out := "["
	for i, x := range s {
		if i > 0 {
			out += " "
		}
		out += x
	}
	return out + "]"
}

// TestLifecycleKnobs resolves start/close/dpd actions, the DPD mode and
// threshold, acquire-timeout and make-before-break: a VPN leaf wins over
// its template's, a template leaf over the template default.
func TestLifecycleKnobs(t *testing.T) {
	ike := &generated.SecgwVrf_Vrf_Ike{
		IkePolicyTemplate: map[string]*generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate{
			"t": {Name: ptr("t"), DpdMode: generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_DpdMode_always_send, DpdThreshold: ptr(uint8(3))},
		},
		IpsecPolicyTemplate: map[string]*generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate{
			"s": {Name: ptr("s"), StartAction: generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_StartAction_start,
				DpdAction: generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_DpdAction_clear},
		},
		Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{
			"a": {Name: ptr("a"),
				IkePolicy:   &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy{Template: ptr("t"), DpdMode: generated.SecgwVrf_Vrf_Ike_IkePolicyTemplate_DpdMode_optimized},
				IpsecPolicy: &generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy{Template: ptr("s"), CloseAction: generated.SecgwVrf_Vrf_Ike_IpsecPolicyTemplate_CloseAction_trap}},
			"b": {Name: ptr("b")},
		},
		GlobalOptions: &generated.SecgwVrf_Vrf_Ike_GlobalOptions{AcquireTimeout: ptr(uint32(60)), MakeBeforeBreak: ptr(true)},
	}
	c, err := Config(ike)
	if err != nil {
		t.Fatal(err)
	}
	a, b := c.VPN("a"), c.VPN("b")
	if a.IKE.DPDMode != config.DPDOptimized || a.IKE.DPDThreshold != 3 {
		t.Errorf("a: dpd %v threshold %d", a.IKE.DPDMode, a.IKE.DPDThreshold)
	}
	if a.StartAction != config.ActionStart || a.CloseAction != config.ActionTrap || a.DPDAction != config.ActionNone {
		t.Errorf("a: start %v close %v dpd %v", a.StartAction, a.CloseAction, a.DPDAction)
	}
	if b.IKE.DPDMode != config.DPDProbeIdle || b.IKE.DPDThreshold != 0 || b.StartAction != config.ActionTrap || b.CloseAction != config.ActionNone || b.DPDAction != config.ActionStart {
		t.Errorf("b defaults: %+v start %v close %v dpd %v", b.IKE, b.StartAction, b.CloseAction, b.DPDAction)
	}
	if c.Global.AcquireTimeout != time.Minute || !c.Global.MakeBeforeBreak {
		t.Errorf("global %+v", c.Global)
	}
	if d, _ := Config(&generated.SecgwVrf_Vrf_Ike{}); d.Global.AcquireTimeout != 30*time.Second || d.Global.MakeBeforeBreak {
		t.Errorf("global defaults %+v", d.Global)
	}
}

// TestResolveScaleKnobs: every dos-protection leaf, threads and the SA
// table shape reach the engine as configured; cookie-threshold always and
// 0 mean what the vsr guide says.
func TestResolveScaleKnobs(t *testing.T) {
	dos := &generated.SecgwVrf_Vrf_Ike_GlobalOptions_DosProtection{
		CookieThreshold: generated.UnionUint32(12), BlockThreshold: ptr(uint32(6)), InitLimitHalfOpen: ptr(uint32(100)),
		InitLimitJobLoad: ptr(uint32(1)), IkeSaLimit: ptr(uint32(2000)),
	}
	c, err := Config(&generated.SecgwVrf_Vrf_Ike{GlobalOptions: &generated.SecgwVrf_Vrf_Ike_GlobalOptions{
		DosProtection: dos, Threads: ptr(uint32(20)), SaTableSize: ptr(uint32(128)), SaTableSegments: ptr(uint32(16))}})
	if err != nil {
		t.Fatal(err)
	}
	g := c.Global
	want := config.DoSLimits{BlockThreshold: 6, InitLimitHalfOpen: 100, InitLimitJobLoad: 1, IKESALimit: 2000}
	if g.DoS != want || g.Cookies != (config.CookiePolicy{Threshold: 12}) || g.Threads != 20 || g.SATableSize != 128 || g.SATableSegments != 16 {
		t.Errorf("global %+v", g)
	}
	// cookie-threshold 12: cookies from the 12th half-open SA on.
	if g.Cookies.Required(11) || !g.Cookies.Required(12) {
		t.Error("cookie-threshold 12 is not the point where cookies start")
	}
	// 0 disables cookies, "always" demands them with no half-open SA.
	dos.CookieThreshold = generated.UnionUint32(0)
	c, _ = Config(&generated.SecgwVrf_Vrf_Ike{GlobalOptions: &generated.SecgwVrf_Vrf_Ike_GlobalOptions{DosProtection: dos}})
	if c.Global.Cookies.Required(1 << 20) {
		t.Error("cookie-threshold 0 still demands cookies")
	}
	dos.CookieThreshold = generated.SecgwVrf_Vrf_Ike_GlobalOptions_DosProtection_CookieThreshold_always
	c, _ = Config(&generated.SecgwVrf_Vrf_Ike{GlobalOptions: &generated.SecgwVrf_Vrf_Ike_GlobalOptions{DosProtection: dos}})
	if !c.Global.Cookies.Required(0) {
		t.Error("cookie-threshold always does not demand a cookie at 0 half-open SAs")
	}
}
