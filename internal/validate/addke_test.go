package validate

import (
	"errors"
	"strings"
	"testing"

	"secgw/generated"
)

// TestAdditionalKeyExchangeNeedsDHGroup: an esp-proposal that lists
// additional key exchanges (RFC 9370) needs a dh-group, the first key
// exchange of its CREATE_CHILD_SA; with one it is valid.
func TestAdditionalKeyExchangeNeedsDHGroup(t *testing.T) {
	s, v := setup(t)
	d := &generated.Device{}
	apply(t, s, d, append(base, "/ vrf main ike ipsec-policy-template e1 esp-proposal 1 additional-key-exchange-3 mlkem768")...)
	var es Errors
	if err := v.Validate(d); !errors.As(err, &es) || len(es) != 1 || es[0].Kind != KindMust ||
		!strings.Contains(es[0].Message, "additional key exchanges needs a dh-group") {
		t.Fatalf("got %v, want the esp-proposal's must", err)
	}
	apply(t, s, d, "/ vrf main ike ipsec-policy-template e1 esp-proposal 1 dh-group curve25519",
		"/ vrf main ike ike-policy-template t1 ike-proposal 1 additional-key-exchange-1 mlkem1024")
	if err := v.Validate(d); err != nil {
		t.Fatal(err)
	}
}
