package childsa

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"secgw/internal/ipsec"
	"slices"
	"strconv"
	"sync"
	"time"

	"secgw/internal/dataplane"
	"secgw/internal/ike/config"
	"secgw/internal/ike/engine"
)

// ChildOptions are the per-security-policy settings a child SA's entries
// need beyond what the engine negotiated.
type ChildOptions struct {
	// Priority is the configured security-policy priority; 0 computes it
	// from the selector (see PolicyPriority).
	Priority uint32
	// IfIDIn and IfIDOut are svti-id-in and svti-id-out: the XFRM
	// interface ids of the inbound SA and in/fwd policies, and of the
	// outbound SA and out policy.
	IfIDIn, IfIDOut uint32
	// MarkIn and MarkOut mark the inbound and outbound entries.
	MarkIn, MarkOut dataplane.Mark
	// NoFwd leaves out the fwd policies of tunnel mode
	// (ProgrammerOptions.NoFwd).
	NoFwd bool
	// InTimeLimits puts the time limits on the inbound SA only
	// (ProgrammerOptions.InTimeLimits).
	InTimeLimits bool
}

// ProgrammerOptions configure a Programmer.
type ProgrammerOptions struct {
	Dataplane dataplane.Dataplane
	// Options returns the settings of a VPN's security policy; nil means
	// none.
	Options func(vpn, policy string) ChildOptions
	// ReqIDs is the range reqids are allocated from; zero means
	// OwnedReqIDs (an implementation recognises its entries by it).
	ReqIDs dataplane.ReqIDRange
	// Timeout bounds each Apply; zero means 10 s.
	Timeout time.Duration
	// NoFwd: the dataplane applies no fwd policy (dataplane.Fwd is the
	// kernel's, for traffic it forwards after decryption); the userspace
	// dataplane checks decrypted packets against the in policies alone,
	// so a child SA's fwd policies would only be kept, a third of its
	// SPD entries (about 550 octets a child SA in the Programmer and
	// the userspace tables).
	NoFwd bool
	// InTimeLimits: the time limits of a child SA (rekey-time,
	// life-time: SoftAdd, HardAdd) go on its inbound SA only. Both SAs
	// are installed together with the same limits, so the inbound SA's
	// expiry alone has the engine rekey or delete the child SA, which it
	// finds by the inbound SPI at once; an outbound SA's expiry it finds
	// by a walk of every IKE SA (at 100k SAs and a rekey every 180 s,
	// a tenth of secgwd's CPU). For a dataplane that lives in secgwd
	// (userspace): the kernel's limits on both SAs are a safety net for
	// a secgwd that is gone, which an SA in secgwd's memory needs not.
	InTimeLimits bool
	Logger       *slog.Logger
}

// Programmer implements the IKE engine's Dataplane (engine.Dataplane): it
// turns each child SA into two SAs (in and out) and its policies (for each
// pair of local and remote selector prefixes: out, in and, in tunnel mode,
// fwd) and applies them through a Dataplane, one batch per call. It keeps
// the desired state of every installed child (State) for a Reconciler to
// repair drift with.
//
// Reqids: a reqid ties a policy's template to its SAs. Children of the same
// VPN, security policy, selectors, interface ids and marks share one
// reqid, refcounted: a rekeyed child (CREATE_CHILD_SA, RFC 7296 §1.3.3)
// gets the reqid of the one it replaces, so its policies are already in
// place and only its SAs are added; while both exist the kernel sends on
// the newest outbound SA of the reqid. Distinct children get distinct
// reqids, from ReqIDs, in O(1): the last one freed first (a free list),
// else the lowest never used.
//
// Policies are refcounted by key too: the first child to install a key
// owns it; another child with the same key (a duplicate child, or the same
// selectors from another VPN) shares it, and takes it over (an update) when
// the owner is deleted.
//
// Priorities: PolicyPriority of the out selector, the same for the in and
// fwd policies of the child.
//
// Lifetimes: soft limits are the ipsec-policy rekey-* values and hard
// limits the life-* values. Without ESN an outbound SA also gets a hard
// packet limit of 2^32-1 (and a soft one of 0xf0000000) so that it expires,
// and is rekeyed, before its 32-bit sequence number would cycle (RFC 4303
// §3.3.3); the kernel does not report overflow otherwise.
//
// Methods are safe for concurrent use; each call holds the Programmer's
// lock while it applies.
type Programmer struct {
	o   ProgrammerOptions
	log *slog.Logger

	mu       sync.Mutex
	children map[uint32]*child // by inbound SPI
	reqIDs   map[reqKey]*reqEntry
	reqPool  *reqIDPool
	policies map[dataplane.PolicyKey]*policyUse
	// traps are the trap policies, by security policy name (trap.go).
	traps map[string]*child
	// clear are the pass and drop policies (clear.go).
	clear map[clearKey]*clearEntry
}

