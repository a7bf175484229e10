package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"secgw/internal/ike/config"
	"secgw/internal/ike/wire"
)

// Redirect (RFC 5685): a gateway sends its initiators to another gateway.
//
// Announcing. An initiator whose VPN has follow-redirect sends
// N(REDIRECT_SUPPORTED) in its IKE_SA_INIT request, or, to the gateway it
// was redirected to, N(REDIRECTED_FROM) instead (as charon does); a
// responder only ever redirects an initiator that sent either, and
// remembers it on the IKE SA (ikeSA.peerRedirect) for the redirects of
// IKE_AUTH and of the established SA.
//
// As responder, three moments:
//
//   - IKE_SA_INIT (global-options redirect): the request is answered,
//     statelessly and before any Diffie-Hellman, with
//     HDR(SPIr=0), N(REDIRECT, new gateway, Ni) — the Nonce Data is the
//     initiator's Ni, which ties the unauthenticated answer to its
//     request. Always (draining), or while the half-open or established
//     IKE SAs reach their thresholds (load); a request that carries
//     REDIRECTED_FROM was redirected once already and is not redirected
//     again for load, so that two loaded gateways do not bounce an
//     initiator between them.
//   - IKE_AUTH (vpn redirect-to, per VPN, hence per peer identity): the
//     response carries IDr, AUTH and N(REDIRECT, new gateway) without
//     Nonce Data and without child SA. The IKE SA the initiator is
//     expected to delete stays up redirectGrace at most.
//   - an established IKE SA, on the operator's command (Engine.Redirect):
//     an INFORMATIONAL request with N(REDIRECT, new gateway).
//
// As initiator, a REDIRECT is followed when the VPN has follow-redirect:
// in the IKE_SA_INIT response only if its Nonce Data is our Ni (anything
// else — no REDIRECT_SUPPORTED sent, a malformed notification, another
// nonce — is ignored as a forgery and the exchange keeps waiting for a
// genuine answer); in the IKE_AUTH response once the responder's AUTH
// verified, after which the IKE SA is deleted with one D(IKE) sent once;
// in an INFORMATIONAL request of an established IKE SA, which is answered,
// then deleted (D(IKE)) before the new one is set up. The new IKE SA goes
// to the new gateway with N(REDIRECTED_FROM, the old gateway's address)
// and sets up the child SAs of the old one. Loop protection (RFC 5685,
// MAX_REDIRECTS within REDIRECT_LOOP_DETECT_PERIOD): a VPN follows at most
// global-options redirect max-redirects redirects within loop-period;
// one more fails the IKE SA.

// redirectGrace is how long a responder keeps an IKE SA it redirected in
// IKE_AUTH for the initiator to delete it.
const redirectGrace = 30 * time.Second

// ErrRedirectUnsupported is returned by Redirect for an IKE SA whose
// initiator did not announce REDIRECT_SUPPORTED, or that we initiated.
var ErrRedirectUnsupported = errors.New("engine: the peer did not announce REDIRECT_SUPPORTED")

// RedirectStats counts redirects (the operational state's counters).
type RedirectStats struct {
	// Sent counts the REDIRECT notifications we sent as responder, in
	// IKE_SA_INIT, IKE_AUTH and INFORMATIONAL; Followed the redirects we
	// followed as initiator; LoopRefused those refused by the loop
	// protection.
	Sent, Followed, LoopRefused uint64
}

// redirects is the engine's redirect state. mu is a leaf lock.
type redirects struct {
	sent, followed, loopRefused atomic.Uint64
	mu                          sync.Mutex
	// history holds, per VPN, when the redirects it followed happened
	// (engine clock), the older ones pruned.
	history map[string][]int64
}

// RedirectStats returns the redirect counters.
func (e *Engine) RedirectStats() RedirectStats {
	return RedirectStats{Sent: e.redir.sent.Load(), Followed: e.redir.followed.Load(),
		LoopRefused: e.redir.loopRefused.Load()}
}

