package transport

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"runtime"
	"secgw/internal/netconf/framing"
	"sync"
	"sync/atomic"
	"time"
)

// Limits bound what clients can make the server hold: memory for
// messages, sessions, connections that have not authenticated yet, and
// password checks. NewServer replaces every zero field by its
// default; a negative value lifts that limit.
type Limits struct {
	// MaxSessionsPerUser limits the concurrent NETCONF sessions of one
	// user name (DefaultMaxSessionsPerUser), so that one account cannot
	// take every session of Config.MaxSessions. It also bounds the
	// channels of one SSH connection, and the user's authenticated
	// connections to twice as many.
	MaxSessionsPerUser int
	// MaxBuffered is the memory, in bytes, that all sessions together may
	// hold in messages being received or handled (DefaultMaxBuffered),
	// beyond a reserve of 64 KiB per session for small requests.
	// Config.MaxMessageSize bounds one message; this bounds their sum. A
	// session whose message would go over it gets a resource-denied
	// rpc-error and is closed: its stream cannot be resynchronised.
	MaxBuffered int64
	// MaxDepth is the deepest element nesting a message may have
	// (DefaultMaxDepth); MaxElements the most elements it may have
	// (DefaultMaxElements). A message over either is answered with
	// too-big before any XML decoder sees it: decoders keep state per
	// open element, so unclosed tags cost a hundred times their size.
	MaxDepth    int
	MaxElements int

	// MaxUnauthenticated is the number of connections that may be in the
	// SSH handshake or authentication at once
	// (DefaultMaxUnauthenticated). A new connection over it closes the
	// oldest such connection, so that a flood of idle connections never
	// keeps a new login out.
	MaxUnauthenticated int
	// MaxUnauthenticatedPerSource is that number for one source address
	// (an IPv4 address, or an IPv6 /64); a new connection over it is
	// closed at once (DefaultMaxUnauthenticatedPerSource).
	MaxUnauthenticatedPerSource int
	// BusyAuthTimeout replaces Config.HelloTimeout for the handshake and
	// authentication of every unauthenticated connection once half of
	// MaxUnauthenticated are in use (DefaultBusyAuthTimeout).
	BusyAuthTimeout time.Duration

	// AuthFreeFailures is the number of failed password authentications
	// from one source (or for one user) before the penalty starts
	// (DefaultAuthFreeFailures).
	AuthFreeFailures int
	// AuthFailureDelay is the first penalty: for that long after a
	// failure beyond AuthFreeFailures, password attempts from the source
	// are refused without a check; it doubles with every further failure
	// up to AuthMaxDelay (DefaultAuthFailureDelay, DefaultAuthMaxDelay).
	// A user name over its free failures is refused in the same way, but
	// only to sources that have failed themselves, so that an attack on
	// a user name does not lock its owner out. Failures are forgotten
	// after AuthForget without one (DefaultAuthForget).
	AuthFailureDelay time.Duration
	AuthMaxDelay     time.Duration
	AuthForget       time.Duration
	// MaxConcurrentAuth bounds the password checks (bcrypt) running at
	// once (DefaultMaxConcurrentAuth: the number of CPUs); one of them is
	// kept for sources without recent failures. A check that waits
	// AuthQueueTimeout for its turn is refused (DefaultAuthQueueTimeout).
	MaxConcurrentAuth int
	AuthQueueTimeout  time.Duration
}

// Defaults of Limits, sized for an appliance managed by a few operators
// and their automation.
const (
	DefaultMaxSessionsPerUser          = 16
	DefaultMaxBuffered                 = 64 << 20
	DefaultMaxDepth                    = 128
	DefaultMaxElements                 = 1 << 20
	DefaultMaxUnauthenticated          = 256
	DefaultMaxUnauthenticatedPerSource = 16
	DefaultBusyAuthTimeout             = 5 * time.Second
	DefaultAuthFreeFailures            = 5
	DefaultAuthFailureDelay            = time.Second
	DefaultAuthMaxDelay                = 5 * time.Minute
	DefaultAuthForget                  = 15 * time.Minute
	DefaultAuthQueueTimeout            = 5 * time.Second
)