// child is one user of the Programmer's entries: a child SA, a trap
// (trap.go) or a clear policy (clear.go).
//
// A child SA keeps what its entries are derived from (the engine's child
// SA, its reqid entry with the options and the reqid) and not the entries: its
// two SAs and three policies are about 1 KB at 100k child SAs, and
// ChildEntries derives them again, the same, when a delete, a move or
// State needs them. Traps and clear policies keep their policies (pols).
type child struct {
	c engine.ChildSA
	// re is the reqid entry of a child SA or a trap (its key and
	// reqid, shared by the children of one key), nil for a clear policy.
	re *reqEntry
	// oseq is the outbound SA's OSeq when a move replaced it (move.go),
	// 0 otherwise.
	oseq uint64
	// pols are a trap's or a clear policy's policies; nil for a child SA.
	pols []dataplane.Policy
}

// isSA tells a child SA (it has an inbound SPI) from a trap or a clear
// policy.
func (ch *child) isSA() bool { return ch.c.InSPI != 0 }

// entries returns the SAs (in, out) and policies of ch: derived again for
// a child SA (they were derived the same at its install, which checked
// them), pols for the others.
func (ch *child) entries() ([2]dataplane.SA, []dataplane.Policy) {
	if !ch.isSA() {
		return [2]dataplane.SA{}, ch.pols
	}
	var sas [2]dataplane.SA
	pols, err := childEntries(ch.c, ch.re.rk.opts, ch.re.id, &sas)
	if err != nil {
		// Unreachable: the install derived them from the same input.
		panic(fmt.Sprintf("childsa: entries of installed child SA %08x: %v", ch.c.InSPI, err))
	}
	sas[1].OSeq = ch.oseq
	return sas, pols
}

// policies returns ch's policies (entries).
func (ch *child) policies() []dataplane.Policy {
	if !ch.isSA() {
		return ch.pols
	}
	_, pols := ch.entries()
	return pols
}

// trap reports whether ch is a trap policy's (trap.go): no SAs.
func (ch *child) trap() bool { return !ch.isSA() }

// reqKey is what children sharing a reqid have in common.
type reqKey struct {
	vpn, policy, local, remote string
	opts                       ChildOptions
	mode                       config.Mode
}

type reqEntry struct {
	rk   reqKey
	id   uint32
	refs int
}

type policyUse struct {
	users []*child // users[0] owns the installed policy
}

// NewProgrammer returns a Programmer with no children.
func NewProgrammer(o ProgrammerOptions) *Programmer {
	if o.ReqIDs == (dataplane.ReqIDRange{}) {
		o.ReqIDs = dataplane.OwnedReqIDs
	}
	if o.Timeout == 0 {
		o.Timeout = 10 * time.Second
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Programmer{
		o: o, log: log.With("subsystem", "kernel"),
		children: map[uint32]*child{},
		reqIDs:   map[reqKey]*reqEntry{},
		reqPool:  newReqIDPool(o.ReqIDs),
		policies: map[dataplane.PolicyKey]*policyUse{},
	}
}

// childOptions are the options of a VPN's security policy, with the
// Programmer's NoFwd.
func (p *Programmer) childOptions(vpn, policy string) ChildOptions {
	var opts ChildOptions
	if p.o.Options != nil {
		opts = p.o.Options(vpn, policy)
	}
	opts.NoFwd, opts.InTimeLimits = p.o.NoFwd, p.o.InTimeLimits
	return opts
}

// InstallChild implements engine.Dataplane.
func (p *Programmer) InstallChild(c engine.ChildSA) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.install(c)
}

