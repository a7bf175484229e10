package transport

import (
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"secgw/internal/rpcerr"
)

type parsedError struct {
	Type     string `xml:"error-type"`
	Tag      string `xml:"error-tag"`
	Severity string `xml:"error-severity"`
	AppTag   string `xml:"error-app-tag"`
	Path     string `xml:"error-path"`
	Message  struct {
		Lang string `xml:"http://www.w3.org/XML/1998/namespace lang,attr"`
		Text string `xml:",chardata"`
	} `xml:"error-message"`
	Info struct {
		Inner string `xml:",innerxml"`
	} `xml:"error-info"`
}

func TestAppendRPCError(t *testing.T) {
	msg := "bad <value> & \"quotes\" 'single'\x01\xff end"
	b := AppendRPCError(nil, &rpcerr.Error{Type: rpcerr.TypeApplication, Tag: rpcerr.TagInvalidValue, AppTag: "ipsec-app-tag",
		Path: "/ipsec/sa[name='a&b']", Message: msg,
		Info: map[string]string{"bad-element": "spi<1>", "bad-attribute": "x", "1bad": "dropped", "a:b": "dropped"}})
	var e parsedError
	if err := xml.Unmarshal(b, &e); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	if e.Type != "application" || e.Tag != "invalid-value" || e.Severity != "error" || e.AppTag != "ipsec-app-tag" ||
		e.Path != "/ipsec/sa[name='a&b']" || e.Message.Lang != "en" {
		t.Fatalf("parsed %+v from %s", e, b)
	}
	// Control characters and invalid UTF-8 become U+FFFD; the rest survives.
	if want := "bad <value> & \"quotes\" 'single'\uFFFD\uFFFD end"; e.Message.Text != want {
		t.Fatalf("message %q, want %q", e.Message.Text, want)
	}
	if want := "<bad-attribute>x</bad-attribute><bad-element>spi&lt;1&gt;</bad-element>"; e.Info.Inner != want {
		t.Fatalf("error-info %q, want %q", e.Info.Inner, want)
	}
	// Optional elements are omitted.
	min := string(AppendRPCError(nil, &rpcerr.Error{Type: rpcerr.TypeProtocol, Tag: rpcerr.TagLockDenied, Severity: rpcerr.SeverityWarning}))
	if want := "<rpc-error><error-type>protocol</error-type><error-tag>lock-denied</error-tag>" +
		"<error-severity>warning</error-severity></rpc-error>"; min != want {
		t.Fatalf("got %s\nwant %s", min, want)
	}
}

// TestRPCErrorInfoXML: error-info carries Info, then InfoXML verbatim.
func TestRPCErrorInfoXML(t *testing.T) {
	e := &rpcerr.Error{Type: rpcerr.TypeProtocol, Tag: rpcerr.TagLockDenied, Message: "held", Info: map[string]string{"session-id": "4"},
		InfoXML: []byte(`<x xmlns="urn:x"/>`)}
	if got := string(AppendRPCError(nil, e)); !strings.Contains(got, `<error-info><session-id>4</session-id><x xmlns="urn:x"/></error-info>`) {
		t.Fatalf("AppendRPCError = %s", got)
	}
}

func TestParseRPC(t *testing.T) {
	msg := []byte(`<?xml version="1.0" encoding="UTF-8"?>
<!-- leading comment -->
<nc:rpc xmlns:nc="` + NSBase + `" message-id="a&amp;b" xmlns:ex="urn:ex" ex:note="x&#10;y">
  <ex:set-sa xmlns:nc2="urn:ex2"><ex:spi>42</ex:spi></ex:set-sa>
</nc:rpc>
`)
	rpc, perr := parseRPC(msg)
	if perr != nil {
		t.Fatal(perr)
	}
	if rpc.MessageID != "a&b" || rpc.Operation != (xml.Name{Space: "urn:ex", Local: "set-sa"}) {
		t.Fatalf("rpc %+v", rpc)
	}
	if want := `<ex:set-sa xmlns:nc2="urn:ex2"><ex:spi>42</ex:spi></ex:set-sa>`; string(rpc.Body) != want {
		t.Fatalf("body %q, want %q", rpc.Body, want)
	}
	var op struct {
		XMLName xml.Name `xml:"urn:ex set-sa"`
		SPI     int      `xml:"urn:ex spi"`
	}
	if err := rpc.Decode(&op); err != nil || op.SPI != 42 {
		t.Fatalf("Decode: %+v, %v", op, err)
	}
	// The reply echoes the attributes with their prefixes; the default
	// namespace is the base one; values are re-escaped losslessly.
	reply := string(replyMessage(rpc.Attrs, []byte("<ok/>")))
	want := `<rpc-reply xmlns="` + NSBase + `" xmlns:nc="` + NSBase + `" message-id="a&amp;b" xmlns:ex="urn:ex" ex:note="x&#xA;y"><ok/></rpc-reply>`
	if reply != want {
		t.Fatalf("reply\n%s\nwant\n%s", reply, want)
	}
	var back struct {
		Note string `xml:"urn:ex note,attr"`
	}
	if err := xml.Unmarshal([]byte(reply), &back); err != nil || back.Note != "x\ny" {
		t.Fatalf("echoed attribute %q, %v", back.Note, err)
	}
	// A default namespace other than the base one is not echoed.
	if got := string(replyMessage([]xml.Attr{{Name: xml.Name{Local: "xmlns"}, Value: "urn:other"}}, nil)); got != `<rpc-reply xmlns="`+NSBase+`"></rpc-reply>` {
		t.Fatalf("got %s", got)
	}
}

func TestParseHello(t *testing.T) {
	caps, err := parseHello([]byte(helloMsg(CapBase10, " "+CapBase11+"\n", testCap)))
	if err != nil {
		t.Fatal(err)
	}
	if len(caps) != 3 || caps[1] != CapBase11 || caps[2] != testCap {
		t.Fatalf("capabilities %q", caps)
	}
	for _, bad := range []string{
		`<hello xmlns="` + NSBase + `"><capabilities><capability>` + CapBase10 + `</capability></capabilities><session-id>1</session-id></hello>`,
		helloMsg("urn:ietf:params:netconf:base:1.2"),
		helloMsg(CapBase10) + "<x/>",
		`<hello xmlns="` + NSBase + `"><capabilities><capability>` + CapBase10 + `</capabilities></hello>`,
	} {
		if _, err := parseHello([]byte(bad)); err == nil || !strings.HasPrefix(err.Error(), "netconf: ") {
			t.Errorf("%s: err = %v", bad, err)
		}
	}
}

func TestHelloMessage(t *testing.T) {
	msg := helloMessage(4294967295, []string{testCap, CapBase11, "", testCap})
	var h serverHello
	if err := xml.Unmarshal(msg, &h); err != nil {
		t.Fatalf("%s: %v", msg, err)
	}
	if h.SessionID != 4294967295 || len(h.Capabilities) != 3 || h.Capabilities[0] != CapBase10 ||
		h.Capabilities[1] != CapBase11 || h.Capabilities[2] != testCap {
		t.Fatalf("hello %+v from %s", h, msg)
	}
}

func TestNotificationMessage(t *testing.T) {
	at := time.Date(2024, 5, 6, 7, 8, 9, 120000000, time.FixedZone("x", 3600))
	got := string(notificationMessage(at, []byte(`<sa-up xmlns="urn:ex"/>`)))
	want := `<notification xmlns="` + NSNotification + `"><eventTime>2024-05-06T06:08:09.12Z</eventTime><sa-up xmlns="urn:ex"/></notification>`
	if got != want {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}
