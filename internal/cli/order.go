package cli

import (
	"sort"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"

	"secgw/internal/schema"
	"secgw/internal/xmlcodec"
)

// layout says how the CLI prints the children of each container and list
// entry: in which order, whether a node fits on one line, and whether a
// list entry's header names its key. It is computed once per schema from
// the YANG statements, with the few exceptions the guide's sample outputs
// show, and is read-only afterwards.
type layout struct {
	s      *schema.Schema
	fields map[*schema.Binding][]*schema.Field
}

// displayMoves adjusts the YANG statement order where the vsr guide prints
// siblings in another order. Each entry moves the node named Name of the
// node at schema path Path just before Before ("" moves it last).
//
//   - ike-sa: the guide's 'show state / vrf main ike ike-sa' prints
//     "aead-alg, prf-alg, dh-group", strongSwan's proposal order (encr,
//     integ, prf, dh), where the model declares prf-alg after the shared
//     algorithms grouping;
//   - child-sa: the same output prints "mode" last, after
//     traffic-selectors;
//   - vpn: 'show config / vrf main ike vpn vpn0' prints "version" after
//     the ike-policy and ipsec-policy containers, before local-address;
//   - IKE and IPsec policies (templates and a VPN's own): the
//     concentrator guide prints "unique-sa" before "rekey-time", and
//     "replay-window" after "close-action", just before "rekey-time".
var displayMoves = []struct{ Path, Name, Before string }{
	{"/vrf/ike/vpn", "version", "local-address"},
	{"/vrf/ike/ike-policy-template", "unique-sa", "rekey-time"},
	{"/vrf/ike/vpn/ike-policy", "unique-sa", "rekey-time"},
	{"/vrf/ike/ipsec-policy-template", "replay-window", "rekey-time"},
	{"/vrf/ike/vpn/ipsec-policy", "replay-window", "rekey-time"},
	{"/vrf/ike/ike-sa", "prf-alg", "dh-group"},
	{"/vrf/ike/ike-sa/child-sa", "mode", ""},
}

// keyNamed lists the lists whose entry header prints the key leaf's name
// ("ike-sa unique-id 1" in 'show state'); other entries print only the
// key value ("vpn vpn0", "local-ts 1 subnet ...").
var keyNamed = map[string]bool{
	"/vrf/ike/ike-sa":          true,
	"/vrf/ike/ike-sa/child-sa": true,
}

// inlineGroupings names the groupings whose users print on one line, as
// the guide prints traffic selectors: "local-ts subnet 10.100.0.0/24".
var inlineGroupings = map[string]bool{"traffic-selector": true}

func newLayout(s *schema.Schema) *layout {
	l := &layout{s: s, fields: map[*schema.Binding][]*schema.Field{}}
	l.add(s.RootBinding())
	return l
}

// add computes the display order of b and of every binding below it.
func (l *layout) add(b *schema.Binding) {
	if _, ok := l.fields[b]; ok {
		return
	}
	order := xmlcodec.StatementOrder(b.Entry)
	out := make([]*schema.Field, 0, len(b.Fields))
	keys := schema.KeyNames(b.Entry)
	for i := range b.Fields {
		f := &b.Fields[i]
		if len(keys) > 0 && f.Name == keys[0] {
			continue // printed on the entry's header line
		}
		out = append(out, f)
	}
	rank := func(name string) int {
		if r, ok := order[name]; ok {
			return r
		}
		return len(order)
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i].Name) < rank(out[j].Name) })
	path := schema.Path(b.Entry)
	for _, m := range displayMoves {
		if m.Path == path {
			out = move(out, m.Name, m.Before)
		}
	}
	l.fields[b] = out
	for _, f := range out {
		if f.Elem != nil {
			l.add(f.Elem)
		}
	}
}

// move returns fields with the one named name placed before the one named
// before, or last.
func move(fields []*schema.Field, name, before string) []*schema.Field {
	var moved *schema.Field
	rest := make([]*schema.Field, 0, len(fields))
	for _, f := range fields {
		if f.Name == name {
			moved = f
			continue
		}
		rest = append(rest, f)
	}
	if moved == nil {
		return fields
	}
	out := make([]*schema.Field, 0, len(fields))
	placed := false
	for _, f := range rest {
		if !placed && f.Name == before {
			out = append(out, moved)
			placed = true
		}
		out = append(out, f)
	}
	if !placed {
		out = append(out, moved)
	}
	return out
}

// children returns the fields of b in display order, keys excluded.
func (l *layout) children(b *schema.Binding) []*schema.Field {
	if f, ok := l.fields[b]; ok {
		return f
	}
	return nil
}

// keyNamed reports whether entries of list f print their key's name.
func (l *layout) keyNamed(f *schema.Field) bool { return keyNamed[schema.Path(f.Entry)] }

// inline reports whether container or list f prints on one line.
func (l *layout) inline(f *schema.Field) bool {
	if f.Entry == nil || f.Entry.Node == nil {
		return false
	}
	for _, sub := range f.Entry.Node.Statement().SubStatements() {
		if sub.Keyword != "uses" {
			continue
		}
		name := sub.Argument
		if i := strings.IndexByte(name, ':'); i >= 0 {
			name = name[i+1:]
		}
		if inlineGroupings[name] {
			return true
		}
	}
	return false
}

// isPresence reports whether e is a presence container (RFC 7950 §7.5.1),
// which exists, and prints, even when empty.
func isPresence(e *yang.Entry) bool {
	c, ok := e.Node.(*yang.Container)
	return ok && c.Presence != nil
}
