package ikesvc

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"time"

	"secgw/internal/ike/engine"
	"secgw/internal/netconf"
)

// NS is the namespace of the IKE RPCs (secgw-ike-rpc.yang).
const NS = "urn:secgw:yang:secgw-ike"

// rpcInput is the input of initiate, rekey, reauth and flush: the vrf and
// one of ike-sa / child-sa with its selector.
type rpcInput struct {
	VRF   string `xml:"vrf"`
	IKESA *struct {
		VPN      string  `xml:"vpn"`
		UniqueID *uint32 `xml:"unique-id"`
	} `xml:"ike-sa"`
	ChildSA *struct {
		Policy   string  `xml:"security-policy"`
		UniqueID *uint32 `xml:"unique-id"`
	} `xml:"child-sa"`
}

// InitiateTimeout bounds how long initiate waits for the outcome before
// answering (the negotiation goes on after it).
var InitiateTimeout = 30 * time.Second

// Call implements netconf.Operations for the IKE RPCs. The reply carries
// count and message lines, which the CLI prints as the vsr guide shows.
func (s *Service) Call(ctx context.Context, name xml.Name, input []byte) ([]byte, error) {
	var in rpcInput
	if err := xml.Unmarshal(input, &in); err != nil {
		return nil, fmt.Errorf("ike: malformed %s input: %v", name.Local, err)
	}
	if in.VRF != "" && in.VRF != VRF {
		return nil, fmt.Errorf("ike: vrf %s: IKE runs in vrf %s only", in.VRF, VRF)
	}
	var (
		msgs  []string
		count int
		err   error
	)
	switch name.Local {
	case "initiate":
		msgs, count, err = s.initiate(ctx, &in)
	case "flush":
		msgs, count, err = s.flush(&in)
	case "rekey":
		count, err = s.rekey(&in)
	case "reauth":
		count, err = s.reauth(&in)
	default:
		return nil, fmt.Errorf("ike: unknown operation %s", name.Local)
	}
	if err != nil {
		return nil, err
	}
	return commandOutput(count, msgs), nil
}

func commandOutput(count int, msgs []string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `<count xmlns="%s">%d</count>`, NS, count)
	for _, m := range msgs {
		b.WriteString(`<message xmlns="` + NS + `">`)
		xml.EscapeText(&b, []byte(m))
		b.WriteString(`</message>`)
	}
	return b.Bytes()
}

