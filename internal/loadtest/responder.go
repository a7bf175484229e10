package loadtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"secgw/generated"
	"secgw/internal/ike/config"
	"secgw/internal/ike/engine"
	"secgw/internal/ike/resolve"
	"secgw/internal/ike/udpconn"
	"secgw/internal/ipsec"
)

// ResponderOptions configures the benchmark responder: our engine with a
// VPN that accepts any identity proving PSK, with the benchmark's suite.
type ResponderOptions struct {
	// Addrs are the local addresses to listen on.
	Addrs []netip.Addr
	// PortIKE and PortNATT are the UDP ports bound; 0 means 500 and 4500.
	PortIKE, PortNATT uint16
	// PSK is the pre-shared key; LocalID our identity (local-id).
	PSK, LocalID string
	// LocalTS and RemoteTS are the security policy's selectors, e.g.
	// 0.0.0.0/0 and the generator's inner prefix.
	LocalTS, RemoteTS string
	// CookieThreshold is dos-protection cookie-threshold; 0 never asks.
	CookieThreshold uint32
	// BlockThreshold, InitLimitHalfOpen, InitLimitJobLoad and IKESALimit
	// are the other dos-protection limits; 0 disables each (unlike the
	// model's block-threshold default of 5: a generator with few source
	// addresses and many tunnels in flight would hit it).
	BlockThreshold, InitLimitHalfOpen, InitLimitJobLoad, IKESALimit uint32
	// Threads, SATableSize and SATableSegments are global-options
	// threads, sa-table-size and sa-table-segments; 0 takes the model's
	// defaults (16, 1, 1).
	Threads, SATableSize, SATableSegments uint32
	// DPDDelay is the VPN's dpd-delay: the engine's own DPD
	// (probe-idle-tunnel) on every IKE SA; 0 disables it.
	DPDDelay time.Duration
	// ChildRekeyTime is the child SAs' rekey-time (the life-time follows
	// it, 10 percent later); 0 takes the model's default (3600 s).
	ChildRekeyTime time.Duration
	// ChildLifeTime is the child SAs' life-time (RFC 7296 §2.8: the hard
	// limit a rekey must beat); 0 leaves the model's default, rekey-time
	// plus 10 percent.
	ChildLifeTime time.Duration
	// Liveness, if set, sends a liveness check (RFC 7296 §1.4) on every
	// established IKE SA at this interval, spread evenly, through the
	// engine's API (CheckLiveness), besides DPD.
	Liveness time.Duration
	// Group is the IKE proposal's key exchange (dh-group), 0 meaning
	// ECP-256; AddKE its additional key exchanges
	// (additional-key-exchange-1.. in order, each required): what the
	// generator's Profile offers (Profile.SetKeyExchanges).
	Group ipsec.TransformID
	AddKE []ipsec.TransformID
	// Cert, if set, is the directory of a certificate run's PKI
	// (WritePKI): the VPN authenticates both ways with certificates,
	// its own the "gw" side's, the peer's verified to the root.
	Cert string
	// Logger is the engine's logger; nil discards.
	Logger *slog.Logger
	// Pool, if set, is the address item of an ike pool "load" the VPN
	// gives virtual IPs from (vip-pool), for road warriors asking for
	// one (Profile.VIP); RemoteTS is then left unset (each child SA's
	// remote selector is its virtual IP, RFC 7296 §2.19). Only secgwd
	// serves it: the engine-only responder has no pools.
	Pool string
	// VIPs serves the Pool's addresses in the engine-only responder
	// (tests); nil answers no configuration request.
	VIPs engine.VIPs
}

// Responder is the engine on real UDP sockets with a discarding
// dataplane, counting what happens through the engine's Events hook.
type Responder struct {
	o    ResponderOptions
	e    *engine.Engine
	conn *udpconn.Conn

	ikeUp, ikeDown, ikeFailed, childUp, childDown, installs atomic.Int64
	liveness                                                atomic.Int64

	mu       sync.Mutex
	failures map[string]int64

	// onInstall, if set by a test, sees each child SA installed.
	onInstall func(engine.ChildSA)
}

// NewResponder builds the configuration and binds the sockets.
func NewResponder(o ResponderOptions) (*Responder, error) {
	if len(o.Addrs) == 0 {
		return nil, errors.New("loadtest: responder needs a listen address")
	}
	cfg, err := responderConfig(o)
	if err != nil {
		return nil, err
	}
	conn, err := udpconn.Listen(udpconn.Options{Addrs: o.Addrs, PortIKE: o.PortIKE, PortNATT: o.PortNATT, Queue: 4096})
	if err != nil {
		return nil, err
	}
	r := newResponder(o, cfg, conn)
	r.conn = conn
	return r, nil
}

