package wire

import (
	"bytes"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func TestRedirectRoundTrip(t *testing.T) {
	nonce := bytes.Repeat([]byte{0xab}, 32)
	for _, tc := range []struct {
		g     Gateway
		nonce []byte
		want  []byte // data, without the nonce
	}{
		{Gateway{Addr: netip.MustParseAddr("192.0.2.7")}, nonce, []byte{1, 4, 192, 0, 2, 7}},
		{Gateway{Addr: netip.MustParseAddr("2001:db8::1")}, nil,
			append([]byte{2, 16}, netip.MustParseAddr("2001:db8::1").AsSlice()...)},
		{Gateway{FQDN: "gw2.example.com"}, nil, append([]byte{3, 15}, "gw2.example.com"...)},
	} {
		n, err := NewRedirect(tc.g, tc.nonce)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(n.Data, append(bytes.Clone(tc.want), tc.nonce...)) {
			t.Fatalf("%v: data %x", tc.g, n.Data)
		}
		g, got, err := n.Redirect()
		if err != nil || g != tc.g || !bytes.Equal(got, tc.nonce) {
			t.Fatalf("%v: decoded %v %x %v", tc.g, g, got, err)
		}
		f, err := NewRedirectedFrom(tc.g)
		if err != nil {
			t.Fatal(err)
		}
		if g, err := f.RedirectedFrom(); err != nil || g != tc.g {
			t.Fatalf("REDIRECTED_FROM %v: %v %v", tc.g, g, err)
		}
	}
}

// TestRedirectMalformed: every truncation and each forbidden field value
// is a *ParseError with its sentinel.
func TestRedirectMalformed(t *testing.T) {
	good, _ := NewRedirect(Gateway{Addr: netip.MustParseAddr("192.0.2.7")}, bytes.Repeat([]byte{1}, 16))
	for i := 0; i < 6; i++ {
		n := NewNotify(NotifyRedirect, good.Data[:i])
		if _, _, err := n.Redirect(); err == nil {
			t.Fatalf("prefix of %d octets accepted", i)
		} else {
			checkErr(t, err)
		}
	}
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"unknown type", []byte{4, 4, 1, 2, 3, 4}, ErrSyntax},
		{"type 0", []byte{0, 0}, ErrSyntax},
		{"IPv4 of 16", append([]byte{1, 16}, make([]byte, 16)...), ErrBadLength},
		{"IPv6 of 4", []byte{2, 4, 1, 2, 3, 4}, ErrBadLength},
		{"empty FQDN", []byte{3, 0}, ErrSyntax},
		{"FQDN with NUL", []byte{3, 3, 'a', 0, 'b'}, ErrSyntax},
		{"FQDN with space", []byte{3, 3, 'a', ' ', 'b'}, ErrSyntax},
		{"length beyond data", []byte{3, 9, 'a', 'b'}, ErrBadLength},
		{"short nonce", []byte{1, 4, 1, 2, 3, 4, 9}, ErrBadLength},
	} {
		_, _, err := NewNotify(NotifyRedirect, tc.data).Redirect()
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
			continue
		}
		checkErr(t, err)
	}
	if _, err := NewNotify(NotifyRedirectedFrom, []byte{1, 4, 1, 2, 3, 4, 5}).RedirectedFrom(); !errors.Is(err, ErrBadLength) {
		t.Fatalf("REDIRECTED_FROM with a trailing octet: %v", err)
	}
	if _, err := NewRedirect(Gateway{}, nil); err == nil {
		t.Fatal("zero gateway encoded")
	}
	if _, err := NewRedirect(Gateway{FQDN: "bad name"}, nil); err == nil {
		t.Fatal("bad FQDN encoded")
	}
}

func TestParseGateway(t *testing.T) {
	for in, want := range map[string]Gateway{
		"192.0.2.1":         {Addr: netip.MustParseAddr("192.0.2.1")},
		"::ffff:192.0.2.1":  {Addr: netip.MustParseAddr("192.0.2.1")},
		"2001:db8::5":       {Addr: netip.MustParseAddr("2001:db8::5")},
		"vpn2.example.org.": {FQDN: "vpn2.example.org"},
	} {
		if g, err := ParseGateway(in); err != nil || g != want {
			t.Errorf("%s: %v %v", in, g, err)
		}
	}
	for _, in := range []string{"", "-a.example", "a..b", "a b", string(bytes.Repeat([]byte{'a'}, 64))} {
		if _, err := ParseGateway(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

// FuzzRedirectData checks that REDIRECT and REDIRECTED_FROM data never
// panic the decoder, that errors follow the contract, and that what is
// accepted encodes back to the same octets.
func FuzzRedirectData(f *testing.F) {
	dir := filepath.Join("testdata", "fuzz", "FuzzRedirectData")
	if _, err := os.Stat(dir); err != nil {
		f.Fatalf("seed corpus missing: %v", err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		g, nonce, err := NewNotify(NotifyRedirect, data).Redirect()
		if err != nil {
			checkErr(t, err)
		} else {
			n, err := NewRedirect(g, nonce)
			if err != nil || !bytes.Equal(n.Data, data) {
				t.Fatalf("REDIRECT %x re-encodes to %x (%v)", data, n.Data, err)
			}
		}
		g, err = NewNotify(NotifyRedirectedFrom, data).RedirectedFrom()
		if err != nil {
			checkErr(t, err)
			return
		}
		n, err := NewRedirectedFrom(g)
		if err != nil || !bytes.Equal(n.Data, data) {
			t.Fatalf("REDIRECTED_FROM %x re-encodes to %x (%v)", data, n.Data, err)
		}
	})
}
