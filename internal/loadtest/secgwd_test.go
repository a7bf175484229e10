package loadtest

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"secgw/generated"
	"secgw/internal/ipsec"
	"secgw/internal/schema"
	"secgw/internal/xmlcodec"
)

// TestSecgwdConfig: the edit-config secgwd is given decodes to the very
// configuration the engine-only responder runs.
func TestSecgwdConfig(t *testing.T) {
	t.Run("ecp256", func(t *testing.T) { testSecgwdConfig(t, nil) })
	t.Run("x25519+mlkem768", func(t *testing.T) {
		testSecgwdConfig(t, func(o *ResponderOptions) {
			o.Group, o.AddKE = ipsec.GroupCurve25519, []ipsec.TransformID{ipsec.GroupMLKEM768}
		})
	})
}

func testSecgwdConfig(t *testing.T, edit func(*ResponderOptions)) {
	o := respOptions()
	o.Threads, o.DPDDelay = 16, 30*time.Second
	if edit != nil {
		edit(&o)
		if _, err := responderConfig(o); err != nil {
			t.Fatal(err)
		}
	}
	b, err := SecgwdConfig(o)
	if err != nil {
		t.Fatal(err)
	}
	s, err := schema.Load()
	if err != nil {
		t.Fatal(err)
	}
	d := &generated.Device{}
	c, err := xmlcodec.New(s)
	if err != nil {
		t.Fatal(err)
	}
	edits, err := c.Decode(bytes.NewReader(b), d, xmlcodec.DecodeOptions{})
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if err := xmlcodec.Apply(s, d, edits, xmlcodec.OpMerge); err != nil {
		t.Fatal(err)
	}
	if got, want := d.Vrf["main"].Ike, ResponderIKE(o); !reflect.DeepEqual(got, want) {
		t.Errorf("decoded:\n%+v\nwant:\n%+v", got, want)
	}
}
