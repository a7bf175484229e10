package schema

import (
	"reflect"
	"testing"

	"secgw/generated"
)

// setPath sets leaf leaf of the node at path p below root, creating the
// path.
func setPath(t *testing.T, s *Schema, root Node, p DataPath, leaf, value string) {
	t.Helper()
	n, _, err := s.ResolveFrom(root, p, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.SetLeaf(s, n.B.Field(leaf), value); err != nil {
		t.Fatal(err)
	}
}

var (
	ikePath = DataPath{{Name: "vrf", KeyName: "name", Key: "main"}, {Name: "ike"}}
	vpnA    = ikePath.Child(Elem{Name: "vpn", KeyName: "name", Key: "a"})
	vpnB    = ikePath.Child(Elem{Name: "vpn", KeyName: "name", Key: "b"})
	vpnC    = ikePath.Child(Elem{Name: "vpn", KeyName: "name", Key: "c"})
	spB     = vpnB.Child(Elem{Name: "security-policy", KeyName: "name", Key: "s"})
)

// TestJournalCopyOnWrite checks that edits through a journal never write
// into the tree it started from: they copy the path to what they change
// (and the maps on it), and share the rest.
func TestJournalCopyOnWrite(t *testing.T) {
	s := load(t)
	base := &generated.Device{}
	setPath(t, s, s.RootNode(base), vpnA, "remote-address", "192.0.2.1")
	setPath(t, s, s.RootNode(base), vpnC, "remote-address", "192.0.2.3")
	want := reflect.ValueOf(*base.Vrf["main"].Ike.Vpn["a"]).Interface()

	j := NewJournal()
	d := j.Own(base)
	root := s.JournaledRoot(d, j)
	setPath(t, s, root, vpnA, "remote-address", "192.0.2.9")
	setPath(t, s, root, spB.Child(Elem{Name: "remote-ts"}), "subnet", "10.0.0.0/24")
	if d == base || d.Vrf["main"].Ike == base.Vrf["main"].Ike {
		t.Fatal("the path to the change is not copied")
	}
	if !reflect.DeepEqual(*base.Vrf["main"].Ike.Vpn["a"], want) || len(base.Vrf["main"].Ike.Vpn) != 2 {
		t.Fatal("an edit wrote into the tree the journal started from")
	}
	if d.Vrf["main"].Ike.Vpn["c"] != base.Vrf["main"].Ike.Vpn["c"] {
		t.Error("an unchanged entry is not shared")
	}
	if got := d.Vrf["main"].Ike.Vpn["a"].GetRemoteAddress(); got != "192.0.2.9" {
		t.Errorf("the edit is lost: %q", got)
	}

	// After Share, the next edit copies again: the shared version stays.
	j.Share()
	shared := d.Vrf["main"].Ike.Vpn["a"]
	d2 := j.Own(d)
	setPath(t, s, s.JournaledRoot(d2, j), vpnA, "remote-address", "192.0.2.10")
	if shared.GetRemoteAddress() != "192.0.2.9" || d2.Vrf["main"].Ike.Vpn["a"].GetRemoteAddress() != "192.0.2.10" {
		t.Error("an edit after Share wrote into the shared version")
	}
}

// TestJournalCreatedSubtree checks that the nodes inside a subtree the
// journal created are not touched one by one (the diff reports the
// subtree as one creation), unless a node was at that path in the tree
// the journal started from; and that Undo back to a mark takes a created
// subtree away whole.
func TestJournalCreatedSubtree(t *testing.T) {
	s := load(t)
	base := &generated.Device{}
	setPath(t, s, s.RootNode(base), vpnA, "remote-address", "192.0.2.1")
	j := NewJournal()
	d := j.Own(base)
	root := s.JournaledRoot(d, j)
	mark := j.Mark()
	setPath(t, s, root, spB.Child(Elem{Name: "remote-ts"}), "subnet", "10.0.0.0/24")
	setPath(t, s, root, vpnB, "remote-address", "192.0.2.2")
	if got := j.Touched(); len(got) != 1 || got[0].String() != ikePath.String() {
		t.Errorf("touched %v, want only %s", got, ikePath)
	}
	j.Undo(mark)
	if _, ok := d.Vrf["main"].Ike.Vpn["b"]; ok {
		t.Error("undo left the created entry")
	}

	// Deleted, then created again: the path was in the base tree, so
	// the new node's fields are touched.
	j.Reset()
	d = j.Own(base)
	root = s.JournaledRoot(d, j)
	ike, _, _ := s.ResolveFrom(root, ikePath, false)
	if ok, err := ike.DeleteEntry(s, ike.B.Field("vpn"), "a"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	setPath(t, s, root, vpnA, "remote-address", "192.0.2.7")
	found := false
	for _, p := range j.Touched() {
		found = found || p.String() == vpnA.String()
	}
	if !found {
		t.Errorf("touched %v lacks %s", j.Touched(), vpnA)
	}
}