// install is InstallChild with p.mu held.
func (p *Programmer) install(c engine.ChildSA) error {
	ch, pols, ops, takeover, err := p.prepare(c)
	if err != nil {
		return err
	}
	if err := p.apply(ops); err != nil {
		p.undo(ops, err)
		return fmt.Errorf("dataplane: install child %08x/%08x: %w", c.InSPI, c.OutSPI, err)
	}
	if len(takeover) > 0 {
		if err := p.apply(takeover); err != nil {
			p.undo(ops, nil)
			return fmt.Errorf("dataplane: install child %08x/%08x: %w", c.InSPI, c.OutSPI, err)
		}
	}
	p.commit(ch, pols, takeover)
	if p.log.Enabled(context.Background(), slog.LevelInfo) {
		p.log.Info("child SA programmed", "vpn", c.VPN, "policy", c.Policy, "reqid", ch.re.id,
			"in", fmt.Sprintf("%08x", c.InSPI), "out", fmt.Sprintf("%08x", c.OutSPI), "policies", len(pols))
	}
	return nil
}

// prepare derives the entries of child SA c and the ops that install
// them: ops adds its SAs and the policies no other child holds, takeover
// updates the policies a trap holds (applied after ops). p.mu is held.
func (p *Programmer) prepare(c engine.ChildSA) (ch *child, pols []dataplane.Policy, ops, takeover []dataplane.Op, err error) {
	if _, ok := p.children[c.InSPI]; ok {
		return nil, nil, nil, nil, fmt.Errorf("dataplane: child SA %08x already installed", c.InSPI)
	}
	opts := p.childOptions(c.VPN, c.Policy)
	rk := childReqKey(c, opts)
	re, err := p.reqEntry(rk)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	sas, pols, err := ChildEntries(c, opts, re.id)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	ch = &child{c: c, re: re}
	ops = []dataplane.Op{{Kind: dataplane.AddSA, SA: &sas[0]}, {Kind: dataplane.AddSA, SA: &sas[1]}}
	// A trap policy stands for the child SA until it exists, with the
	// VPN's endpoints in its template; the child SA may have others (it
	// followed a redirect, RFC 5685): its own policy replaces the trap's
	// while it lives (unregister puts the trap's back).
	for i := range pols {
		k := pols[i].Key()
		switch u := p.policies[k]; {
		case u == nil:
			ops = append(ops, dataplane.Op{Kind: dataplane.AddPolicy, Policy: &pols[i]})
		case len(u.users) > 0 && u.users[0].trap() && !samePolicy(u.users[0].policy(k), &pols[i]):
			takeover = append(takeover, dataplane.Op{Kind: dataplane.UpdatePolicy, Policy: &pols[i]})
		}
	}
	return ch, pols, ops, takeover, nil
}

// commit records ch, whose ops (and takeover) were applied. p.mu is
// held.
func (p *Programmer) commit(ch *child, pols []dataplane.Policy, takeover []dataplane.Op) {
	p.register(ch, ch.re, pols)
	for _, op := range takeover {
		u := p.policies[op.Policy.Key()]
		u.users = append([]*child{ch}, slices.DeleteFunc(u.users, func(x *child) bool { return x == ch })...)
	}
	p.children[ch.c.InSPI] = ch
}

