package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"secgw/internal/golden"
)

// checkErr asserts the error contract: *ParseError, "wire: " prefix and
// one of the parse sentinels.
func checkErr(t *testing.T, err error) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %T is not *ParseError: %v", err, err)
	}
	if err.Error()[:6] != "wire: " {
		t.Fatalf("error %q lacks prefix", err)
	}
	if !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrBadLength) &&
		!errors.Is(err, ErrBadVersion) && !errors.Is(err, ErrSyntax) {
		t.Fatalf("error %v wraps no sentinel", err)
	}
}

// FuzzParse checks that Parse never panics, that its errors follow the
// contract, and that any message it accepts marshals to bytes that parse
// to an equal message and re-marshal identically.
func FuzzParse(f *testing.F) {
	for _, nm := range sampleMessages(f) {
		f.Add(mustMarshal(f, nm.msg))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkMessage(t, data)
		// Most mutations break the exact Length check; also try the input
		// with Length patched so they reach the payload parsers.
		if len(data) >= HeaderLen {
			p := append([]byte(nil), data...)
			binary.BigEndian.PutUint32(p[24:], uint32(len(p)))
			checkMessage(t, p)
		}
	})
}

// checkMessage asserts the Parse properties for one input.
func checkMessage(t *testing.T, data []byte) {
	m, err := Parse(data)
	if err != nil {
		checkErr(t, err)
		return
	}
	if !bytes.Equal(m.Raw, data) || m.Header.Length != uint32(len(data)) {
		t.Fatal("Raw or Length does not match the input")
	}
	out, err := m.Marshal()
	if err != nil {
		t.Fatalf("parsed message does not marshal: %v", err)
	}
	m2, err := Parse(out)
	if err != nil {
		t.Fatalf("re-parse: %v", err)
	}
	if m.Header != m2.Header || !reflect.DeepEqual(m.Payloads, m2.Payloads) {
		t.Fatalf("re-parse differs:\n%#v\n%#v", m, m2)
	}
	out2, err := m2.Marshal()
	if err != nil || !bytes.Equal(out, out2) {
		t.Fatalf("marshal not idempotent: %v", err)
	}
	_ = m.String()
	_ = CheckCritical(m.Payloads)
	_ = m.EncryptedBodyOffset()
}

// FuzzParsePayloadChain takes the first payload type in data[0] and the
// chain in data[1:].
func FuzzParsePayloadChain(f *testing.F) {
	for _, s := range chainSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		first := PayloadType(data[0])
		ps, err := ParsePayloadChain(first, data[1:])
		if err != nil {
			checkErr(t, err)
			return
		}
		out, got, err := AppendPayloadChain(nil, ps)
		if err != nil {
			t.Fatalf("parsed chain does not marshal: %v", err)
		}
		if got != first {
			t.Fatalf("first type %v, want %v", got, first)
		}
		if len(out) != len(data)-1 {
			t.Fatalf("re-marshal changed length %d -> %d", len(data)-1, len(out))
		}
		ps2, err := ParsePayloadChain(got, out)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if !reflect.DeepEqual(ps, ps2) {
			t.Fatalf("re-parse differs")
		}
		for _, p := range ps {
			switch v := p.(type) {
			case *Identification:
				_ = v.SignedOctets()
				_, _ = v.Addr()
			case *Notify:
				_, _ = v.HashAlgorithms()
				_, _ = v.Addr()
				_, _ = v.Group()
			case *Configuration:
				for _, a := range v.Attributes {
					_, _ = a.Addr()
					_, _ = a.Prefix()
				}
			case *CertRequest:
				_, _ = v.Hashes()
			}
		}
		_ = SkipUnknown(ps)
	})
}

// chainSeeds returns inner chains prefixed with their first payload type,
// plus edge cases.
func chainSeeds(t testing.TB) [][]byte {
	var seeds [][]byte
	add := func(ps []Payload) {
		b, first, err := AppendPayloadChain(nil, ps)
		if err != nil {
			t.Fatalf("seed: %v", err)
		}
		seeds = append(seeds, append([]byte{byte(first)}, b...))
	}
	for _, inner := range [][]Payload{authInner(), replyInner(), childInner(), infoInner(), saInitResponse().Payloads} {
		add(inner)
	}
	for _, p := range everyPayload() {
		add([]Payload{p})
	}
	seeds = append(seeds,
		[]byte{0},                           // empty chain
		[]byte{byte(PayloadNonce)},          // promised payload missing
		[]byte{byte(PayloadSK), 0, 0, 0, 4}, // SK inside SK
		[]byte{byte(PayloadDelete), 0, 0, 0, 8, 3, 0, 0xff, 0xff},       // zero SPI size, huge count
		[]byte{byte(PayloadSA), 0, 0, 0, 12, 0, 0, 0, 8, 1, 1, 0, 0xff}, // 255 transforms announced
	)
	return seeds
}

// messageSeeds returns the named message seeds, including edge cases.
func messageSeeds(t testing.TB) map[string][]byte {
	seeds := map[string][]byte{}
	for _, nm := range sampleMessages(t) {
		seeds[nm.name] = mustMarshal(t, nm.msg)
	}
	kat := decodeKAT(t, katSAInit)
	v1 := append([]byte(nil), kat...)
	v1[17] = 0x10
	seeds["edge_ikev1_header"] = v1
	long := append(append([]byte(nil), kat...), 0)
	seeds["edge_length_mismatch"] = long
	crit := mustMarshal(t, &Message{Header: Header{MajorVersion: 2, Exchange: ExchangeInformational},
		Payloads: []Payload{&Unknown{CriticalFlag: CriticalFlag{Critical: true}, PayloadType: 99, Body: []byte{1}}}})
	seeds["edge_unknown_critical"] = crit
	hdr := mustMarshal(t, &Message{Header: Header{MajorVersion: 2, Exchange: ExchangeInformational}})
	seeds["edge_header_only"] = hdr
	bad := append([]byte(nil), hdr...)
	bad[16] = byte(PayloadNonce)
	seeds["edge_missing_payload"] = bad
	maxLen := append([]byte(nil), hdr...)
	binary.BigEndian.PutUint32(maxLen[24:], 0xffffffff)
	seeds["edge_huge_length"] = maxLen
	return seeds
}

// TestWriteFuzzCorpus regenerates testdata/fuzz when run with
// -update, and otherwise checks that the checked-in corpus exists.
func TestWriteFuzzCorpus(t *testing.T) {
	write := func(target, name string, data []byte) {
		path := filepath.Join("testdata", "fuzz", target, name)
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if golden.Update() {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Errorf("seed %s/%s missing or stale; run go test -run TestWriteFuzzCorpus -update", target, name)
		}
	}
	for name, data := range messageSeeds(t) {
		write("FuzzParse", name, data)
	}
	for i, data := range chainSeeds(t) {
		write("FuzzParsePayloadChain", fmt.Sprintf("seed_%02d", i), data)
	}
}
