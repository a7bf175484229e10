package validate

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"

	"github.com/openconfig/goyang/pkg/yang"

	"secgw/internal/schema"
	"secgw/internal/xpath"
)

// nodePlan holds the compiled constraints of one container or list entry
// type; fields is parallel to the binding's Fields.
type nodePlan struct {
	b      *schema.Binding
	fields []fieldPlan
	musts  []mustPlan // must statements of the node itself
	when   *exprPlan  // when of the node itself
	// hasMandatory is set when the node or a non-presence container below
	// it has a mandatory leaf, so a missing container still needs a look.
	hasMandatory bool
	presence     bool
}

// fieldPlan holds the compiled constraints of one child field.
type fieldPlan struct {
	s         *schema.Schema
	f         *schema.Field
	ns        string // namespace of the node's module (xnode.Namespace)
	typ       *typeCheck
	mandatory bool
	musts     []mustPlan // musts of a leaf or leaf-list
	when      *exprPlan  // when of a leaf or leaf-list
	leafref   *exprPlan
	min, max  int // min- and max-elements; max 0 means unbounded
	uniques   [][][]string
	dflt      string
	hasDflt   bool
	elem      *nodePlan
	// hidden is set, in the Validator's public plans only, on the secret
	// leaves: they do not exist in that view of the tree (see redact).
	hidden bool
}

type exprPlan struct {
	expr *xpath.Expr
	src  string
	// deps are the schema paths ("/vrf/ike/pool/name") the expression reads,
	// resolved against the schema at compile time (see deps.go).
	deps []string
}

type mustPlan struct {
	exprPlan
	msg string
}

// typeCheck is the compiled value space of a YANG type.
type typeCheck struct {
	name     string // YANG type name, for messages
	kind     yang.TypeKind
	ranges   yang.YangRange
	lengths  yang.YangRange
	patterns []*regexp.Regexp
	fd       uint8
	members  []*typeCheck // union
	// native replaces the patterns of the ietf-inet-types address and
	// prefix types with net/netip, which accepts the same strings (zones
	// aside) many times faster; it returns false for a bad value.
	native func(string) bool
}

// nativeChecks are the ietf-inet-types typedefs checked with net/netip.
var nativeChecks = map[string]func(string) bool{
	"ipv4-address": func(s string) bool { a, err := netip.ParseAddr(s); return err == nil && a.Is4() },
	"ipv6-address": func(s string) bool { a, err := netip.ParseAddr(s); return err == nil && a.Is6() },
	"ipv4-prefix": func(s string) bool {
		p, err := netip.ParsePrefix(s)
		return err == nil && p.Addr().Is4()
	},
	"ipv6-prefix": func(s string) bool {
		p, err := netip.ParsePrefix(s)
		return err == nil && p.Addr().Is6()
	},
}

type compiler struct {
	s     *schema.Schema
	plans map[*schema.Binding]*nodePlan
	re    map[string]*regexp.Regexp
	xp    map[string]*xpath.Expr
}