// DeleteChild implements engine.Dataplane. Entries already gone (an SA
// removed by its hard lifetime) are not an error.
func (p *Programmer) DeleteChild(c engine.ChildSA) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch := p.children[c.InSPI]
	if ch == nil {
		return fmt.Errorf("dataplane: child SA %08x not installed", c.InSPI)
	}
	delete(p.children, c.InSPI)
	ops := p.deleteOps(ch)
	for len(ops) > 0 {
		err := p.apply(ops)
		var ae *dataplane.ApplyError
		if err == nil {
			break
		}
		if !errors.As(err, &ae) || !errors.Is(err, dataplane.ErrNotFound) || ae.Index < 0 || ae.Index >= len(ops) {
			return fmt.Errorf("dataplane: delete child %08x/%08x: %w", c.InSPI, c.OutSPI, err)
		}
		ops = ops[ae.Index+1:]
	}
	if p.log.Enabled(context.Background(), slog.LevelInfo) {
		p.log.Info("child SA removed", "vpn", c.VPN, "policy", c.Policy,
			"in", fmt.Sprintf("%08x", c.InSPI), "out", fmt.Sprintf("%08x", c.OutSPI))
	}
	return nil
}

// deleteOps unregisters ch (taken out of p.children) and returns the ops
// that remove its entries: the out policies first (stop sending into
// the SAs before removing them), the other policies, then its SAs. p.mu
// is held.
func (p *Programmer) deleteOps(ch *child) []dataplane.Op {
	sas, pols := ch.entries()
	ops := p.unregister(ch, pols)
	slices.SortStableFunc(ops, func(x, y dataplane.Op) int {
		return boolRank(x.Policy.Dir != dataplane.Out) - boolRank(y.Policy.Dir != dataplane.Out)
	})
	return append(ops, dataplane.Op{Kind: dataplane.DeleteSA, SA: &sas[1]}, dataplane.Op{Kind: dataplane.DeleteSA, SA: &sas[0]})
}

// State returns the desired state of all installed children: what a
// Reconciler should make the dataplane hold. The SAs share key slices with
// the Programmer.
func (p *Programmer) State() dataplane.State {
	p.mu.Lock()
	defer p.mu.Unlock()
	var s dataplane.State
	for _, ch := range p.children {
		sas, _ := ch.entries()
		s.SAs = append(s.SAs, sas[0], sas[1])
	}
	for k, u := range p.policies {
		s.Policies = append(s.Policies, *u.users[0].policy(k))
	}
	return s
}

// ReqID returns the reqid of an installed child (by inbound SPI).
func (p *Programmer) ReqID(inSPI uint32) (uint32, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch := p.children[inSPI]
	if ch == nil {
		return 0, false
	}
	return ch.re.id, true
}

// policy returns ch's policy of key k (nil if none).
func (ch *child) policy(k dataplane.PolicyKey) *dataplane.Policy {
	pols := ch.policies()
	for i := range pols {
		if pols[i].Key() == k {
			return &pols[i]
		}
	}
	return nil
}

// samePolicy reports whether installing b over a changes nothing.
func samePolicy(a, b *dataplane.Policy) bool {
	return a.Priority == b.Priority && a.Action == b.Action && a.Tmpl == b.Tmpl
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (p *Programmer) apply(ops []dataplane.Op) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.o.Timeout)
	defer cancel()
	return p.o.Dataplane.Apply(ctx, ops)
}

// undo removes what a failed install may have added: every op of the batch
// but the one that failed, one at a time (a batching implementation may
// have applied ops after the failed one), ignoring what is not there.
func (p *Programmer) undo(ops []dataplane.Op, err error) {
	failed := -1
	var ae *dataplane.ApplyError
	if errors.As(err, &ae) {
		failed = ae.Index
	}
	for i := len(ops) - 1; i >= 0; i-- {
		if i == failed {
			continue
		}
		del := dataplane.Op{Kind: dataplane.DeleteSA, SA: ops[i].SA}
		if ops[i].Policy != nil {
			del = dataplane.Op{Kind: dataplane.DeletePolicy, Policy: ops[i].Policy}
		}
		if uerr := p.apply([]dataplane.Op{del}); uerr != nil && !errors.Is(uerr, dataplane.ErrNotFound) {
			p.log.Error("undo of a failed install", "err", uerr)
		}
	}
}

