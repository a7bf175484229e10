package cli

import (
	"sort"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"

	"secgw/internal/schema"
)

// Candidates returns the possible next words after the complete words
// given, in the current mode: the commands, then the schema below
// 'show config|state', a configuration line or 'del', the RPC input below
// 'cmd ike RPC' and 'flush ike'. Words it cannot follow give none.
func (c *CLI) Candidates(words []string) []Cand {
	if len(words) == 0 {
		if !c.config {
			return operational
		}
		cs := append(append([]Cand(nil), configuration...), operational[:3]...)
		return append(cs, childCands(c.entryAt(c.ctx), true)...)
	}
	switch words[0] {
	case "show":
		return c.showCands(words[1:])
	case "cmd":
		if len(words) == 1 {
			return []Cand{{Word: "ike", Help: "IKE operational commands"}, {Word: "config", Help: "Configuration commands (rollback)"}, {Word: "aaa", Help: "Account commands (set-password)"}}
		}
		return c.rpcCands(words[1], words[2:])
	case "flush":
		if len(words) == 1 {
			return []Cand{{Word: "ike", Help: "Delete IKE or child SAs"}}
		}
		if words[1] != "ike" {
			return nil
		}
		return c.rpcCands("ike", append([]string{"flush"}, words[2:]...))
	case "edit":
		if len(words) == 1 && !c.config {
			return []Cand{{Word: "running", Help: "Edit the configuration: changes go to the candidate until commit; the candidate and running stay locked for other sessions until exit"}}
		}
		return nil
	case "exit":
		if len(words) == 1 && c.config {
			return []Cand{{Word: "discard", Help: "Drop the uncommitted changes and leave"}}
		}
		return nil
	}
	if !c.config {
		return nil
	}
	switch words[0] {
	case "commit":
		return commitCands(words[1:])
	case "rollback":
		if len(words) == 1 {
			return []Cand{{Word: "<commit-id>", Help: "The commit to load into the candidate (see show commits)", Value: true}}
		}
		return nil
	case "validate", "discard", "..", "help", "compare":
		return nil
	case "del", "move":
		return c.pathCands(c.ctx, words[1:], true, false)
	}
	return c.pathCands(c.ctx, words, true, true)
}

func (c *CLI) showCands(words []string) []Cand {
	if len(words) == 0 {
		return []Cand{
			{Word: "config", Help: "The configuration (the candidate in configuration mode) [nodefault] [path]"},
			{Word: "state", Help: "Configuration and operational state [path]"},
			{Word: "ike", Help: "IKE SAs (show ike ike-sa [details|with-keys]), pools (show ike pool), IKE HA (show ike ha)"},
			{Word: "commits", Help: "The kept commits: id (for rollback), time, user, comment"},
		}
	}
	if words[0] == "commits" {
		return nil
	}
	if words[0] == "config" && len(words) > 1 && words[1] == "diff" {
		return nil
	}
	switch words[0] {
	case "config", "state":
		rest := words[1:]
		var out []Cand
		if len(rest) == 0 && words[0] == "config" {
			out = append(out, Cand{Word: "nodefault", Help: "Leave out the values that are defaults"},
				Cand{Word: "diff", Help: "The uncommitted changes: + added, - removed (candidate against running)"})
		} else if len(rest) > 0 && rest[0] == "nodefault" {
			rest = rest[1:]
		}
		var base schema.DataPath
		if c.config {
			base = c.ctx
		}
		return append(out, c.pathCands(base, rest, words[0] == "config", false)...)
	case "ike":
		if len(words) == 1 {
			return []Cand{{Word: "ike-sa", Help: "IKE SAs and their child SAs"},
				{Word: "pool", Help: "Usage of the virtual IP pools; with a pool name, its leases"},
				{Word: "ha", Help: "IKE HA: role, sync link, peer role, synced SAs [vrf NAME]"},
				{Word: "certificates", Help: "The certificate store: subject, issuer, validity, users"}}
		}
		if words[1] == "ha" || words[1] == "certificates" {
			return nil
		}
		if words[1] == "pool" {
			if len(words) == 2 {
				return []Cand{{Word: "<pool>", Help: "A pool name: its leases", Value: true}, {Word: "vrf", Help: "The vrf (default main) <name>"}}
			}
			return nil
		}
		if words[1] != "ike-sa" {
			return nil
		}
		rest := words[2:]
		if len(rest) > 0 {
			switch rest[len(rest)-1] {
			case "vrf", "vpn", "unique-id", "remote-address", "remote-id":
				for _, o := range ikeSAOptions {
					if o.Word == rest[len(rest)-1] {
						return []Cand{{Word: "<value>", Help: o.Help, Value: true}}
					}
				}
			}
		}
		return ikeSAOptions
	}
	return nil
}

