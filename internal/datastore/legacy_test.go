package datastore

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"secgw/internal/schema"
)

// legacySnapshot is a running.json as a release with access control in
// secgw-aaa wrote it: /aaa/nacm with its groups directly under it, and a
// rule whose path names /aaa/nacm.
const legacySnapshot = `{"format":"secgw-config/1","commit":1,"data":{"vrf":[{"name":"main"}],` +
	`"aaa":{"user":[{"name":"root","role":"admin","authorized-key":["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl k"]}],` +
	`"nacm":{"read-default":"deny","group":[{"name":"ops","user-name":["alice"]}],` +
	`"rule-list":[{"name":"ops","group":["ops"],"rule":[` +
	`{"name":"b-no-rules","path":"/aaa/nacm","access-operations":"*","action":"deny"},` +
	`{"name":"a-vrf","path":"/vrf","access-operations":"read","action":"permit"}]}]}}}}` + "\n"

// containsAAANacm reports whether snapshot b holds /aaa/nacm.
func containsAAANacm(b []byte) bool {
	var f struct {
		Data struct {
			Aaa map[string]json.RawMessage `json:"aaa"`
		} `json:"data"`
	}
	_ = json.Unmarshal(b, &f)
	_, ok := f.Data.Aaa["nacm"]
	return ok
}

// TestLegacyNACMCarried: a data directory of an earlier release, with
// /aaa/nacm in the snapshot and in a journal record after it (commit 2
// adds a group and a rule-list), opens with the rules at /nacm: groups
// under groups/group, the rules in their order, the rule's path carried
// to /nacm, the accounts left at /aaa; Migrated says so. A rollback to
// commit 1 undoes commit 2 through its carried inverse ops, and the next
// start, from files this release wrote, carries nothing.
func TestLegacyNACMCarried(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "history"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, runningFile), []byte(legacySnapshot), 0o600); err != nil {
		t.Fatal(err)
	}
	aaaNacm := []schema.Elem{{Name: "aaa"}, {Name: "nacm"}}
	fwd := []op{
		{Op: Create, Path: append(slices.Clone(aaaNacm), schema.Elem{Name: "group", KeyName: "name", Key: "audit"}), Data: json.RawMessage(`{"user-name":["bob"]}`)},
		{Op: Create, Path: append(slices.Clone(aaaNacm), schema.Elem{Name: "rule-list", KeyName: "name", Key: "audit"}),
			Data: json.RawMessage(`{"group":["audit"],"rule":[{"name":"groups","path":"/aaa/nacm/group","access-operations":"read","action":"permit"}]}`)},
	}
	inv := []op{
		{Op: Delete, Path: fwd[1].Path},
		{Op: Delete, Path: fwd[0].Path},
	}
	rec, err := json.Marshal(&commitRecord{ID: 2, Time: time.Unix(1, 0).UTC(), User: "root", Forward: fwd, Inverse: inv})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "history", "00000002.json"), rec, 0o600); err != nil {
		t.Fatal(err)
	}
	w, _, err := openWAL(filepath.Join(dir, walFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.append(rec); err != nil {
		t.Fatal(err)
	}
	w.close()

	st := open(t, dir)
	if st.Migrated() == "" {
		t.Error("Migrated() is empty after carrying /aaa/nacm")
	}
	d := st.Running()
	n := d.GetNacm()
	if n == nil {
		t.Fatal("no /nacm after the start")
	}
	if g := n.GetGroups().GetGroup("ops"); g == nil || !slices.Equal(g.UserName, []string{"alice"}) {
		t.Errorf("group ops = %+v", g)
	}
	if g := n.GetGroups().GetGroup("audit"); g == nil || !slices.Equal(g.UserName, []string{"bob"}) {
		t.Errorf("group audit (journal) = %+v", g)
	}
	if got := n.RuleList.Keys(); !slices.Equal(got, []string{"ops", "audit"}) {
		t.Errorf("rule-lists = %v, want ops audit", got)
	}
	ops := n.RuleList.Get("ops")
	if got := ops.Rule.Keys(); !slices.Equal(got, []string{"b-no-rules", "a-vrf"}) {
		t.Errorf("rules = %v, want the stored order b-no-rules a-vrf", got)
	}
	if p := ops.Rule.Get("b-no-rules").GetPath(); p != "/nacm" {
		t.Errorf("rule b-no-rules path = %q, want /nacm", p)
	}
	if p := n.RuleList.Get("audit").Rule.Get("groups").GetPath(); p != "/nacm/groups/group" {
		t.Errorf("rule groups path = %q, want /nacm/groups/group", p)
	}
	if n.ReadDefault.String() != "deny" {
		t.Errorf("read-default = %v", n.ReadDefault)
	}
	if d.GetAaa().GetUser("root") == nil {
		t.Error("the account root is gone")
	}

	// Rollback to commit 1 applies commit 2's carried inverse (from the
	// history file of the earlier release).
	if err := st.Rollback(1, 1); err != nil {
		t.Fatalf("rollback to 1: %v", err)
	}
	if err := st.Commit(CommitOptions{Session: 1}); err != nil {
		t.Fatalf("commit of the rollback: %v", err)
	}
	if n := st.Running().GetNacm(); n.GetGroups().GetGroup("audit") != nil || n.RuleList.Get("audit") != nil {
		t.Error("rollback to commit 1 left commit 2's group or rule-list")
	}
	st.Close()

	st = open(t, dir)
	defer st.Close()
	if m := st.Migrated(); m != "" {
		t.Errorf("second start: Migrated() = %q, want nothing (the first start stored a snapshot in the new form)", m)
	}
	if b, err := os.ReadFile(filepath.Join(dir, runningFile)); err != nil || json.Valid(b) && containsAAANacm(b) {
		t.Errorf("the snapshot still holds /aaa/nacm (%v)", err)
	}
	if st.Running().GetNacm().RuleList.Get("ops") == nil {
		t.Error("second start: rule-list ops is gone")
	}
}
