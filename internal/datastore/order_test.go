package datastore

import (
	"reflect"
	"strings"
	"testing"

	"secgw/generated"
	"secgw/internal/schema"
)

var nacmPath = schema.DataPath{{Name: "nacm"}}

// ruleLists returns the edit creating rule-lists names, in that order,
// each with a rule.
func ruleLists(names ...string) func(schema.Node) error {
	var lines []string
	for _, n := range names {
		lines = append(lines, "/ nacm rule-list "+n+" rule r action permit")
	}
	return set(lines...)
}

// moveRuleList returns the edit moving rule-list key to pos (next to
// anchor).
func moveRuleList(t testing.TB, key string, pos schema.Position, anchor string) func(schema.Node) error {
	return func(root schema.Node) error {
		n, ok, err := tSchema.ResolveFrom(root, nacmPath, false)
		if err != nil || !ok {
			t.Fatalf("no /nacm: %v", err)
		}
		if ok, err := n.MoveEntry(tSchema, n.B.Field("rule-list"), key, pos, anchor); err != nil || !ok {
			t.Fatalf("move %s: %v %v", key, ok, err)
		}
		return nil
	}
}

// order returns the rule-list names of d in order.
func order(d *generated.Device) string {
	return strings.Join(d.GetNacm().RuleList.Keys(), " ")
}

// TestOrderCloneAndDiff: a clone keeps an ordered-by user list's order;
// a diff reports an entry that moved (the fewest moves), and a list
// that only took another order differs.
func TestOrderCloneAndDiff(t *testing.T) {
	open(t, t.TempDir()) // loads the schema
	a := &generated.Device{}
	if err := setTree(a, "/ nacm rule-list c rule r action permit", "/ nacm rule-list a rule r action permit",
		"/ nacm rule-list b rule r action permit", "/ nacm rule-list d rule r action permit"); err != nil {
		t.Fatal(err)
	}
	b := Clone(a)
	if order(b) != "c a b d" {
		t.Fatalf("clone order %q, want c a b d", order(b))
	}
	if d := Diff(tSchema, a, b); len(d) != 0 {
		t.Fatalf("a clone differs: %v", d)
	}
	if err := moveRuleList(t, "d", schema.First, "")(tSchema.RootNode(b)); err != nil {
		t.Fatal(err)
	}
	if order(b) != "d c a b" || order(a) != "c a b d" {
		t.Fatalf("orders %q and %q", order(a), order(b))
	}
	got := Diff(tSchema, a, b)
	if len(got) != 1 || got[0].Op != Move || got[0].Path.String() != "/nacm/rule-list[name='d']" {
		t.Errorf("diff %v, want one move of d", got)
	}
	if equal(reflectOf(a), reflectOf(b)) {
		t.Error("trees of different orders compare equal")
	}
}

// TestOrderCommitPersistRollback: a commit that only reorders is a
// commit (its subscribers see the moves), and the order survives a
// restart, from the journal file (replay) and from a snapshot, and a
// rollback puts the old order back.
func TestOrderCommitPersistRollback(t *testing.T) {
	for _, every := range []int{100, 1} {
		t.Run(map[int]string{100: "journal", 1: "snapshot"}[every], func(t *testing.T) {
			dir := t.TempDir()
			st := openWith(t, dir, every, 10)
			var log []string
			st.Subscribe(&recorder{name: "aaa", log: &log})
			commit := func(edit func(schema.Node) error) {
				t.Helper()
				if err := st.Edit(1, edit); err != nil {
					t.Fatal(err)
				}
				if err := st.Commit(CommitOptions{Session: 1}); err != nil {
					t.Fatal(err)
				}
			}
			commit(ruleLists("c", "a", "b"))
			if got := order(st.Running()); got != "c a b" {
				t.Fatalf("committed order %q, want c a b", got)
			}
			log = nil
			commit(moveRuleList(t, "b", schema.First, ""))
			if got := strings.Join(log, "|"); got != "aaa prepare move /nacm/rule-list[name='b']|aaa apply" {
				t.Errorf("a reorder reached the subscriber as %q", got)
			}
			commit(func(root schema.Node) error {
				if err := ruleLists("e")(root); err != nil {
					return err
				}
				return moveRuleList(t, "e", schema.After, "b")(root)
			})
			if got := order(st.Running()); got != "b e c a" {
				t.Fatalf("running order %q, want b e c a", got)
			}
			crash(st)

			st = openWith(t, dir, every, 10)
			if got := order(st.Running()); got != "b e c a" {
				t.Fatalf("after a restart, order %q, want b e c a", got)
			}
			if err := st.Rollback(1, 1); err != nil {
				t.Fatal(err)
			}
			if err := st.Commit(CommitOptions{Session: 1}); err != nil {
				t.Fatal(err)
			}
			if got := order(st.Running()); got != "c a b" {
				t.Fatalf("after rollback to commit 1, order %q, want c a b", got)
			}
			crash(st)
			if got := order(openWith(t, dir, every, 10).Running()); got != "c a b" {
				t.Fatalf("after the rollback and a restart, order %q, want c a b", got)
			}
		})
	}
}

func reflectOf(d *generated.Device) reflect.Value { return reflect.ValueOf(d) }
