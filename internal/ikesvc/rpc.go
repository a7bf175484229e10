package ikesvc

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"secgw/internal/ike/engine"
	"secgw/internal/rpcerr"
)

// Target selects the SAs an operational command acts on: the input of
// the RPCs of secgw-ike-rpc.yang (initiate, rekey, reauth, flush), the
// vrf and one of ike-sa / child-sa with its selector. The yang tags name
// the input's nodes for the NETCONF adapter (netconf.RPC); a node an
// RPC's input lacks (unique-id of initiate) stays unset.
type Target struct {
	VRF     string         `yang:"vrf"`
	IKESA   *IKESelector   `yang:"ike-sa"`
	ChildSA *ChildSelector `yang:"child-sa"`
}

// IKESelector selects IKE SAs: those of a VPN, or the one with a
// unique-id.
type IKESelector struct {
	VPN      string  `yang:"vpn"`
	UniqueID *uint32 `yang:"unique-id"`
}

// ChildSelector selects child SAs: those of a security policy, or the one
// with a unique-id.
type ChildSelector struct {
	Policy   string  `yang:"security-policy"`
	UniqueID *uint32 `yang:"unique-id"`
}

// Result is what an operational command reports (command-output): the
// number of SAs acted on and lines for the operator, which the CLI
// prints as the vsr guide shows.
type Result struct {
	Count    uint32   `yang:"count"`
	Messages []string `yang:"message"`
}

// DefaultInitiateTimeout is Options.InitiateTimeout when zero.
const DefaultInitiateTimeout = 30 * time.Second

// checkVRF refuses a vrf other than the Service's: the daemon hands an
// RPC to the Service of the vrf in its input.
func (s *Service) checkVRF(vrf string) error {
	if vrf != "" && vrf != s.o.VRF {
		return fmt.Errorf("ike: vrf %s: this IKE instance runs vrf %s", vrf, s.o.VRF)
	}
	return nil
}

// Initiate negotiates the IKE SA or child SA t names and reports the
// negotiation ('cmd ike initiate').
func (s *Service) Initiate(ctx context.Context, t Target) (Result, error) {
	if err := s.checkVRF(t.VRF); err != nil {
		return Result{}, err
	}
	msgs, count, err := s.initiate(ctx, &t)
	return Result{Count: uint32(count), Messages: msgs}, err
}

// Rekey rekeys the SAs t selects ('cmd ike rekey').
func (s *Service) Rekey(_ context.Context, t Target) (Result, error) {
	if err := s.checkVRF(t.VRF); err != nil {
		return Result{}, err
	}
	count, err := s.rekey(&t)
	return Result{Count: uint32(count)}, err
}

// Reauth reauthenticates the IKE SAs t selects ('cmd ike reauth').
func (s *Service) Reauth(_ context.Context, t Target) (Result, error) {
	if err := s.checkVRF(t.VRF); err != nil {
		return Result{}, err
	}
	count, err := s.reauth(&t)
	return Result{Count: uint32(count)}, err
}

// Flush deletes the SAs t selects and reports each ('flush ike').
func (s *Service) Flush(_ context.Context, t Target) (Result, error) {
	if err := s.checkVRF(t.VRF); err != nil {
		return Result{}, err
	}
	msgs, count, err := s.flush(&t)
	return Result{Count: uint32(count), Messages: msgs}, err
}

