package transport

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Namespaces and base capabilities (RFC 6241 §3.1 and §8.1, RFC 5277).
const (
	// NSBase is the NETCONF base namespace of hello, rpc and rpc-reply.
	NSBase = "urn:ietf:params:xml:ns:netconf:base:1.0"
	// NSNotification is the namespace of the RFC 5277 notification element.
	NSNotification = "urn:ietf:params:xml:ns:netconf:notification:1.0"
	// CapBase10 is the base:1.0 capability (end-of-message framing).
	CapBase10 = "urn:ietf:params:netconf:base:1.0"
	// CapBase11 is the base:1.1 capability (chunked framing).
	CapBase11 = "urn:ietf:params:netconf:base:1.1"
)

// RPC is one <rpc> request as received (RFC 6241 §4.1).
type RPC struct {
	// MessageID is the value of the message-id attribute.
	MessageID string
	// Attrs are all attributes of the <rpc> element as written, including
	// namespace declarations, in document order. Name.Space holds the
	// prefix as written ("xmlns" for xmlns:foo), not a namespace URI. The
	// transport echoes them on the <rpc-reply> (RFC 6241 §4.2).
	Attrs []xml.Attr
	// Operation is the name of the operation element, with Space holding
	// its namespace URI, e.g. {NSBase, "get-config"}.
	Operation xml.Name
	// Body is the operation element exactly as received, from its start
	// tag through its end tag. Namespace prefixes declared on <rpc> are not
	// declared inside it; use Decode to parse it with them in scope.
	Body []byte
	// Raw is the whole message.
	Raw []byte
}

// Decode unmarshals the operation element into v with encoding/xml, with
// the namespace declarations of the <rpc> element in scope.
func (r *RPC) Decode(v any) error {
	d := xml.NewDecoder(bytes.NewReader(r.Raw))
	depth := 0
	for {
		tok, err := d.Token()
		if err != nil {
			return fmt.Errorf("netconf: decoding %s: %w", r.Operation.Local, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 2 {
				return d.DecodeElement(v, &t)
			}
		case xml.EndElement:
			depth--
		}
	}
}

// messageError is why an incoming message could not be dispatched.
type messageError struct {
	missingID bool   // the rpc lacks message-id (else: malformed message)
	detail    string // for error-message and logs
}

// Error returns the reason prefixed with "netconf: ".
func (e *messageError) Error() string { return "netconf: " + e.detail }

func malformed(format string, args ...any) *messageError {
	return &messageError{detail: fmt.Sprintf(format, args...)}
}

func isSpace(b []byte) bool { return len(bytes.TrimSpace(b)) == 0 }

// errXMLDecl is an XML declaration anywhere but at the start of a message.
var errXMLDecl = errors.New("an XML declaration (<?xml ...?>) may only open the message (XML 1.0 §2.8); " +
	"a processing instruction named xml elsewhere is not well-formed (§2.6 reserves the name)")

// checkPI refuses a processing instruction whose target is xml (in any
// case) unless it is the first token of the message: XML 1.0 §2.8 puts
// the XML declaration at the very beginning of the document and §2.6
// reserves the target for it, and encoding/xml accepts it anywhere. first
// allows white space before it, which base:1.0 framing may leave between
// messages.
func checkPI(t xml.ProcInst, first bool) error {
	if !first && strings.EqualFold(t.Target, "xml") {
		return errXMLDecl
	}
	return nil
}

// openDocument checks the prolog of msg (an XML declaration first if any,
// then white space, comments and processing instructions only; no DTD)
// and returns a decoder positioned after the root start tag, that tag,
// and the offset at which it starts.
func openDocument(msg []byte) (*xml.Decoder, xml.StartElement, int64, error) {
	d := xml.NewDecoder(bytes.NewReader(msg))
	first := true // no token but white space yet
	for {
		off := d.InputOffset()
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil, xml.StartElement{}, 0, errors.New("no root element")
		}
		if err != nil {
			return nil, xml.StartElement{}, 0, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return d, t.Copy(), off, nil
		case xml.CharData:
			if !isSpace(t) {
				return nil, xml.StartElement{}, 0, errors.New("text before the root element")
			}
			continue
		case xml.ProcInst:
			if err := checkPI(t, first); err != nil {
				return nil, xml.StartElement{}, 0, err
			}
		case xml.Directive:
			return nil, xml.StartElement{}, 0, errors.New("DTDs and directives are not allowed")
		}
		first = false
	}
}

