// Package schema is secgw's YANG schema at run time: the modules of yang/,
// parsed with goyang, bound to the Go structs ygot generated from them.
//
// Every consumer of configuration that needs more than the typed structs —
// the semantic validator, the NETCONF XML codec, the CLI (completion, help,
// `show config`) — goes through this package, so that they agree on names,
// keys, defaults, types and which nodes hold secrets.
package schema

import (
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"

	secgwyang "secgw/yang"
)

// Schema is the parsed YANG schema. It is immutable after Load and safe for
// concurrent use.
type Schema struct {
	// Root is a virtual entry above the top-level data nodes of every module
	// (today the vrf list), with augments applied.
	Root *yang.Entry
	// Modules holds the entry of each module, by module name, with its RPCs.
	Modules map[string]*yang.Entry
	// RPCs holds every RPC of every module, by RPC name.
	RPCs map[string]*yang.Entry
	// Notifications holds every notification of every module, by name.
	Notifications map[string]*yang.Entry

	sources map[string]Source
	binding *binder
}

// Source is the text of one YANG module or submodule, for get-schema
// (RFC 6022) and the YANG library (RFC 8525).
type Source struct {
	Name      string
	Revision  string
	Namespace string // empty for a submodule
	Submodule bool
	Text      string
}

// Load parses the embedded modules. It fails only if the modules themselves
// are broken, which tests catch; callers may treat an error as fatal.
func Load() (*Schema, error) {
	ms := yang.NewModules()
	s := &Schema{
		Modules:       map[string]*yang.Entry{},
		RPCs:          map[string]*yang.Entry{},
		Notifications: map[string]*yang.Entry{},
		sources:       map[string]Source{},
	}
	files, err := fs.Glob(secgwyang.FS, "*.yang")
	if err != nil {
		return nil, fmt.Errorf("schema: %w", err)
	}
	for _, f := range files {
		b, err := secgwyang.FS.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("schema: %w", err)
		}
		if err := ms.Parse(string(b), f); err != nil {
			return nil, fmt.Errorf("schema: parsing %s: %w", f, err)
		}
		name := strings.TrimSuffix(f, ".yang")
		s.sources[name] = Source{Name: name, Text: string(b)}
	}
	if errs := ms.Process(); len(errs) > 0 {
		return nil, fmt.Errorf("schema: %v", errs)
	}
	for name, src := range s.sources {
		if m, ok := ms.Modules[name]; ok {
			src.Namespace = m.Namespace.Name
			if len(m.Revision) > 0 {
				src.Revision = m.Revision[0].Name
			}
		} else if sm, ok := ms.SubModules[name]; ok {
			src.Submodule = true
			if len(sm.Revision) > 0 {
				src.Revision = sm.Revision[0].Name
			}
		}
		s.sources[name] = src
	}

	s.Root = &yang.Entry{Name: "", Kind: yang.DirectoryEntry, Dir: map[string]*yang.Entry{}}
	for _, name := range secgwyang.Modules {
		m, ok := ms.Modules[name]
		if !ok {
			return nil, fmt.Errorf("schema: module %s is missing", name)
		}
		e := yang.ToEntry(m)
		if errs := e.GetErrors(); len(errs) > 0 {
			return nil, fmt.Errorf("schema: module %s: %v", name, errs)
		}
		s.Modules[name] = e
		for cname, c := range e.Dir {
			if c.RPC != nil {
				s.RPCs[cname] = c
				continue
			}
			if c.Kind == yang.NotificationEntry {
				s.Notifications[cname] = c
				continue
			}
			s.Root.Dir[cname] = c
		}
	}
	seen := map[*yang.Entry]bool{}
	for _, e := range s.Modules {
		applyRefines(e, seen)
	}
	b, err := newBinder(s.Root)
	if err != nil {
		return nil, err
	}
	s.binding = b
	return s, nil
}

// Sources lists the text of every module and submodule, sorted by name.
func (s *Schema) Sources() []Source {
	out := make([]Source, 0, len(s.sources))
	for _, src := range s.sources {
		out = append(out, src)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Find returns the data node at the given schema path of node names
// ("vrf", "ike", "vpn"), or nil.
func (s *Schema) Find(names ...string) *yang.Entry {
	e := s.Root
	for _, n := range names {
		e = Child(e, n)
		if e == nil {
			return nil
		}
	}
	return e
}

// Child returns the data child of e named name, looking through choices and
// cases (which are schema-only nodes, RFC 7950 §7.9), or nil.
func Child(e *yang.Entry, name string) *yang.Entry {
	if e == nil || e.Dir == nil {
		return nil
	}
	if c, ok := e.Dir[name]; ok && !c.IsChoice() && !c.IsCase() {
		return c
	}
	for _, c := range e.Dir {
		if c.IsChoice() || c.IsCase() {
			if d := Child(c, name); d != nil {
				return d
			}
		}
	}
	return nil
}

// DataChildren returns the data children of e (choices and cases flattened),
// sorted by name, with the keys of a list first in key order.
func DataChildren(e *yang.Entry) []*yang.Entry {
	var out []*yang.Entry
	var add func(d *yang.Entry)
	add = func(d *yang.Entry) {
		for _, c := range d.Dir {
			if c.IsChoice() || c.IsCase() {
				add(c)
				continue
			}
			out = append(out, c)
		}
	}
	add(e)
	keys := KeyNames(e)
	rank := func(n string) int {
		for i, k := range keys {
			if k == n {
				return i
			}
		}
		return len(keys)
	}
	sort.Slice(out, func(i, j int) bool {
		ri, rj := rank(out[i].Name), rank(out[j].Name)
		if ri != rj {
			return ri < rj
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// KeyNames returns the key leaf names of a list entry, in order.
func KeyNames(e *yang.Entry) []string {
	if e == nil || e.Key == "" {
		return nil
	}
	return strings.Fields(e.Key)
}

// IsSecret reports whether the node carries the secgw-types:secret
// extension: it holds key material that readers without the right to see
// secrets never get, and that logs show only at level 4.
func IsSecret(e *yang.Entry) bool {
	for _, x := range e.Exts {
		kw := x.Keyword
		if i := strings.IndexByte(kw, ':'); i >= 0 {
			kw = kw[i+1:]
		}
		if kw == "secret" {
			return true
		}
	}
	return false
}

// IsConfig reports whether e is configuration (not config false), looking
// up the tree as RFC 7950 §7.21.1 says.
func IsConfig(e *yang.Entry) bool {
	for ; e != nil; e = e.Parent {
		switch e.Config {
		case yang.TSFalse:
			return false
		case yang.TSTrue:
			return true
		}
	}
	return true
}

// Path returns the schema path of e as "/vrf/ike/vpn", without prefixes,
// choices and cases: the form ygot uses to index its enum types.
func Path(e *yang.Entry) string {
	var parts []string
	// The module entry (Parent nil) is not part of the path.
	for ; e != nil && e.Parent != nil; e = e.Parent {
		if e.IsChoice() || e.IsCase() {
			continue
		}
		parts = append(parts, e.Name)
	}
	var b strings.Builder
	for i := len(parts) - 1; i >= 0; i-- {
		b.WriteByte('/')
		b.WriteString(parts[i])
	}
	return b.String()
}