// initiate negotiates a childless IKE SA of a VPN ('cmd ike initiate
// ike-sa vpn NAME', RFC 6023) or a child SA of a security policy ('cmd
// ike initiate child-sa security-policy NAME': on an IKE SA of its VPN
// if one is up, else with a new one), then waits for the outcome and
// reports the negotiation as the vsr guide shows it.
func (s *Service) initiate(ctx context.Context, in *Target) ([]string, int, error) {
	vpn, policy := "", ""
	switch {
	case in.IKESA != nil:
		vpn = in.IKESA.VPN
	case in.ChildSA != nil:
		policy = in.ChildSA.Policy
		if vpn = s.eng.PolicyVPN(policy); vpn == "" {
			return nil, 0, invalid("security-policy", fmt.Sprintf("no security-policy %q in an enabled vpn", policy))
		}
	default:
		return nil, 0, missing("initiate", "initiate needs ike-sa vpn or child-sa security-policy")
	}
	v := s.eng.Config().VPN(vpn)
	if v == nil {
		return nil, 0, invalid("vpn", fmt.Sprintf("no enabled vpn %q", vpn))
	}
	existing := map[uint32]bool{}
	for _, sa := range s.eng.Snapshot(false) {
		existing[sa.UniqueID] = true
		if policy != "" && sa.VPN == vpn && sa.State == "established" {
			if c, ok := s.childUp(sa.UniqueID, policy); ok {
				return []string{s.childLine(sa.UniqueID, c)}, 1, nil // already there
			}
		}
	}
	w := s.watch()
	defer s.unwatch(w)
	var (
		uid uint32
		err error
	)
	if policy == "" {
		if !v.Initiator() {
			return nil, 0, invalid("vpn", fmt.Sprintf("vpn %s has no remote-address: it can only respond", vpn))
		}
		uid, err = s.eng.InitiateChildless(vpn)
	} else {
		uid, err = s.eng.InitiateChild(policy)
		if errors.Is(err, engine.ErrUnknownVPN) {
			return nil, 0, invalid("vpn", fmt.Sprintf("vpn %s has no remote-address and no IKE SA: it can only respond", vpn))
		}
	}
	if err != nil {
		return nil, 0, fmt.Errorf("ike: initiating vpn %s: %w", vpn, err)
	}
	lines := initiateLog{vpn: vpn, uid: uid, remote: v.RemoteAddr.String(), newIKE: !existing[uid], policy: policy}
	timeout := time.NewTimer(s.initiateTimeout())
	defer timeout.Stop()
	for {
		select {
		case ev := <-w:
			if ev.SA != uid {
				continue
			}
			switch ev.Kind {
			case engine.IKEUp:
				lines.up = s.saState(uid)
				if policy == "" {
					return lines.render(s), 1, nil
				}
			case engine.ChildUp:
				if ev.Policy == policy {
					lines.child = ev.Child
					return append(lines.render(s), s.childLine(uid, ev.Child)), 1, nil
				}
			case engine.ChildFailed:
				if ev.Policy == policy {
					return append(lines.render(s), fmt.Sprintf("establishing CHILD_SA %s failed: %s", policy, ev.Reason)), 0, nil
				}
			case engine.IKEFailed, engine.IKEDown:
				return append(lines.render(s), fmt.Sprintf("establishing IKE_SA %s[%d] failed: %s", vpn, uid, ev.Reason)), 0, nil
			}
		case <-timeout.C:
			if c, ok := s.childUp(uid, policy); ok && policy != "" {
				lines.up, lines.child = s.saState(uid), c // came up unseen (a full watcher)
				return append(lines.render(s), s.childLine(uid, c)), 1, nil
			}
			return append(lines.render(s), "negotiation still in progress"), 0, nil
		case <-ctx.Done():
			return lines.render(s), 0, ctx.Err()
		}
	}
}

// initiateLog is what 'cmd ike initiate' prints, in the order of the
// guide's (strongSwan's) log: the lines of a new IKE SA, with the
// authentications of both sides around the CHILD_SA being established,
// then the IKE SA's endpoints and lifetimes, then the child SA with its
// SPIs and selectors. (The guide's vendor ID and certificate request
// lines have no counterpart: secgw sends neither.)
type initiateLog struct {
	vpn    string
	uid    uint32
	remote string
	newIKE bool
	policy string
	// up is the IKE SA once established (nil before); child the
	// unique-id of the child SA once up (0 before).
	up    *engine.SAState
	child uint32
}

func (l *initiateLog) render(s *Service) []string {
	var out []string
	if l.newIKE {
		out = append(out, fmt.Sprintf("initiating IKE_SA %s[%d] to %s", l.vpn, l.uid, l.remote))
		if l.up != nil {
			out = append(out, fmt.Sprintf("authentication of '%s' (myself) with pre-shared key", l.up.LocalID))
		}
	}
	if l.policy != "" {
		if l.child != 0 {
			out = append(out, fmt.Sprintf("establishing CHILD_SA %s{%d}", l.policy, l.child))
		} else {
			out = append(out, fmt.Sprintf("establishing CHILD_SA %s", l.policy))
		}
	}
	if l.newIKE && l.up != nil {
		out = append(out, fmt.Sprintf("authentication of '%s' with pre-shared key successful", l.up.RemoteID))
		out = append(out, fmt.Sprintf("IKE_SA %s[%d] established between %s", l.vpn, l.uid, between(*l.up)))
		out = append(out, lifetimeLines(*l.up, time.Now())...)
	}
	return out
}

