package ncclient

import (
	"errors"
	"io"
	"net"
	"secgw/internal/netconf/framing"
	"strings"
	"testing"
	"testing/iotest"

	gonetconf "github.com/Juniper/go-netconf/netconf"
)

// The reply the fake server sends: long enough to be split in chunks.
const chunkedData = `<vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name><description>a vrf whose description is long enough to span several chunks</description></vrf>`

// fakeServer speaks just enough NETCONF on conn: its hello with base:1.1,
// the client's hello, then for each request one reply split in chunks of
// at most chunk bytes (RFC 6242 §4.2 lets a sender cut a message
// anywhere).
func fakeServer(t *testing.T, conn net.Conn, chunk int) {
	t.Helper()
	scriptedServer(t, conn, chunk, func(id string) []string {
		return []string{`<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="` + id + `"><data>` + chunkedData + `</data></rpc-reply>`}
	})
}

// scriptedServer is fakeServer sending, for each request, the messages
// answer returns for its message-id.
func scriptedServer(t *testing.T, conn net.Conn, chunk int, answer func(id string) []string) {
	t.Helper()
	go func() {
		defer conn.Close()
		hello := `<?xml version="1.0" encoding="UTF-8"?><hello xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability><capability>urn:ietf:params:netconf:base:1.1</capability></capabilities><session-id>7</session-id></hello>`
		if err := framing.NewEOMWriter(conn).WriteMessage([]byte(hello)); err != nil {
			return
		}
		r := framing.NewEOMReader(conn, 0)
		if _, err := r.ReadMessage(); err != nil {
			return
		}
		cr := framing.NewChunkedReader(conn, 0)
		w := framing.NewChunkedWriter(conn)
		w.MaxChunk = chunk
		for {
			req, err := cr.ReadMessage()
			if err != nil {
				return
			}
			id := ""
			if i := strings.Index(string(req), `message-id="`); i >= 0 {
				rest := string(req)[i+len(`message-id="`):]
				id = rest[:strings.IndexByte(rest, '"')]
			}
			for _, m := range answer(id) {
				if err := w.WriteMessage([]byte(m)); err != nil {
					return
				}
			}
		}
	}()
}

// TestStockReaderBreaksOnChunks documents the go-netconf v0.3.1 bug the
// package works around: with its own TransportBasicIO, a reply in several
// chunks reaches the caller with the chunk headers inside the XML.
func TestStockReaderBreaksOnChunks(t *testing.T) {
	client, srv := net.Pipe()
	fakeServer(t, srv, 16)
	sess := gonetconf.NewSession(&gonetconf.TransportBasicIO{ReadWriteCloser: client})
	defer sess.Close()
	reply, err := sess.Exec(gonetconf.RawMethod(`<get/>`))
	if err == nil && !strings.Contains(reply.Data, "\n#16\n") {
		t.Fatalf("go-netconf read a chunked reply correctly (%q): the workaround in transport may be dropped", reply.Data)
	}
}

// TestTransportChunks reads replies split in chunks of every size
// from 1 byte, arriving one byte per read: the data comes out whole.
func TestTransportChunks(t *testing.T) {
	for _, chunk := range []int{1, 2, 3, 7, 16, 100, 0} {
		client, srv := net.Pipe()
		fakeServer(t, srv, chunk)
		s, err := NewSession(iotest.OneByteReader(client), client, client)
		if err != nil {
			t.Fatal(err)
		}
		if s.SessionID != 7 {
			t.Errorf("session id %d", s.SessionID)
		}
		for range 2 {
			reply, err := s.Exec(gonetconf.RawMethod(`<get/>`))
			if err != nil {
				t.Fatalf("chunk %d: %v", chunk, err)
			}
			if data := reply.Data; data != "<data>"+chunkedData+"</data>" {
				t.Fatalf("chunk %d: got %q", chunk, data)
			}
		}
		client.Close()
	}
}

// TestTransportBadHello fails the session, where go-netconf ignores
// the error of the hello it could not read.
func TestTransportBadHello(t *testing.T) {
	client, srv := net.Pipe()
	go func() {
		io.WriteString(srv, "<hello xmlns=\"urn:ietf:params:xml:ns:netconf:base:1.0\"><capabilities/></hello>]]>]]>")
		io.Copy(io.Discard, srv)
	}()
	if _, err := NewSession(client, client, client); err == nil || !strings.Contains(err.Error(), "hello") {
		t.Fatalf("got %v, want a hello error", err)
	}
	client.Close()
	srv.Close()
}

// TestReplyMatching skips a notification that arrives before the reply,
// refuses a reply to another request, and returns every rpc-error of a
// reply through Do.
func TestReplyMatching(t *testing.T) {
	const notif = `<notification xmlns="urn:ietf:params:xml:ns:netconf:notification:1.0"><eventTime>2026-01-01T00:00:00Z</eventTime><x/></notification>`
	const errs = `<rpc-error><error-type>application</error-type><error-tag>invalid-value</error-tag><error-severity>error</error-severity><error-message>one</error-message></rpc-error>` +
		`<rpc-error><error-type>application</error-type><error-tag>invalid-value</error-tag><error-severity>error</error-severity><error-message>two</error-message></rpc-error>`
	n := 0
	client, srv := net.Pipe()
	defer client.Close()
	scriptedServer(t, srv, 0, func(id string) []string {
		n++
		switch n {
		case 1:
			return []string{notif, `<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="` + id + `"><ok/></rpc-reply>`}
		case 2:
			return []string{`<nc:rpc-reply xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="` + id + `">` + strings.ReplaceAll(strings.ReplaceAll(errs, "<", "<nc:"), "<nc:/", "</nc:") + `</nc:rpc-reply>`}
		default:
			return []string{`<rpc-reply xmlns="urn:ietf:params:xml:ns:netconf:base:1.0" message-id="not-` + id + `"><ok/></rpc-reply>`}
		}
	})
	s, err := NewSession(client, client, client)
	if err != nil {
		t.Fatal(err)
	}
	if msg, err := s.Do(`<commit/>`); err != nil || !strings.Contains(string(msg), "<ok/>") {
		t.Fatalf("after a notification: %q, %v", msg, err)
	}
	msg, err := s.Do(`<commit/>`)
	var re *gonetconf.RPCError
	if !errors.As(err, &re) || re.Message != "one" || !strings.Contains(string(msg), "two</nc:error-message>") {
		t.Fatalf("two rpc-errors: %q, %v", msg, err)
	}
	if msg, err := s.Do(`<commit/>`); err == nil || msg != nil || !strings.Contains(err.Error(), "message-id") {
		t.Fatalf("a reply to another request: %q, %v", msg, err)
	}
}
