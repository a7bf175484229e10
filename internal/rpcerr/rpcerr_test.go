package rpcerr

import (
	"errors"
	"fmt"
	"testing"
)

// many converts itself to Errors, as the validator's violations do.
type many []string

func (m many) Error() string { return "many" }

func (m many) As(target any) bool {
	t, ok := target.(*Errors)
	if ok {
		for _, s := range m {
			*t = append(*t, &Error{Type: TypeApplication, Tag: TagDataMissing, Message: s})
		}
	}
	return ok
}

func TestError(t *testing.T) {
	cause := errors.New("disk full")
	e := &Error{Type: TypeProtocol, Tag: TagLockDenied, Message: "held", Source: "netconf", Err: cause}
	var err error = fmt.Errorf("wrapped: %w", e)
	var target *Error
	if !errors.As(err, &target) || target != e || err.Error() != "wrapped: netconf: held" || !errors.Is(err, cause) {
		t.Fatalf("Error() = %q", err.Error())
	}
	if (&Error{Message: "plain"}).Error() != "plain" {
		t.Fatal("an error without Source is its message")
	}
	if got := (&Error{}).WithInfo("bad-element", "x", "odd").Info; len(got) != 1 || got["bad-element"] != "x" {
		t.Fatalf("WithInfo: %v", got)
	}
}

// TestOf: a list in the chain wins over a single error around it; a
// plain error is operation-failed with its text.
func TestOf(t *testing.T) {
	outer := &Error{Type: TypeApplication, Tag: TagOperationFailed, Message: "commit refused", Err: many{"a", "b"}}
	if es := Of(outer); len(es) != 2 || es[1].Message != "b" {
		t.Fatalf("Of(list inside) = %v", es)
	}
	single := &Error{Type: TypeRPC, Tag: TagMalformedMessage, Message: "bad"}
	if es := Of(fmt.Errorf("x: %w", single)); len(es) != 1 || es[0] != single {
		t.Fatalf("Of(single) = %v", es)
	}
	es := Of(errors.New("boom"))
	if len(es) != 1 || es[0].Type != TypeApplication || es[0].Tag != TagOperationFailed || es[0].Message != "boom" {
		t.Fatalf("Of(plain) = %+v", es[0])
	}
}