// skip is xml.Decoder.Skip (the rest of the element whose start tag was
// just read) refusing an XML declaration on the way.
func skip(d *xml.Decoder) error {
	for depth := 1; depth > 0; {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		case xml.ProcInst:
			if err := checkPI(t, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// closeDocument checks that nothing but white space, comments and
// processing instructions follow the root element.
func closeDocument(d *xml.Decoder) error {
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.ProcInst:
			if err := checkPI(t, false); err != nil {
				return err
			}
		case xml.StartElement:
			return errors.New("more than one root element")
		case xml.CharData:
			if !isSpace(t) {
				return errors.New("text after the root element")
			}
		case xml.Directive:
			return errors.New("DTDs and directives are not allowed")
		}
	}
}

// parseRPC parses one message that should be an <rpc>. On a missing
// message-id it returns the RPC (for its attributes) with the error.
func parseRPC(msg []byte) (*RPC, *messageError) {
	d, root, rootStart, err := openDocument(msg)
	if err != nil {
		return nil, malformed("not well-formed XML: %v", err)
	}
	if root.Name.Space != NSBase || root.Name.Local != "rpc" {
		return nil, malformed("expected <rpc> in namespace %s, got <%s> in namespace %q",
			NSBase, root.Name.Local, root.Name.Space)
	}
	attrs, err := rawAttrs(msg[rootStart:d.InputOffset()])
	if err != nil {
		return nil, malformed("bad <rpc> start tag: %v", err)
	}
	var op xml.Name
	var opStart, opEnd int64
	nops := 0
children:
	for {
		off := d.InputOffset()
		tok, err := d.Token()
		if err != nil {
			return nil, malformed("not well-formed XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			nops++
			op, opStart = t.Name, off
			if err := skip(d); err != nil {
				return nil, malformed("not well-formed XML: %v", err)
			}
			opEnd = d.InputOffset()
		case xml.EndElement:
			break children
		case xml.CharData:
			if !isSpace(t) {
				return nil, malformed("text directly inside <rpc>")
			}
		case xml.ProcInst:
			if err := checkPI(t, false); err != nil {
				return nil, malformed("not well-formed XML: %v", err)
			}
		case xml.Directive:
			return nil, malformed("DTDs and directives are not allowed")
		}
	}
	if err := closeDocument(d); err != nil {
		return nil, malformed("not well-formed XML: %v", err)
	}
	rpc := &RPC{Attrs: attrs, Raw: msg}
	id, ok := attrValue(attrs, "message-id")
	if !ok {
		return rpc, &messageError{missingID: true, detail: "<rpc> has no message-id attribute"}
	}
	rpc.MessageID = id
	switch nops {
	case 0:
		return rpc, malformed("<rpc> contains no operation element")
	case 1:
	default:
		return rpc, malformed("<rpc> contains %d operation elements, want 1", nops)
	}
	rpc.Operation = op
	rpc.Body = msg[opStart:opEnd]
	return rpc, nil
}

// rawAttrs returns the attributes of a start tag with prefixes as
// written, rejecting duplicates.
func rawAttrs(tag []byte) ([]xml.Attr, error) {
	tok, err := xml.NewDecoder(bytes.NewReader(tag)).RawToken()
	if err != nil {
		return nil, err
	}
	se, ok := tok.(xml.StartElement)
	if !ok {
		return nil, errors.New("not a start tag")
	}
	seen := make(map[xml.Name]bool, len(se.Attr))
	for _, a := range se.Attr {
		if seen[a.Name] {
			return nil, fmt.Errorf("duplicate attribute %s", qname(a.Name))
		}
		seen[a.Name] = true
	}
	return se.Attr, nil
}

func attrValue(attrs []xml.Attr, local string) (string, bool) {
	for _, a := range attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

func qname(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// parseHello checks a client <hello> (RFC 6241 §8.1) and returns its
// capabilities: it must be well-formed, carry no session-id and advertise
// a base capability.
func parseHello(msg []byte) ([]string, error) {
	d, root, _, err := openDocument(msg)
	if err != nil {
		return nil, fmt.Errorf("netconf: client hello is not well-formed XML: %w", err)
	}
	if root.Name.Space != NSBase || root.Name.Local != "hello" {
		return nil, fmt.Errorf("netconf: expected <hello> in namespace %s, got <%s> in namespace %q",
			NSBase, root.Name.Local, root.Name.Space)
	}
	var caps []string
	var path []string // local names below <hello>
	var text strings.Builder
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, fmt.Errorf("netconf: client hello is not well-formed XML: %w", err)
		}
		if _, ok := tok.(xml.EndElement); ok && len(path) == 0 {
			break
		}
		switch t := tok.(type) {
		case xml.ProcInst:
			if err := checkPI(t, false); err != nil {
				return nil, fmt.Errorf("netconf: client hello is not well-formed XML: %w", err)
			}
		case xml.StartElement:
			path = append(path, t.Name.Local)
			if len(path) == 1 && t.Name.Local == "session-id" {
				return nil, errors.New("netconf: client hello contains a session-id")
			}
			text.Reset()
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			if len(path) == 2 && path[0] == "capabilities" && path[1] == "capability" {
				if c := strings.TrimSpace(text.String()); c != "" {
					caps = append(caps, c)
				}
			}
			path = path[:len(path)-1]
		}
	}
	if err := closeDocument(d); err != nil {
		return nil, fmt.Errorf("netconf: client hello is not well-formed XML: %w", err)
	}
	if !hasCap(caps, CapBase10) && !hasCap(caps, CapBase11) {
		return nil, errors.New("netconf: client hello advertises no base capability")
	}
	return caps, nil
}

func hasCap(caps []string, c string) bool {
	for _, x := range caps {
		if x == c {
			return true
		}
	}
	return false
}

// helloMessage builds the server <hello>: base:1.0, base:1.1 and caps
// (deduplicated, empty ones dropped), and the session-id.
func helloMessage(id uint32, caps []string) []byte {
	b := []byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b = append(b, `<hello xmlns="`+NSBase+`"><capabilities>`...)
	seen := map[string]bool{}
	for _, c := range append([]string{CapBase10, CapBase11}, caps...) {
		c = strings.TrimSpace(c)
		if c == "" || seen[c] {
			continue
		}
		seen[c] = true
		b = appendElem(b, "capability", c)
	}
	b = append(b, "</capabilities><session-id>"...)
	b = strconv.AppendUint(b, uint64(id), 10)
	return append(b, "</session-id></hello>"...)
}

// replyMessage wraps body in an <rpc-reply> carrying the attributes of the
// request (RFC 6241 §4.2). A default namespace declaration is not echoed:
// the reply and the unprefixed elements of body are always in NSBase.
func replyMessage(attrs []xml.Attr, body []byte) []byte {
	b := make([]byte, 0, len(body)+128)
	b = append(b, `<rpc-reply xmlns="`+NSBase+`"`...)
	for _, a := range attrs {
		if a.Name.Space == "" && a.Name.Local == "xmlns" {
			continue
		}
		b = append(b, ' ')
		b = append(b, qname(a.Name)...)
		b = append(b, `="`...)
		b = appendEscaped(b, a.Value, true)
		b = append(b, '"')
	}
	b = append(b, '>')
	b = append(b, body...)
	return append(b, "</rpc-reply>"...)
}

// notificationMessage wraps an event in an RFC 5277 <notification>.
func notificationMessage(t time.Time, event []byte) []byte {
	b := make([]byte, 0, len(event)+160)
	b = append(b, `<notification xmlns="`+NSNotification+`"><eventTime>`...)
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, "</eventTime>"...)
	b = append(b, event...)
	return append(b, "</notification>"...)
}
