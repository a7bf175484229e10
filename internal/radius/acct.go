package radius

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	lr "layeh.com/radius"
)

// AcctStatus is Acct-Status-Type (RFC 2866 §5.1).
type AcctStatus uint32

// Accounting record types.
const (
	AcctStart   AcctStatus = 1
	AcctStop    AcctStatus = 2
	AcctInterim AcctStatus = 3 // Interim-Update (RFC 2869 §5.1)
)

// Terminate causes (RFC 2866 §5.10) secgw reports.
const (
	CauseUserRequest    = 1
	CauseLostService    = 3
	CauseIdleTimeout    = 4
	CauseAdminReset     = 6
	CauseNASRequest     = 10
	CauseNASReboot      = 11
	CauseSessionTimeout = 5
)

// Record is one accounting record of an IKE SA.
type Record struct {
	Status AcctStatus
	// SessionID is Acct-Session-Id: the same in the Start, the
	// Interim-Updates and the Stop of one IKE SA (RFC 2866 §5.5).
	SessionID string
	UserName  string
	// FramedIP and FramedIPv6 are the virtual IPs of the SA, if any.
	FramedIP, FramedIPv6 netip.Addr
	Calling, Called      netip.Addr
	// Class is echoed from the Access-Accept (RFC 2865 §5.25).
	Class [][]byte
	// Counters of the SA's child SAs (Interim and Stop only): input is
	// what the peer sent us.
	InOctets, OutOctets, InPackets, OutPackets uint64
	// Duration is Acct-Session-Time (Interim and Stop).
	Duration time.Duration
	// Cause is Acct-Terminate-Cause (Stop only; 0 leaves it out).
	Cause uint32
}

// NewSessionID returns a fresh Acct-Session-Id.
func NewSessionID() string { return newSessionID() }

// Account sends an Accounting-Request and waits for its
// Accounting-Response (RFC 2866 §4), with the same servers, timeouts and
// failover as authentication, on the accounting ports.
func (c *Client) Account(ctx context.Context, r Record) error {
	if r.SessionID == "" {
		return errors.New("radius: accounting record without a session id")
	}
	reply, _, err := c.exchange(ctx, lr.CodeAccountingRequest, func(p *lr.Packet) error {
		if err := c.identify(p, r.UserName, r.Calling, r.Called); err != nil {
			return err
		}
		p.Attributes.Add(typeAcctStatusType, lr.NewInteger(uint32(r.Status)))
		p.Attributes.Add(typeAcctSessionID, lr.Attribute(r.SessionID))
		if r.FramedIP.Is4() {
			a := r.FramedIP.As4()
			p.Attributes.Add(typeFramedIPAddress, lr.Attribute(a[:]))
		}
		if r.FramedIPv6.Is6() {
			a := r.FramedIPv6.As16()
			p.Attributes.Add(typeFramedIPv6Address, lr.Attribute(a[:]))
		}
		for _, cl := range r.Class {
			p.Attributes.Add(typeClass, lr.Attribute(cl))
		}
		if r.Status != AcctStart {
			// RFC 2869 §5.1, §5.2: 32-bit counters with the wraps in
			// the Gigawords attributes.
			p.Attributes.Add(typeAcctInputOctets, lr.NewInteger(uint32(r.InOctets)))
			p.Attributes.Add(typeAcctInputGigawords, lr.NewInteger(uint32(r.InOctets>>32)))
			p.Attributes.Add(typeAcctOutputOctets, lr.NewInteger(uint32(r.OutOctets)))
			p.Attributes.Add(typeAcctOutputGigawords, lr.NewInteger(uint32(r.OutOctets>>32)))
			p.Attributes.Add(typeAcctInputPackets, lr.NewInteger(uint32(min(r.InPackets, 1<<32-1))))
			p.Attributes.Add(typeAcctOutputPackets, lr.NewInteger(uint32(min(r.OutPackets, 1<<32-1))))
			p.Attributes.Add(typeAcctSessionTime, lr.NewInteger(uint32(r.Duration/time.Second)))
		}
		if r.Status == AcctStop && r.Cause != 0 {
			p.Attributes.Add(typeAcctTerminateCause, lr.NewInteger(r.Cause))
		}
		return nil
	})
	if err != nil {
		return err
	}
	if reply.Code != lr.CodeAccountingResponse {
		return fmt.Errorf("radius: unexpected reply code %v to an Accounting-Request", reply.Code)
	}
	return nil
}