// initiate negotiates a childless IKE SA of a VPN ('cmd ike initiate
// ike-sa vpn NAME', RFC 6023) or a child SA of a security policy ('cmd
// ike initiate child-sa security-policy NAME': on an IKE SA of its VPN
// if one is up, else with a new one), then waits for the outcome and
// reports the negotiation as the vsr guide shows it.
func (s *Service) initiate(ctx context.Context, in *rpcInput) ([]string, int, error) {
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
			if line, ok := s.childUpLine(sa.UniqueID, policy); ok {
				return []string{line}, 1, nil // already there
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
	var msgs []string
	if !existing[uid] {
		msgs = append(msgs, fmt.Sprintf("initiating IKE_SA %s[%d] to %s", vpn, uid, v.RemoteAddr))
	}
	if policy != "" {
		msgs = append(msgs, fmt.Sprintf("establishing CHILD_SA %s", policy))
	}
	timeout := time.NewTimer(InitiateTimeout)
	defer timeout.Stop()
	for {
		select {
		case ev := <-w:
			if ev.SA != uid {
				continue
			}
			switch ev.Kind {
			case engine.IKEUp:
				msgs = append(msgs, s.establishedLine(uid))
				if policy == "" {
					return append(msgs, s.lifetimeLines(uid)...), 1, nil
				}
			case engine.ChildUp:
				if ev.Policy == policy {
					return append(msgs, s.childLine(uid, ev.Child)), 1, nil
				}
			case engine.ChildFailed:
				if ev.Policy == policy {
					return append(msgs, fmt.Sprintf("establishing CHILD_SA %s failed: %s", policy, ev.Reason)), 0, nil
				}
			case engine.IKEFailed, engine.IKEDown:
				msgs = append(msgs, fmt.Sprintf("establishing IKE_SA %s[%d] failed: %s", vpn, uid, ev.Reason))
				return msgs, 0, nil
			}
		case <-timeout.C:
			if line, ok := s.childUpLine(uid, policy); ok && policy != "" {
				return append(msgs, line), 1, nil // came up unseen (a full watcher)
			}
			return append(msgs, "negotiation still in progress"), 0, nil
		case <-ctx.Done():
			return msgs, 0, ctx.Err()
		}
	}
}

// childUpLine reports an installed child SA of the policy on IKE SA uid.
func (s *Service) childUpLine(uid uint32, policy string) (string, bool) {
	for _, sa := range s.eng.Snapshot(false) {
		if sa.UniqueID != uid {
			continue
		}
		for _, c := range sa.Children {
			if c.Policy == policy && (c.State == "installed" || c.State == "rekeying") {
				return s.childLine(uid, c.UniqueID), true
			}
		}
	}
	return "", false
}

// lifetimeLines are the guide's "scheduling rekeying in 13165s" and
// "maximum IKE_SA lifetime 14605s" lines of a new IKE SA.
func (s *Service) lifetimeLines(uid uint32) []string {
	now := time.Now()
	for _, sa := range s.eng.Snapshot(false) {
		if sa.UniqueID != uid {
			continue
		}
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
	return nil
}

// rekey rekeys the selected IKE SAs (their child SAs are inherited) or
// child SAs. The reply is the count only: the CLI words it as the guide
// does ("Initiated 1 IKE SA rekey.").
func (s *Service) rekey(in *rpcInput) (int, error) {
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
func (s *Service) reauth(in *rpcInput) (int, error) {
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
func (s *Service) selectIKE(in *rpcInput) []engine.SAState {
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

func (s *Service) establishedLine(uid uint32) string {
	for _, sa := range s.eng.Snapshot(false) {
		if sa.UniqueID == uid {
			return fmt.Sprintf("IKE_SA %s[%d] established between %s[%s]...%s[%s]", sa.VPN, uid,
				sa.Local.Addr(), sa.LocalID, sa.Remote.Addr(), sa.RemoteID)
		}
	}
	return fmt.Sprintf("IKE_SA [%d] established", uid)
}

func (s *Service) childLine(uid, child uint32) string {
	for _, sa := range s.eng.Snapshot(false) {
		for _, c := range sa.Children {
			if sa.UniqueID == uid && c.UniqueID == child {
				var l, r []string
				for _, t := range c.LocalTS {
					l = append(l, tsSubnet(t))
				}
				for _, t := range c.RemoteTS {
					r = append(r, tsSubnet(t))
				}
				return fmt.Sprintf("CHILD_SA %s{%d} established with SPIs %08x_i %08x_o and TS %s === %s",
					c.Policy, child, c.InSPI, c.OutSPI, strings.Join(l, " "), strings.Join(r, " "))
			}
		}
	}
	return fmt.Sprintf("CHILD_SA {%d} established", child)
}

// flush deletes IKE SAs (with their child SAs) or child SAs, selected by
// vpn / security-policy name or unique-id.
func (s *Service) flush(in *rpcInput) ([]string, int, error) {
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
				msgs = append(msgs, fmt.Sprintf("deleting IKE_SA %s[%d]", sa.VPN, sa.UniqueID))
			}
		case in.ChildSA != nil:
			for _, c := range sa.Children {
				if (in.ChildSA.UniqueID != nil && *in.ChildSA.UniqueID != c.UniqueID) ||
					(in.ChildSA.UniqueID == nil && in.ChildSA.Policy != c.Policy) {
					continue
				}
				if err := s.eng.DeleteChildByUID(c.UniqueID); err == nil {
					n++
					msgs = append(msgs, fmt.Sprintf("deleting CHILD_SA %s{%d}", c.Policy, c.UniqueID))
				}
			}
		}
	}
	what := "IKE"
	if in.ChildSA != nil {
		what = "child"
	}
	msgs = append(msgs, fmt.Sprintf("Deleted %d %s SA%s.", n, what, plural(n)))
	return msgs, n, nil
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// missing is the rpc-error of an RPC input without its mandatory choice
// (RFC 6241 Appendix A, missing-element).
func missing(rpc, msg string) error {
	return &netconf.RPCError{Type: "protocol", Tag: "missing-element", Message: msg, Info: map[string]string{"bad-element": rpc}}
}

// invalid is the rpc-error of an RPC input naming something that does not
// exist.
func invalid(elem, msg string) error {
	return &netconf.RPCError{Type: "application", Tag: "invalid-value", Message: msg, Info: map[string]string{"bad-element": elem}}
}
