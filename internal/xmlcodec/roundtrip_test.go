package xmlcodec

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"secgw/generated"
	"secgw/internal/rpcerr"
	"secgw/internal/schema"
)

// roundTrip encodes d, decodes and applies the result onto an empty tree,
// and returns that tree.
func roundTrip(t testing.TB, s *schema.Schema, d *generated.Device, enc EncodeOptions, dec DecodeOptions) *generated.Device {
	t.Helper()
	doc := encode(t, s, d, enc)
	edits, err := codecOf(s).Decode(bytes.NewReader(doc), nil, dec)
	if err != nil {
		t.Fatalf("decoding our own output: %v\n%s", err, doc)
	}
	back := &generated.Device{}
	if err := Apply(s, back, edits, OpMerge); err != nil {
		t.Fatalf("applying our own output: %v", err)
	}
	return back
}

func requireEqual(t *testing.T, s *schema.Schema, got, want *generated.Device) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		opts := EncodeOptions{Secrets: true, Indent: " "}
		t.Fatalf("trees differ:\n--- got\n%s\n--- want\n%s", encode(t, s, got, opts), encode(t, s, want, opts))
	}
}

// TestRoundTripReference: the guide's configuration, encoded then decoded
// and applied onto an empty tree, is the same tree.
func TestRoundTripReference(t *testing.T) {
	s := loadSchema(t)
	d := referenceTree(t, s)
	for _, indent := range []string{"", "  ", "\t"} {
		back := roundTrip(t, s, d, EncodeOptions{Config: true, Secrets: true, Indent: indent}, DecodeOptions{})
		requireEqual(t, s, back, d)
	}
}

// TestRoundTripState: with state and secrets, read back with AllowState.
func TestRoundTripState(t *testing.T) {
	s := loadSchema(t)
	d := stateTree(t, s)
	// Session keys are written only when a filter names them (see
	// TestEncodeState): the round trip carries the rest.
	sa := d.Vrf["main"].Ike.IkeSa[7]
	sa.SkEi, sa.ChildSa[9].EncrKeyIn = nil, nil
	requireEqual(t, s, roundTrip(t, s, d, EncodeOptions{Secrets: true}, DecodeOptions{AllowState: true}), d)
}

func TestRoundTripConcentrator(t *testing.T) {
	s := loadSchema(t)
	d := concentrator(t, s, 300)
	requireEqual(t, s, roundTrip(t, s, d, EncodeOptions{Config: true, Secrets: true}, DecodeOptions{}), d)
}

// TestRoundTripDefaults: report-all output read back sets every default
// explicitly, which trim then hides again; report-all-tagged output read
// back leaves tagged leaves unset (RFC 6243 §4.5.2), as trim shows them.
func TestRoundTripDefaults(t *testing.T) {
	s := loadSchema(t)
	for name, d := range map[string]*generated.Device{"reference": referenceTree(t, s), "small": smallTree(t, s)} {
		trim := EncodeOptions{Config: true, Secrets: true, WithDefaults: Trim}
		want := encode(t, s, d, trim)
		all := roundTrip(t, s, d, EncodeOptions{Config: true, Secrets: true, WithDefaults: ReportAll}, DecodeOptions{})
		if got := encode(t, s, all, trim); !bytes.Equal(got, want) {
			t.Errorf("%s: report-all read back, trimmed:\n%s\nwant\n%s", name, got, want)
		}
		tagged := roundTrip(t, s, d, EncodeOptions{Config: true, Secrets: true, WithDefaults: ReportAllTagged}, DecodeOptions{})
		if got := encode(t, s, tagged, EncodeOptions{Config: true, Secrets: true}); !bytes.Equal(got, want) {
			t.Errorf("%s: report-all-tagged read back:\n%s\nwant\n%s", name, got, want)
		}
	}
}

// FuzzDecode feeds arbitrary bytes to Decode. Whatever the input, Decode
// and Apply return either no error or an *rpcerr.Error, never panic; and a tree
// that Apply built round-trips: encoding it, decoding and applying the
// result onto an empty tree gives a tree that encodes the same. (Trees are
// compared by their encoding: an empty non-presence container and an
// absent one are the same data, and Encode writes neither.)
//
// The seed corpus is testdata/fuzz/FuzzDecode; run it with
// go test -run '^$' -fuzz FuzzDecode -fuzztime 60s ./internal/xmlcodec/
func FuzzDecode(f *testing.F) {
	s := loadSchema(f)
	f.Add([]byte(inMain(`<vpn><name>hq</name><enabled>true</enabled></vpn>`)))
	f.Add(encode(f, s, smallTree(f, s), EncodeOptions{Secrets: true}))
	f.Fuzz(func(t *testing.T, data []byte) {
		var xe *rpcerr.Error
		edits, err := codecOf(s).Decode(bytes.NewReader(data), nil, DecodeOptions{AllowState: true})
		if err != nil {
			if !errors.As(err, &xe) {
				t.Fatalf("Decode error %v is a %T, not an *rpcerr.Error", err, err)
			}
			return
		}
		for _, op := range []Operation{OpMerge, OpNone, OpReplace} {
			d := &generated.Device{}
			if err := Apply(s, d, edits, op); err != nil {
				if !errors.As(err, &xe) {
					t.Fatalf("Apply error %v is a %T, not an *rpcerr.Error", err, err)
				}
				continue
			}
			opts := EncodeOptions{Secrets: true}
			doc, err := codecOf(s).Append(nil, d, opts)
			if err != nil {
				t.Fatal(err)
			}
			edits2, err := codecOf(s).Decode(bytes.NewReader(doc), nil, DecodeOptions{AllowState: true})
			if err != nil {
				t.Fatalf("our own output does not decode: %v\n%s", err, doc)
			}
			d2 := &generated.Device{}
			if err := Apply(s, d2, edits2, OpMerge); err != nil {
				t.Fatalf("our own output does not apply: %v\n%s", err, doc)
			}
			if doc2, _ := codecOf(s).Append(nil, d2, opts); !bytes.Equal(doc, doc2) {
				t.Fatalf("round trip changes the tree:\n%s\n%s", doc, doc2)
			}
			// The other encodings must not fail either.
			for _, m := range []DefaultsMode{ReportAll, ReportAllTagged, Trim} {
				if _, err := codecOf(s).Append(nil, d, EncodeOptions{WithDefaults: m}); err != nil {
					t.Fatal(err)
				}
			}
		}
	})
}