// tsString is the selectors as a string for reqKey, each as
// "type/protocol/start-end address/start-end port;". It runs for every
// child SA installed, so it appends rather than formats.
func tsString(ts []ipsec.TrafficSelector) string {
	b := make([]byte, 0, 48*len(ts))
	for _, t := range ts {
		b = strconv.AppendUint(b, uint64(t.Type), 10)
		b = append(b, '/')
		b = strconv.AppendUint(b, uint64(t.IPProtocol), 10)
		b = append(b, '/')
		b = t.StartAddr.AppendTo(b)
		b = append(b, '-')
		b = t.EndAddr.AppendTo(b)
		b = append(b, '/')
		b = strconv.AppendUint(b, uint64(t.StartPort), 10)
		b = append(b, '-')
		b = strconv.AppendUint(b, uint64(t.EndPort), 10)
		b = append(b, ';')
	}
	return string(b)
}

// ChildEntries translates a child SA into its SAs (in, out) and policies
// with the given options and reqid; see Programmer.
func ChildEntries(c engine.ChildSA, o ChildOptions, reqID uint32) ([]dataplane.SA, []dataplane.Policy, error) {
	var sas [2]dataplane.SA
	pols, err := childEntries(c, o, reqID, &sas)
	if err != nil {
		return nil, nil, err
	}
	return sas[:], pols, nil
}