// allowRedirect records a redirect of vpn and reports whether it stays
// within the loop protection's bound.
func (e *Engine) allowRedirect(vpn string) bool {
	limit, period := e.config().Global.Redirect.Limits()
	now := e.mono()
	e.redir.mu.Lock()
	defer e.redir.mu.Unlock()
	if e.redir.history == nil {
		e.redir.history = map[string][]int64{}
	}
	h := e.redir.history[vpn]
	keep := h[:0]
	for _, t := range h {
		if now-t < int64(period) {
			keep = append(keep, t)
		}
	}
	if len(keep) >= limit {
		e.redir.history[vpn] = keep
		e.redir.loopRefused.Add(1)
		return false
	}
	e.redir.history[vpn] = append(keep, now)
	e.redir.followed.Add(1)
	return true
}

// redirectInit answers an IKE_SA_INIT request with REDIRECT when
// global-options redirect says so; w is the peer's worker, locked.
func (e *Engine) redirectInit(d Datagram, m *wire.Message, ps []wire.Payload, ni []byte) bool {
	r := e.config().Global.Redirect
	if r.To.IsZero() || !announcesRedirect(ps) {
		return false
	}
	if r.To.Addr.IsValid() && r.To.Addr.Unmap() == d.Local.Addr().Unmap() {
		return false // never to ourselves
	}
	if !r.Init(int(e.dos.halfOpen.Load()), int(e.dos.established.Load()), wire.FindNotify(ps, wire.NotifyRedirectedFrom) != nil) {
		return false
	}
	n, err := wire.NewRedirect(r.To, ni)
	if err != nil {
		e.log.Warn("cannot encode REDIRECT", "gateway", r.To.String(), "err", err)
		return false
	}
	e.redir.sent.Add(1)
	e.limit.Log(nil, e.log, slog.LevelInfo, "IKE_SA_INIT redirected", "remote", d.Remote, "gateway", r.To.String())
	e.replyInit(d, m, n)
	return true
}

// announcesRedirect reports whether an IKE_SA_INIT request says its
// initiator follows redirects: REDIRECT_SUPPORTED, or REDIRECTED_FROM,
// which an initiator that was redirected sends instead.
func announcesRedirect(ps []wire.Payload) bool {
	return wire.FindNotify(ps, wire.NotifyRedirectSupported) != nil || wire.FindNotify(ps, wire.NotifyRedirectedFrom) != nil
}

// ignoreInitRedirect reports whether an IKE_SA_INIT response is a REDIRECT
// we must not act on (RFC 5685: only after REDIRECT_SUPPORTED, and only
// with our nonce): it is dropped and the request keeps its
// retransmissions, as for any forged answer.
func (sa *ikeSA) ignoreInitRedirect(ps []wire.Payload) bool {
	n := wire.FindNotify(ps, wire.NotifyRedirect)
	if n == nil {
		return false
	}
	if !sa.vpn.FollowRedirect {
		sa.log().Info("REDIRECT ignored: we did not send REDIRECT_SUPPORTED")
		return true
	}
	_, nonce, err := n.Redirect()
	if err != nil {
		sa.log().Info("malformed REDIRECT ignored", "err", err)
		return true
	}
	if !bytes.Equal(nonce, sa.ni) {
		sa.log().Info("REDIRECT ignored: its nonce data is not our Ni")
		return true
	}
	return false
}

// redirectNotifies are the notifications of our IKE_SA_INIT request.
func (sa *ikeSA) redirectNotifies() []wire.Payload {
	if !sa.vpn.FollowRedirect {
		return nil
	}
	if !sa.redirectedFrom.IsZero() {
		// REDIRECTED_FROM stands for REDIRECT_SUPPORTED too (as
		// charon sends it, and reads it).
		if n, err := wire.NewRedirectedFrom(sa.redirectedFrom); err == nil {
			return []wire.Payload{n}
		}
	}
	return []wire.Payload{wire.NewNotify(wire.NotifyRedirectSupported, nil)}
}

// followInitRedirect follows the REDIRECT of an IKE_SA_INIT response
// (ignoreInitRedirect let it through): the IKE SA is dropped, a new one
// goes to the new gateway with the child SAs the IKE_AUTH was to set up.
func (sa *ikeSA) followInitRedirect(n *wire.Notify) error {
	g, _, _ := n.Redirect()
	var auth *authTask
	for _, t := range sa.tasks {
		if a, ok := t.(*authTask); ok {
			auth = a
		}
	}
	var policies []config.SecurityPolicy
	var hint *Packet
	if auth != nil {
		policies, hint = auth.policies, auth.hint
	}
	return sa.follow(g, "IKE_SA_INIT", policies, hint, func() {
		if auth != nil {
			auth.policies = nil // moved to the new IKE SA, not failed
		}
		sa.w.e.removeSA(sa)
	})
}