// newResponder wires the engine to conn: the real sockets, or an
// in-memory Conn in the tests and benchmarks.
func newResponder(o ResponderOptions, cfg *config.Config, conn engine.Conn) *Responder {
	r := &Responder{o: o, failures: map[string]int64{}}
	r.e = engine.New(engine.Options{VRF: "main", Config: cfg, LocalAddr: o.Addrs[0], Conn: conn,
		Dataplane: discard{r}, Logger: o.Logger, Events: r.event, VIPs: o.VIPs})
	return r
}

func ptr[T any](v T) *T { return &v }

// responderConfig resolves, through the same path as the daemon, the
// configuration of ResponderIKE.
func responderConfig(o ResponderOptions) (*config.Config, error) {
	cfg, err := resolve.Config(ResponderIKE(o))
	if err != nil {
		return nil, fmt.Errorf("loadtest: responder configuration: %w", err)
	}
	if o.Cert != "" {
		c, err := LoadCertAuth(o.Cert, PKIGW)
		if err != nil {
			return nil, err
		}
		cfg.PKI = c.PKI()
	}
	return cfg, nil
}

// ResponderIKE is the ike container of vrf main the responder runs, and
// secgwd is given in the benchmark (secgwd.go): one VPN "load" with no
// remote-address and no remote-id (any peer that proves the PSK),
// aes256-gcm-128 / hmac-sha256 / o.Group (ecp256 by default) with o.AddKE
// as additional-key-exchange-1.., esp aes256-gcm-128, one security policy,
// and the scale knobs and dos-protection limits of o.
func ResponderIKE(o ResponderOptions) *generated.SecgwVrf_Vrf_Ike {
	aead := []generated.E_SecgwIke_AeadAlgorithm{generated.SecgwIke_AeadAlgorithm_aes256_gcm_128}
	v := &generated.SecgwVrf_Vrf_Ike_Vpn{
		Name:    ptr("load"),
		LocalId: ptr(o.LocalID),
		IkePolicy: &generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy{
			PreSharedKey: ptr(o.PSK),
			IkeProposal: map[uint8]*generated.SecgwVrf_Vrf_Ike_Vpn_IkePolicy_IkeProposal{1: {
				Id: ptr(uint8(1)), AeadAlg: aead,
				PrfAlg:  []generated.E_SecgwIke_PrfAlgorithm{generated.SecgwIke_PrfAlgorithm_hmac_sha256},
				DhGroup: []generated.E_SecgwIke_DhGroup{dhGroups[o.Group]},
			}},
		},
		IpsecPolicy: &generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy{
			EspProposal: map[uint8]*generated.SecgwVrf_Vrf_Ike_Vpn_IpsecPolicy_EspProposal{1: {Id: ptr(uint8(1)), AeadAlg: aead}},
		},
		SecurityPolicy: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy{"net": {
			Name:     ptr("net"),
			LocalTs:  &generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_LocalTs{Subnet: ptr(o.LocalTS)},
			RemoteTs: &generated.SecgwVrf_Vrf_Ike_Vpn_SecurityPolicy_RemoteTs{Subnet: ptr(o.RemoteTS)},
		}},
	}
	ip := v.IkePolicy.IkeProposal[1]
	lists := [...]*[]generated.E_SecgwIke_KeyExchange{&ip.AdditionalKeyExchange_1, &ip.AdditionalKeyExchange_2,
		&ip.AdditionalKeyExchange_3, &ip.AdditionalKeyExchange_4, &ip.AdditionalKeyExchange_5,
		&ip.AdditionalKeyExchange_6, &ip.AdditionalKeyExchange_7}
	for i, g := range o.AddKE[:min(len(o.AddKE), len(lists))] {
		*lists[i] = []generated.E_SecgwIke_KeyExchange{keyExchanges[g]}
	}
	if len(o.Addrs) == 1 {
		v.LocalAddress = ptr(o.Addrs[0].String())
	}
	if o.DPDDelay > 0 {
		v.IkePolicy.DpdDelay = ptr(fmt.Sprintf("%ds", max(1, int(o.DPDDelay/time.Second))))
	}
	if o.ChildRekeyTime > 0 {
		v.IpsecPolicy.RekeyTime = ptr(uint32(max(1, o.ChildRekeyTime/time.Second)))
	}
	if o.ChildLifeTime > 0 {
		v.IpsecPolicy.LifeTime = ptr(uint32(max(1, o.ChildLifeTime/time.Second)))
	}
	g := &generated.SecgwVrf_Vrf_Ike_GlobalOptions{
		DosProtection: &generated.SecgwVrf_Vrf_Ike_GlobalOptions_DosProtection{
			CookieThreshold: generated.UnionUint32(o.CookieThreshold),
			BlockThreshold:  ptr(o.BlockThreshold), InitLimitHalfOpen: ptr(o.InitLimitHalfOpen),
			InitLimitJobLoad: ptr(o.InitLimitJobLoad), IkeSaLimit: ptr(o.IKESALimit),
		},
	}
	for _, k := range []struct {
		v   uint32
		dst **uint32
	}{{o.Threads, &g.Threads}, {o.SATableSize, &g.SaTableSize}, {o.SATableSegments, &g.SaTableSegments}} {
		if k.v > 0 {
			*k.dst = ptr(k.v)
		}
	}
	ike := &generated.SecgwVrf_Vrf_Ike{Vpn: map[string]*generated.SecgwVrf_Vrf_Ike_Vpn{"load": v}, GlobalOptions: g}
	if o.Pool != "" {
		ike.Pool = map[string]*generated.SecgwVrf_Vrf_Ike_Pool{"load": {Name: ptr("load"), Address: []string{o.Pool}}}
		v.VipPool = []string{"load"}
		v.SecurityPolicy["net"].RemoteTs = nil
	}
	if o.Cert != "" {
		// The certificate store of the files secgwd gets by
		// load-pki-file (secgwd.go); the engine responder's PKI is set
		// from the same files (responderConfig).
		v.LocalId, v.IkePolicy.PreSharedKey = nil, nil
		v.IkePolicy.LocalAuthMethod = generated.SecgwIke_AuthMethod_certificate
		v.IkePolicy.RemoteAuthMethod = generated.SecgwIke_AuthMethod_certificate
		v.IkePolicy.Certificate, v.IkePolicy.CaCertificate = ptr(PKIGW), ptr("root")
		ike.Pki = &generated.SecgwVrf_Vrf_Ike_Pki{
			Certificate: map[string]*generated.SecgwVrf_Vrf_Ike_Pki_Certificate{PKIGW: {
				Name: ptr(PKIGW), CertificateFile: ptr(PKIGW + ".crt"), PrivateKeyFile: ptr(PKIGW + ".key")}},
			CaCertificate: map[string]*generated.SecgwVrf_Vrf_Ike_Pki_CaCertificate{"root": {
				Name: ptr("root"), CertificateFile: ptr(PKIRoot)}},
		}
	}
	return ike
}

