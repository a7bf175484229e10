package cli

import "fmt"

// NSYang is the namespace of the YANG XML attributes (insert and key of
// RFC 7950 §7.8.6).
const NSYang = "urn:ietf:params:xml:ns:yang:1"

// move runs 'move PATH first|last|before KEY|after KEY': the entry of an
// ordered-by user list (the access rules) that PATH names goes to that
// place among its siblings, through an edit-config with the insert
// attribute (RFC 7950 §7.8.6), the server saying whether KEY exists.
func (c *CLI) move(words []string) error {
	const usage = "cli: move needs an entry of an ordered-by user list and first, last, before KEY or after KEY"
	if len(words) < 2 {
		return fmt.Errorf("%s", usage)
	}
	where, anchor, path := words[len(words)-1], "", words[:len(words)-1]
	if where != "first" && where != "last" {
		if len(words) < 3 || (words[len(words)-2] != "before" && words[len(words)-2] != "after") {
			return fmt.Errorf("%s", usage)
		}
		where, anchor, path = words[len(words)-2], words[len(words)-1], words[:len(words)-2]
	}
	t, err := c.ed.Resolve(c.ctx, path, true)
	if err != nil {
		return err
	}
	if t.Leaf != nil || t.List != nil || len(t.Path) == 0 || t.Path[len(t.Path)-1].KeyName == "" {
		return fmt.Errorf("%s", usage)
	}
	parentPath, last := t.Path[:len(t.Path)-1], t.Path[len(t.Path)-1]
	pb, err := c.ed.BindingAt(parentPath)
	if err != nil {
		return err
	}
	f := pb.Field(last.Name)
	if f == nil || !f.Ordered {
		return fmt.Errorf("cli: %s is not ordered-by user: its entries go in the order of their keys", last.Name)
	}
	bd := &builder{s: c.s}
	parent, err := bd.at(parentPath)
	if err != nil {
		return err
	}
	e := parent.child(last.Name, f.Entry.Namespace().Name, last.KeyName, last.Key)
	e.insert = where
	if anchor != "" {
		e.insertKey = "[" + last.KeyName + "=" + quoteKey(anchor) + "]"
	}
	if err := c.be.EditConfig(bd.root.bytes()); err != nil {
		return err
	}
	c.dirty = true
	return c.refresh()
}

// quoteKey quotes a key value for a key predicate (RFC 7950 §9.13): in
// single quotes unless it holds one.
func quoteKey(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			return `"` + s + `"`
		}
	}
	return "'" + s + "'"
}
