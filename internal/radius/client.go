package radius

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lr "layeh.com/radius"
)

// Attribute types used here (RFC 2865 §5, RFC 2866 §5, RFC 2868 §3.5,
// RFC 2869 §5, RFC 3579 §3, RFC 6911 §3).
const (
	typeUserName             = 1
	typeUserPassword         = 2
	typeNASIPAddress         = 4
	typeServiceType          = 6
	typeFramedIPAddress      = 8
	typeReplyMessage         = 18
	typeState                = 24
	typeClass                = 25
	typeVendorSpecific       = 26
	typeCalledStationID      = 30
	typeCallingStationID     = 31
	typeNASIdentifier        = 32
	typeAcctStatusType       = 40
	typeAcctInputOctets      = 42
	typeAcctOutputOctets     = 43
	typeAcctSessionID        = 44
	typeAcctSessionTime      = 46
	typeAcctInputPackets     = 47
	typeAcctOutputPackets    = 48
	typeAcctTerminateCause   = 49
	typeAcctInputGigawords   = 52
	typeAcctOutputGigawords  = 53
	typeNASPortType          = 61
	typeTunnelPassword       = 69
	typeEAPMessage           = 79
	typeMessageAuthenticator = 80
	typeFramedIPv6Address    = 168
	typeDNSServerIPv6Address = 169

	vendorMicrosoft      = 311
	msMPPESendKey        = 16
	msMPPERecvKey        = 17
	msPrimaryDNSServer   = 28
	msSecondaryDNSServer = 29

	nasPortTypeVirtual = 5 // RFC 2865 §5.41
)

// Default ports (RFC 2865 §3, RFC 2866 §3) and server timing.
const (
	DefaultAuthPort = 1812
	DefaultAcctPort = 1813
	DefaultTimeout  = 3 * time.Second
	DefaultRetries  = 2
)

// Server is one RADIUS server of the model.
type Server struct {
	// Addr is the server's address; AuthPort and AcctPort its ports
	// (0: the defaults).
	Addr               netip.Addr
	AuthPort, AcctPort uint16
	// Secret is the shared secret (RFC 2865 §3). Never log it.
	Secret []byte
	// Timeout is how long one try waits for the reply; Retries how many
	// times the request is sent again before the next server is tried.
	Timeout time.Duration
	Retries int
}

func (s Server) authAddr() string {
	return netip.AddrPortFrom(s.Addr, cmp0(s.AuthPort, DefaultAuthPort)).String()
}

func (s Server) acctAddr() string {
	return netip.AddrPortFrom(s.Addr, cmp0(s.AcctPort, DefaultAcctPort)).String()
}

func cmp0(v, d uint16) uint16 {
	if v == 0 {
		return d
	}
	return v
}

// Config is the client's configuration: the servers in the order they
// are tried, and who we are.
type Config struct {
	Servers []Server
	// NASIdentifier is sent in every request (RFC 2865 §5.32; a request
	// needs NAS-IP-Address or NAS-Identifier, §4.1).
	NASIdentifier string
}

// Client sends requests to the configured servers. A server that does
// not answer is skipped for the next requests too (failover): the next
// request starts at the server that answered last.
type Client struct {
	log *slog.Logger
	mu  sync.Mutex
	cfg Config
	cur int // the server to try first

	// Dropped counts the replies dropped because their authenticators
	// did not verify; Timeouts the tries that went unanswered.
	Dropped, Timeouts atomic.Uint64
}

// New returns a client of cfg, logging to log (nil: discarded).
func New(cfg Config, log *slog.Logger) *Client {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Client{cfg: cfg, log: log}
}

// SetConfig replaces the configuration; requests under way finish with
// the old one.
func (c *Client) SetConfig(cfg Config) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cfg, c.cur = cfg, 0
}

// Configured reports whether there is a server to ask.
func (c *Client) Configured() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.cfg.Servers) > 0
}

func (c *Client) snapshot() (Config, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg, c.cur
}

func (c *Client) answered(cfg Config, i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.cfg.Servers) == len(cfg.Servers) && i < len(c.cfg.Servers) && c.cfg.Servers[i].Addr == cfg.Servers[i].Addr {
		c.cur = i
	}
}

// ErrNoServer is returned (wrapped) when no configured server answered.
var ErrNoServer = errors.New("radius: no server answered")

// build makes the request packet for one server: its attributes are
// added by fill, which gets the packet (with its secret and Request
// Authenticator) so that it can encrypt User-Password.
type build func(p *lr.Packet) error