// between is the guide's "192.0.2.1[localgw.6wind.net]...198.51.100.1[remotegw.6wind.net]"
// of an IKE SA: its addresses with the identities (%any before the peer
// proved one).
func between(sa engine.SAState) string {
	id := func(s string) string {
		if s == "" {
			return "%any"
		}
		return s
	}
	return fmt.Sprintf("%s[%s]...%s[%s]", sa.Local.Addr(), id(sa.LocalID.String()), sa.Remote.Addr(), id(sa.RemoteID.String()))
}

// saState returns the state of IKE SA uid, nil once it is gone.
func (s *Service) saState(uid uint32) *engine.SAState {
	for _, sa := range s.eng.Snapshot(false) {
		if sa.UniqueID == uid {
			return &sa
		}
	}
	return nil
}

// childUp reports an installed child SA of the policy on IKE SA uid.
func (s *Service) childUp(uid uint32, policy string) (uint32, bool) {
	if sa := s.saState(uid); sa != nil {
		for _, c := range sa.Children {
			if c.Policy == policy && (c.State == "installed" || c.State == "rekeying") {
				return c.UniqueID, true
			}
		}
	}
	return 0, false
}

// lifetimeLines are the guide's "scheduling rekeying in 13165s" and
// "maximum IKE_SA lifetime 14605s" lines of a new IKE SA.
func lifetimeLines(sa engine.SAState, now time.Time) []string {
	var out []string
	if !sa.RekeyAt.IsZero() {
		out = append(out, fmt.Sprintf("scheduling rekeying in %ds", int(sa.RekeyAt.Sub(now)/time.Second)))
	}
	if !sa.ReauthAt.IsZero() {
		out = append(out, fmt.Sprintf("scheduling reauthentication in %ds", int(sa.ReauthAt.Sub(now)/time.Second)))
	}
	if !sa.ExpireAt.IsZero() {
		out = append(out, fmt.Sprintf("maximum IKE_SA lifetime %ds", int(sa.ExpireAt.Sub(now)/time.Second)))
	}
	return out
}

// rekey rekeys the selected IKE SAs (their child SAs are inherited) or
// child SAs. The reply is the count only: the CLI words it as the guide
// does ("Initiated 1 IKE SA rekey.").
func (s *Service) rekey(in *Target) (int, error) {
	n := 0
	switch {
	case in.IKESA != nil:
		for _, sa := range s.selectIKE(in) {
			if s.eng.RekeyIKE(sa.UniqueID) == nil {
				n++
			}
		}
	case in.ChildSA != nil:
		for _, sa := range s.eng.Snapshot(false) {
			for _, c := range sa.Children {
				if c.State != "installed" || (in.ChildSA.UniqueID != nil && *in.ChildSA.UniqueID != c.UniqueID) ||
					(in.ChildSA.UniqueID == nil && in.ChildSA.Policy != c.Policy) {
					continue
				}
				if s.eng.RekeyChild(c.UniqueID) == nil {
					n++
				}
			}
		}
	default:
		return 0, missing("rekey", "rekey needs ike-sa or child-sa")
	}
	return n, nil
}

// reauth reauthenticates the selected IKE SAs, in the order
// make-before-break says.
func (s *Service) reauth(in *Target) (int, error) {
	if in.IKESA == nil {
		return 0, missing("reauth", "reauth needs ike-sa")
	}
	n := 0
	for _, sa := range s.selectIKE(in) {
		if s.eng.Reauth(sa.UniqueID) == nil {
			n++
		}
	}
	return n, nil
}

// selectIKE returns the established IKE SAs an ike-sa selector names.
func (s *Service) selectIKE(in *Target) []engine.SAState {
	var out []engine.SAState
	for _, sa := range s.eng.Snapshot(false) {
		if sa.State != "established" || (in.IKESA.UniqueID != nil && *in.IKESA.UniqueID != sa.UniqueID) ||
			(in.IKESA.UniqueID == nil && in.IKESA.VPN != sa.VPN) {
			continue
		}
		out = append(out, sa)
	}
	return out
}

