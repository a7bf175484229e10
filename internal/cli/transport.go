package cli

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"secgw/internal/netconf/framing"
	"sync"

	gonetconf "github.com/Juniper/go-netconf/netconf"
)

// framedTransport is the transport the CLI gives go-netconf's Session in
// place of the library's own TransportBasicIO, whose reader is wrong for
// base:1.1 (RFC 6242 §4.2): it returns everything before the first
// "\n##\n" with the chunk headers left in, so a reply the server sends as
// several chunks reaches the XML parser with "\n#<size>\n" inside element
// content or tags; a reply whose text contains "\n##\n" is cut there;
// the end marker is searched only in the last two reads, so a marker
// split across more reads is missed; and bytes after the marker are
// dropped. Here both framings are read with the framing readers of
// internal/netconf/transport, which the server uses too: end-of-message
// for the hellos (RFC 6242 §4.1, and base:1.0 sessions), chunks after
// both sides announced base:1.1. go-netconf still runs the session: the
// hello exchange, the choice of framing, <rpc> and message-id.
type framedTransport struct {
	br      *bufio.Reader
	w       io.Writer
	closer  io.Closer
	eom     *framing.EOMReader
	chunked *framing.ChunkedReader
	version string

	mu       sync.Mutex
	last     []byte // the last message received, unframed
	helloErr error
}

// maxReply bounds a reply: far above any configuration of the model
// (the 10k-VPN concentrator is ~6 MB of XML).
const maxReply = 256 << 20

// newFramedTransport reads from r and writes to w; closer ends the
// session (the SSH channel and connection).
func newFramedTransport(r io.Reader, w io.Writer, closer io.Closer) *framedTransport {
	// One buffered reader shared by both framing readers: the switch of
	// framing after the hellos must not lose read-ahead bytes.
	br := bufio.NewReaderSize(r, 64<<10)
	return &framedTransport{
		br: br, w: w, closer: closer,
		eom:     framing.NewEOMReader(br, maxReply),
		chunked: framing.NewChunkedReader(br, maxReply),
		version: "v1.0",
	}
}

// Send frames and writes one message.
func (t *framedTransport) Send(msg []byte) error {
	var mw framing.MessageWriter = framing.NewEOMWriter(t.w)
	if t.version == "v1.1" {
		mw = framing.NewChunkedWriter(t.w)
	}
	if err := mw.WriteMessage(msg); err != nil {
		return fmt.Errorf("cli: netconf send: %w", err)
	}
	return nil
}

// Receive reads one message in the session's framing.
func (t *framedTransport) Receive() ([]byte, error) {
	var mr framing.MessageReader = t.eom
	if t.version == "v1.1" {
		mr = t.chunked
	}
	msg, err := mr.ReadMessage()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("cli: the server closed the session")
		}
		return nil, fmt.Errorf("cli: netconf receive: %w", err)
	}
	t.mu.Lock()
	t.last = msg
	t.mu.Unlock()
	return msg, nil
}

// clearLast forgets the last message, before a request.
func (t *framedTransport) clearLast() {
	t.mu.Lock()
	t.last = nil
	t.mu.Unlock()
}

// lastMessage returns the last message received.
func (t *framedTransport) lastMessage() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

// ReceiveHello reads the server's hello, always in end-of-message framing
// (RFC 6242 §4.1). go-netconf ignores this error; the transport keeps it
// for dial to report.
func (t *framedTransport) ReceiveHello() (*gonetconf.HelloMessage, error) {
	hello := &gonetconf.HelloMessage{}
	msg, err := t.eom.ReadMessage()
	if err == nil {
		err = xml.Unmarshal(msg, hello)
	}
	if err == nil && len(hello.Capabilities) == 0 {
		err = fmt.Errorf("the server's hello has no capabilities")
	}
	if err != nil {
		err = fmt.Errorf("cli: netconf hello: %w", err)
		t.mu.Lock()
		t.helloErr = err
		t.mu.Unlock()
	}
	return hello, err
}

// SendHello writes the client's hello in end-of-message framing.
func (t *framedTransport) SendHello(h *gonetconf.HelloMessage) error {
	b, err := xml.Marshal(h)
	if err != nil {
		return err
	}
	return framing.NewEOMWriter(t.w).WriteMessage(append([]byte(xml.Header), b...))
}

// SetVersion switches framing: "v1.1" is chunked.
func (t *framedTransport) SetVersion(v string) { t.version = v }

// Close ends the session.
func (t *framedTransport) Close() error {
	if t.closer == nil {
		return nil
	}
	return t.closer.Close()
}

var _ gonetconf.Transport = (*framedTransport)(nil)