// follow checks the loop protection, drops the IKE SA with drop and sets
// up a new one at g for policies.
func (sa *ikeSA) follow(g wire.Gateway, during string, policies []config.SecurityPolicy, hint *Packet, drop func()) error {
	e, v := sa.w.e, sa.vpn
	if !e.allowRedirect(v.Name) {
		n, p := e.config().Global.Redirect.Limits()
		return fmt.Errorf("engine: redirect to %s refused: more than %d redirects within %v (redirect loop)", g, n, p)
	}
	from := wire.Gateway{Addr: sa.remote.Addr().Unmap()}
	local, _ := e.endpoints(v)
	if !local.Addr().IsValid() || local.Addr().IsUnspecified() {
		local = netip.AddrPortFrom(sa.local.Addr(), PortIKE)
	}
	sa.log().Info("following redirect", "during", during, "gateway", g.String())
	sa.failure = "redirected to " + g.String() + " during " + during
	sa.redirected = true
	uid := sa.uid
	drop()
	cur := sa.w
	e.resolveGateway(g, local.Addr(), func(a netip.Addr, locked bool) {
		start := func(w *worker) {
			n := e.startIKEVia(w, v, local, netip.AddrPortFrom(a, PortIKE), false, policies, hint, startVia{tcp: v.Transport == config.TransportTCP, from: from})
			n.uid = uid // the same IKE SA for the operator, at another gateway
			n.log().Info("IKE SA set up at the new gateway", "redirected-from", from.String())
		}
		if locked {
			e.onPeer(cur, a, start)
			return
		}
		w := e.lockPeer(a)
		defer w.unlock()
		start(w)
	})
	return nil
}

// authRedirect follows the REDIRECT of an IKE_AUTH response whose AUTH
// verified: the IKE SA is deleted with one D(IKE), sent once (RFC 5685:
// the initiator deletes it), and a new one set up at the new gateway.
// It reports false for a malformed REDIRECT, which is ignored.
func (t *authTask) authRedirect(sa *ikeSA, m *wire.Message, n *wire.Notify) (bool, error) {
	g, nonce, err := n.Redirect()
	if err != nil || len(nonce) > 0 {
		sa.log().Info("malformed REDIRECT in IKE_AUTH ignored", "err", err)
		return false, nil
	}
	sa.w.e.releaseSPI(t.spi)
	t.spi = 0
	return true, sa.follow(g, "IKE_AUTH", t.policies, t.hint, func() {
		sa.nextID = m.Header.MessageID + 1
		sa.w.e.flush(sa)
	})
}

// informationalRedirect handles N(REDIRECT) in an INFORMATIONAL request
// of an established IKE SA we initiated: once answered, the IKE SA is
// deleted, then a new one is set up at the new gateway (break-before-make,
// as the child SAs cannot be moved between gateways).
func (sa *ikeSA) informationalRedirect(n *wire.Notify) {
	if !sa.initiator || !sa.vpn.FollowRedirect || sa.state != stateEstablished || sa.closing {
		sa.log().Info("REDIRECT ignored: not announced or not ours to follow")
		return
	}
	g, nonce, err := n.Redirect()
	if err != nil || len(nonce) > 0 {
		sa.log().Info("malformed REDIRECT ignored", "err", err)
		return
	}
	e := sa.w.e
	sa.w.afterResponse = append(sa.w.afterResponse, func() {
		e.resolveGateway(g, sa.local.Addr(), func(a netip.Addr, locked bool) {
			if !locked {
				w, live := e.lockSA(sa)
				defer w.unlock()
				if !live {
					return
				}
			}
			if sa.state != stateEstablished || sa.closing {
				return
			}
			if !e.allowRedirect(sa.vpn.Name) {
				limit, p := e.config().Global.Redirect.Limits()
				sa.log().Warn("redirect refused: redirect loop", "gateway", g.String(), "max-redirects", limit, "period", p)
				return
			}
			local, _ := e.endpoints(sa.vpn)
			if !local.Addr().IsValid() || local.Addr().IsUnspecified() {
				local = netip.AddrPortFrom(sa.local.Addr(), PortIKE)
			}
			sa.log().Info("following redirect of the established IKE SA: deleting it first", "gateway", g.String())
			sa.reestablish = &reestablish{v: sa.vpn, local: local, remote: netip.AddrPortFrom(a, PortIKE),
				policies: sa.policiesOf(), from: wire.Gateway{Addr: sa.remote.Addr().Unmap()}}
			sa.closing = true
			sa.queueFirst(&deleteTask{ike: true})
			sa.startNext()
		})
	})
}