// entryAt returns the schema entry of the node at p.
func (c *CLI) entryAt(p schema.DataPath) *yang.Entry {
	b, err := c.ed.BindingAt(p)
	if err != nil {
		return c.s.Root
	}
	if len(p) == 0 {
		return c.s.Root
	}
	return b.Entry
}

// pathCands completes a schema path from base: node names, list keys,
// leaf values. With config set only configuration nodes count; with
// set, a leaf's value is followed by more words at the same node (a
// configuration line), otherwise the path ends there.
func (c *CLI) pathCands(base schema.DataPath, words []string, config, set bool) []Cand {
	if len(words) > 0 && words[0] == "/" {
		base, words = nil, words[1:]
	}
	e := c.entryAt(base)
	for i := 0; i < len(words); {
		ch := schema.Child(e, words[i])
		if ch == nil || (config && !schema.IsConfig(ch)) {
			return nil
		}
		switch {
		case ch.IsList():
			if i+1 == len(words) {
				return append([]Cand{keyCand(ch)}, c.keyCands(base, words[:i+1], config)...)
			}
			e = ch
			i += 2
			if !config && i < len(words) && words[i-1] == schema.KeyNames(ch)[0] {
				i++ // "ike-sa unique-id 1"
			}
		case ch.IsContainer():
			e = ch
			i++
		default:
			if i+1 == len(words) {
				if !set && !ch.IsLeafList() {
					return nil // show and del end at the leaf
				}
				return valueCands(ch)
			}
			if !set {
				return nil
			}
			i += 2
		}
	}
	return childCands(e, config)
}

// maxKeyCands bounds the keys completion lists: beyond, only the
// placeholder is offered.
const maxKeyCands = 200

// keyCands returns the keys of the entries of the list words end with,
// asking the server for them. With config, from the candidate in
// configuration mode and from running otherwise; without, from <get>
// (state lists: the unique ids of the IKE SAs). Any failure offers
// nothing. The filter selects whole entries: secgw's server drops an
// entry whose only selected child is its key (<vpn><name/></vpn> gives
// nothing), so the cheaper filter cannot be used.
func (c *CLI) keyCands(base schema.DataPath, words []string, config bool) []Cand {
	if c.be == nil {
		return nil
	}
	t, err := c.ed.Resolve(base, words, config)
	if err != nil || t.List == nil {
		return nil
	}
	filter, err := subtreeFilter(c.s, t)
	if err != nil {
		return nil
	}
	var data []byte
	switch {
	case !config:
		data, err = c.be.Get(filter, "explicit")
	case c.config:
		data, err = c.be.GetConfig("candidate", filter, "explicit")
	default:
		data, err = c.be.GetConfig("running", filter, "explicit")
	}
	if err != nil {
		return nil
	}
	d, err := c.decode(data)
	if err != nil {
		return nil
	}
	n, ok, err := c.s.Resolve(d, t.Path, false)
	if err != nil || !ok {
		return nil
	}
	entries := n.Entries(t.List)
	if len(entries) > maxKeyCands {
		return nil
	}
	out := make([]Cand, 0, len(entries))
	for _, e := range entries {
		out = append(out, Cand{Word: quote(e.Key(c.s, t.List)), Help: "an existing " + t.List.Name})
	}
	return out
}

