package ncclient

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"sync"

	gonetconf "github.com/Juniper/go-netconf/netconf"

	"secgw/internal/netconf/framing"
)

// nsNotification is the namespace of the RFC 5277 <notification>.
const nsNotification = "urn:ietf:params:xml:ns:netconf:notification:1.0"

// transport is the gonetconf.Transport a Session runs over, in place of
// the library's own TransportBasicIO, whose reader is wrong for base:1.1
// (RFC 6242 §4.2): it returns everything before the first "\n##\n" with
// the chunk headers left in, so a reply the server sends as several
// chunks reaches the XML parser with "\n#<size>\n" inside element
// content or tags; a reply whose text contains "\n##\n" is cut there;
// the end marker is searched only in the last two reads, so a marker
// split across more reads is missed; and bytes after the marker are
// dropped. Here both framings are read and written by
// internal/netconf/framing, which the server uses too: end-of-message for
// the hellos (RFC 6242 §4.1, and base:1.0 sessions), chunks after both
// sides announced base:1.1. The transport also keeps the last reply
// whole (go-netconf returns only the first rpc-error, and no reply with
// it), checks that a reply answers the request just sent (message-id,
// RFC 6241 §4.2), skips notifications, and keeps the error of a hello it
// could not read (go-netconf ignores it).
type transport struct {
	w       io.Writer
	closer  io.Closer
	eom     *framing.EOMReader
	chunked *framing.ChunkedReader
	version string
	sentID  string // message-id of the last request sent

	mu       sync.Mutex
	last     []byte // the last message received, unframed
	helloErr error
}

// maxReply bounds a reply: far above any configuration of the model
// (the 10k-VPN concentrator is ~6 MB of XML).
const maxReply = 256 << 20

// newTransport reads from r and writes to w; closer ends the session
// (the SSH channel and connection).
func newTransport(r io.Reader, w io.Writer, closer io.Closer) *transport {
	// One buffered reader shared by both framing readers: the switch of
	// framing after the hellos must not lose read-ahead bytes.
	br := bufio.NewReaderSize(r, 64<<10)
	return &transport{
		w: w, closer: closer,
		eom:     framing.NewEOMReader(br, maxReply),
		chunked: framing.NewChunkedReader(br, maxReply),
		version: "v1.0",
	}
}

// Send frames and writes one message.
func (t *transport) Send(msg []byte) error {
	var mw framing.MessageWriter = framing.NewEOMWriter(t.w)
	if t.version == "v1.1" {
		mw = framing.NewChunkedWriter(t.w)
	}
	_, t.sentID = root(msg)
	if err := mw.WriteMessage(msg); err != nil {
		return fmt.Errorf("netconf send: %w", err)
	}
	return nil
}

// Receive reads the reply to the last request in the session's framing,
// skipping notifications.
func (t *transport) Receive() ([]byte, error) {
	var mr framing.MessageReader = t.eom
	if t.version == "v1.1" {
		mr = t.chunked
	}
	for {
		msg, err := mr.ReadMessage()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, errors.New("the server closed the session")
			}
			return nil, fmt.Errorf("netconf receive: %w", err)
		}
		name, id := root(msg)
		if name == (xml.Name{Space: nsNotification, Local: "notification"}) {
			continue
		}
		// A reply without message-id answers a request the server could
		// not parse (RFC 6241 App. A, malformed-message).
		if id != "" && t.sentID != "" && id != t.sentID {
			return nil, fmt.Errorf("netconf receive: a reply to message-id %q, want %q", id, t.sentID)
		}
		t.mu.Lock()
		t.last = msg
		t.mu.Unlock()
		return msg, nil
	}
}

// root returns the name and message-id attribute of msg's root element,
// zero if msg does not start with one.
func root(msg []byte) (xml.Name, string) {
	d := xml.NewDecoder(bytes.NewReader(msg))
	for {
		tok, err := d.RawToken()
		if err != nil {
			return xml.Name{}, ""
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		name, id := xml.Name{Local: se.Name.Local}, ""
		for _, a := range se.Attr {
			switch {
			case a.Name.Space == "" && a.Name.Local == "message-id":
				id = a.Value
			case a.Name.Space == "" && a.Name.Local == "xmlns" && se.Name.Space == "",
				a.Name.Space == "xmlns" && a.Name.Local == se.Name.Space:
				name.Space = a.Value
			}
		}
		return name, id
	}
}

// clearLast forgets the last message, before a request.
func (t *transport) clearLast() {
	t.mu.Lock()
	t.last = nil
	t.mu.Unlock()
}

// lastMessage returns the last message received.
func (t *transport) lastMessage() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.last
}

// ReceiveHello reads the server's hello, always in end-of-message framing
// (RFC 6242 §4.1). go-netconf ignores this error; the transport keeps it
// for NewSession to report.
func (t *transport) ReceiveHello() (*gonetconf.HelloMessage, error) {
	hello := &gonetconf.HelloMessage{}
	msg, err := t.eom.ReadMessage()
	if err == nil {
		err = xml.Unmarshal(msg, hello)
	}
	if err == nil && len(hello.Capabilities) == 0 {
		err = fmt.Errorf("the server's hello has no capabilities")
	}
	if err != nil {
		err = fmt.Errorf("netconf hello: %w", err)
		t.mu.Lock()
		t.helloErr = err
		t.mu.Unlock()
	}
	return hello, err
}

// SendHello writes the client's hello in end-of-message framing.
func (t *transport) SendHello(h *gonetconf.HelloMessage) error {
	b, err := xml.Marshal(h)
	if err != nil {
		return err
	}
	return framing.NewEOMWriter(t.w).WriteMessage(append([]byte(xml.Header), b...))
}

// SetVersion switches framing: "v1.1" is chunked.
func (t *transport) SetVersion(v string) { t.version = v }

// Close ends the session.
func (t *transport) Close() error {
	if t.closer == nil {
		return nil
	}
	return t.closer.Close()
}

var _ gonetconf.Transport = (*transport)(nil)