func (c *compiler) plan(b *schema.Binding) (*nodePlan, error) {
	if p, ok := c.plans[b]; ok {
		return p, nil
	}
	p := &nodePlan{b: b, fields: make([]fieldPlan, len(b.Fields))}
	c.plans[b] = p
	var err error
	if b.Entry != nil && b.Entry.Node != nil {
		if p.musts, err = c.musts(b.Entry); err != nil {
			return nil, err
		}
		if p.when, err = c.when(b.Entry); err != nil {
			return nil, err
		}
		if ct, ok := b.Entry.Node.(*yang.Container); ok && ct.Presence != nil {
			p.presence = true
		}
	}
	for i := range b.Fields {
		f := &b.Fields[i]
		fp := &p.fields[i]
		fp.f = f
		fp.s = c.s
		e := f.Entry
		if ns := e.Namespace(); ns != nil {
			fp.ns = ns.Name
		}
		switch f.Kind {
		case schema.KindContainer, schema.KindList:
			if fp.elem, err = c.plan(f.Elem); err != nil {
				return nil, err
			}
			if f.Kind == schema.KindContainer && !fp.elem.presence && fp.elem.hasMandatory {
				p.hasMandatory = true
			}
		default:
			if fp.typ, err = c.typ(e.Type); err != nil {
				return nil, fmt.Errorf("validate: %s: %w", schema.Path(e), err)
			}
			if fp.musts, err = c.musts(e); err != nil {
				return nil, err
			}
			if fp.when, err = c.when(e); err != nil {
				return nil, err
			}
			if e.Type.Kind == yang.Yleafref {
				if fp.leafref, err = c.expr(e, e.Type.Path); err != nil {
					return nil, err
				}
			}
			if e.Mandatory == yang.TSTrue {
				fp.mandatory = true
				p.hasMandatory = true
			}
			if d, ok := e.SingleDefaultValue(); ok && f.Kind == schema.KindLeaf {
				fp.dflt, fp.hasDflt = d, true
			}
		}
		if e.ListAttr != nil {
			if e.ListAttr.MinElements > 0 {
				fp.min = int(e.ListAttr.MinElements)
			}
			if e.ListAttr.MaxElements != 0 && e.ListAttr.MaxElements != ^uint64(0) {
				fp.max = int(e.ListAttr.MaxElements)
			}
		}
		if l, ok := e.Node.(*yang.List); ok {
			for _, u := range l.Unique {
				var set [][]string
				for _, d := range strings.Fields(u.Name) {
					set = append(set, strings.Split(stripPrefixes(d), "/"))
				}
				fp.uniques = append(fp.uniques, set)
			}
		}
	}
	return p, nil
}

func (c *compiler) musts(e *yang.Entry) ([]mustPlan, error) {
	var ms []*yang.Must
	switch n := e.Node.(type) {
	case *yang.Container:
		ms = n.Must
	case *yang.List:
		ms = n.Must
	case *yang.Leaf:
		ms = n.Must
	case *yang.LeafList:
		ms = n.Must
	}
	var out []mustPlan
	for _, m := range ms {
		ep, err := c.expr(e, m.Name)
		if err != nil {
			return nil, err
		}
		mp := mustPlan{exprPlan: *ep}
		if m.ErrorMessage != nil {
			mp.msg = strings.Join(strings.Fields(m.ErrorMessage.Name), " ")
		} else {
			mp.msg = fmt.Sprintf("must %q is not satisfied", m.Name)
		}
		out = append(out, mp)
	}
	return out, nil
}

func (c *compiler) when(e *yang.Entry) (*exprPlan, error) {
	src, ok := e.GetWhenXPath()
	if !ok {
		return nil, nil
	}
	return c.expr(e, src)
}

func (c *compiler) expr(e *yang.Entry, src string) (*exprPlan, error) {
	x, ok := c.xp[src]
	if !ok {
		var err error
		if x, err = xpath.Compile(src); err != nil {
			return nil, fmt.Errorf("validate: %s: %w", schema.Path(e), err)
		}
		c.xp[src] = x
	}
	return &exprPlan{expr: x, src: src, deps: exprDeps(e, x)}, nil
}