// DefaultMaxMessageSize is the default Config.MaxMessageSize: the framing
// readers' own default.
const DefaultMaxMessageSize = framing.DefaultMaxMessageSize

// DefaultMaxConcurrentAuth is the default Limits.MaxConcurrentAuth.
func DefaultMaxConcurrentAuth() int { return max(2, runtime.NumCPU()) }

// withDefaults fills the zero fields and turns negative ones into "no
// limit".
func (l Limits) withDefaults() Limits {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&l.MaxSessionsPerUser, DefaultMaxSessionsPerUser)
	if l.MaxBuffered == 0 {
		l.MaxBuffered = DefaultMaxBuffered
	}
	def(&l.MaxDepth, DefaultMaxDepth)
	def(&l.MaxElements, DefaultMaxElements)
	def(&l.MaxUnauthenticated, DefaultMaxUnauthenticated)
	def(&l.MaxUnauthenticatedPerSource, DefaultMaxUnauthenticatedPerSource)
	defDur(&l.BusyAuthTimeout, DefaultBusyAuthTimeout)
	def(&l.AuthFreeFailures, DefaultAuthFreeFailures)
	defDur(&l.AuthFailureDelay, DefaultAuthFailureDelay)
	defDur(&l.AuthMaxDelay, DefaultAuthMaxDelay)
	defDur(&l.AuthForget, DefaultAuthForget)
	def(&l.MaxConcurrentAuth, DefaultMaxConcurrentAuth())
	defDur(&l.AuthQueueTimeout, DefaultAuthQueueTimeout)
	return l
}

// ErrBudgetExhausted is returned by a framing reader when the message
// being read would take the server over Limits.MaxBuffered.
var ErrBudgetExhausted = errors.New("netconf: the server's memory for incoming messages is exhausted")

// budget is the memory all sessions may hold in messages (MaxBuffered).
type budget struct {
	limit int64 // < 0: none
	used  atomic.Int64
}

