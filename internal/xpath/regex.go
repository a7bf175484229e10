package xpath

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// regexCache holds the compiled pattern of a re-match() call: fixed at
// compile time for a literal pattern, else a small cache of the patterns met
// during evaluation.
type regexCache struct {
	fixed *regexp.Regexp
	mu    sync.Mutex
	seen  map[string]*regexp.Regexp
}

const regexCacheSize = 64

func (rc *regexCache) get(pattern string) (*regexp.Regexp, error) {
	if rc.fixed != nil {
		return rc.fixed, nil
	}
	rc.mu.Lock()
	re := rc.seen[pattern]
	rc.mu.Unlock()
	if re != nil {
		return re, nil
	}
	re, err := compileXSDRegexp(pattern)
	if err != nil {
		return nil, fmt.Errorf("xpath: re-match(): %w", err)
	}
	rc.mu.Lock()
	if rc.seen == nil || len(rc.seen) >= regexCacheSize {
		rc.seen = map[string]*regexp.Regexp{}
	}
	rc.seen[pattern] = re
	rc.mu.Unlock()
	return re, nil
}

// prepareReMatch compiles a literal pattern once, so that a bad pattern is a
// compile error.
func prepareReMatch(c *callExpr) error {
	c.re = &regexCache{}
	if lit, ok := c.args[1].(*literalExpr); ok && lit.v.kind == StringKind {
		re, err := compileXSDRegexp(lit.v.str)
		if err != nil {
			return err
		}
		c.re.fixed = re
	}
	return nil
}

// fnReMatch implements re-match() (RFC 7950 §10.2.1): whether the whole first
// argument matches the XML Schema regular expression in the second.
func fnReMatch(ev *evaluator, c *callExpr) (Value, error) {
	s, err := ev.evalString(c.args[0])
	if err != nil {
		return Value{}, err
	}
	var re *regexp.Regexp
	if c.re.fixed != nil {
		re = c.re.fixed
	} else {
		pat, err := ev.evalString(c.args[1])
		if err != nil {
			return Value{}, err
		}
		if re, err = c.re.get(pat); err != nil {
			return Value{}, err
		}
	}
	return boolVal(re.MatchString(s)), nil
}

// compileXSDRegexp translates an XML Schema regular expression (XSD Part 2,
// Appendix F, as YANG patterns use it, RFC 7950 §9.4.5) into Go syntax and
// compiles it anchored at both ends, XSD patterns being implicitly anchored.
func compileXSDRegexp(pattern string) (*regexp.Regexp, error) {
	tr, err := translateXSD(pattern)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	re, err := regexp.Compile(`^(?:` + tr + `)$`)
	if err != nil {
		return nil, fmt.Errorf("pattern %q: %w", pattern, err)
	}
	return re, nil
}

// Multi-character escapes of XSD (Appendix F.3.3) as Go class bodies.
const (
	xsdSpace    = ` \t\n\r`
	xsdNameInit = `\p{L}_:`
	xsdNameChar = `\p{L}\p{M}\p{Nd}\p{Nl}._:\-\x{B7}`
	xsdWord     = `\p{L}\p{M}\p{N}\p{S}` // all but \p{P}, \p{Z}, \p{C}
	xsdNonWord  = `\p{P}\p{Z}\p{C}`
)

var errClassSubtraction = errors.New("character class subtraction is not supported")

// translateXSD rewrites the XSD constructs whose Go meaning differs: ^ and $
// are ordinary characters, '.' excludes CR as well as LF, \d \s \w \i \c and
// their negations have XSD's Unicode meaning, and \p{IsBlock} block escapes
// and class subtraction are rejected.
func translateXSD(p string) (string, error) {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); {
		r, w := utf8.DecodeRuneInString(p[i:])
		if r == utf8.RuneError && w <= 1 {
			return "", errors.New("invalid UTF-8")
		}
		i += w
		switch {
		case r == '\\':
			n, err := translateEscape(&b, p[i:], inClass)
			if err != nil {
				return "", err
			}
			i += n
		case inClass:
			switch {
			case r == '[':
				return "", errClassSubtraction
			case r == ']':
				inClass = false
			}
			b.WriteRune(r)
		case r == '[':
			inClass = true
			b.WriteRune(r)
			if i < len(p) && p[i] == '^' {
				b.WriteByte('^')
				i++
			}
		case r == '.':
			b.WriteString(`[^\n\r]`)
		case r == '^' || r == '$':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '(' && i < len(p) && p[i] == '?':
			return "", errors.New("'(?' is not XSD syntax")
		default:
			b.WriteRune(r)
		}
	}
	if inClass {
		return "", errors.New("unterminated character class")
	}
	return b.String(), nil
}

// translateEscape writes the translation of the escape whose character
// follows a backslash at the start of rest, and returns how many bytes of
// rest it consumed.
func translateEscape(b *strings.Builder, rest string, inClass bool) (int, error) {
	if rest == "" {
		return 0, errors.New("trailing backslash")
	}
	r, w := utf8.DecodeRuneInString(rest)
	class := func(body string, negate bool) error {
		switch {
		case !inClass && negate:
			b.WriteString("[^" + body + "]")
		case !inClass:
			b.WriteString("[" + body + "]")
		case negate:
			return fmt.Errorf(`\%c inside a character class is not supported`, r)
		default:
			b.WriteString(body)
		}
		return nil
	}
	switch r {
	case 'n', 'r', 't', '\\', '|', '.', '?', '*', '+', '(', ')', '{', '}', '-', '[', ']', '^', '$':
		b.WriteByte('\\')
		b.WriteRune(r)
	case 'd':
		b.WriteString(`\p{Nd}`)
	case 'D':
		b.WriteString(`\P{Nd}`)
	case 's', 'S':
		return w, class(xsdSpace, r == 'S')
	case 'i', 'I':
		return w, class(xsdNameInit, r == 'I')
	case 'c', 'C':
		return w, class(xsdNameChar, r == 'C')
	case 'w':
		return w, class(xsdWord, false)
	case 'W':
		return w, class(xsdNonWord, false)
	case 'p', 'P':
		end := strings.IndexByte(rest, '}')
		if len(rest) < 3 || rest[1] != '{' || end < 0 {
			return 0, fmt.Errorf(`malformed \%c{...} escape`, r)
		}
		name := rest[2:end]
		if _, ok := unicode.Categories[name]; !ok {
			return 0, fmt.Errorf(`\%c{%s} is not supported (only general categories)`, r, name)
		}
		b.WriteByte('\\')
		b.WriteString(rest[:end+1])
		return end + 1, nil
	default:
		return 0, fmt.Errorf(`invalid escape \%c`, r)
	}
	return w, nil
}
