package ha

import (
	"bytes"
	"net/netip"
	"reflect"
	"testing"
)

// messages is one of each message type, with every field set.
func messages() []Message {
	return []Message{
		Hello{NodeID: 2, Role: RoleStandby, Synced: true},
		Hello{NodeID: 1, Role: RoleInit},
		SAUpdate{SPIi: 0x0102030405060708, SPIr: 0x1112131415161718, Record: []byte("opaque engine record")},
		SADelete{SPIi: 1, SPIr: 2},
		SeqBatch{
			Entries: []SeqEntry{
				{Key: SeqKey{Dst: netip.MustParseAddr("192.0.2.1"), SPI: 0xc0ffee01}, Out: true, Seq: Seq{OSeq: 1 << 33, ISeq: 0}},
				{Key: SeqKey{Dst: netip.MustParseAddr("2001:db8::1"), SPI: 7}, Seq: Seq{ISeq: 4096}},
			},
			Gone: []SeqKey{{Dst: netip.MustParseAddr("198.51.100.9"), SPI: 9}},
		},
		SnapshotBegin{},
		SnapshotEnd{SAs: 10000},
		Leases{Leases: []Lease{
			{Pool: "hp1", Identity: "rw1.example", Addr: netip.MustParseAddr("10.8.0.1")},
			{Pool: "hp6", Identity: "", Addr: netip.MustParseAddr("fd00:8::2")},
		}},
	}
}

func TestMessageRoundTrip(t *testing.T) {
	for _, m := range messages() {
		b, err := AppendMessage(nil, m)
		if err != nil {
			t.Fatalf("%T: %v", m, err)
		}
		got, err := ParseMessage(b)
		if err != nil {
			t.Fatalf("%T: parse: %v", m, err)
		}
		if !reflect.DeepEqual(got, m) {
			t.Errorf("round trip:\n got %#v\nwant %#v", got, m)
		}
		again, _ := AppendMessage(nil, got)
		if !bytes.Equal(again, b) {
			t.Errorf("%T: re-encoding differs", m)
		}
	}
}

// TestMessageTruncated: every strict prefix of a message is refused, and
// so is a trailing byte.
func TestMessageTruncated(t *testing.T) {
	for _, m := range messages() {
		b, _ := AppendMessage(nil, m)
		for i := range len(b) {
			if _, err := ParseMessage(b[:i]); err == nil {
				t.Errorf("%T: prefix of %d/%d bytes accepted", m, i, len(b))
			}
		}
		if _, err := ParseMessage(append(b, 0)); err == nil {
			t.Errorf("%T: trailing byte accepted", m)
		}
	}
}

func TestMessageRefused(t *testing.T) {
	for name, b := range map[string][]byte{
		"version 2":       {2, byte(MsgHello), 1, 1, 0},
		"unknown type":    {1, 99},
		"role 7":          {1, byte(MsgHello), 1, 7, 0},
		"family 5":        {1, byte(MsgSeqBatch), 0, 0, 0, 1, 5, 1, 2, 3, 4, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"record too long": {1, byte(MsgSAUpdate), 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff},
		"lease no pool":   {1, byte(MsgLeases), 0, 0, 0, 1, 0, 0, 0, 4, 10, 8, 0, 1},
		"lease family 5":  {1, byte(MsgLeases), 0, 0, 0, 1, 1, 'h', 0, 0, 5, 10, 8, 0, 1},
		"leases too many": {1, byte(MsgLeases), 0, 1, 0, 0, 1, 'h', 0, 0, 4, 10, 8, 0, 1},
	} {
		if _, err := ParseMessage(b); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := AppendMessage(nil, SAUpdate{Record: make([]byte, maxRecord+1)}); err == nil {
		t.Error("an SA record over maxRecord was encoded")
	}
	if _, err := AppendMessage(nil, Leases{Leases: []Lease{{Identity: "x", Addr: netip.MustParseAddr("10.0.0.1")}}}); err == nil {
		t.Error("a lease without a pool name was encoded")
	}
	if _, err := AppendMessage(nil, Leases{Leases: []Lease{{Pool: "p"}}}); err == nil {
		t.Error("a lease without an address was encoded")
	}
}

// FuzzParseMessage: the decoder never panics, and what it accepts
// re-encodes to the same bytes.
func FuzzParseMessage(f *testing.F) {
	for _, m := range messages() {
		b, _ := AppendMessage(nil, m)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMessage(b)
		if err != nil {
			return
		}
		again, err := AppendMessage(nil, m)
		if err != nil {
			t.Fatalf("accepted %x but cannot encode it: %v", b, err)
		}
		if !bytes.Equal(again, b) {
			// Only the flag bytes' unused bits may differ.
			m2, err := ParseMessage(again)
			if err != nil || !reflect.DeepEqual(m, m2) {
				t.Fatalf("re-encoding of %x differs: %x", b, again)
			}
		}
	})
}