// dhGroups and keyExchanges are the model's names of the key exchange
// methods the benchmark uses (ParseKeyExchange).
var (
	dhGroups = map[ipsec.TransformID]generated.E_SecgwIke_DhGroup{
		0:                     generated.SecgwIke_DhGroup_ecp256,
		ipsec.GroupECP256:     generated.SecgwIke_DhGroup_ecp256,
		ipsec.GroupECP384:     generated.SecgwIke_DhGroup_ecp384,
		ipsec.GroupCurve25519: generated.SecgwIke_DhGroup_curve25519,
	}
	keyExchanges = map[ipsec.TransformID]generated.E_SecgwIke_KeyExchange{
		ipsec.GroupECP256:     generated.SecgwIke_KeyExchange_ecp256,
		ipsec.GroupECP384:     generated.SecgwIke_KeyExchange_ecp384,
		ipsec.GroupCurve25519: generated.SecgwIke_KeyExchange_curve25519,
		ipsec.GroupMLKEM768:   generated.SecgwIke_KeyExchange_mlkem768,
		ipsec.GroupMLKEM1024:  generated.SecgwIke_KeyExchange_mlkem1024,
	}
)

// discard is the dataplane: it counts child SAs and keeps nothing.
type discard struct{ r *Responder }

// InstallChild implements engine.Dataplane: it counts the child SA.
func (d discard) InstallChild(c engine.ChildSA) error {
	d.r.installs.Add(1)
	if d.r.onInstall != nil {
		d.r.onInstall(c)
	}
	return nil
}

// DeleteChild implements engine.Dataplane; there is nothing to remove.
func (d discard) DeleteChild(engine.ChildSA) error { return nil }

// event is the engine's Events hook; it runs with a worker's lock held,
// from several workers at once, and only counts.
func (r *Responder) event(ev engine.Event) {
	switch ev.Kind {
	case engine.IKEUp:
		r.ikeUp.Add(1)
	case engine.IKEDown:
		r.ikeDown.Add(1)
	case engine.IKEFailed:
		r.ikeFailed.Add(1)
		r.mu.Lock()
		r.failures[ev.Reason]++
		r.mu.Unlock()
	case engine.ChildUp:
		r.childUp.Add(1)
	case engine.ChildDown:
		r.childDown.Add(1)
	}
}

