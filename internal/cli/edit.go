// Package cli implements the vsr-style command language of secgw: the
// configuration mode's paths ("/ vrf main ike vpn hq remote-address
// 198.51.100.1"), and, later, the operational commands.
package cli

import (
	"fmt"
	"sort"
	"strings"

	"secgw/generated"
	"secgw/internal/schema"
)

// Editor applies configuration-mode commands to a configuration tree.
type Editor struct {
	S *schema.Schema
}

// Set applies the words of one configuration line, relative to the
// position base (nil is the root; a first word "/" restarts from the
// root). Words walk the schema: a container name enters it, a list name
// takes the next word as the key and enters (creating) the entry, a leaf
// name takes the next word as its value (a leaf-list appends it), after
// which further "leaf value" pairs of the same node may follow, as in
// "sp-hash-ipv4 local 16 remote 24". It returns the path of the last
// container or list entry entered, the position an 'edit' would move to.
func (e *Editor) Set(root *generated.Device, base schema.DataPath, words []string) (schema.DataPath, error) {
	return e.SetNode(e.S.RootNode(root), base, words)
}

// SetNode is Set on the tree of root, which may carry a journal.
func (e *Editor) SetNode(root schema.Node, base schema.DataPath, words []string) (schema.DataPath, error) {
	path := append(schema.DataPath(nil), base...)
	if len(words) > 0 && words[0] == "/" {
		path = nil
		words = words[1:]
	}
	n, ok, err := e.S.ResolveFrom(root, path, true)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("cli: %s does not exist", path)
	}
	for i := 0; i < len(words); {
		w := words[i]
		f := n.B.Field(w)
		if f == nil {
			return nil, fmt.Errorf("cli: unknown word %q at %s: expected one of %s", w, path, strings.Join(choices(n.B), ", "))
		}
		if !f.Config {
			return nil, fmt.Errorf("cli: %s is state, not configuration", path.Child(schema.Elem{Name: w}))
		}
		switch f.Kind {
		case schema.KindContainer:
			n, _ = n.Container(f, true)
			path = path.Child(schema.Elem{Name: w})
			i++
		case schema.KindList:
			if i+1 >= len(words) {
				return nil, fmt.Errorf("cli: %s needs a %s", w, schema.KeyNames(f.Entry)[0])
			}
			key := words[i+1]
			entry, _, err := n.Entry(e.S, f, key, true)
			if err != nil {
				return nil, fmt.Errorf("cli: %s %s: %w", w, key, err)
			}
			n = entry
			path = path.Child(schema.Elem{Name: w, KeyName: schema.KeyNames(f.Entry)[0], Key: key})
			i += 2
		default:
			if i+1 >= len(words) {
				return nil, fmt.Errorf("cli: %s needs a value", w)
			}
			if n.B.Entry.Key != "" && schema.KeyNames(n.B.Entry)[0] == w {
				return nil, fmt.Errorf("cli: %s is the key of %s and cannot be changed", w, path)
			}
			if err := n.SetLeaf(e.S, f, words[i+1]); err != nil {
				return nil, fmt.Errorf("cli: %s: %w", path.Child(schema.Elem{Name: w}), err)
			}
			i += 2
		}
	}
	return path, nil
}

// choices lists the configuration words accepted at a node, for messages.
func choices(b *schema.Binding) []string {
	var out []string
	for _, f := range b.Fields {
		if f.Config {
			out = append(out, f.Name)
		}
	}
	sort.Strings(out)
	return out
}

// Fields splits a command line into words; double quotes group words and
// are removed.
func Fields(line string) []string {
	var out []string
	var cur strings.Builder
	inQuote, have := false, false
	for _, r := range line {
		switch {
		case r == '"':
			inQuote = !inQuote
			have = true
		case !inQuote && (r == ' ' || r == '\t'):
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}
