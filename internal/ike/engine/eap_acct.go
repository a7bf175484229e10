package engine

import (
	"crypto/rand"
	"encoding/hex"
	"net/netip"

	"secgw/internal/ike/config"
)

// aaaSession is the accounting session of an IKE SA the AAA server
// authenticated (RFC 2866): Start when it is established, Stop when it
// goes. An IKE SA rekey hands it to the new IKE SA (moveTo): the session
// is the peer's, not one IKE SA's.
type aaaSession struct {
	id    string
	vpn   string
	user  string
	attrs AAAAttrs
	start int64 // mono
}

// aaaStart opens the accounting session of an SA that the AAA server
// authenticated (EAP, or pre-shared-key-radius): vpn, the user name the
// server knows the peer by, the attributes of its Access-Accept.
func (sa *ikeSA) aaaStart(vpn *config.VPN, user string, attrs AAAAttrs) {
	var b [8]byte
	rand.Read(b[:])
	sa.aaa = &aaaSession{id: hex.EncodeToString(b[:]), vpn: vpn.Name, user: user, attrs: attrs, start: sa.w.e.mono()}
	// The accounting records name the virtual IPs the SA gave (RFC 2866
	// §5: Framed-IP-Address of the session), not those the server
	// proposed: the first of each family.
	sa.aaa.attrs.FramedIP, sa.aaa.attrs.FramedIPv6 = netip.Addr{}, netip.Addr{}
	for _, v := range sa.remoteVIPs() {
		if v.Is4() && !sa.aaa.attrs.FramedIP.IsValid() {
			sa.aaa.attrs.FramedIP = v
		} else if v.Is6() && !sa.aaa.attrs.FramedIPv6.IsValid() {
			sa.aaa.attrs.FramedIPv6 = v
		}
	}
	if a := sa.w.e.o.AAA; a != nil {
		a.Account(AcctRecord{Status: AcctStart, SessionID: sa.aaa.id, VPN: vpn.Name, UserName: user, SA: sa.uid,
			Peer: sa.remote.Addr(), Local: sa.local.Addr(), Attrs: sa.aaa.attrs})
	}
}

// aaaStop closes the accounting session of an SA that goes, with its
// child SAs (still installed: the AAA reads their counters). removeSA
// calls it for every SA.
func (sa *ikeSA) aaaStop() {
	if sa.eap != nil {
		// An SA that goes in the middle of EAP (refused, timed out
		// half-open) drops its MSK now.
		sa.eap.clear()
		sa.eap = nil
	}
	// An SA that goes while its key is asked for: the answer, when it
	// comes, finds no request (resumePSKAAA).
	sa.pskAAA = nil
	s := sa.aaa
	if s == nil {
		return
	}
	sa.aaa = nil
	a := sa.w.e.o.AAA
	if a == nil {
		return
	}
	r := sa.acctRecord(s, AcctStop)
	r.Reason = sa.failure
	a.Account(r)
}

// acctRecord is the accounting record of status of the session s of
// sa, with the SA's child SAs for their counters; the worker's lock is
// held.
func (sa *ikeSA) acctRecord(s *aaaSession, status AcctStatus) AcctRecord {
	r := AcctRecord{Status: status, SessionID: s.id, VPN: s.vpn, UserName: s.user, SA: sa.uid,
		Peer: sa.remote.Addr(), Local: sa.local.Addr(), Attrs: s.attrs}
	r.Duration = sa.w.e.timeAt(sa.w.e.mono()).Sub(sa.w.e.timeAt(s.start))
	for _, c := range sa.children {
		r.Children = append(r.Children, sa.childSA(c))
	}
	return r
}

// AcctInterim returns an Interim-Update record (RFC 2869 §5.1) for every
// established IKE SA with an accounting session, with its child SAs as
// they are now, visiting one worker at a time. The caller reads the
// counters and sends the records (ikesvc, every radius
// interim-interval).
func (e *Engine) AcctInterim() []AcctRecord {
	var out []AcctRecord
	e.eachSA(func(sa *ikeSA) bool {
		if sa.aaa != nil && sa.state == stateEstablished {
			out = append(out, sa.acctRecord(sa.aaa, AcctInterim))
		}
		return true
	})
	return out
}