func (c *compiler) typ(yt *yang.YangType) (*typeCheck, error) {
	if yt == nil {
		return nil, nil
	}
	t := &typeCheck{kind: yt.Kind, fd: uint8(yt.FractionDigits), name: yt.Name}
	switch yt.Kind {
	case yang.Yunion:
		for _, m := range yt.Type {
			mt, err := c.typ(m)
			if err != nil {
				return nil, err
			}
			t.members = append(t.members, mt)
		}
	case yang.Ystring:
		t.lengths = yt.Length
		if fn, ok := nativeChecks[yt.Name]; ok && yt.Base != nil && yt.Base.Name == "string" {
			t.native = fn
			return t, nil
		}
		for _, pat := range yt.Pattern {
			re, ok := c.re[pat]
			if !ok {
				var err error
				// YANG patterns are XSD regular expressions, implicitly
				// anchored at both ends (RFC 7950 §9.4.5).
				if re, err = regexp.Compile("^(?:" + pat + ")$"); err != nil {
					return nil, fmt.Errorf("pattern %q: %w", pat, err)
				}
				c.re[pat] = re
			}
			t.patterns = append(t.patterns, re)
		}
	case yang.Yint8, yang.Yint16, yang.Yint32, yang.Yint64,
		yang.Yuint8, yang.Yuint16, yang.Yuint32, yang.Yuint64, yang.Ydecimal64:
		t.ranges = yt.Range
	}
	return t, nil
}

// check returns why s is not in the value space, or "". The reason
// quotes s, except for a secret leaf: its value never appears in an error,
// which reaches rpc-errors and logs, whoever asked.
func (t *typeCheck) check(s string, secret bool) string {
	if t == nil {
		return ""
	}
	switch t.kind {
	case yang.Yunion:
		for _, m := range t.members {
			if m.check(s, secret) == "" {
				return ""
			}
		}
		return shown(s, secret, true) + " is not a valid value"
	case yang.Ystring:
		if t.native != nil {
			if !t.native(s) {
				return fmt.Sprintf("%s is not a valid %s", shown(s, secret, true), t.name)
			}
			return ""
		}
		if len(t.lengths) > 0 {
			n := yang.FromInt(int64(len([]rune(s))))
			if !inRange(t.lengths, n) {
				return fmt.Sprintf("%s has length %d, allowed %s", shown(s, secret, true), len([]rune(s)), t.lengths)
			}
		}
		for _, re := range t.patterns {
			if !re.MatchString(s) {
				return fmt.Sprintf("%s does not match the pattern %s", shown(s, secret, true), strings.TrimSuffix(strings.TrimPrefix(re.String(), "^(?:"), ")$"))
			}
		}
	case yang.Yint8, yang.Yint16, yang.Yint32, yang.Yint64:
		i, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return shown(s, secret, true) + " is not an integer"
		}
		if !inRange(t.ranges, yang.FromInt(i)) {
			return fmt.Sprintf("%s is out of range %s", shown(s, secret, false), t.ranges)
		}
	case yang.Yuint8, yang.Yuint16, yang.Yuint32, yang.Yuint64:
		u, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return shown(s, secret, true) + " is not an integer"
		}
		if !inRange(t.ranges, yang.FromUint(u)) {
			return fmt.Sprintf("%s is out of range %s", shown(s, secret, false), t.ranges)
		}
	case yang.Ydecimal64:
		n, err := yang.ParseDecimal(s, t.fd)
		if err != nil {
			// More fraction digits than allowed, as 4.0001 for 3 digits.
			return fmt.Sprintf("%s is not a decimal with at most %d fraction digits", shown(s, secret, true), t.fd)
		}
		if !inRange(t.ranges, n) {
			return fmt.Sprintf("%s is out of range %s", shown(s, secret, false), t.ranges)
		}
	}
	return ""
}

// shown is how an error message shows value s: quoted (or not, for
// numbers), or not at all for a secret.
func shown(s string, secret, quote bool) string {
	switch {
	case secret:
		return "the secret value"
	case quote:
		return strconv.Quote(s)
	}
	return s
}

func inRange(r yang.YangRange, n yang.Number) bool {
	if len(r) == 0 {
		return true
	}
	for _, yr := range r {
		if !n.Less(yr.Min) && !yr.Max.Less(n) {
			return true
		}
	}
	return false
}

func stripPrefixes(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		if j := strings.IndexByte(s, ':'); j >= 0 {
			parts[i] = s[j+1:]
		}
	}
	return strings.Join(parts, "/")
}
