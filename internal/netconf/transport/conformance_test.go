package transport

import (
	"strings"
	"testing"

	"secgw/internal/rpcerr"
)

// TestConformanceXMLDeclaration: the XML declaration may only open a
// document (XML 1.0 §2.8, "XMLDecl?" first in the prolog), and §2.6
// reserves the processing-instruction target xml, in any case, for it.
// encoding/xml takes one anywhere, so the transport refuses it: a message
// with one after the start is not well-formed.
func TestConformanceXMLDeclaration(t *testing.T) {
	rpc := func(inner string) string {
		return `<rpc message-id="1" xmlns="` + NSBase + `">` + inner + `</rpc>`
	}
	for _, c := range []struct {
		name, msg string
		ok        bool
	}{
		{"declaration first", `<?xml version="1.0" encoding="UTF-8"?>` + rpc(`<get/>`), true},
		{"white space, then the declaration", "\n  " + `<?xml version="1.0"?>` + rpc(`<get/>`), true},
		{"another processing instruction inside", rpc(`<?secgw note?><get><?other x?></get>`), true},
		{"a target that only starts with xml", rpc(`<get><?xml-stylesheet href="a"?></get>`), true},
		{"declaration inside rpc", rpc(`<?xml version="1.0"?><get/>`), false},
		{"declaration inside the operation", rpc(`<get><filter><?xml version="1.0"?></filter></get>`), false},
		{"declaration in text", rpc(`<get><filter>a<?xml version="1.0"?>b</filter></get>`), false},
		{"upper-case target", rpc(`<get><?XML version="1.0"?></get>`), false},
		{"mixed-case target", rpc(`<get/><?xMl version="1.0"?>`), false},
		{"declaration after a comment", `<!-- c --><?xml version="1.0"?>` + rpc(`<get/>`), false},
		{"two declarations", `<?xml version="1.0"?><?xml version="1.0"?>` + rpc(`<get/>`), false},
		{"declaration after the root", rpc(`<get/>`) + `<?xml version="1.0"?>`, false},
	} {
		_, perr := parseRPC([]byte(c.msg))
		switch {
		case c.ok && perr != nil:
			t.Errorf("%s: refused: %v", c.name, perr)
		case !c.ok && perr == nil:
			t.Errorf("%s: accepted", c.name)
		case !c.ok && !strings.Contains(perr.detail, "XML declaration"):
			t.Errorf("%s: refused for another reason: %v", c.name, perr)
		}
	}
	hello := helloMsg(CapBase11)
	if _, err := parseHello([]byte(hello)); err != nil {
		t.Fatalf("hello with a declaration first: %v", err)
	}
	bad := strings.Replace(hello, "<capabilities>", `<capabilities><?xml version="1.0"?>`, 1)
	if _, err := parseHello([]byte(bad)); err == nil || !strings.Contains(err.Error(), "XML declaration") {
		t.Errorf("hello with a declaration inside: %v", err)
	}
}

// TestConformanceXMLDeclarationReply: over a session, such a message gets
// malformed-message under base:1.1 (operation-failed under base:1.0,
// RFC 6241 Appendix A), the handler never sees it, and the session goes
// on.
func TestConformanceXMLDeclarationReply(t *testing.T) {
	for _, tc := range []struct {
		name string
		caps []string
		tag  string
	}{
		{"base 1.1", []string{CapBase10, CapBase11}, rpcerr.TagMalformedMessage},
		{"base 1.0", []string{CapBase10}, rpcerr.TagOperationFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, addr := startServer(t, Config{})
			c := dial(t, addr)
			c.sendHello(tc.caps...)
			r := wantError(t, c.rpc(`<get><?xml version="1.0" encoding="UTF-8"?></get>`), rpcerr.TypeRPC, tc.tag)
			if r.Probe != nil || !strings.Contains(r.Errors[0].Message, "XML declaration") {
				t.Errorf("reply %+v", r)
			}
			if r := parseReply(t, c.rpc("<get/>")); r.Probe == nil {
				t.Fatal("session unusable after the error")
			}
		})
	}
}