func (s *Service) childLine(uid, child uint32) string {
	if sa := s.saState(uid); sa != nil {
		for _, c := range sa.Children {
			if c.UniqueID == child {
				return fmt.Sprintf("CHILD_SA %s{%d} established with SPIs %08x_i %08x_o and TS %s",
					c.Policy, child, c.InSPI, c.OutSPI, tsPair(c))
			}
		}
	}
	return fmt.Sprintf("CHILD_SA {%d} established", child)
}

// tsPair is the guide's "192.168.0.0/24 === 192.168.99.0/24" of a child
// SA: its local and remote selectors.
func tsPair(c engine.ChildState) string {
	var l, r []string
	for _, t := range c.LocalTS {
		l = append(l, tsSubnet(t))
	}
	for _, t := range c.RemoteTS {
		r = append(r, tsSubnet(t))
	}
	return strings.Join(l, " ") + " === " + strings.Join(r, " ")
}

// flush removes IKE SAs (with their child SAs, at once: engine.FlushIKE)
// or deletes child SAs, selected by vpn / security-policy name or
// unique-id. Each SA is reported as the guide shows it: an IKE SA with
// its endpoints and identities, a child SA with its SPIs, the bytes each
// carried and its selectors.
func (s *Service) flush(in *Target) ([]string, int, error) {
	if in.IKESA == nil && in.ChildSA == nil {
		return nil, 0, missing("flush", "flush needs ike-sa or child-sa")
	}
	n := 0
	var msgs []string
	for _, sa := range s.eng.Snapshot(false) {
		switch {
		case in.IKESA != nil:
			if (in.IKESA.UniqueID != nil && *in.IKESA.UniqueID != sa.UniqueID) ||
				(in.IKESA.UniqueID == nil && in.IKESA.VPN != sa.VPN) {
				continue
			}
			if err := s.eng.FlushIKE(sa.UniqueID); err == nil {
				n++
				msgs = append(msgs, fmt.Sprintf("deleting IKE_SA %s[%d] between %s", sa.VPN, sa.UniqueID, between(sa)))
			}
		case in.ChildSA != nil:
			for _, c := range sa.Children {
				if (in.ChildSA.UniqueID != nil && *in.ChildSA.UniqueID != c.UniqueID) ||
					(in.ChildSA.UniqueID == nil && in.ChildSA.Policy != c.Policy) {
					continue
				}
				var cin, cout Counters
				if s.o.Counters != nil {
					cin, cout = s.o.Counters(c.ChildSA) // before the dataplane forgets them
				}
				if err := s.eng.DeleteChildByUID(c.UniqueID); err == nil {
					n++
					msgs = append(msgs, fmt.Sprintf("closing CHILD_SA %s{%d} with SPIs %08x_i (%d bytes) %08x_o (%d bytes) and TS %s",
						c.Policy, c.UniqueID, c.InSPI, cin.Bytes, c.OutSPI, cout.Bytes, tsPair(c)))
				}
			}
		}
	}
	if n == 0 {
		// swanctl --terminate's words when nothing matches; the guide
		// shows only flushes that found their SA.
		msgs = append(msgs, "no matching SAs to flush found")
	}
	return msgs, n, nil
}

// initiateTimeout bounds how long Initiate waits for the outcome before
// answering (the negotiation goes on after it).
func (s *Service) initiateTimeout() time.Duration {
	if s.o.InitiateTimeout > 0 {
		return s.o.InitiateTimeout
	}
	return DefaultInitiateTimeout
}

// missing is the rpc-error of an RPC input without its mandatory choice
// (RFC 6241 Appendix A, missing-element).
func missing(rpc, msg string) error {
	return &rpcerr.Error{Type: rpcerr.TypeProtocol, Tag: rpcerr.TagMissingElement, Message: msg, Info: map[string]string{"bad-element": rpc}}
}

// invalid is the rpc-error of an RPC input naming something that does not
// exist.
func invalid(elem, msg string) error {
	return &rpcerr.Error{Type: rpcerr.TypeApplication, Tag: rpcerr.TagInvalidValue, Message: msg, Info: map[string]string{"bad-element": elem}}
}
