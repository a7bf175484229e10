package cli

import (
	"bytes"
	"fmt"
	"io"

	"secgw/generated"
	"secgw/internal/schema"
	"secgw/internal/xmlcodec"
)

// show runs 'show config|state|ike ...'.
func (c *CLI) show(words []string) error {
	if len(words) == 0 {
		return fmt.Errorf("cli: show what? expected one of config, state, ike, commits")
	}
	switch words[0] {
	case "config":
		if len(words) > 1 && words[1] == "diff" {
			return c.showDiff(words[2:])
		}
		return c.showTree(false, words[1:])
	case "commits":
		return c.showCommits(words[1:])
	case "debug":
		return c.showDebug(words[1:]) // debug.go
	case "state":
		return c.showTree(true, words[1:])
	case "ike":
		if len(words) >= 2 && words[1] == "ha" {
			return c.showIkeHA(words[2:]) // ha.go
		}
		if len(words) >= 2 && words[1] == "pool" {
			return c.showPool(words[2:]) // pool.go
		}
		if len(words) >= 2 && words[1] == "certificates" {
			return c.showCertificates(words[2:]) // certs.go
		}
		if len(words) < 2 || words[1] != "ike-sa" {
			return fmt.Errorf("cli: show ike: expected ike-sa, pool, ha or certificates")
		}
		return c.showIkeSA(words[2:])
	}
	return fmt.Errorf("cli: unknown word %q after show: expected one of config, state, ike, commits", words[0])
}

// showTree runs 'show config [nodefault] [PATH]' (the running
// configuration, or the candidate in configuration mode, where PATH is
// relative to the current node) and 'show state [PATH]' (configuration
// and state, from <get>). 'show config' prints defaults unless nodefault
// is given (RFC 6243 report-all, or explicit); 'show state' prints what
// the server reports (explicit): the guide's 'show state ... ike-sa'
// shows no counter the SA does not report.
func (c *CLI) showTree(state bool, words []string) error {
	defaults := "report-all"
	if state {
		defaults = "explicit"
	}
	if len(words) > 0 && words[0] == "nodefault" {
		defaults = "explicit"
		words = words[1:]
	}
	var base schema.DataPath
	if c.config {
		base = c.ctx
	}
	t, err := c.ed.Resolve(base, words, !state)
	if err != nil {
		return err
	}
	filter, err := subtreeFilter(c.s, t)
	if err != nil {
		return err
	}
	var data []byte
	if state {
		data, err = c.be.Get(filter, defaults)
	} else {
		source := "running"
		if c.config {
			source = "candidate"
		}
		data, err = c.be.GetConfig(source, filter, defaults)
	}
	if err != nil {
		return err
	}
	d, err := c.decode(data)
	if err != nil {
		return err
	}
	_, err = io.WriteString(c.out, c.renderTarget(d, t))
	return err
}

// decode reads the content of a <data> reply into a tree.
func (c *CLI) decode(data []byte) (*generated.Device, error) {
	var b bytes.Buffer
	b.WriteString(`<data xmlns="` + NSBase + `">`)
	b.Write(data)
	b.WriteString(`</data>`)
	d := &generated.Device{}
	if c.codec == nil {
		codec, err := xmlcodec.New(c.s)
		if err != nil {
			return nil, fmt.Errorf("cli: %w", err)
		}
		c.codec = codec
	}
	edits, err := c.codec.Decode(&b, nil, xmlcodec.DecodeOptions{AllowState: true})
	if err != nil {
		return nil, fmt.Errorf("cli: reading the server's data: %w", err)
	}
	if err := xmlcodec.Apply(c.s, d, edits, xmlcodec.OpMerge); err != nil {
		return nil, fmt.Errorf("cli: reading the server's data: %w", err)
	}
	return d, nil
}

// renderTarget returns the text of what t names in d: the node at the
// end of its path (with its name), a leaf, every entry of a list, or
// everything for the root. Nothing when it does not exist.
func (c *CLI) renderTarget(d *generated.Device, t *Target) string {
	r := &renderer{s: c.s, lay: c.lay}
	root := c.s.RootNode(d)
	n, ok, err := c.s.ResolveFrom(root, t.Path, false)
	if err != nil || !ok {
		return ""
	}
	switch {
	case t.Leaf != nil:
		if t.Value == "" {
			r.field(n, t.Leaf, 0)
			break
		}
		for _, v := range n.LeafList(c.s, t.Leaf) {
			if v == t.Value {
				r.leaf(t.Leaf.Name, v, 0)
			}
		}
	case t.List != nil:
		r.field(n, t.List, 0)
	case len(t.Path) == 0:
		r.children(n, 0)
	default:
		parent, _, _ := c.s.ResolveFrom(root, t.Path[:len(t.Path)-1], false)
		f := parent.B.Field(t.Path[len(t.Path)-1].Name)
		if f.Kind == schema.KindList {
			r.entry(f, n, 0)
		} else {
			r.container(f, n, 0)
		}
	}
	return r.b.String()
}

// leafListValues returns the values of leaf-list t.Leaf in the
// candidate.
func (c *CLI) leafListValues(t *Target) ([]string, error) {
	filter, err := subtreeFilter(c.s, t)
	if err != nil {
		return nil, err
	}
	data, err := c.be.GetConfig("candidate", filter, "explicit")
	if err != nil {
		return nil, err
	}
	d, err := c.decode(data)
	if err != nil {
		return nil, err
	}
	n, ok, err := c.s.Resolve(d, t.Path, false)
	if err != nil || !ok {
		return nil, err
	}
	return n.LeafList(c.s, t.Leaf), nil
}
