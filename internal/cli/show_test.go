package cli

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"

	"secgw/internal/schema"
)

// walkWords follows the words of one line of 'show config' or 'show state'
// output from binding b, parsing each value with its leaf's type. It returns
// the binding of the last container or list entry entered.
func walkWords(s *schema.Schema, b *schema.Binding, words []string) (*schema.Binding, error) {
	for i := 0; i < len(words); {
		f := b.Field(words[i])
		if f == nil {
			return nil, fmt.Errorf("no node %q under %s", words[i], schema.Path(b.Entry))
		}
		switch f.Kind {
		case schema.KindContainer:
			b = f.Elem
			i++
		case schema.KindList:
			key := schema.KeyNames(f.Entry)[0]
			i++
			// 'show state' names the key ("ike-sa unique-id 1"), 'show
			// config' does not ("vpn vpn0").
			if i+1 < len(words) && words[i] == key {
				i++
			}
			if i >= len(words) {
				return nil, fmt.Errorf("list %s without a key value", f.Name)
			}
			if _, err := s.ParseValue(&f.Elem.Fields[f.KeyIndex], words[i]); err != nil {
				return nil, fmt.Errorf("key of %s: %v", f.Name, err)
			}
			b = f.Elem
			i++
		default:
			if i+1 >= len(words) {
				return nil, fmt.Errorf("leaf %s without a value", f.Name)
			}
			if _, err := s.ParseValue(f, words[i+1]); err != nil {
				return nil, fmt.Errorf("%s: %v", f.Name, err)
			}
			i += 2
		}
	}
	return b, nil
}

// TestReferenceShowOutputs checks that every node named by the outputs of
// 'show config' and 'show state' in the vsr guide exists in the model, and
// that every value shown parses with the type of its leaf.
func TestReferenceShowOutputs(t *testing.T) {
	s := loadSchema(t)
	f, err := os.Open("../../test/testdata/vsr-show-outputs.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cmd string
	var stack []*schema.Binding // context per indentation level
	blocks, lines := 0, 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		raw := sc.Text()
		if strings.HasPrefix(raw, "#") || strings.TrimSpace(raw) == "" {
			continue
		}
		if c, ok := strings.CutPrefix(raw, "=== "); ok {
			cmd = c
			blocks++
			// The output starts with the last node of the command's path:
			// its context is the path without that node.
			words := Fields(c)
			at := indexOf(words, "/")
			if at < 0 {
				t.Fatalf("%s: no path", c)
			}
			base, err := pathBase(s, words[at+1:])
			if err != nil {
				t.Fatalf("%s: %v", c, err)
			}
			stack = []*schema.Binding{base}
			continue
		}
		trimmed := strings.TrimLeft(raw, " ")
		depth := (len(raw) - len(trimmed)) / 4
		if trimmed == ".." {
			continue
		}
		if depth >= len(stack) {
			t.Fatalf("%s: %q is indented deeper than its parent", cmd, raw)
		}
		stack = stack[:depth+1]
		end, err := walkWords(s, stack[depth], Fields(trimmed))
		if err != nil {
			t.Errorf("%s: %q: %v", cmd, trimmed, err)
			continue
		}
		stack = append(stack, end)
		lines++
	}
	if blocks != 7 || lines < 60 {
		t.Fatalf("read %d outputs and %d lines; the guide has 7 outputs", blocks, lines)
	}
}

// pathBase returns the binding that holds the last node of a command path
// ("vrf main ike vpn vpn0" -> ike).
func pathBase(s *schema.Schema, words []string) (*schema.Binding, error) {
	b := s.RootBinding()
	var last *schema.Binding
	for i := 0; i < len(words); {
		f := b.Field(words[i])
		if f == nil {
			return nil, fmt.Errorf("no node %q", words[i])
		}
		last = b
		switch f.Kind {
		case schema.KindContainer:
			b = f.Elem
			i++
		case schema.KindList:
			b = f.Elem
			i += 2
		default:
			return last, nil
		}
	}
	return last, nil
}

func indexOf(words []string, w string) int {
	for i, x := range words {
		if x == w {
			return i
		}
	}
	return -1
}