// exchange sends a request built by fill to the servers in turn, from
// the current one, and returns the first authentic reply with the
// server's secret and the request's authenticator.
func (c *Client) exchange(ctx context.Context, code lr.Code, fill build) (*lr.Packet, []byte, error) {
	cfg, start := c.snapshot()
	if len(cfg.Servers) == 0 {
		return nil, nil, fmt.Errorf("radius: no server configured")
	}
	var tried []string
	for k := range cfg.Servers {
		i := (start + k) % len(cfg.Servers)
		s := cfg.Servers[i]
		addr := s.authAddr()
		if code == lr.CodeAccountingRequest {
			addr = s.acctAddr()
		}
		reply, reqAuth, err := c.tryServer(ctx, s, addr, code, fill)
		if err == nil {
			if k > 0 {
				c.log.Warn("radius: failed over", "server", addr, "skipped", strings.Join(tried, ","))
			}
			c.answered(cfg, i)
			return reply, reqAuth, nil
		}
		if ctx.Err() != nil {
			return nil, nil, fmt.Errorf("radius: %s: %w", addr, ctx.Err())
		}
		c.log.Warn("radius: server did not answer", "server", addr, "err", err)
		tried = append(tried, addr)
	}
	return nil, nil, fmt.Errorf("%w (tried %s)", ErrNoServer, strings.Join(tried, ", "))
}

// tryServer sends the request to one server, Retries+1 times, each try
// waiting Timeout for an authentic reply; replies whose identifier or
// authenticators are wrong are dropped and logged.
func (c *Client) tryServer(ctx context.Context, s Server, addr string, code lr.Code, fill build) (*lr.Packet, []byte, error) {
	p := lr.New(code, s.Secret)
	if err := fill(p); err != nil {
		return nil, nil, err
	}
	wire, err := encodeRequest(p)
	if err != nil {
		return nil, nil, err
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "udp", addr)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	reqAuth := wire[4:20]
	buf := make([]byte, lr.MaxPacketLength)
	for try := 0; try <= max(s.Retries, 0); try++ {
		if _, err := conn.Write(wire); err != nil {
			return nil, nil, err
		}
		deadline := time.Now().Add(timeout)
		if dl, ok := ctx.Deadline(); ok && dl.Before(deadline) {
			deadline = dl
		}
		conn.SetReadDeadline(deadline)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					c.Timeouts.Add(1)
					if ctx.Err() != nil {
						return nil, nil, ctx.Err()
					}
					break // next try
				}
				// ICMP port unreachable and the like: this server is
				// not there.
				return nil, nil, err
			}
			reply, err := c.checkReply(buf[:n], wire, s.Secret, addr)
			if err != nil {
				continue
			}
			return reply, append([]byte(nil), reqAuth...), nil
		}
	}
	return nil, nil, fmt.Errorf("radius: no reply after %d tries of %v", max(s.Retries, 0)+1, timeout)
}

// checkReply parses a reply and checks that it answers req: same
// identifier, Response Authenticator (RFC 2865 §3, RFC 2866 §3) and
// Message-Authenticator (RFC 3579 §3.2).
func (c *Client) checkReply(b, req, secret []byte, addr string) (*lr.Packet, error) {
	if len(b) < 20 || b[1] != req[1] {
		c.Dropped.Add(1)
		c.log.Info("radius: dropping a reply that answers no request", "server", addr, "len", len(b))
		return nil, errors.New("radius: unmatched reply")
	}
	if !lr.IsAuthenticResponse(b, req, secret) {
		c.Dropped.Add(1)
		c.log.Warn("radius: dropping a reply with a wrong Response Authenticator (wrong shared secret, or forged)", "server", addr, "id", b[1])
		return nil, errors.New("radius: wrong Response Authenticator")
	}
	if err := checkMessageAuthenticator(b, req[4:20], secret); err != nil {
		c.Dropped.Add(1)
		c.log.Warn("radius: dropping a reply", "server", addr, "id", b[1], "err", err)
		return nil, err
	}
	p, err := lr.Parse(b, secret)
	if err != nil {
		c.Dropped.Add(1)
		c.log.Warn("radius: dropping a malformed reply", "server", addr, "err", err)
		return nil, err
	}
	return p, nil
}

// encodeRequest encodes a request; an Access-Request always gets a
// Message-Authenticator as its first attribute (RFC 3579 §3.2 requires
// it with EAP-Message; servers may require it on every Access-Request,
// and it costs nothing).
func encodeRequest(p *lr.Packet) ([]byte, error) {
	if p.Code != lr.CodeAccessRequest {
		return p.Encode()
	}
	p.Attributes = append(lr.Attributes{{Type: typeMessageAuthenticator, Attribute: make([]byte, 16)}}, p.Attributes...)
	b, err := p.Encode()
	if err != nil {
		return nil, err
	}
	ma := messageAuthenticator(b, b[4:20], 22, p.Secret)
	copy(b[22:38], ma)
	return b, nil
}

// newSessionID returns a random accounting session identifier.
func newSessionID() string {
	var b [8]byte
	rand.Read(b[:])
	return fmt.Sprintf("%x", b)
}
