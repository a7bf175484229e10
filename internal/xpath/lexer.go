package xpath

import (
	"fmt"
	"strconv"
	"unicode"
	"unicode/utf8"
)

// tokKind is the kind of an expression token (XPath 1.0 §3.7).
type tokKind uint8

const (
	tEOF tokKind = iota
	tLParen
	tRParen
	tLBrack
	tRBrack
	tDot
	tDotDot
	tAt
	tComma
	tColonColon
	tSlash
	tSlashSlash
	tPipe
	tPlus
	tMinus
	tEq
	tNe
	tLt
	tLe
	tGt
	tGe
	tMul
	tAnd
	tOr
	tMod
	tDiv
	tName     // NameTest: prefix (maybe empty) and local name (maybe "*")
	tNodeType // node, text, comment, processing-instruction
	tFunc     // FunctionName (followed by '(')
	tAxis     // AxisName (followed by '::')
	tLiteral
	tNumber
)

var tokText = [...]string{
	tEOF: "end of input", tLParen: "'('", tRParen: "')'", tLBrack: "'['", tRBrack: "']'",
	tDot: "'.'", tDotDot: "'..'", tAt: "'@'", tComma: "','", tColonColon: "'::'",
	tSlash: "'/'", tSlashSlash: "'//'", tPipe: "'|'", tPlus: "'+'", tMinus: "'-'",
	tEq: "'='", tNe: "'!='", tLt: "'<'", tLe: "'<='", tGt: "'>'", tGe: "'>='",
	tMul: "'*'", tAnd: "'and'", tOr: "'or'", tMod: "'mod'", tDiv: "'div'",
}

type token struct {
	kind   tokKind
	pos    int
	text   string // literal value, local name, function, axis or node type name
	prefix string // namespace prefix of a name test or function name
	num    float64
}

// describe names the token for error messages.
func (t token) describe() string {
	switch t.kind {
	case tName, tFunc:
		if t.prefix != "" {
			return fmt.Sprintf("name %q", t.prefix+":"+t.text)
		}
		return fmt.Sprintf("name %q", t.text)
	case tNodeType:
		return fmt.Sprintf("node type %s()", t.text)
	case tAxis:
		return fmt.Sprintf("axis %s::", t.text)
	case tLiteral:
		return fmt.Sprintf("literal %q", t.text)
	case tNumber:
		return fmt.Sprintf("number %s", t.text)
	}
	return tokText[t.kind]
}

// operandEnd reports whether a token can end an operand. After such a token a
// '*' is the multiply operator and a name is an operator name
// (XPath 1.0 §3.7, first disambiguation rule).
func operandEnd(k tokKind) bool {
	switch k {
	case tRParen, tRBrack, tDot, tDotDot, tName, tLiteral, tNumber:
		return true
	}
	return false
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isNameStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }

