package datastore

import (
	"errors"
	"testing"

	"secgw/internal/rpcerr"
)

// tagged is a subscriber's refusal that names its rpc-error tag.
type tagged struct{}

func (tagged) Error() string    { return "the dataplane cannot do that" }
func (tagged) ErrorTag() string { return "operation-not-supported" }

type taggingSub struct{ recorder }

func (s *taggingSub) Prepare(tx *Tx) error { return tagged{} }

// TestPrepareErrorTag: a subscriber's ErrorTagger refusal gives the
// commit's error its tag; others stay operation-failed.
func TestPrepareErrorTag(t *testing.T) {
	for _, tc := range []struct {
		sub  Subscriber
		want string
	}{
		{&taggingSub{recorder{name: "ike", log: new([]string)}}, "operation-not-supported"},
		{&recorder{name: "ike", log: new([]string), failPrep: true}, "operation-failed"},
	} {
		st := open(t, t.TempDir())
		st.Subscribe(tc.sub)
		if err := st.Edit(1, set("/ vrf main ike global-options retransmit-tries 3")); err != nil {
			t.Fatal(err)
		}
		err := st.Commit(CommitOptions{Session: 1})
		var de *rpcerr.Error
		if !errors.As(err, &de) || de.Tag != tc.want {
			t.Errorf("commit refused with %v, want tag %s", err, tc.want)
		}
	}
}
