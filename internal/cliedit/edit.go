// Package cliedit parses and applies the configuration-mode lines of the
// vsr-style CLI ("/ vrf main ike vpn hq remote-address 198.51.100.1") on a
// configuration tree, from the YANG schema. It is the part of the CLI
// that needs neither NETCONF nor the XML codec, so that tests of any
// package (internal/configtest) can build configurations with it.
package cliedit

import (
	"fmt"
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
	ch, err := e.Parse(base, words)
	if err != nil {
		return nil, err
	}
	if len(words) == 0 || words[0] != "/" {
		if _, _, err := e.S.ResolveFrom(root, base, true); err != nil {
			return nil, err
		}
	}
	if err := e.Apply(root, ch); err != nil {
		return nil, err
	}
	return ch.Path, nil
}

// Apply carries out a parsed change on the tree of root.
func (e *Editor) Apply(root schema.Node, ch *Change) error {
	for _, op := range ch.Ops {
		n, _, err := e.S.ResolveFrom(root, op.Path, true)
		if err != nil {
			return fmt.Errorf("cli: %w", err)
		}
		if op.Field != nil {
			if err := n.SetLeaf(e.S, op.Field, op.Value); err != nil {
				return fmt.Errorf("cli: %s %s: %w", Words(op.Path), op.Field.Name, err)
			}
		}
	}
	return nil
}

// Fields splits a command line into words. Double quotes group words and
// are removed; inside them a backslash escapes the next character, so
// that every value 'show config' prints (see quote) reads back as it was.
func Fields(line string) []string {
	var out []string
	var cur strings.Builder
	inQuote, have, escaped := false, false, false
	for _, r := range line {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case inQuote && r == '\\':
			escaped = true
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