func isNameChar(r rune) bool {
	return isNameStart(r) || r == '-' || r == '.' || unicode.IsDigit(r) || r == 0xB7 ||
		unicode.In(r, unicode.Mn, unicode.Mc, unicode.Me, unicode.Lm, unicode.Nd)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

type lexer struct {
	src  string
	i    int
	toks []token
}

func lex(src string) ([]token, error) {
	l := &lexer{src: src, toks: make([]token, 0, len(src)/3+2)}
	for {
		for l.i < len(src) && isSpace(src[l.i]) {
			l.i++
		}
		if l.i >= len(src) {
			l.toks = append(l.toks, token{kind: tEOF, pos: len(src)})
			return l.toks, nil
		}
		if err := l.next(); err != nil {
			return nil, err
		}
	}
}

func (l *lexer) errf(pos int, format string, args ...any) error {
	return &Error{Offset: pos, Msg: fmt.Sprintf(format, args...)}
}

func (l *lexer) emit(k tokKind, pos, width int) {
	l.toks = append(l.toks, token{kind: k, pos: pos})
	l.i = pos + width
}

func (l *lexer) peekByte(off int) byte {
	if l.i+off < len(l.src) {
		return l.src[l.i+off]
	}
	return 0
}

func (l *lexer) afterOperand() bool {
	return len(l.toks) > 0 && operandEnd(l.toks[len(l.toks)-1].kind)
}

// next scans one token at l.i.
func (l *lexer) next() error {
	start, c := l.i, l.src[l.i]
	switch c {
	case '(':
		l.emit(tLParen, start, 1)
	case ')':
		l.emit(tRParen, start, 1)
	case '[':
		l.emit(tLBrack, start, 1)
	case ']':
		l.emit(tRBrack, start, 1)
	case ',':
		l.emit(tComma, start, 1)
	case '@':
		l.emit(tAt, start, 1)
	case '|':
		l.emit(tPipe, start, 1)
	case '+':
		l.emit(tPlus, start, 1)
	case '-':
		l.emit(tMinus, start, 1)
	case '=':
		l.emit(tEq, start, 1)
	case '/':
		if l.peekByte(1) == '/' {
			l.emit(tSlashSlash, start, 2)
		} else {
			l.emit(tSlash, start, 1)
		}
	case '<', '>':
		k := tLt
		if c == '>' {
			k = tGt
		}
		if l.peekByte(1) == '=' {
			l.emit(k+1, start, 2) // tLe follows tLt, tGe follows tGt
		} else {
			l.emit(k, start, 1)
		}
	case '!':
		if l.peekByte(1) != '=' {
			return l.errf(start, "unexpected '!' (did you mean '!='?)")
		}
		l.emit(tNe, start, 2)
	case ':':
		if l.peekByte(1) != ':' {
			return l.errf(start, "unexpected ':'")
		}
		l.emit(tColonColon, start, 2)
	case '.':
		switch {
		case l.peekByte(1) == '.':
			l.emit(tDotDot, start, 2)
		case isDigit(l.peekByte(1)):
			return l.number()
		default:
			l.emit(tDot, start, 1)
		}
	case '*':
		if l.afterOperand() {
			l.emit(tMul, start, 1)
		} else {
			l.toks = append(l.toks, token{kind: tName, pos: start, text: "*"})
			l.i++
		}
	case '"', '\'':
		end := -1
		for j := start + 1; j < len(l.src); j++ {
			if l.src[j] == c {
				end = j
				break
			}
		}
		if end < 0 {
			return l.errf(start, "unterminated string literal")
		}
		l.toks = append(l.toks, token{kind: tLiteral, pos: start, text: l.src[start+1 : end]})
		l.i = end + 1
	case '$':
		return l.errf(start, "variable references are not supported")
	default:
		if isDigit(c) {
			return l.number()
		}
		return l.name()
	}
	return nil
}

// number scans Digits ('.' Digits?)? | '.' Digits (XPath 1.0 §3.7).
func (l *lexer) number() error {
	start := l.i
	j := start
	for j < len(l.src) && isDigit(l.src[j]) {
		j++
	}
	if j < len(l.src) && l.src[j] == '.' {
		j++
		for j < len(l.src) && isDigit(l.src[j]) {
			j++
		}
	}
	text := l.src[start:j]
	f, err := strconv.ParseFloat(text, 64)
	if err != nil && !isRangeErr(err) {
		return l.errf(start, "invalid number %q", text)
	}
	l.toks = append(l.toks, token{kind: tNumber, pos: start, text: text, num: f})
	l.i = j
	return nil
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// ncname scans an NCName at j and returns its end, or j if there is none.
func (l *lexer) ncname(j int) int {
	r, w := utf8.DecodeRuneInString(l.src[j:])
	if !isNameStart(r) {
		return j
	}
	j += w
	for j < len(l.src) {
		r, w = utf8.DecodeRuneInString(l.src[j:])
		if r == utf8.RuneError || !isNameChar(r) {
			break
		}
		j += w
	}
	return j
}

var operatorNames = map[string]tokKind{"and": tAnd, "or": tOr, "mod": tMod, "div": tDiv}

var nodeTypes = map[string]bool{"node": true, "text": true, "comment": true, "processing-instruction": true}

// name scans a name and classifies it as operator name, node type, function
// name, axis name or name test (XPath 1.0 §3.7 disambiguation rules).
func (l *lexer) name() error {
	start := l.i
	end := l.ncname(start)
	if end == start {
		r, _ := utf8.DecodeRuneInString(l.src[start:])
		if r == utf8.RuneError {
			return l.errf(start, "invalid UTF-8 or unexpected byte 0x%02x", l.src[start])
		}
		return l.errf(start, "unexpected character %q", r)
	}
	word := l.src[start:end]
	if l.afterOperand() {
		k, ok := operatorNames[word]
		if !ok {
			return l.errf(start, "expected operator, found name %q", word)
		}
		l.emit(k, start, end-start)
		return nil
	}
	t := token{kind: tName, pos: start, text: word}
	// A QName or prefix:* (no whitespace inside the token); '::' is an axis.
	if end+1 < len(l.src) && l.src[end] == ':' && l.src[end+1] != ':' {
		if l.src[end+1] == '*' {
			t.prefix, t.text = word, "*"
			end += 2
		} else if e2 := l.ncname(end + 1); e2 > end+1 {
			t.prefix, t.text = word, l.src[end+1:e2]
			end = e2
		} else {
			return l.errf(end, "expected local name after prefix %q", word)
		}
	}
	j := end
	for j < len(l.src) && isSpace(l.src[j]) {
		j++
	}
	switch {
	case j < len(l.src) && l.src[j] == '(' && t.text != "*":
		t.kind = tFunc
		if t.prefix == "" && nodeTypes[t.text] {
			t.kind = tNodeType
		}
	case t.prefix == "" && t.text != "*" && j+1 < len(l.src) && l.src[j] == ':' && l.src[j+1] == ':':
		t.kind = tAxis
	}
	l.toks = append(l.toks, t)
	l.i = end
	return nil
}