// rpcCands completes 'cmd MODULE ...' after the module word.
func (c *CLI) rpcCands(mod string, words []string) []Cand {
	if len(words) == 0 {
		var out []Cand
		for _, r := range c.rpcNames(mod) {
			out = append(out, Cand{Word: r.Name, Help: describe(r)})
		}
		return out
	}
	rpc := c.rpcEntry(mod, words[0])
	if rpc == nil || rpc.RPC.Input == nil {
		return nil
	}
	stack := []*yang.Entry{rpc.RPC.Input}
	words = words[1:]
	for i := 0; i < len(words); {
		var ch *yang.Entry
		for {
			if ch = schema.Child(stack[len(stack)-1], words[i]); ch != nil || len(stack) == 1 {
				break
			}
			stack = stack[:len(stack)-1]
		}
		switch {
		case ch == nil:
			return nil
		case ch.IsContainer():
			stack = append(stack, ch)
			i++
		default:
			if i+1 == len(words) {
				return valueCands(ch)
			}
			i += 2
		}
	}
	out := childCands(stack[len(stack)-1], false)
	// Leaves of the enclosing levels (vrf) may follow too.
	for j := len(stack) - 2; j >= 0; j-- {
		for _, cd := range childCands(stack[j], false) {
			if e := schema.Child(stack[j], cd.Word); e != nil && e.IsLeaf() {
				out = append(out, cd)
			}
		}
	}
	return out
}

// Complete completes the word before pos in line. It returns the new
// line and cursor, and the candidates when there is no single one (for
// the shell to list). Completion stops inside a quoted string.
func (c *CLI) Complete(line string, pos int) (string, int, []Cand) {
	head, tail := line[:pos], line[pos:]
	if strings.Count(head, `"`)%2 == 1 {
		return line, pos, nil
	}
	words := Fields(head)
	partial := ""
	if len(words) > 0 && !strings.HasSuffix(head, " ") && !strings.HasSuffix(head, "\t") {
		partial = words[len(words)-1]
		words = words[:len(words)-1]
	}
	cands := filterCands(c.Candidates(words), partial)
	var lits []string
	for _, cd := range cands {
		if !cd.Value {
			lits = append(lits, cd.Word)
		}
	}
	sort.Strings(lits)
	// A placeholder (any value) does not stop the completion of a typed
	// prefix to the one existing name or value it matches.
	if len(lits) == 1 && (partial != "" || len(lits) == len(cands)) {
		add := lits[0][len(partial):] + " "
		return head + add + tail, pos + len(add), nil
	}
	if p := commonPrefix(lits); len(lits) > 0 && len(p) > len(partial) && (partial != "" || len(lits) == len(cands)) {
		add := p[len(partial):]
		return head + add + tail, pos + len(add), nil
	}
	return line, pos, cands
}

func commonPrefix(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	p := ss[0]
	for _, s := range ss[1:] {
		for !strings.HasPrefix(s, p) {
			p = p[:len(p)-1]
		}
	}
	return p
}

// Help returns the '?' help for the line typed so far: the candidates
// for the word being typed (or the next one after a blank).
func (c *CLI) Help(line string) string {
	words := Fields(line)
	partial := ""
	if len(words) > 0 && !strings.HasSuffix(line, " ") {
		partial = words[len(words)-1]
		words = words[:len(words)-1]
	}
	return formatHelp(filterCands(c.Candidates(words), partial))
}

// commitCands completes 'commit [check] [confirmed [SECONDS]] [comment
// TEXT]' after the words given.
func commitCands(words []string) []Cand {
	if n := len(words); n > 0 {
		switch words[n-1] {
		case "comment":
			return []Cand{{Word: "<text>", Help: "Why: kept in the commit history (show commits)", Value: true}}
		case "confirmed":
			return append([]Cand{{Word: "<seconds>", Help: "Roll back unless confirmed by commit within this time (default 600)", Value: true}},
				commitCands(append(append([]string(nil), words...), "0"))...)
		case "check":
			return nil
		}
	}
	used := map[string]bool{}
	for _, w := range words {
		used[w] = true
	}
	var out []Cand
	if len(words) == 0 {
		out = append(out, Cand{Word: "check", Help: "Validate only, commit nothing"})
	}
	if !used["confirmed"] {
		out = append(out, Cand{Word: "confirmed", Help: "Roll back unless confirmed by commit in time (RFC 6241 §8.4)"})
	}
	if !used["comment"] {
		out = append(out, Cand{Word: "comment", Help: "A comment kept in the commit history"})
	}
	return out
}
