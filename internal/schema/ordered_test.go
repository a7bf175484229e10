package schema

import (
	"strings"
	"testing"

	"secgw/generated"
)

var nacmPath = DataPath{{Name: "nacm"}}

// ruleListAt is the path of rule-list name.
func ruleListAt(name string) DataPath {
	return nacmPath.Child(Elem{Name: "rule-list", KeyName: "name", Key: name})
}

func ruleListOrder(d *generated.Device) string {
	return strings.Join(d.GetNacm().RuleList.Keys(), " ")
}

// TestOrderedJournal: entries of an ordered-by user list go last, in the
// order they are created; Entries walks them in that order; edits
// through a journal (create, move, delete) never write into the tree it
// started from, and Undo puts the order back.
func TestOrderedJournal(t *testing.T) {
	s := load(t)
	base := &generated.Device{}
	for _, n := range []string{"c", "a", "b"} {
		setPath(t, s, s.RootNode(base), ruleListAt(n), "group", "*")
	}
	if got := ruleListOrder(base); got != "c a b" {
		t.Fatalf("order %q, want c a b", got)
	}
	nacm, _, _ := s.Resolve(base, nacmPath, false)
	f := nacm.B.Field("rule-list")
	if !f.Ordered || nacm.Len(f) != 3 || strings.Join(nacm.Order(f), " ") != "c a b" {
		t.Fatalf("binding: ordered %v, len %d, order %v", f.Ordered, nacm.Len(f), nacm.Order(f))
	}

	j := NewJournal()
	d := j.Own(base)
	root := s.JournaledRoot(d, j)
	mark := j.Mark()
	setPath(t, s, root, ruleListAt("a"), "group", "ops") // copies a
	setPath(t, s, root, ruleListAt("z"), "group", "*")
	n, _, _ := s.ResolveFrom(root, nacmPath, false)
	if ok, err := n.MoveEntry(s, f, "b", First, ""); !ok || err != nil {
		t.Fatalf("move b first: %v %v", ok, err)
	}
	if ok, err := n.MoveEntry(s, f, "z", Before, "c"); !ok || err != nil {
		t.Fatalf("move z before c: %v %v", ok, err)
	}
	if ok, _ := n.MoveEntry(s, f, "z", After, "nope"); ok {
		t.Error("a move next to a missing entry succeeded")
	}
	if _, err := n.DeleteEntry(s, f, "c"); err != nil {
		t.Fatal(err)
	}
	if got := ruleListOrder(d); got != "b z a" {
		t.Errorf("edited order %q, want b z a", got)
	}
	if got := ruleListOrder(base); got != "c a b" || base.Nacm.RuleList.Get("a").Group[0] != "*" {
		t.Errorf("the base tree was written into: order %q", got)
	}
	if len(j.Touched()) == 0 {
		t.Error("the journal recorded nothing")
	}
	keys, ok := j.ListKeys(nacmPath, "rule-list")
	if ok || keys != nil {
		t.Errorf("ListKeys of a reordered list: %v %v, want the whole list to compare", keys, ok)
	}
	j.Undo(mark)
	if got := ruleListOrder(d); got != "c a b" {
		t.Errorf("after Undo, order %q, want c a b", got)
	}
}
