package cliedit

import (
	"fmt"
	"sort"
	"strings"

	"secgw/internal/schema"
)

// Op is one change of a configuration line: set leaf Field of the node at
// Path to Value (a leaf-list gains Value), or, with Field nil, make sure
// the container or list entry at Path exists.
type Op struct {
	Path  schema.DataPath
	Field *schema.Field
	Value string // canonical lexical form
}

// Change is a parsed configuration line.
type Change struct {
	// Path is the last container or list entry the line named: where an
	// edit context moves when the line sets nothing.
	Path schema.DataPath
	Ops  []Op
	// Sets is the number of leaves the line sets.
	Sets int
}

// Target is what a 'show' or 'del' path names.
type Target struct {
	// Path is the container or list entry named, or the one holding Leaf
	// or List.
	Path schema.DataPath
	// Binding is the binding of the node at Path.
	Binding *schema.Binding
	// Leaf, when set, is the leaf or leaf-list named at the end.
	Leaf *schema.Field
	// Value is the leaf-list value named after Leaf ('del vip-request ::').
	Value string
	// List, when set, is a list named without a key: all its entries.
	List *schema.Field
}

// NotSupportedError is a command of the vsr guides that secgw does not
// implement (yet). Its message says what.
type NotSupportedError struct{ What string }

// Error says what is not supported.
func (e *NotSupportedError) Error() string { return "cli: not supported yet: " + e.What }

// vsrOnly names the vsr configuration nodes, met in the reference guides,
// that secgw has no model for, by the schema path of their parent.
var vsrOnly = map[string]map[string]string{
	"": {
		"system": "the system context (fast-path, kpi) of the vsr: secgw runs on the host's network stack",
	},
	"/vrf": {
		"interface": "interfaces in a vrf: secgw uses the host's interfaces",
		"routing":   "static routing: configure routes on the host",
	},
	"/vrf/kpi": {
		"telegraf": "KPI export to telegraf/influxdb: secgw serves its KPIs to Prometheus (kpi prometheus)",
	},
}

// bindingAt returns the binding of the node at path p (a container or
// list entry).
func (e *Editor) BindingAt(p schema.DataPath) (*schema.Binding, error) {
	b := e.S.RootBinding()
	for i, el := range p {
		f := b.Field(el.Name)
		if f == nil || f.Elem == nil {
			return nil, fmt.Errorf("cli: %s: no node %q", p[:i], el.Name)
		}
		b = f.Elem
	}
	return b, nil
}

// unknownWord is the error for word w where the node b expects one of its
// children; config restricts the choices to configuration nodes.
func unknownWord(b *schema.Binding, p schema.DataPath, w string, config bool) error {
	if m := vsrOnly[schema.Path(b.Entry)]; m != nil && m[w] != "" {
		return &NotSupportedError{What: fmt.Sprintf("%q (%s)", w, m[w])}
	}
	var names []string
	for _, f := range b.Fields {
		if !config || f.Config {
			names = append(names, f.Name)
		}
	}
	sort.Strings(names)
	return fmt.Errorf("cli: unknown word %q at %s: expected one of %s", w, Words(p), strings.Join(names, ", "))
}

// Words renders a data path the way the command language writes it:
// "/ vrf main ike vpn hq".
func Words(p schema.DataPath) string {
	var b strings.Builder
	b.WriteString("/")
	for _, el := range p {
		b.WriteString(" " + el.Name)
		if el.KeyName != "" {
			b.WriteString(" " + Quote(el.Key))
		}
	}
	return b.String()
}

