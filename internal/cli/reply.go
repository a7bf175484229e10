package cli

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// RPCError is one <rpc-error> of a reply (RFC 6241 §4.3).
type RPCError struct {
	Type, Tag, Severity, AppTag, Path, Message string
	// Info holds the error-info children by name (bad-element,
	// bad-attribute, session-id...).
	Info map[string]string
}

// Error returns the server's message, with the path (in the CLI's
// syntax) and the bad element when the message does not already say
// them.
func (e *RPCError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = e.Tag
	}
	if e.Path != "" && !strings.Contains(msg, e.Path) {
		// The operator reads paths as typed: "/ vrf main ike vpn hq",
		// not the instance identifier of error-path.
		if p := cliPath(e.Path); p != "" {
			if !strings.Contains(msg, p) {
				msg = p + ": " + msg
			}
		} else {
			msg += " (at " + e.Path + ")"
		}
	}
	if be := e.Info["bad-element"]; be != "" && !strings.Contains(msg, be) {
		msg += " (bad element " + be + ")"
	}
	return "cli: " + msg
}

// RPCErrors are the errors of one reply, at least one.
type RPCErrors []*RPCError

// Error joins the messages, one per line.
func (es RPCErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
		if i > 0 {
			lines[i] = strings.TrimPrefix(lines[i], "cli: ")
		}
	}
	return strings.Join(lines, "\n")
}

// Has reports whether one of the errors has error-tag tag.
func (es RPCErrors) Has(tag string) bool {
	for _, e := range es {
		if e.Tag == tag {
			return true
		}
	}
	return false
}

// reply is a parsed <rpc-reply>.
type reply struct {
	// Body is the content of <rpc-reply> (an RPC's output elements).
	Body []byte
	// Data is the content of <data>, when the reply has one, keeping only
	// the top-level elements in the namespaces of data (see keep).
	Data []byte
	// Errors are the rpc-errors of severity error; warnings are dropped.
	Errors RPCErrors
}

// maxDepthXML bounds the nesting the reply parser accepts.
const maxDepthXML = 128

// parseReply reads one <rpc-reply> message. keep reports whether a
// top-level element of <data> in namespace ns is wanted (nil keeps all):
// the CLI decodes only the data modules and skips, say,
// ietf-netconf-monitoring's state. Bad input is an error, never a panic.
func parseReply(msg []byte, keep func(ns string) bool) (*reply, error) {
	d := xml.NewDecoder(bytes.NewReader(msg))
	r := &reply{}
	var stack []xml.Name
	var bodyStart, elemStart int64 = -1, -1
	dataState := 0 // 0 before <data>, 1 inside, 2 after
	var cur *RPCError
	var field string // error child being read
	var infoName string
	var text strings.Builder
	elemKeep := false
	var elemDecls []xml.Attr // decls minus the prefixes the element declares
	// Prefixed namespace declarations of <rpc-reply> and <data>, which the
	// data elements cut out of the message would lose.
	var decls []xml.Attr
	for {
		before := d.InputOffset()
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("cli: bad reply: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			stack = append(stack, t.Name)
			if len(stack) > maxDepthXML {
				return nil, fmt.Errorf("cli: bad reply: nested too deep")
			}
			depth := len(stack)
			if depth <= 2 {
				for _, a := range t.Attr {
					if a.Name.Space == "xmlns" {
						decls = append(decls, a)
					}
				}
			}
			switch {
			case depth == 1:
				if t.Name.Local != "rpc-reply" || t.Name.Space != NSBase {
					return nil, fmt.Errorf("cli: bad reply: <%s> is not an rpc-reply", t.Name.Local)
				}
				bodyStart = d.InputOffset()
			case depth == 2 && t.Name.Space == NSBase && t.Name.Local == "rpc-error":
				cur = &RPCError{Info: map[string]string{}}
			case depth == 2 && t.Name.Space == NSBase && t.Name.Local == "data" && dataState == 0:
				dataState = 1
				r.Data = []byte{}
			case depth == 3 && dataState == 1:
				elemStart = before
				elemKeep = keep == nil || keep(t.Name.Space)
				elemDecls = elemDecls[:0]
				for _, a := range decls {
					own := false
					for _, b := range t.Attr {
						own = own || b.Name.Space == "xmlns" && b.Name.Local == a.Name.Local
					}
					if !own {
						elemDecls = append(elemDecls, a)
					}
				}
			case depth == 3 && cur != nil:
				field = t.Name.Local
				text.Reset()
			case depth == 4 && cur != nil && field == "error-info":
				infoName = t.Name.Local
				text.Reset()
			}
		case xml.CharData:
			if cur != nil && len(stack) >= 3 {
				text.Write(t)
			}
		case xml.EndElement:
			depth := len(stack)
			stack = stack[:depth-1]
			switch {
			case depth == 1:
				r.Body = append([]byte{}, bytes.TrimSpace(msg[bodyStart:before])...)
			case depth == 2 && cur != nil:
				if cur.Severity != "warning" {
					r.Errors = append(r.Errors, cur)
				}
				cur = nil
			case depth == 2 && dataState == 1:
				dataState = 2
			case depth == 3 && elemStart >= 0:
				if elemKeep {
					r.Data = append(r.Data, withDecls(msg[elemStart:d.InputOffset()], elemDecls)...)
				}
				elemStart = -1
			case depth == 3 && cur != nil:
				cur.set(field, strings.TrimSpace(text.String()))
				field = ""
			case depth == 4 && cur != nil && infoName != "":
				cur.Info[infoName] = strings.TrimSpace(text.String())
				infoName = ""
			}
		}
	}
	if r.Body == nil {
		return nil, fmt.Errorf("cli: bad reply: no rpc-reply")
	}
	return r, nil
}

func (e *RPCError) set(field, v string) {
	switch field {
	case "error-type":
		e.Type = v
	case "error-tag":
		e.Tag = v
	case "error-severity":
		e.Severity = v
	case "error-app-tag":
		e.AppTag = v
	case "error-path":
		e.Path = v
	case "error-message":
		e.Message = v
	}
}

// withDecls returns element elem (its bytes, from '<') with the namespace
// declarations decls added to its start tag, so that it reads the same
// once cut out of its ancestors (decls leaves out the prefixes the
// element declares itself).
func withDecls(elem []byte, decls []xml.Attr) []byte {
	if len(decls) == 0 {
		return elem
	}
	i := 1
	for i < len(elem) && !strings.ContainsRune(" \t\r\n/>", rune(elem[i])) {
		i++
	}
	var b bytes.Buffer
	b.Write(elem[:i])
	for _, a := range decls {
		b.WriteString(" xmlns:" + a.Name.Local + `="`)
		_ = xml.EscapeText(&b, []byte(a.Value))
		b.WriteByte('"')
	}
	b.Write(elem[i:])
	return b.Bytes()
}