// childEntries is ChildEntries writing the SAs (in, out) into sas: the
// Programmer derives a record's entries again for each delete, move and
// State, and an array of the caller's saves a copy of both SAs (560
// octets) each time.
func childEntries(c engine.ChildSA, o ChildOptions, reqID uint32, sas *[2]dataplane.SA) ([]dataplane.Policy, error) {
	local, remote := c.Local.Addr(), c.Remote.Addr()
	if !local.IsValid() || !remote.IsValid() || local.Is4() != remote.Is4() {
		return nil, errors.New("dataplane: child SA without outer addresses of one family")
	}
	mode := dataplane.Tunnel
	if c.Mode == config.ModeTransport {
		mode = dataplane.Transport
	}
	lim := dataplane.Limits{
		SoftBytes: c.Lifetimes.RekeyBytes, HardBytes: c.Lifetimes.LifeBytes,
		SoftPackets: c.Lifetimes.RekeyPackets, HardPackets: c.Lifetimes.LifePackets,
		SoftAdd: c.Lifetimes.RekeyTime, HardAdd: c.Lifetimes.LifeTime,
	}
	in := dataplane.SA{
		Src: remote, Dst: local, SPI: c.InSPI, Dir: dataplane.In, Mode: mode, ReqID: reqID,
		Encr: c.Suite.Encr, EncrKey: c.In.Encr, Integ: c.Suite.Integ, IntegKey: c.In.Integ,
		ESN: c.ESN, ReplayWindow: uint32(c.Lifetimes.ReplayWindow),
		Mark: o.MarkIn, IfID: o.IfIDIn, Limits: lim,
	}
	out := in
	out.Src, out.Dst, out.SPI, out.Dir = local, remote, c.OutSPI, dataplane.Out
	out.EncrKey, out.IntegKey = c.Out.Encr, c.Out.Integ
	// An HA takeover resumes the numbers (RFC 4303 §3.3.3, §3.4.3): the
	// outbound SA goes on after the shifted last-synced number, the
	// inbound window from the highest one the old active received.
	in.ISeq, out.OSeq = c.ISeq, c.OSeq
	out.Mark, out.IfID = o.MarkOut, o.IfIDOut
	if o.InTimeLimits {
		out.Limits.SoftAdd, out.Limits.HardAdd = 0, 0
	}
	if c.Encap {
		in.Encap = dataplane.Encap{SrcPort: c.Remote.Port(), DstPort: c.Local.Port()}
		out.Encap = dataplane.Encap{SrcPort: c.Local.Port(), DstPort: c.Remote.Port()}
	}
	if !c.ESN {
		// RFC 4303 §3.3.3: the counter must not cycle; expire first.
		const hard, soft = 1<<32 - 1, 0xf0000000
		if out.Limits.HardPackets == 0 || out.Limits.HardPackets > hard {
			out.Limits.HardPackets = hard
		}
		if out.Limits.SoftPackets == 0 || out.Limits.SoftPackets > soft {
			out.Limits.SoftPackets = soft
		}
	}
	if mode == dataplane.Transport {
		bits := local.BitLen()
		in.Sel = dataplane.Selector{Src: netip.PrefixFrom(remote, bits), Dst: netip.PrefixFrom(local, bits)}
		out.Sel = dataplane.Selector{Src: netip.PrefixFrom(local, bits), Dst: netip.PrefixFrom(remote, bits)}
	}

	// A child SA has few policies (three a selector pair): duplicates
	// are found by a scan rather than a map, which entries (a delete, a
	// move) would build again each time.
	pols := make([]dataplane.Policy, 0, 3) // out, in, fwd of one pair
	addPol := func(p dataplane.Policy) {
		k := p.Key()
		if !slices.ContainsFunc(pols, func(q dataplane.Policy) bool { return q.Key() == k }) {
			pols = append(pols, p)
		}
	}
	tmplOut := dataplane.Template{Src: local, Dst: remote, Mode: mode, ReqID: reqID}
	tmplIn := dataplane.Template{Src: remote, Dst: local, Mode: mode, ReqID: reqID}
	if mode == dataplane.Transport {
		// Transport templates name no addresses: the SA is found by reqid.
		tmplOut, tmplIn = dataplane.Template{Mode: mode, ReqID: reqID}, dataplane.Template{Mode: mode, ReqID: reqID}
	}
	err := selectorPairs(c.LocalTS, c.RemoteTS, func(sel, mirror dataplane.Selector) {
		prio := PolicyPriority(sel, o.Priority)
		addPol(dataplane.Policy{Sel: sel, Dir: dataplane.Out, Mark: o.MarkOut, IfID: o.IfIDOut, Priority: prio, Action: dataplane.Protect, Tmpl: tmplOut})
		addPol(dataplane.Policy{Sel: mirror, Dir: dataplane.In, Mark: o.MarkIn, IfID: o.IfIDIn, Priority: prio, Action: dataplane.Protect, Tmpl: tmplIn})
		if mode == dataplane.Tunnel && !o.NoFwd {
			addPol(dataplane.Policy{Sel: mirror, Dir: dataplane.Fwd, Mark: o.MarkIn, IfID: o.IfIDIn, Priority: prio, Action: dataplane.Protect, Tmpl: tmplIn})
		}
	})
	if err != nil {
		return nil, err
	}
	if len(pols) == 0 {
		return nil, errors.New("dataplane: child SA traffic selectors give no policy")
	}
	// In and fwd before out: receive before sending.
	slices.SortStableFunc(pols, func(x, y dataplane.Policy) int {
		return boolRank(x.Dir == dataplane.Out) - boolRank(y.Dir == dataplane.Out)
	})
	sas[0], sas[1] = in, out
	return pols, nil
}

