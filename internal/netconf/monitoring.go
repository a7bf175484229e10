package netconf

import (
	"bytes"
	"encoding/xml"

	"secgw/internal/xmlcodec"
)

// NSYangLibrary is the namespace of modules-state (RFC 7895, kept by RFC
// 8525 for NETCONF clients that look for it).
const NSYangLibrary = "urn:ietf:params:xml:ns:yang:ietf-yang-library"

// monitoring returns the state <get> adds for clients that discover
// modules: ietf-netconf-monitoring's schemas list (RFC 6022 §2.1.3), which
// get-schema serves, and ietf-yang-library's modules-state (RFC 7895 §2.2,
// RFC 8525 §1) with submodules. A filter receives them only when its top
// level names them; an absent filter receives them always.
func (srv *Server) monitoring(f *xmlcodec.Filter) []byte {
	wantSchemas, wantModules := f == nil, f == nil
	if f != nil {
		for _, n := range f.Nodes {
			switch n.Name {
			case "netconf-state":
				wantSchemas = true
			case "modules-state":
				wantModules = true
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
			esc(src.Namespace)
			b.WriteString(`</namespace><location>NETCONF</location></schema>`)
		}
		b.WriteString(`</schemas></netconf-state>`)
	}
	if wantModules {
		b.WriteString(`<modules-state xmlns="` + NSYangLibrary + `"><module-set-id>secgw-`)
		for _, src := range srcs {
			if src.Name == "secgw-ike" {
				esc(src.Revision)
			}
		}
		b.WriteString(`</module-set-id>`)
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
				if sub.Submodule && len(sub.Name) > len(src.Name) && sub.Name[:len(src.Name)+1] == src.Name+"-" {
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
	return b.Bytes()
}
