package datastore

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"secgw/internal/configtest"
	"secgw/internal/schema"
)

var (
	diffSeed  = flag.Uint64("diff.seed", 0, "seed of TestIncrementalMatchesFull (0: a few fixed seeds)")
	diffSteps = flag.Int("diff.steps", 600, "edits per seed of TestIncrementalMatchesFull")
)

// TestIncrementalMatchesFull is a differential test of the commit's
// validation: random edits of a configuration (every configuration line
// of the vsr guide, set one at a time in random order, and deletions of
// random nodes: list entries, containers, leaves, vrf main itself),
// each checked by what commit runs (the incremental validation of the
// changed paths) and by a full validation. They must agree on every
// edit: an edit the incremental validation lets through and the full one
// refuses is a configuration that commits and then cannot be loaded. An
// accepted edit is committed, a refused one discarded, so that the walk
// always starts from a valid configuration, as commit assumes.
func TestIncrementalMatchesFull(t *testing.T) {
	seeds := []uint64{1, 2, 3}
	if *diffSeed != 0 {
		seeds = []uint64{*diffSeed}
	}
	lines := append(configtest.ReferencePreconditions, configtest.Lines(t, "vsr-config-lines.txt")...)
	for _, seed := range seeds {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			st := open(t, t.TempDir())
			rng := rand.New(rand.NewPCG(seed, 0))
			var trail []string
			accepted := 0
			for step := range *diffSteps {
				var what string
				var edit func(schema.Node) error
				switch r := rng.IntN(6); {
				case r < 4:
					l := lines[rng.IntN(len(lines))]
					what, edit = "set "+l, set(l)
				case r == 4:
					nodes := configNodes(tSchema, tSchema.RootNode(st.Candidate()), nil)
					n := nodes[rng.IntN(len(nodes))]
					what, edit = "del "+n.String(), n.del
				default:
					nodes := configNodes(tSchema, tSchema.RootNode(st.Candidate()), nil)
					n := nodes[rng.IntN(len(nodes))]
					what, edit = "replace-empty "+n.String(), n.replaceEmpty
				}
				trail = append(trail, what)
				if err := st.Edit(1, edit); err != nil {
					_ = st.Discard(1)
					continue // refused by the edit itself (a type error)
				}
				st.mu.Lock()
				changes := diffJournal(tSchema, st.running, st.candidate, st.journal)
				inc := st.validateChanges(changes)
				st.mu.Unlock()
				full := tValidator.Validate(st.Candidate())
				if (inc == nil) != (full == nil) {
					t.Fatalf("seed %d step %d: incremental validation says %v, full validation says %v\nlast edits:\n  %s",
						seed, step, inc, full, strings.Join(trail[max(0, len(trail)-8):], "\n  "))
				}
				if inc != nil {
					if err := st.Discard(1); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want := Clone(st.Candidate())
				if err := st.Commit(CommitOptions{Session: 1}); err != nil && !strings.Contains(err.Error(), "no changes") {
					t.Fatalf("seed %d step %d: %s: commit after both validations accepted: %v", seed, step, what, err)
				}
				// Commit diffs only what the journal says changed:
				// running must still come out equal to the candidate.
				if d := Diff(tSchema, st.Running(), want); len(d) != 0 {
					t.Fatalf("seed %d step %d: %s: running differs from the committed candidate: %v", seed, step, what, d)
				}
				accepted++
			}
			t.Logf("seed %d: %d of %d edits accepted", seed, accepted, *diffSteps)
			if accepted == 0 || accepted == *diffSteps {
				t.Fatalf("seed %d: %d of %d edits accepted: the walk tests nothing", seed, accepted, *diffSteps)
			}
		})
	}
}

// nodeRef is a configuration node of a tree, to delete.
type nodeRef struct {
	parent schema.DataPath
	field  string
	key    string // for a list entry
}

func (n nodeRef) String() string {
	s := n.parent.String()
	if s == "/" {
		s = ""
	}
	s += "/" + n.field
	if n.key != "" {
		s += "[" + n.key + "]"
	}
	return s
}

// del deletes the node from the tree of root (journaled).
func (n nodeRef) del(root schema.Node) error {
	p, ok, err := tSchema.ResolveFrom(root, n.parent, false)
	if err != nil || !ok {
		return fmt.Errorf("parent of %s: %v", n, err)
	}
	f := p.B.Field(n.field)
	if f.Kind == schema.KindList {
		_, err := p.DeleteEntry(tSchema, f, n.key)
		return err
	}
	p.ClearField(f)
	return nil
}

// replaceEmpty replaces the node by an empty one (edit-config replace
// with no content), leaves by nothing.
func (n nodeRef) replaceEmpty(root schema.Node) error {
	p, ok, err := tSchema.ResolveFrom(root, n.parent, false)
	if err != nil || !ok {
		return fmt.Errorf("parent of %s: %v", n, err)
	}
	f := p.B.Field(n.field)
	switch f.Kind {
	case schema.KindList:
		if _, err := p.DeleteEntry(tSchema, f, n.key); err != nil {
			return err
		}
		_, _, err := p.Entry(tSchema, f, n.key, true)
		return err
	case schema.KindContainer:
		p.ClearField(f)
		p.Container(f, true)
	default:
		p.ClearField(f)
	}
	return nil
}

// configNodes lists every configuration node below n (at path p): list
// entries, containers and leaves other than list keys.
func configNodes(s *schema.Schema, n schema.Node, p schema.DataPath) []nodeRef {
	var out []nodeRef
	for i := range n.B.Fields {
		f := &n.B.Fields[i]
		if !f.Config || !n.Has(f) {
			continue
		}
		switch f.Kind {
		case schema.KindContainer:
			c, _ := n.Container(f, false)
			out = append(out, nodeRef{parent: p, field: f.Name})
			out = append(out, configNodes(s, c, p.Child(schema.Elem{Name: f.Name}))...)
		case schema.KindList:
			kn := schema.KeyNames(f.Entry)[0]
			for _, e := range n.Entries(f) {
				k := e.Key(s, f)
				out = append(out, nodeRef{parent: p, field: f.Name, key: k})
				out = append(out, configNodes(s, e, p.Child(schema.Elem{Name: f.Name, KeyName: kn, Key: k}))...)
			}
		default:
			if !isKey(n.B, f) {
				out = append(out, nodeRef{parent: p, field: f.Name})
			}
		}
	}
	return out
}