// resolveGateway gives then the address of g: at once, locked, for an
// address; for a name, from a goroutine after a DNS lookup (an address of
// the family of local preferred), not locked. A name that does not
// resolve is logged and dropped.
func (e *Engine) resolveGateway(g wire.Gateway, local netip.Addr, then func(a netip.Addr, locked bool)) {
	if g.Addr.IsValid() {
		then(g.Addr.Unmap(), true)
		return
	}
	lookup := e.o.LookupHost
	if lookup == nil {
		lookup = func(ctx context.Context, name string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", name)
		}
	}
	go func() {
		defer e.recoverPanic("redirect")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		addrs, err := lookup(ctx, g.FQDN)
		if err != nil || len(addrs) == 0 {
			e.log.Warn("redirect: cannot resolve the new gateway", "gateway", g.FQDN, "err", err)
			return
		}
		a := addrs[0].Unmap()
		for _, x := range addrs {
			if x.Unmap().Is4() == local.Unmap().Is4() {
				a = x.Unmap()
				break
			}
		}
		then(a, false)
	}()
}

// ErrBadGateway is returned by Redirect for a gateway that is neither an
// address nor a domain name.
var ErrBadGateway = errors.New("engine: the gateway is neither an address nor a domain name")

// Redirect sends the peer of the established IKE SA with the given
// unique-id to gateway (an address or a domain name, RFC 5685): an
// INFORMATIONAL request with N(REDIRECT); the peer then deletes this IKE
// SA and sets up a new one there. Only an initiator that announced
// REDIRECT_SUPPORTED is redirected.
func (e *Engine) Redirect(uid uint32, gateway string) error {
	g, err := wire.ParseGateway(gateway)
	if err != nil {
		return ErrBadGateway
	}
	if _, err := wire.NewRedirect(g, nil); err != nil {
		return ErrBadGateway
	}
	sa, w := e.byUID(uid)
	if sa == nil {
		return ErrNoSA
	}
	defer w.unlock()
	if sa.state != stateEstablished || sa.closing {
		return ErrNoSA
	}
	if sa.initiator || !sa.peerRedirect {
		return ErrRedirectUnsupported
	}
	sa.queue(&redirectTask{to: g})
	sa.startNext()
	return nil
}

// redirectTask is the gateway's INFORMATIONAL with N(REDIRECT) on an
// established IKE SA (no Nonce Data).
type redirectTask struct{ to wire.Gateway }

func (*redirectTask) exchange() wire.ExchangeType { return wire.ExchangeInformational }

func (t *redirectTask) build(sa *ikeSA) ([]wire.Payload, error) {
	n, err := wire.NewRedirect(t.to, nil)
	if err != nil {
		return nil, err
	}
	sa.w.e.redir.sent.Add(1)
	sa.log().Info("redirecting the peer", "gateway", t.to.String())
	return []wire.Payload{n}, nil
}

func (t *redirectTask) process(sa *ikeSA, _ *wire.Message, _ []wire.Payload) error {
	sa.log().Debug("peer acknowledged the REDIRECT", "gateway", t.to.String())
	return nil
}

// authRedirectResponse is the REDIRECT of our IKE_AUTH response when the
// VPN the peer authenticated under has redirect-to and the peer
// announced REDIRECT_SUPPORTED; nil otherwise. The IKE SA then carries
// no child SA and lives redirectGrace at most.
func (sa *ikeSA) authRedirectResponse(v *config.VPN) *wire.Notify {
	if v.RedirectTo == nil || v.RedirectTo.IsZero() || !sa.peerRedirect {
		return nil
	}
	n, err := wire.NewRedirect(*v.RedirectTo, nil)
	if err != nil {
		return nil
	}
	sa.w.e.redir.sent.Add(1)
	sa.log().Info("redirecting the peer in IKE_AUTH", "gateway", v.RedirectTo.String())
	return n
}
