package netconf

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"

	"secgw/internal/schema"
	"secgw/internal/xmlcodec"
)

// NSYangLibrary is the namespace of modules-state (RFC 7895, kept by RFC
// 8525 for NETCONF clients that look for it).
const NSYangLibrary = "urn:ietf:params:xml:ns:yang:ietf-yang-library"

// YangLibraryRevision is the revision of ietf-yang-library the server
// implements: RFC 8525's, which keeps RFC 7895's modules-state (as
// deprecated) beside yang-library, and the server fills both.
const YangLibraryRevision = "2019-01-04"

// libraryID identifies the module set: a digest of every module and
// submodule served (name, revision and text), so that it changes whenever
// what get-schema returns does, and a client that cached the library
// (RFC 7950 §5.6.4, RFC 8525 §3) reads it again. It is both the
// module-set-id of modules-state and the content-id of yang-library.
func libraryID(s *schema.Schema) string {
	h := sha256.New()
	for _, src := range s.Sources() {
		for _, f := range []string{src.Name, src.Revision, src.Text} {
			fmt.Fprintf(h, "%d:%s", len(f), f)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// NSConfig is the namespace of secgw-config (history and rollback).
const NSConfig = "urn:secgw:yang:secgw-config"

// monitoring returns the state <get> adds for clients that discover
// modules: ietf-netconf-monitoring's schemas list (RFC 6022 §2.1.3), which
// get-schema serves, and ietf-yang-library's modules-state (RFC 7895 §2.2,
// RFC 8525 §1) with submodules. A filter receives them only when its top
// level names them; an absent filter receives them always.
func (srv *Server) monitoring(f *xmlcodec.Filter) []byte {
	wantSchemas, wantModules, wantLibrary, wantHistory := f == nil, f == nil, f == nil, f == nil
	if f != nil {
		for _, n := range f.Nodes {
			switch n.Name {
			case "netconf-state":
				wantSchemas = true
			case "modules-state":
				wantModules = true
			case "yang-library":
				wantLibrary = true
			case "config-history":
				wantHistory = true
			}
		}
	}
	var b bytes.Buffer
	esc := func(s string) { _ = xml.EscapeText(&b, []byte(s)) }
	srcs := srv.cfg.Schema.Sources()
	if wantSchemas {
		b.WriteString(`<netconf-state xmlns="` + NSMonitoring + `"><schemas>`)
		for _, src := range srcs {
			b.WriteString(`<schema><identifier>`)
			esc(src.Name)
			b.WriteString(`</identifier><version>`)
			esc(src.Revision)
			b.WriteString(`</version><format>yang</format><namespace>`)
			// RFC 6022's namespace is mandatory: a submodule's is its
			// module's (the one its name extends, as below).
			ns := src.Namespace
			for _, m := range srcs {
				if src.Submodule && !m.Submodule && strings.HasPrefix(src.Name, m.Name+"-") {
					ns = m.Namespace
				}
			}
			esc(ns)
			b.WriteString(`</namespace><location>NETCONF</location></schema>`)
		}
		b.WriteString(`</schemas></netconf-state>`)
	}
	if wantModules {
		b.WriteString(`<modules-state xmlns="` + NSYangLibrary + `"><module-set-id>` + srv.libraryID + `</module-set-id>`)
		for _, src := range srcs {
			if src.Submodule {
				continue
			}
			b.WriteString(`<module><name>`)
			esc(src.Name)
			b.WriteString(`</name><revision>`)
			esc(src.Revision)
			b.WriteString(`</revision><namespace>`)
			esc(src.Namespace)
			b.WriteString(`</namespace><conformance-type>implement</conformance-type>`)
			for _, sub := range srcs {
				if sub.Submodule && strings.HasPrefix(sub.Name, src.Name+"-") {
					b.WriteString(`<submodule><name>`)
					esc(sub.Name)
					b.WriteString(`</name><revision>`)
					esc(sub.Revision)
					b.WriteString(`</revision></submodule>`)
				}
			}
			b.WriteString(`</module>`)
		}
		b.WriteString(`</modules-state>`)
	}
	if wantLibrary {
		// RFC 8525 §3: one module set, one schema, used by both datastores.
		b.WriteString(`<yang-library xmlns="` + NSYangLibrary + `" xmlns:ds="urn:ietf:params:xml:ns:yang:ietf-datastores"><module-set><name>secgw</name>`)
		for _, src := range srcs {
			if src.Submodule {
				continue
			}
			tag := "import-only-module"
			if src.Name != "ietf-inet-types" && src.Name != "ietf-yang-types" && src.Name != "secgw-types" {
				tag = "module"
			}
			b.WriteString(`<` + tag + `><name>`)
			esc(src.Name)
			b.WriteString(`</name><revision>`)
			esc(src.Revision)
			b.WriteString(`</revision><namespace>`)
			esc(src.Namespace)
			b.WriteString(`</namespace>`)
			for _, sub := range srcs {
				if sub.Submodule && strings.HasPrefix(sub.Name, src.Name+"-") {
					b.WriteString(`<submodule><name>`)
					esc(sub.Name)
					b.WriteString(`</name><revision>`)
					esc(sub.Revision)
					b.WriteString(`</revision></submodule>`)
				}
			}
			b.WriteString(`</` + tag + `>`)
		}
		b.WriteString(`</module-set><schema><name>secgw</name><module-set>secgw</module-set></schema>` +
			`<datastore><name>ds:running</name><schema>secgw</schema></datastore>` +
			`<datastore><name>ds:candidate</name><schema>secgw</schema></datastore>` +
			`<datastore><name>ds:startup</name><schema>secgw</schema></datastore>` +
			`<datastore><name>ds:operational</name><schema>secgw</schema></datastore>` +
			`<content-id>` + srv.libraryID + `</content-id></yang-library>`)
	}
	if wantHistory {
		b.WriteString(`<config-history xmlns="` + NSConfig + `">`)
		for _, r := range srv.cfg.Store.History() {
			b.WriteString(`<commit><id>` + strconv.FormatUint(r.ID, 10) + `</id><time>` + r.Time.UTC().Format(time.RFC3339) + `</time><user>`)
			esc(r.User)
			b.WriteString(`</user><comment>`)
			esc(r.Comment)
			b.WriteString(`</comment><changes>` + strconv.Itoa(r.Changes) + `</changes></commit>`)
		}
		b.WriteString(`</config-history>`)
	}
	return b.Bytes()
}
