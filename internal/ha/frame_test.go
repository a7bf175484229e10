package ha

import (
	"bytes"
	"testing"
)

// pair returns the sealers of node 1 → node 2 as each side derives them.
func pair(t testing.TB, secret1, secret2 []byte) (send1, recv2 *sealer) {
	t.Helper()
	h1, _ := newHandshake(1)
	h2, _ := newHandshake(2)
	k1s, _, err := sessionKeys(secret1, h1, h2)
	if err != nil {
		t.Fatal(err)
	}
	_, k2r, err := sessionKeys(secret2, h2, h1)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := newSealer(k1s)
	r, _ := newSealer(k2r)
	return s, r
}

func TestFrameRoundTrip(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	s, r := pair(t, secret, secret)
	var wire []byte
	msgs := [][]byte{[]byte("one"), {}, bytes.Repeat([]byte{7}, 70000)}
	for _, m := range msgs {
		var err error
		if wire, err = s.seal(wire, m); err != nil {
			t.Fatal(err)
		}
	}
	rd := bytes.NewReader(wire)
	var buf []byte
	for i, m := range msgs {
		pt, b, err := r.readFrame(rd, buf)
		buf = b
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		if !bytes.Equal(pt, m) {
			t.Fatalf("frame %d: got %d bytes, want %d", i, len(pt), len(m))
		}
	}
}

// TestFrameKeysPerDirection: the two directions have different keys, and
// both sides agree on each.
func TestFrameKeysPerDirection(t *testing.T) {
	secret := []byte("0123456789abcdef")
	h1, _ := newHandshake(1)
	h2, _ := newHandshake(2)
	s1, r1, _ := sessionKeys(secret, h1, h2)
	s2, r2, _ := sessionKeys(secret, h2, h1)
	if !bytes.Equal(s1, r2) || !bytes.Equal(s2, r1) {
		t.Fatal("the two sides derive different keys")
	}
	if bytes.Equal(s1, s2) {
		t.Fatal("one key for both directions")
	}
}

func TestFrameRejected(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	msg := []byte("an SA record")
	cases := map[string]func(t *testing.T) (*sealer, []byte){
		"wrong secret": func(t *testing.T) (*sealer, []byte) {
			s, r := pair(t, secret, []byte("another secret of 16+ bytes"))
			w, _ := s.seal(nil, msg)
			return r, w
		},
		"flipped byte": func(t *testing.T) (*sealer, []byte) {
			s, r := pair(t, secret, secret)
			w, _ := s.seal(nil, msg)
			w[len(w)-3] ^= 1
			return r, w
		},
		"flipped length": func(t *testing.T) (*sealer, []byte) {
			s, r := pair(t, secret, secret)
			w, _ := s.seal(nil, msg)
			w[3]--
			return r, append(w, 0)
		},
		"replayed": func(t *testing.T) (*sealer, []byte) {
			s, r := pair(t, secret, secret)
			w, _ := s.seal(nil, msg)
			if _, _, err := r.readFrame(bytes.NewReader(w), nil); err != nil {
				t.Fatal(err)
			}
			return r, w // the counter moved on: the same frame again fails
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			r, w := c(t)
			if _, _, err := r.readFrame(bytes.NewReader(w), nil); err != errOpen {
				t.Fatalf("got %v, want errOpen", err)
			}
		})
	}
	t.Run("truncated", func(t *testing.T) {
		s, _ := pair(t, secret, secret)
		w, _ := s.seal(nil, msg)
		for i := range len(w) {
			_, r := pair(t, secret, secret)
			if _, _, err := r.readFrame(bytes.NewReader(w[:i]), nil); err == nil {
				t.Fatalf("prefix of %d bytes opened", i)
			}
		}
	})
}

func TestHandshakeParse(t *testing.T) {
	h, _ := newHandshake(2)
	got, err := parseHandshake(h.marshal())
	if err != nil || got != h {
		t.Fatalf("round trip: %v", err)
	}
	b := h.marshal()
	for i := range len(b) {
		if _, err := parseHandshake(b[:i]); err == nil {
			t.Fatalf("prefix of %d bytes accepted", i)
		}
	}
	b[4] = 9
	if _, err := parseHandshake(b); err == nil {
		t.Fatal("version 9 accepted")
	}
}

// FuzzHandshake: the handshake decoder never panics and accepts only
// what re-encodes to the same bytes.
func FuzzHandshake(f *testing.F) {
	h, _ := newHandshake(1)
	f.Add(h.marshal())
	f.Add([]byte("SGHA"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := parseHandshake(b)
		if err == nil && !bytes.Equal(h.marshal(), b) {
			t.Fatalf("accepted %x, re-encodes as %x", b, h.marshal())
		}
	})
}

// FuzzReadFrame: the frame reader never panics on what arrives on the
// link, and opens nothing that was not sealed with the key.
func FuzzReadFrame(f *testing.F) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	s, _ := pair(f, secret, secret)
	good, _ := s.seal(nil, []byte("hello"))
	f.Add(good)
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		_, r := pair(t, secret, secret)
		if _, _, err := r.readFrame(bytes.NewReader(b), nil); err == nil {
			t.Fatalf("opened a frame sealed under fresh keys: %x", b)
		}
	})
}
