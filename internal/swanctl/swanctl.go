// Package swanctl reads the output of strongSwan's swanctl that the
// interop tests compare with secgw: `swanctl --list-sas --raw`, nested
// "name { key=value ... }" blocks.
package swanctl

import "strings"

// Section is one block of raw output: its key=value pairs and its named
// sub-blocks in the order they came.
type Section struct {
	Name  string
	KV    map[string]string
	Sub   map[string]*Section
	Order []string
}

// ParseRaw parses `swanctl --list-sas --raw`: one "list-sa event {...}"
// per IKE SA, holding a block named by the connection.
func ParseRaw(s string) []*Section {
	toks := tokens(s)
	var events []*Section
	for i := 0; i < len(toks); i++ {
		if toks[i] == "{" {
			var sec *Section
			sec, i = parseBlock(toks, i+1)
			events = append(events, sec)
		}
	}
	return events
}

// tokens splits raw output into braces and words; a "[...]" list stays
// in its word.
func tokens(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		switch c := s[i]; {
		case c == ' ' || c == '\n' || c == '\t' || c == '\r':
			i++
		case c == '{' || c == '}':
			out = append(out, string(c))
			i++
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \n\t\r{}", rune(s[j])) {
				if s[j] == '[' {
					if k := strings.IndexByte(s[j:], ']'); k >= 0 {
						j += k
					}
				}
				j++
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out
}

// parseBlock parses from just after a "{" and returns the index of the
// matching "}".
func parseBlock(toks []string, i int) (*Section, int) {
	sec := &Section{KV: map[string]string{}, Sub: map[string]*Section{}}
	for ; i < len(toks); i++ {
		switch t := toks[i]; {
		case t == "}":
			return sec, i
		case i+1 < len(toks) && toks[i+1] == "{":
			var sub *Section
			sub, i = parseBlock(toks, i+2)
			sub.Name = t
			sec.Sub[t] = sub
			sec.Order = append(sec.Order, t)
		default:
			k, v, _ := strings.Cut(t, "=")
			sec.KV[k] = v
		}
	}
	return sec, i
}
