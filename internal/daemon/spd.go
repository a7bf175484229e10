package daemon

import (
	"errors"
	"log/slog"
	"sync"

	"secgw/generated"
	"secgw/internal/dataplane/childsa"
	"secgw/internal/dataplane/xfrm"
	"secgw/internal/datastore"
	"secgw/internal/ike/config"
	"secgw/internal/ikesvc"
)

// childOptions is the programmer's ProgrammerOptions.Options: the
// priority and svti-id-in/out of a security policy, read from the
// configuration the engine runs (cfg returns it; the engine stores a
// new one before it installs anything under it, so a child SA always
// gets the settings of the configuration it was negotiated for). The
// VPN is found by name in the configuration's sorted list: no table is
// built per configuration, which a commit of one VPN would pay for all.
type childOptions struct {
	cfg func() *config.Config
}

// options implements ProgrammerOptions.Options.
func (o *childOptions) options(vpn, policy string) childsa.ChildOptions {
	cfg := o.cfg()
	if cfg == nil {
		return childsa.ChildOptions{}
	}
	v := cfg.VPN(vpn)
	if v == nil {
		return childsa.ChildOptions{}
	}
	p := v.Policy(policy)
	if p == nil {
		return childsa.ChildOptions{}
	}
	return childsa.ChildOptions{Priority: p.Priority, IfIDIn: p.IfIDIn, IfIDOut: p.IfIDOut}
}

// spdHash applies global-options sp-hash-ipv4 and sp-hash-ipv6 to the
// kernel dataplane's policy hash tables (XFRM_MSG_NEWSPDINFO) at start
// and at every commit that changes them. The userspace dataplane has no
// hash thresholds (its SPD is an ordered table): there the options are
// accepted and do nothing, and the daemon does not subscribe this.
//
// The thresholds are per network namespace: the last value set wins,
// also over other software of the namespace that sets them.
type spdHash struct {
	// vrf is the vrf whose global-options apply ("" is main): each vrf
	// on the kernel dataplane has its own namespace and thresholds.
	vrf string
	set func(xfrm.SPDHash) error
	log *slog.Logger

	mu      sync.Mutex
	cur     xfrm.SPDHash
	known   bool // cur was set
	pending map[uint64]*spdHashTx
}

type spdHashTx struct {
	want, old xfrm.SPDHash
	oldKnown  bool
	applied   bool
}

func newSPDHash(set func(xfrm.SPDHash) error, log *slog.Logger) *spdHash {
	return &spdHash{set: set, log: log.With("subsystem", "kernel"), pending: map[uint64]*spdHashTx{}}
}

// spdHashOf reads the thresholds of h's vrf's global-options in dev.
func (h *spdHash) spdHashOf(dev *generated.Device) xfrm.SPDHash {
	vrf := h.vrf
	if vrf == "" {
		vrf = ikesvc.VRF
	}
	return spdHashFromConfig(ikeOfVRF(vrf, dev).GetGlobalOptions())
}

// spdHashFromConfig reads global-options sp-hash-ipv4 and sp-hash-ipv6
// (their YANG defaults, the kernel's, when unset) for
// xfrm.Dataplane.SetSPDHash: local is the local prefix length threshold,
// remote the remote one.
func spdHashFromConfig(g *generated.SecgwVrf_Vrf_Ike_GlobalOptions) xfrm.SPDHash {
	return xfrm.SPDHash{
		IPv4Local: g.GetSpHashIpv4().GetLocal(), IPv4Remote: g.GetSpHashIpv4().GetRemote(),
		IPv6Local: g.GetSpHashIpv6().GetLocal(), IPv6Remote: g.GetSpHashIpv6().GetRemote(),
	}
}

// start applies the running configuration's thresholds; a failure is
// logged (the daemon serves on; the next commit that changes them
// retries).
func (h *spdHash) start(running *generated.Device) {
	h.mu.Lock()
	defer h.mu.Unlock()
	want := h.spdHashOf(running)
	if err := h.set(want); err != nil {
		h.log.Warn("SPD hash thresholds not applied", "err", err)
		return
	}
	h.cur, h.known = want, true
	h.log.Info("SPD hash thresholds applied", "ipv4", []uint8{want.IPv4Local, want.IPv4Remote}, "ipv6", []uint8{want.IPv6Local, want.IPv6Remote})
}

// Name implements datastore.Subscriber.
func (h *spdHash) Name() string { return "spd-hash" }

// Prepare implements datastore.Subscriber: the schema checks the ranges;
// nothing is refused.
func (h *spdHash) Prepare(tx *datastore.Tx) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	clear(h.pending) // transactions never overlap: earlier ones are final
	h.pending[tx.ID] = &spdHashTx{want: h.spdHashOf(tx.New)}
	return nil
}

// Apply implements datastore.Subscriber.
func (h *spdHash) Apply(tx *datastore.Tx) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.pending[tx.ID]
	if p == nil {
		return errors.New("daemon: spd-hash: apply without prepare")
	}
	p.old, p.oldKnown, p.applied = h.cur, h.known, true
	if h.known && h.cur == p.want {
		return nil
	}
	if err := h.set(p.want); err != nil {
		// The policies work without the hash, only slower: logged, not
		// a reason to refuse the commit.
		h.log.Warn("SPD hash thresholds not applied", "err", err)
		return nil
	}
	h.cur, h.known = p.want, true
	h.log.Info("SPD hash thresholds applied", "ipv4", []uint8{p.want.IPv4Local, p.want.IPv4Remote}, "ipv6", []uint8{p.want.IPv6Local, p.want.IPv6Remote})
	return nil
}

// Abort implements datastore.Subscriber: applied thresholds go back.
func (h *spdHash) Abort(tx *datastore.Tx) {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.pending[tx.ID]
	delete(h.pending, tx.ID)
	if p == nil || !p.applied || !p.oldKnown || h.cur == p.old {
		return
	}
	if err := h.set(p.old); err != nil {
		h.log.Warn("previous SPD hash thresholds not restored", "err", err)
		h.known = false
		return
	}
	h.cur = p.old
}
