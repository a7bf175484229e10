package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"

	"secgw/internal/schema"
)

// Cand is one possible next word of a command line, for completion and
// '?' help: a literal word, or a value placeholder ("<uint32 0..100>").
type Cand struct {
	Word string // the word; for a placeholder, "<...>"
	Help string
	// Value marks a placeholder: any value of the type, not a literal.
	Value bool
}

// describe returns the first sentence of a YANG description, on one line.
func describe(e *yang.Entry) string {
	if e == nil {
		return ""
	}
	d := strings.Join(strings.Fields(e.Description), " ")
	if i := strings.Index(d, ". "); i >= 0 {
		d = d[:i+1]
	}
	return d
}

// valueCands returns the completions of a leaf's value: enum names and
// booleans literally, any other type as a placeholder.
func valueCands(e *yang.Entry) []Cand {
	var out []Cand
	lits := map[string]bool{}
	var walk func(yt *yang.YangType)
	walk = func(yt *yang.YangType) {
		if yt == nil {
			return
		}
		switch yt.Kind {
		case yang.Yunion:
			for _, m := range yt.Type {
				walk(m)
			}
		case yang.Yenum:
			for _, n := range yt.Enum.Names() {
				if !lits[n] {
					lits[n] = true
					out = append(out, Cand{Word: n, Help: describe(e)})
				}
			}
		case yang.Ybool:
			for _, n := range []string{"true", "false"} {
				if !lits[n] {
					lits[n] = true
					out = append(out, Cand{Word: n, Help: describe(e)})
				}
			}
		default:
			out = append(out, Cand{Word: "<" + typeName(yt) + ">", Help: describe(e) + placeholderTail(e), Value: true})
		}
	}
	walk(e.Type)
	return out
}

func placeholderTail(e *yang.Entry) string {
	var parts []string
	if e.Units != "" {
		parts = append(parts, "in "+e.Units)
	}
	if d, ok := e.SingleDefaultValue(); ok {
		parts = append(parts, "default "+d)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// keyCand is the placeholder for the key of list e.
func keyCand(e *yang.Entry) Cand {
	keys := schema.KeyNames(e)
	k := schema.Child(e, keys[0])
	help := describe(e)
	if k != nil {
		help = fmt.Sprintf("%s: %s (%s)", keys[0], describe(k), typeName(k.Type))
	}
	return Cand{Word: "<" + keys[0] + ">", Help: help, Value: true}
}

// childCands lists the data children of e as words; with config set,
// only configuration nodes. A list says it takes a key.
func childCands(e *yang.Entry, config bool) []Cand {
	var out []Cand
	for _, c := range schema.DataChildren(e) {
		if config && !schema.IsConfig(c) {
			continue
		}
		if c.RPC != nil || c.Kind == yang.NotificationEntry {
			continue
		}
		help := describe(c)
		switch {
		case c.IsList():
			help = "[" + schema.KeyNames(c)[0] + "] " + help
		case c.IsLeaf() || c.IsLeafList():
			help = help + " <" + typeName(c.Type) + ">"
		}
		out = append(out, Cand{Word: c.Name, Help: help})
	}
	return out
}

// filterCands keeps the candidates whose word starts with prefix;
// placeholders stay (any value may start so).
func filterCands(cs []Cand, prefix string) []Cand {
	if prefix == "" {
		return cs
	}
	var out []Cand
	for _, c := range cs {
		if c.Value || strings.HasPrefix(c.Word, prefix) {
			out = append(out, c)
		}
	}
	return out
}

// formatHelp renders candidates as '?' prints them: one per line, words
// aligned.
func formatHelp(cs []Cand) string {
	if len(cs) == 0 {
		return "  <cr>\n"
	}
	w := 0
	for _, c := range cs {
		w = max(w, len(c.Word))
	}
	sorted := append([]Cand(nil), cs...)
	sort.SliceStable(sorted, func(i, j int) bool {
		if sorted[i].Value != sorted[j].Value {
			return !sorted[i].Value
		}
		return false
	})
	var b strings.Builder
	for _, c := range sorted {
		b.WriteString("  ")
		b.WriteString(c.Word)
		if c.Help != "" {
			b.WriteString(strings.Repeat(" ", w-len(c.Word)+2))
			b.WriteString(c.Help)
		}
		b.WriteByte('\n')
	}
	return b.String()
}