func (b *budget) take(n int64) bool {
	if b.limit < 0 {
		b.used.Add(n)
		return true
	}
	for {
		u := b.used.Load()
		if u+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (b *budget) give(n int64) { b.used.Add(-n) }

// sessionReserve is what each session may hold in messages without
// drawing on the shared budget: small requests (a <get>, a <commit>) of
// one session never fail because others hold the budget. It adds at most
// MaxSessions times itself to MaxBuffered.
const sessionReserve = 64 << 10

// account is one session's share of the budget: what its readers have
// allocated for messages not yet handled, the first sessionReserve of it
// its own. Release returns a handled message's share; close returns
// whatever is left when the session ends. The session's reader and its
// handler use it concurrently.
type account struct {
	b    *budget
	mu   sync.Mutex
	held int64 // of which max(0, held-sessionReserve) is from b
}

// fromBudget is the part of held bytes drawn from the shared budget.
func fromBudget(held int64) int64 { return max(0, held-sessionReserve) }

// charge takes n bytes for the session, or reports false when the shared
// budget cannot give its part.
func (a *account) charge(n int) bool {
	if a == nil || n <= 0 {
		return true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if d := fromBudget(a.held+int64(n)) - fromBudget(a.held); d > 0 && !a.b.take(d) {
		return false
	}
	a.held += int64(n)
	return true
}

// release returns n bytes charged before.
func (a *account) release(n int) {
	if a == nil || n <= 0 {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.b.give(fromBudget(a.held) - fromBudget(a.held-int64(n)))
	a.held -= int64(n)
}

// Charge takes n bytes for the session's framing reader, or fails with
// ErrBudgetExhausted when the shared budget cannot give its part.
func (a *account) Charge(n int) error {
	if !a.charge(n) {
		return ErrBudgetExhausted
	}
	return nil
}

// close returns everything the session still holds.
func (a *account) close() {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.b.give(fromBudget(a.held))
	a.held = 0
}

// holding returns what the session holds.
func (a *account) holding() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.held
}

// shapeError is a message that is too deep or has too many elements.
type shapeError struct{ detail string }

func (e *shapeError) Error() string { return "netconf: " + e.detail }

// checkShape counts the elements and the nesting depth of msg with a scan
// that allocates nothing, and fails when either is over its limit (< 0:
// none). It recognises comments, CDATA sections, processing instructions
// and quoted attribute values, so that a '<' or '>' inside them is not
// taken for markup; whether msg is well-formed is left to the decoder.
func checkShape(msg []byte, maxDepth, maxElems int) error {
	depth, elems := 0, 0
	for i := 0; i < len(msg); {
		j := bytes.IndexByte(msg[i:], '<')
		if j < 0 {
			break
		}
		i += j + 1
		rest := msg[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("!--")):
			i = skipPast(msg, i+3, "-->")
		case bytes.HasPrefix(rest, []byte("![CDATA[")):
			i = skipPast(msg, i+8, "]]>")
		case bytes.HasPrefix(rest, []byte("?")):
			i = skipPast(msg, i+1, "?>")
		case bytes.HasPrefix(rest, []byte("!")):
			i = skipPast(msg, i+1, ">")
		case bytes.HasPrefix(rest, []byte("/")):
			i = skipPast(msg, i+1, ">")
			if depth > 0 {
				depth--
			}
		default:
			end, selfClosing := scanStartTag(msg, i)
			i = end
			elems++
			if maxElems >= 0 && elems > maxElems {
				return &shapeError{fmt.Sprintf("message has more than %d elements", maxElems)}
			}
			if !selfClosing {
				depth++
				if maxDepth >= 0 && depth > maxDepth {
					return &shapeError{fmt.Sprintf("message nests elements deeper than %d", maxDepth)}
				}
			}
		}
	}
	return nil
}

// skipPast returns the index just after the first end at or after i, or
// len(msg).
func skipPast(msg []byte, i int, end string) int {
	if i > len(msg) {
		return len(msg)
	}
	k := bytes.Index(msg[i:], []byte(end))
	if k < 0 {
		return len(msg)
	}
	return i + k + len(end)
}

// scanStartTag returns the index just after the '>' of the start tag
// whose name begins at i, skipping quoted attribute values, and whether
// the tag ends with "/>".
func scanStartTag(msg []byte, i int) (int, bool) {
	var quote byte
	for ; i < len(msg); i++ {
		c := msg[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return i + 1, i > 0 && msg[i-1] == '/'
		}
	}
	return len(msg), false
}

// rootRPCAttrs returns the attributes of msg's root element when it is an
// <rpc>, found without decoding the rest of msg, so that a refused
// message's reply still carries its message-id (RFC 6241 §4.2).
func rootRPCAttrs(msg []byte) []xml.Attr {
	for i := 0; i < len(msg); {
		j := bytes.IndexByte(msg[i:], '<')
		if j < 0 {
			return nil
		}
		start := i + j
		i = start + 1
		rest := msg[i:]
		switch {
		case bytes.HasPrefix(rest, []byte("!--")):
			i = skipPast(msg, i+3, "-->")
		case bytes.HasPrefix(rest, []byte("?")):
			i = skipPast(msg, i+1, "?>")
		case bytes.HasPrefix(rest, []byte("!")), bytes.HasPrefix(rest, []byte("/")):
			return nil
		default:
			end, _ := scanStartTag(msg, i)
			tok, err := xml.NewDecoder(bytes.NewReader(msg[start:end])).RawToken()
			if err != nil {
				return nil
			}
			if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "rpc" {
				return se.Attr
			}
			return nil
		}
	}
	return nil
}