// Engine returns the engine, for tests that drive it.
func (r *Responder) Engine() *engine.Engine { return r.e }

// LocalAddrs returns the bound sockets by the engine's view of them.
func (r *Responder) LocalAddrs() map[netip.AddrPort]netip.AddrPort { return r.conn.LocalAddrs() }

// Run runs the engine until ctx is done, then closes the sockets.
func (r *Responder) Run(ctx context.Context) error {
	defer r.conn.Close()
	if r.o.Liveness > 0 {
		go r.sweep(ctx)
	}
	err := r.e.Run(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// sweep checks the liveness of every established IKE SA once per
// interval, a slice at each tick.
func (r *Responder) sweep(ctx context.Context) {
	tick := min(100*time.Millisecond, r.o.Liveness)
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	var spis []uint64
	perTick := 0
	for {
		if len(spis) == 0 {
			// A new round: the SAs established now.
			for spi, info := range r.e.IKESAs() {
				if info.State == "established" {
					spis = append(spis, spi)
				}
			}
			perTick = int((int64(len(spis))*int64(tick) + int64(r.o.Liveness) - 1) / int64(r.o.Liveness))
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
		n := min(perTick, len(spis))
		for _, spi := range spis[:n] {
			if r.e.CheckLiveness(spi) == nil {
				r.liveness.Add(1)
			}
		}
		spis = spis[n:]
	}
}

// ResponderStats is a snapshot of the responder.
type ResponderStats struct {
	// Engine events: IKE SAs up, down and failed; child SAs up and down;
	// child SAs given to the dataplane; liveness checks started.
	IKEUp, IKEDown, IKEFailed, ChildUp, ChildDown, Installs, Liveness int64
	// Failures counts failed IKE SAs by reason.
	Failures map[string]int64
	// Proc is the process's CPU time and resident memory.
	Proc ProcStats
	// HeapInuse and HeapSys are the Go runtime's (runtime.MemStats).
	HeapInuse, HeapSys uint64
	Goroutines         int
	// DoS are the engine's DoS protection counters (half-open SAs,
	// cookies sent, requests refused).
	DoS engine.DoSStats
}

// Established returns the IKE SAs up now.
func (s *ResponderStats) Established() int64 { return s.IKEUp - s.IKEDown }

// Stats returns a snapshot; it briefly stops the world for the heap.
func (r *Responder) Stats() ResponderStats {
	s := ResponderStats{IKEUp: r.ikeUp.Load(), IKEDown: r.ikeDown.Load(), IKEFailed: r.ikeFailed.Load(),
		ChildUp: r.childUp.Load(), ChildDown: r.childDown.Load(), Installs: r.installs.Load(),
		Liveness: r.liveness.Load(), Failures: map[string]int64{}, Goroutines: runtime.NumGoroutine(), DoS: r.e.DoSStats()}
	r.mu.Lock()
	for k, v := range r.failures {
		s.Failures[k] = v
	}
	r.mu.Unlock()
	s.Proc, _ = ReadProcStats(0)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s.HeapInuse, s.HeapSys = ms.HeapInuse, ms.HeapSys
	return s
}

// Format writes one RESPONDER line of key=value pairs (test/bench-ike.sh
// reads it), then the failure reasons if any.
func (s *ResponderStats) Format(w io.Writer) {
	fmt.Fprintf(w, "RESPONDER established=%d ike_up=%d ike_down=%d ike_failed=%d child_up=%d installs=%d liveness=%d cpu_s=%.2f rss_kb=%d heap_inuse_kb=%d heap_sys_kb=%d goroutines=%d half_open=%d cookies=%d refused=%d queue_full=%d\n",
		s.Established(), s.IKEUp, s.IKEDown, s.IKEFailed, s.ChildUp, s.Installs, s.Liveness,
		s.Proc.CPU.Seconds(), s.Proc.RSS/1024, s.HeapInuse/1024, s.HeapSys/1024, s.Goroutines,
		s.DoS.HalfOpen, s.DoS.Cookies, s.DoS.Blocked+s.DoS.HalfOpenLimit+s.DoS.SALimit+s.DoS.JobLoad, s.DoS.QueueFull)
	keys := make([]string, 0, len(s.Failures))
	for k := range s.Failures {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "  failed %d: %s\n", s.Failures[k], k)
	}
}