// selectorPairs calls fn with each policy selector of the traffic
// between local and remote selectors (local to remote) and its mirror:
// every pair of their prefixes of one family, with the protocol both
// admit and the ports a selector can express.
func selectorPairs(local, remote []ipsec.TrafficSelector, fn func(sel, mirror dataplane.Selector)) error {
	for _, lts := range local {
		lps, err := tsPrefixes(lts)
		if err != nil {
			return err
		}
		for _, rts := range remote {
			rps, err := tsPrefixes(rts)
			if err != nil {
				return err
			}
			proto := lts.IPProtocol
			if proto == 0 {
				proto = rts.IPProtocol
			} else if rts.IPProtocol != 0 && rts.IPProtocol != proto {
				continue // RFC 7296 §2.9: no traffic matches both
			}
			lport := portSelector(proto, lts.StartPort, lts.EndPort)
			rport := portSelector(proto, rts.StartPort, rts.EndPort)
			for _, lp := range lps {
				for _, rp := range rps {
					if lp.Addr().Is4() != rp.Addr().Is4() {
						continue
					}
					fn(dataplane.Selector{Src: lp, Dst: rp, Proto: proto, SrcPort: lport, DstPort: rport},
						dataplane.Selector{Src: rp, Dst: lp, Proto: proto, SrcPort: rport, DstPort: lport})
				}
			}
		}
	}
	return nil
}

// childReqKey is the reqid key of a child SA (or of a trap) of c.
func childReqKey(c engine.ChildSA, opts ChildOptions) reqKey {
	return reqKey{vpn: c.VPN, policy: c.Policy, local: tsString(c.LocalTS), remote: tsString(c.RemoteTS), opts: opts, mode: c.Mode}
}

// reqEntry returns the reqid entry of rk, allocating a reqid for a new
// one (which register then records).
func (p *Programmer) reqEntry(rk reqKey) (*reqEntry, error) {
	if re := p.reqIDs[rk]; re != nil {
		return re, nil
	}
	id, err := p.reqPool.peek()
	if err != nil {
		return nil, err
	}
	return &reqEntry{rk: rk, id: id}, nil
}

// register records ch, whose entries (policies pols) were applied, as a
// user of its reqid and of its policies.
func (p *Programmer) register(ch *child, re *reqEntry, pols []dataplane.Policy) {
	if re.refs == 0 {
		p.reqPool.take(re.id)
	}
	re.refs++
	p.reqIDs[re.rk] = re
	p.registerPolicies(ch, pols)
}

// unregister forgets ch (policies pols) as a user of its policies and
// reqid and returns the policy ops that follow: a delete when it was the
// last user, an update when the next user's policy differs from the one
// it owned.
func (p *Programmer) unregister(ch *child, pols []dataplane.Policy) []dataplane.Op {
	ops := p.unregisterPolicies(ch, pols)
	if re := ch.re; re != nil && p.reqIDs[re.rk] == re {
		if re.refs--; re.refs == 0 {
			delete(p.reqIDs, re.rk)
			p.reqPool.release(re.id)
		}
	}
	return ops
}

// unregisterPolicies is the policy part of unregister.
func (p *Programmer) unregisterPolicies(ch *child, pols []dataplane.Policy) []dataplane.Op {
	var ops []dataplane.Op
	for i := range pols {
		k := pols[i].Key()
		u := p.policies[k]
		if u == nil {
			continue
		}
		owner := len(u.users) > 0 && u.users[0] == ch
		u.users = slices.DeleteFunc(u.users, func(x *child) bool { return x == ch })
		switch {
		case len(u.users) == 0:
			delete(p.policies, k)
			ops = append(ops, dataplane.Op{Kind: dataplane.DeletePolicy, Policy: &pols[i]})
		case owner:
			preferChild(u.users)
			if next := u.users[0].policy(k); !samePolicy(&pols[i], next) {
				ops = append(ops, dataplane.Op{Kind: dataplane.UpdatePolicy, Policy: next})
			}
		}
	}
	return ops
}

// preferChild puts first, as the next owner of a policy, an installed
// child SA rather than a trap: a child SA moved by MOBIKE has outer
// addresses its trap's template does not have.
func preferChild(users []*child) {
	if isTrap(users[0]) {
		if j := slices.IndexFunc(users, func(x *child) bool { return x.isSA() }); j > 0 {
			users[0], users[j] = users[j], users[0]
		}
	}
}

// isTrap tells a trap (a child with a VPN and no SA) from a child SA and
// from a clear policy (no VPN).
func isTrap(ch *child) bool { return !ch.isSA() && ch.c.VPN != "" }
