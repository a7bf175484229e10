package cli

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"

	"secgw/internal/schema"
)

// Operational commands are the model's RPCs, so that Ansible
// (netconf_rpc) does what the CLI does:
//
//	cmd ike initiate child-sa security-policy trunk
//	    -> <initiate xmlns="urn:secgw:yang:secgw-ike"><child-sa>
//	       <security-policy>trunk</security-policy></child-sa></initiate>
//	flush ike ike-sa vpn vpn-hq -> <flush ...><ike-sa><vpn>vpn-hq</vpn>...
//
// "cmd MODULE RPC" names the RPC RPC of module secgw-MODULE; the words
// after it walk the RPC's input like a configuration path.

// rpcModule returns the module entry for the word after 'cmd'.
func (c *CLI) rpcModule(word string) *yang.Entry {
	return c.s.Modules["secgw-"+word]
}

// rpcEntry returns RPC name of module word, or nil.
func (c *CLI) rpcEntry(word, name string) *yang.Entry {
	m := c.rpcModule(word)
	if m == nil {
		return nil
	}
	e := m.Dir[name]
	if e == nil || e.RPC == nil {
		return nil
	}
	return e
}

// rpcNames lists the RPCs of module word, sorted.
func (c *CLI) rpcNames(word string) []*yang.Entry {
	m := c.rpcModule(word)
	if m == nil {
		return nil
	}
	var out []*yang.Entry
	for _, e := range m.Dir {
		if e.RPC != nil {
			out = append(out, e)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// cmd runs 'cmd MODULE RPC INPUT...'.
func (c *CLI) cmd(words []string) error {
	if len(words) < 2 {
		return fmt.Errorf("cli: cmd needs a module and a command, as in: cmd ike initiate ike-sa vpn NAME")
	}
	if c.rpcModule(words[0]) == nil {
		return fmt.Errorf("cli: unknown word %q after cmd: expected ike or config", words[0])
	}
	if c.rpcEntry(words[0], words[1]) == nil {
		var names []string
		for _, r := range c.rpcNames(words[0]) {
			names = append(names, r.Name)
		}
		return fmt.Errorf("cli: unknown word %q after cmd %s: expected one of %s", words[1], words[0], strings.Join(names, ", "))
	}
	if words[0] == "config" && !c.config {
		// secgw-config's RPCs (rollback) load the candidate, which only
		// configuration mode edits, under its lock.
		return fmt.Errorf("cli: cmd config %s loads the candidate: enter configuration mode first (edit running)", words[1])
	}
	return c.rpc("cmd "+words[0]+" "+words[1], words[0], words[1:])
}

// rpc runs RPC words[0] of module mod with the input words[1:]; what
// is how the operator spelled the command ("cmd ike rekey", "flush ike"),
// for messages.
func (c *CLI) rpc(what, mod string, words []string) error {
	e := c.rpcEntry(mod, words[0])
	if e == nil {
		return fmt.Errorf("cli: %s: no RPC %s in module secgw-%s", what, words[0], mod)
	}
	body, err := rpcInput(e, words[1:])
	if err != nil {
		return err
	}
	out, err := c.be.Call(body)
	if err != nil {
		var rerr RPCErrors
		if errors.As(err, &rerr) && rerr.Has("operation-not-supported") {
			return &NotSupportedError{What: what + ": the server says: " + strings.TrimPrefix(rerr.Error(), "cli: ")}
		}
		return err
	}
	if mod == "config" {
		// secgw-config's RPCs (rollback) load the candidate: show what
		// a commit would change.
		c.dirty = true
		if err := c.refresh(); err != nil {
			return err
		}
		if err := c.printOutput(mod, words, out); err != nil {
			return err
		}
		return c.showDiff(nil)
	}
	return c.printOutput(mod, words, out)
}

// rpcInput builds the RPC element from the input words. A word not found
// in the current container is looked up in the enclosing ones, so that
// "vrf NAME" may come anywhere.
func rpcInput(rpc *yang.Entry, words []string) ([]byte, error) {
	ns := rpc.Namespace().Name
	root := &xnode{name: rpc.Name, ns: ns}
	type level struct {
		e *yang.Entry
		x *xnode
	}
	stack := []level{{rpc.RPC.Input, root}}
	if rpc.RPC.Input == nil {
		stack[0].e = &yang.Entry{Dir: map[string]*yang.Entry{}}
	}
	for i := 0; i < len(words); {
		w := words[i]
		var ch *yang.Entry
		for len(stack) > 0 {
			if ch = schema.Child(stack[len(stack)-1].e, w); ch != nil {
				break
			}
			if len(stack) == 1 {
				break
			}
			stack = stack[:len(stack)-1]
		}
		top := stack[len(stack)-1]
		if ch == nil {
			var names []string
			for _, cd := range childCands(top.e, false) {
				names = append(names, cd.Word)
			}
			return nil, fmt.Errorf("cli: unknown word %q in %s: expected one of %s", w, rpc.Name, strings.Join(names, ", "))
		}
		switch {
		case ch.IsContainer():
			stack = append(stack, level{ch, top.x.child(w, ns, "", "")})
			i++
		case ch.IsLeaf() || ch.IsLeafList():
			if i+1 >= len(words) {
				return nil, fmt.Errorf("cli: %s needs a value (%s)", w, typeHelp(ch))
			}
			if err := checkValue(ch.Type, words[i+1]); err != nil {
				return nil, fmt.Errorf("cli: %s %s: bad value %q: %w", rpc.Name, w, words[i+1], err)
			}
			top.x.leaf(w, ns, words[i+1])
			i += 2
		default:
			return nil, fmt.Errorf("cli: %s %s: lists in RPC input are not supported", rpc.Name, w)
		}
	}
	if err := checkMandatory(rpc.RPC.Input, root, rpc.Name); err != nil {
		return nil, err
	}
	x := &xnode{}
	x.children = []*xnode{root}
	return x.bytes(), nil
}

// checkMandatory checks the mandatory choices and leaves of input entry e
// (RFC 7950 §7.9.4, §7.6.5) against element x.
func checkMandatory(e *yang.Entry, x *xnode, where string) error {
	if e == nil {
		return nil
	}
	has := func(name string) *xnode {
		for _, c := range x.children {
			if c.name == name {
				return c
			}
		}
		return nil
	}
	for _, ch := range sortedDir(e) {
		switch {
		case ch.IsChoice():
			var names []string
			found := false
			for _, cd := range schema.DataChildren(ch) {
				names = append(names, cd.Name)
				if c := has(cd.Name); c != nil {
					found = true
					if err := checkMandatory(cd, c, where+" "+cd.Name); err != nil {
						return err
					}
				}
			}
			if !found && ch.Mandatory == yang.TSTrue {
				return fmt.Errorf("cli: %s needs one of %s", where, strings.Join(names, ", "))
			}
		case ch.IsLeaf():
			if ch.Mandatory == yang.TSTrue && has(ch.Name) == nil {
				return fmt.Errorf("cli: %s needs %s (%s)", where, ch.Name, typeHelp(ch))
			}
		case ch.IsContainer():
			if c := has(ch.Name); c != nil {
				if err := checkMandatory(ch, c, where+" "+ch.Name); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func sortedDir(e *yang.Entry) []*yang.Entry {
	out := make([]*yang.Entry, 0, len(e.Dir))
	for _, c := range e.Dir {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// checkValue checks the lexical form of an RPC input value: integers and
// their ranges, enums, booleans; strings are the server's to check.
func checkValue(yt *yang.YangType, v string) error {
	if yt == nil {
		return nil
	}
	switch yt.Kind {
	case yang.Yint8, yang.Yint16, yang.Yint32, yang.Yint64, yang.Yuint8, yang.Yuint16, yang.Yuint32, yang.Yuint64:
		n, ok := new(big.Int).SetString(v, 10)
		if !ok {
			return fmt.Errorf("not an integer")
		}
		for _, r := range effectiveRange(yt) {
			lo, _ := new(big.Int).SetString(r.Min.String(), 10)
			hi, _ := new(big.Int).SetString(r.Max.String(), 10)
			if lo != nil && hi != nil && n.Cmp(lo) >= 0 && n.Cmp(hi) <= 0 {
				return nil
			}
		}
		return fmt.Errorf("out of range %s", effectiveRange(yt))
	case yang.Ybool:
		if v != "true" && v != "false" {
			return fmt.Errorf("not true or false")
		}
	case yang.Yenum:
		if !yt.Enum.IsDefined(v) {
			return fmt.Errorf("not one of %s", strings.Join(yt.Enum.Names(), ", "))
		}
	case yang.Yunion:
		for _, m := range yt.Type {
			if checkValue(m, v) == nil {
				return nil
			}
		}
		return fmt.Errorf("matches none of %s", typeName(yt))
	}
	return nil
}

// effectiveRange is the type's range, or its built-in type's.
func effectiveRange(yt *yang.YangType) yang.YangRange {
	if len(yt.Range) > 0 {
		return yt.Range
	}
	bits := map[yang.TypeKind]int{yang.Yint8: 8, yang.Yint16: 16, yang.Yint32: 32, yang.Yint64: 64,
		yang.Yuint8: 8, yang.Yuint16: 16, yang.Yuint32: 32, yang.Yuint64: 64}[yt.Kind]
	switch yt.Kind {
	case yang.Yuint8, yang.Yuint16, yang.Yuint32, yang.Yuint64:
		return yang.YangRange{{Min: yang.FromUint(0), Max: yang.FromUint(^uint64(0) >> (64 - bits))}}
	}
	return yang.YangRange{{Min: yang.FromInt(-1 << (bits - 1)), Max: yang.FromInt(1<<(bits-1) - 1)}}
}

// rpcOutput is the output of the model's operational RPCs
// (secgw-ike-rpc command-output).
type rpcOutput struct {
	Count    *uint32  `xml:"count"`
	Messages []string `xml:"message"`
}

// printOutput prints an RPC's output: its message lines, as the guide
// shows the negotiation log of 'cmd ike initiate'; without messages, the
// count as the guide words it ("Initiated 1 IKE SA rekey.").
func (c *CLI) printOutput(mod string, words []string, body []byte) error {
	var out rpcOutput
	if err := xml.Unmarshal(append(append([]byte("<output>"), body...), "</output>"...), &out); err != nil {
		return fmt.Errorf("cli: reading the output of %s: %w", words[0], err)
	}
	var b strings.Builder
	for _, m := range out.Messages {
		b.WriteString(printable(m) + "\n")
	}
	if len(out.Messages) == 0 && out.Count != nil && mod == "ike" {
		if s := countSentence(words, *out.Count); s != "" {
			b.WriteString(s + "\n")
		}
	}
	if _, err := io.WriteString(c.out, b.String()); err != nil {
		return err
	}
	if mod == "ike" && words[0] == "initiate" && out.Count != nil && *out.Count == 0 {
		// secgwd counts the SAs that came up: none is a failure (the
		// peer refused authentication or every proposal, or it did not
		// answer in time), which a script must see in the exit status.
		why := "no SA came up"
		if n := len(out.Messages); n > 0 {
			why = printable(out.Messages[n-1])
		}
		if why == "negotiation still in progress" {
			why = "no SA came up in the time secgwd waits (" + why + ")"
		}
		return fmt.Errorf("cli: cmd ike initiate failed: %s", why)
	}
	return nil
}

// countSentence words the count of a rekey or reauth as the guide does.
func countSentence(words []string, n uint32) string {
	kind := ""
	for _, w := range words[1:] {
		if w == "ike-sa" || w == "child-sa" {
			kind = w
			break
		}
	}
	what := map[string]string{"ike-sa": "IKE SA", "child-sa": "child SA"}[kind]
	if what == "" {
		return ""
	}
	switch words[0] {
	case "rekey":
		return "Initiated " + strconv.FormatUint(uint64(n), 10) + " " + what + " rekey."
	case "reauth":
		return "Initiated " + strconv.FormatUint(uint64(n), 10) + " " + what + " reauthentication."
	}
	return ""
}