// Parse reads the words of a configuration line relative to base (a
// first word "/" starts from the root). Words walk the schema: a
// container name enters it, a list name takes the next word as the key
// and enters the entry, a leaf name takes the next word as its value,
// after which further words continue at the same node ("sp-hash-ipv4
// local 16 remote 24"). Nothing is changed; the errors name the bad word.
func (e *Editor) Parse(base schema.DataPath, words []string) (*Change, error) {
	path := append(schema.DataPath(nil), base...)
	if len(words) > 0 && words[0] == "/" {
		path = nil
		words = words[1:]
	}
	b, err := e.BindingAt(path)
	if err != nil {
		return nil, err
	}
	ch := &Change{}
	for i := 0; i < len(words); {
		w := words[i]
		f := b.Field(w)
		if f == nil {
			return nil, unknownWord(b, path, w, true)
		}
		if !f.Config {
			return nil, fmt.Errorf("cli: %s %s is state, not configuration", Words(path), w)
		}
		switch f.Kind {
		case schema.KindContainer:
			path = path.Child(schema.Elem{Name: w})
			b = f.Elem
			ch.Ops = append(ch.Ops, Op{Path: path})
			i++
		case schema.KindList:
			kf := &f.Elem.Fields[f.KeyIndex]
			if i+1 >= len(words) {
				return nil, fmt.Errorf("cli: %s needs a %s", w, kf.Name)
			}
			key, err := e.canonical(kf, words[i+1])
			if err != nil {
				return nil, fmt.Errorf("cli: %s %s: bad %s: %w", w, words[i+1], kf.Name, err)
			}
			path = path.Child(schema.Elem{Name: w, KeyName: kf.Name, Key: key})
			b = f.Elem
			ch.Ops = append(ch.Ops, Op{Path: path})
			i += 2
		default:
			if i+1 >= len(words) {
				return nil, fmt.Errorf("cli: %s needs a value (%s)", w, TypeHelp(f.Entry))
			}
			if keys := schema.KeyNames(b.Entry); len(keys) > 0 && keys[0] == w {
				return nil, fmt.Errorf("cli: %s is the key of %s and cannot be changed", w, Words(path))
			}
			v, err := e.canonical(f, words[i+1])
			if err != nil {
				return nil, BadValue(path, f, words[i+1], err)
			}
			ch.Ops = append(ch.Ops, Op{Path: path, Field: f, Value: v})
			ch.Sets++
			i += 2
		}
	}
	ch.Path = path
	return ch, nil
}

// badValue is the error for value v of leaf f at path. The value of a
// secret leaf is never repeated: errors end up in terminals and logs.
func BadValue(path schema.DataPath, f *schema.Field, v string, err error) error {
	if f.Secret {
		return fmt.Errorf("cli: %s %s: the value is not valid (%s)", Words(path), f.Name, TypeHelp(f.Entry))
	}
	return fmt.Errorf("cli: %s %s: bad value %q: %w", Words(path), f.Name, v, err)
}

// canonical parses str as a value of leaf f and returns its canonical
// lexical form ("3" for a decimal64 is "3.0").
func (e *Editor) canonical(f *schema.Field, str string) (string, error) {
	v, err := e.S.ParseValue(f, str)
	if err != nil {
		return "", err
	}
	if c, ok := e.S.Format(v); ok {
		return c, nil
	}
	return str, nil
}

// Resolve reads the path of a 'show' or 'del' command relative to base.
// A list name may be followed by its key name before the key value, as
// 'show state' prints entries ("ike-sa unique-id 1"). With config set,
// only configuration nodes are accepted.
func (e *Editor) Resolve(base schema.DataPath, words []string, config bool) (*Target, error) {
	path := append(schema.DataPath(nil), base...)
	if len(words) > 0 && words[0] == "/" {
		path = nil
		words = words[1:]
	}
	b, err := e.BindingAt(path)
	if err != nil {
		return nil, err
	}
	for i := 0; i < len(words); {
		w := words[i]
		f := b.Field(w)
		if f == nil {
			return nil, unknownWord(b, path, w, config)
		}
		if config && !f.Config {
			return nil, fmt.Errorf("cli: %s %s is state, not configuration", Words(path), w)
		}
		switch f.Kind {
		case schema.KindContainer:
			path = path.Child(schema.Elem{Name: w})
			b = f.Elem
			i++
		case schema.KindList:
			kf := &f.Elem.Fields[f.KeyIndex]
			if i+1 >= len(words) {
				return &Target{Path: path, Binding: b, List: f}, nil
			}
			i++
			if words[i] == kf.Name && i+1 < len(words) {
				i++
			}
			key, err := e.canonical(kf, words[i])
			if err != nil {
				return nil, fmt.Errorf("cli: %s %s: bad %s: %w", w, words[i], kf.Name, err)
			}
			path = path.Child(schema.Elem{Name: w, KeyName: kf.Name, Key: key})
			b = f.Elem
			i++
		default:
			t := &Target{Path: path, Binding: b, Leaf: f}
			switch rest := words[i+1:]; {
			case len(rest) == 0:
			case len(rest) == 1:
				v, err := e.canonical(f, rest[0])
				if err != nil {
					return nil, BadValue(path, f, rest[0], err)
				}
				t.Value = v
			default:
				return nil, fmt.Errorf("cli: unexpected word %q after %s %s", rest[1], Words(path), w)
			}
			return t, nil
		}
	}
	return &Target{Path: path, Binding: b}, nil
}
