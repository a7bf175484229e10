package framing

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
	"testing/iotest"
)

// fuzzLimit is the message size limit of the fuzz targets, small enough for
// the fuzzer to reach it.
const fuzzLimit = 1024

// fuzzSeeds are added to the checked-in corpus under testdata/fuzz.
var fuzzSeeds = []string{
	"",
	"\n#4\nabcd\n##\n",
	"\n#1\na\n#2\nbc\n##\n\n#3\ndef\n##\n",
	"\n#0\n",
	"\n#04\nabcd\n##\n",
	"\n#4294967295\n",
	"\n#4294967296\n",
	"\n##\n",
	"<hello/>]]>]]><rpc/>]]>]]>",
	"a]]>]]]>]]>\n",
	"]]>]]>]]>]]>",
}

// checkReaderResult checks what every framing reader must guarantee for
// any input and returns the messages read in one go.
func checkReaderResult(t *testing.T, data []byte, read func(io.Reader) MessageReader) []string {
	t.Helper()
	msgs, err := readAll(read(bytes.NewReader(data)))
	switch {
	case err == io.EOF, err == io.ErrUnexpectedEOF, err == ErrMessageTooLarge, errors.Is(err, ErrMalformedFrame):
	default:
		t.Fatalf("unexpected error %v", err)
	}
	for _, m := range msgs {
		if len(m) > fuzzLimit {
			t.Fatalf("message of %d bytes exceeds the limit %d", len(m), fuzzLimit)
		}
	}
	// Reading one byte per Read gives the same messages and error.
	msgs2, err2 := readAll(read(iotest.OneByteReader(bytes.NewReader(data))))
	if !slices.Equal(msgs, msgs2) || !sameError(err, err2) {
		t.Fatalf("one byte per read differs: %q, %v vs %q, %v", msgs2, err2, msgs, err)
	}
	return msgs
}

func sameError(a, b error) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Error() == b.Error()
}

func FuzzChunkedReader(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	read := func(r io.Reader) MessageReader { return NewChunkedReader(r, fuzzLimit) }
	f.Fuzz(func(t *testing.T, data []byte) {
		msgs := checkReaderResult(t, data, read)
		for _, m := range msgs {
			if m == "" {
				t.Fatal("empty message from a chunked reader")
			}
		}
		// Whatever was read is written back identically, in any chunking.
		var buf bytes.Buffer
		w := NewChunkedWriter(&buf)
		w.MaxChunk = 1 + len(data)%5
		for _, m := range msgs {
			if err := w.WriteMessage([]byte(m)); err != nil {
				t.Fatalf("WriteMessage: %v", err)
			}
		}
		back, err := readAll(read(&buf))
		if err != io.EOF || !slices.Equal(back, msgs) {
			t.Fatalf("round trip: %q, %v; want %q", back, err, msgs)
		}
	})
}

func FuzzEOMReader(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	read := func(r io.Reader) MessageReader { return NewEOMReader(r, fuzzLimit) }
	f.Fuzz(func(t *testing.T, data []byte) {
		msgs := checkReaderResult(t, data, read)
		var buf bytes.Buffer
		w := NewEOMWriter(&buf)
		for _, m := range msgs {
			if bytes.Contains([]byte(m), []byte(EOMMarker)) {
				t.Fatalf("message %q contains the marker", m)
			}
			if err := w.WriteMessage([]byte(m)); err != nil {
				t.Fatalf("WriteMessage(%q): %v", m, err)
			}
		}
		back, err := readAll(read(&buf))
		if err != io.EOF || !slices.Equal(back, msgs) {
			t.Fatalf("round trip: %q, %v; want %q", back, err, msgs)
		}
	})
}
