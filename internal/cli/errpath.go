package cli

import (
	"strings"
)

// cliPath turns the instance identifier of an error-path (RFC 6241
// §4.3, RFC 7950 §9.13), with or without module prefixes, into the path
// the operator types: "/vrf:vrf[vrf:name='main']/ike:ike/ike:vpn[ike:name='hq']/ike:local-address"
// is "/ vrf main ike vpn hq local-address", the key values of a list
// entry following its name, a leaf-list value ([.='v']) following the
// leaf-list's. It returns "" for what is not an absolute instance
// identifier.
func cliPath(path string) string {
	if !strings.HasPrefix(path, "/") {
		return ""
	}
	if path == "/" {
		return "/"
	}
	var words []string
	for _, seg := range splitSegments(path[1:]) {
		name, preds, ok := strings.Cut(seg, "[")
		name = unprefix(name)
		if name == "" {
			return ""
		}
		words = append(words, name)
		if !ok {
			continue
		}
		rest := "[" + preds
		for rest != "" {
			if rest[0] != '[' {
				return ""
			}
			end := predicateEnd(rest)
			if end < 0 {
				return ""
			}
			pred := rest[1:end]
			rest = rest[end+1:]
			_, val, hasEq := strings.Cut(pred, "=")
			if !hasEq {
				continue // a position ([1]): no word
			}
			val = strings.TrimSpace(val)
			if len(val) < 2 || (val[0] != '\'' && val[0] != '"') || val[len(val)-1] != val[0] {
				return ""
			}
			words = append(words, quote(val[1:len(val)-1]))
		}
	}
	return "/ " + strings.Join(words, " ")
}

// splitSegments splits an instance identifier (without its leading '/')
// at the slashes outside predicates and quotes.
func splitSegments(p string) []string {
	var out []string
	depth, start := 0, 0
	var q byte
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '\'' || c == '"':
			q = c
		case c == '[':
			depth++
		case c == ']':
			depth--
		case c == '/' && depth == 0:
			out = append(out, p[start:i])
			start = i + 1
		}
	}
	return append(out, p[start:])
}

// predicateEnd returns the index of the ']' closing the predicate that
// starts p, or -1.
func predicateEnd(p string) int {
	var q byte
	for i := 1; i < len(p); i++ {
		switch c := p[i]; {
		case q != 0:
			if c == q {
				q = 0
			}
		case c == '\'' || c == '"':
			q = c
		case c == ']':
			return i
		}
	}
	return -1
}

// unprefix drops the module prefix of a node name ("ike:vpn" is "vpn").
func unprefix(name string) string {
	if _, local, ok := strings.Cut(name, ":"); ok {
		return local
	}
	return name
}
