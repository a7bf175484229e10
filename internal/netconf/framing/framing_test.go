package framing

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

// testTimeout guards against hangs; it is never reached.
const testTimeout = 20 * time.Second

// segments is a reader that returns data in the given pieces, one per Read.
type segments struct{ parts [][]byte }

func (s *segments) Read(p []byte) (int, error) {
	for len(s.parts) > 0 && len(s.parts[0]) == 0 {
		s.parts = s.parts[1:]
	}
	if len(s.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, s.parts[0])
	s.parts[0] = s.parts[0][n:]
	return n, nil
}

// splitAt returns a reader yielding data[:i] and data[i:] in two reads.
func splitAt(data []byte, i int) io.Reader {
	return &segments{parts: [][]byte{slices.Clone(data[:i]), slices.Clone(data[i:])}}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// readAll reads messages until an error and returns them with that error.
func readAll(r MessageReader) ([]string, error) {
	var out []string
	for {
		msg, err := r.ReadMessage()
		if err != nil {
			return out, err
		}
		out = append(out, string(msg))
	}
}

var testMessages = []string{
	`<rpc message-id="1" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><get/></rpc>`,
	"x",
	"a]]>b]]",  // partial markers inside a message
	"]]>]]]>x", // "]]>" followed by more than one ']'
	strings.Repeat("0123456789", 500),
	"\n#12\n#\n##\nnot a header", // chunk syntax inside data
}

func encode(t testing.TB, mk func(io.Writer) MessageWriter, msgs []string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := mk(&buf)
	for _, m := range msgs {
		if err := w.WriteMessage([]byte(m)); err != nil {
			t.Fatalf("WriteMessage(%.20q): %v", m, err)
		}
	}
	return buf.Bytes()
}

func eomWriter(w io.Writer) MessageWriter { return NewEOMWriter(w) }

func chunkedWriter(maxChunk int) func(io.Writer) MessageWriter {
	return func(w io.Writer) MessageWriter {
		cw := NewChunkedWriter(w)
		cw.MaxChunk = maxChunk
		return cw
	}
}

func TestEOMRoundTrip(t *testing.T) {
	data := encode(t, eomWriter, testMessages)
	got, err := readAll(NewEOMReader(bytes.NewReader(data), 0))
	if err != io.EOF {
		t.Fatalf("final error = %v, want io.EOF", err)
	}
	if !slices.Equal(got, testMessages) {
		t.Fatalf("got %q\nwant %q", got, testMessages)
	}
}

func TestChunkedRoundTrip(t *testing.T) {
	for _, maxChunk := range []int{0, 1, 2, 7, 4096} {
		t.Run(fmt.Sprint("maxChunk=", maxChunk), func(t *testing.T) {
			data := encode(t, chunkedWriter(maxChunk), testMessages)
			got, err := readAll(NewChunkedReader(bytes.NewReader(data), 0))
			if err != io.EOF {
				t.Fatalf("final error = %v, want io.EOF", err)
			}
			if !slices.Equal(got, testMessages) {
				t.Fatalf("got %q\nwant %q", got, testMessages)
			}
		})
	}
}

// TestSplitEveryBoundary feeds streams in two reads split at every byte,
// and one byte per read, to both readers.
func TestSplitEveryBoundary(t *testing.T) {
	msgs := []string{testMessages[0], "a]]>b]]", testMessages[5]}
	cases := []struct {
		name string
		data []byte
		read func(io.Reader) MessageReader
	}{
		{"eom", encode(t, eomWriter, msgs), func(r io.Reader) MessageReader { return NewEOMReader(r, 0) }},
		{"chunked", encode(t, chunkedWriter(0), msgs), func(r io.Reader) MessageReader { return NewChunkedReader(r, 0) }},
		{"chunked-multi", encode(t, chunkedWriter(5), msgs), func(r io.Reader) MessageReader { return NewChunkedReader(r, 0) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for i := 0; i <= len(tc.data); i++ {
				got, err := readAll(tc.read(splitAt(tc.data, i)))
				if err != io.EOF || !slices.Equal(got, msgs) {
					t.Fatalf("split at %d: got %q, %v", i, got, err)
				}
			}
			got, err := readAll(tc.read(iotest.OneByteReader(bytes.NewReader(tc.data))))
			if err != io.EOF || !slices.Equal(got, msgs) {
				t.Fatalf("one byte per read: got %q, %v", got, err)
			}
			got, err = readAll(tc.read(iotest.DataErrReader(bytes.NewReader(tc.data))))
			if err != io.EOF || !slices.Equal(got, msgs) {
				t.Fatalf("data with EOF: got %q, %v", got, err)
			}
		})
	}
}

func TestEOMMarkerSplitAcrossReads(t *testing.T) {
	for i := 1; i < len(EOMMarker); i++ {
		r := &segments{parts: [][]byte{[]byte("<hello/>" + EOMMarker[:i]), []byte(EOMMarker[i:] + "<x/>"), []byte(EOMMarker)}}
		got, err := readAll(NewEOMReader(r, 0))
		if err != io.EOF || !slices.Equal(got, []string{"<hello/>", "<x/>"}) {
			t.Errorf("marker split after %d bytes: got %q, %v", i, got, err)
		}
	}
}

func TestEOMEndOfInput(t *testing.T) {
	for _, tc := range []struct {
		in   string
		msgs []string
		err  error
	}{
		{"", nil, io.EOF},
		{"a]]>]]>\n  \r\n", []string{"a"}, io.EOF},
		{"a]]>]]>b", []string{"a"}, io.ErrUnexpectedEOF},
		{"a]]>]]", nil, io.ErrUnexpectedEOF},
		{"]]>]]>", []string{""}, io.EOF},
	} {
		got, err := readAll(NewEOMReader(strings.NewReader(tc.in), 0))
		if err != tc.err || !slices.Equal(got, tc.msgs) {
			t.Errorf("%q: got %q, %v; want %q, %v", tc.in, got, err, tc.msgs, tc.err)
		}
	}
}

func TestEOMMaxSize(t *testing.T) {
	const limit = 100
	exact := strings.Repeat("a", limit)
	got, err := readAll(NewEOMReader(strings.NewReader(exact+EOMMarker), limit))
	if err != io.EOF || !slices.Equal(got, []string{exact}) {
		t.Fatalf("message of exactly the limit: got %d messages, %v", len(got), err)
	}
	r := NewEOMReader(strings.NewReader(exact+"b"+EOMMarker), limit)
	if _, err := r.ReadMessage(); err != ErrMessageTooLarge {
		t.Fatalf("limit+1: err = %v, want ErrMessageTooLarge", err)
	}
	if _, err := r.ReadMessage(); err != ErrMessageTooLarge {
		t.Fatalf("error is not sticky: %v", err)
	}
	// An endless stream without a marker is cut off once the limit is
	// passed: what is read is bounded by the limit plus the fixed read-ahead
	// of the bufio.Reader, whatever the stream's length.
	for _, limit := range []int{100, 1 << 20} {
		cr := &countingReader{r: zeros{}}
		if _, err := NewEOMReader(cr, limit).ReadMessage(); err != ErrMessageTooLarge {
			t.Fatalf("endless stream: err = %v", err)
		}
		if cr.n > limit+len(EOMMarker)+ReadBufferSize {
			t.Fatalf("read %d bytes of an endless stream with limit %d", cr.n, limit)
		}
	}
}

// TestEOMMaxSizeWithoutMoreInput: an over-long message is refused as soon
// as its bytes arrive, not when more input (or a '>') eventually comes.
func TestEOMMaxSizeWithoutMoreInput(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write([]byte(strings.Repeat("x", 300))) // then the peer goes quiet
	done := make(chan error, 1)
	go func() {
		_, err := NewEOMReader(pr, 100).ReadMessage()
		done <- err
	}()
	select {
	case err := <-done:
		if err != ErrMessageTooLarge {
			t.Fatalf("err = %v, want ErrMessageTooLarge", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("reader waits for more input instead of enforcing the limit")
	}
}

// zeros is an endless reader of 'z' bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'z'
	}
	return len(p), nil
}

func TestEOMWriterRefusesMarker(t *testing.T) {
	for _, m := range []string{"a]]>]]>b", "]]>]]>", "<a/>]]>"} {
		if err := NewEOMWriter(io.Discard).WriteMessage([]byte(m)); err != ErrMarkerInMessage {
			t.Errorf("%q: err = %v, want ErrMarkerInMessage", m, err)
		}
	}
}

// TestChunkedMultipleChunks reads one message split into chunks at
// arbitrary points, including inside a tag and an attribute value.
func TestChunkedMultipleChunks(t *testing.T) {
	msg := `<rpc message-id="102" xmlns="urn:ietf:params:xml:ns:netconf:base:1.0"><close-session/></rpc>`
	var b strings.Builder
	for _, part := range []string{msg[:4], msg[4:21], msg[21:22], msg[22:]} {
		fmt.Fprintf(&b, "\n#%d\n%s", len(part), part)
	}
	b.WriteString("\n##\n")
	got, err := readAll(NewChunkedReader(strings.NewReader(b.String()), 0))
	if err != io.EOF || !slices.Equal(got, []string{msg}) {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestChunkedMaxSize(t *testing.T) {
	const limit = 10
	for _, tc := range []struct {
		in  string
		err error
	}{
		{"\n#10\n0123456789\n##\n", io.EOF},
		{"\n#5\n01234\n#5\n56789\n##\n", io.EOF},
		{"\n#11\n0123456789a\n##\n", ErrMessageTooLarge},
		{"\n#6\n012345\n#5\n6789a\n##\n", ErrMessageTooLarge},
	} {
		_, err := readAll(NewChunkedReader(strings.NewReader(tc.in), limit))
		if err != tc.err {
			t.Errorf("%q: err = %v, want %v", tc.in, err, tc.err)
		}
	}
	// The largest legal chunk-size is refused from its header alone, before
	// any of its data is read.
	hdr := "\n#4294967295\n"
	cr := &countingReader{r: iotest.OneByteReader(io.MultiReader(strings.NewReader(hdr), zeros{}))}
	if _, err := NewChunkedReader(cr, limit).ReadMessage(); err != ErrMessageTooLarge {
		t.Fatalf("4294967295-byte chunk: err = %v, want ErrMessageTooLarge", err)
	}
	if cr.n != len(hdr) {
		t.Fatalf("read %d bytes, want only the %d header bytes", cr.n, len(hdr))
	}
}

func TestChunkedMalformed(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"no leading LF", "#4\nabcd\n##\n"},
		{"no hash", "\n4\nabcd\n##\n"},
		{"zero size", "\n#0\n\n##\n"},
		{"leading zero", "\n#04\nabcd\n##\n"},
		{"empty size", "\n#\nabcd\n##\n"},
		{"negative", "\n#-4\nabcd\n##\n"},
		{"plus sign", "\n#+4\nabcd\n##\n"},
		{"space before size", "\n# 4\nabcd\n##\n"},
		{"space after size", "\n#4 \nabcd\n##\n"},
		{"CRLF", "\n#4\r\nabcd\n##\n"},
		{"hex", "\n#a\nabcd\n##\n"},
		{"letter in size", "\n#4a\nabcd\n##\n"},
		{"too large", "\n#4294967296\n"},
		{"eleven digits", "\n#10000000000\n"},
		{"huge", "\n#99999999999999999999999\n"},
		{"end before any chunk", "\n##\n"},
		{"missing LF after data", "\n#4\nabcdX##\n"},
		{"missing LF before end", "\n#4\nabcd##\n"},
		{"wrong end marker", "\n#4\nabcd\n##x"},
		{"triple hash", "\n#4\nabcd\n###\n"},
		{"hash LF after chunk", "\n#4\nabcd\n#\n"},
		{"data longer than size", "\n#3\nabcd\n##\n"},
		{"whitespace between messages", "\n#1\na\n##\n\n\n#1\nb\n##\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readAll(NewChunkedReader(strings.NewReader(tc.in), 0))
			if !errors.Is(err, ErrMalformedFrame) {
				t.Fatalf("got %q, %v; want ErrMalformedFrame", got, err)
			}
			if !strings.HasPrefix(err.Error(), "netconf: ") {
				t.Errorf("error %q lacks the netconf: prefix", err)
			}
		})
	}
}

func TestChunkedTruncated(t *testing.T) {
	for _, in := range []string{"\n", "\n#", "\n#4", "\n#4\n", "\n#4\nab", "\n#4\nabcd", "\n#4\nabcd\n", "\n#4\nabcd\n#", "\n#4\nabcd\n##"} {
		if _, err := readAll(NewChunkedReader(strings.NewReader(in), 0)); err != io.ErrUnexpectedEOF {
			t.Errorf("%q: err = %v, want io.ErrUnexpectedEOF", in, err)
		}
	}
	if _, err := readAll(NewChunkedReader(strings.NewReader(""), 0)); err != io.EOF {
		t.Errorf("empty input: err = %v, want io.EOF", err)
	}
}

func TestChunkedWriter(t *testing.T) {
	if err := NewChunkedWriter(io.Discard).WriteMessage(nil); err != ErrEmptyMessage {
		t.Fatalf("empty message: err = %v", err)
	}
	var buf bytes.Buffer
	w := NewChunkedWriter(&buf)
	w.MaxChunk = 4
	if err := w.WriteMessage([]byte("abcdefghij")); err != nil {
		t.Fatal(err)
	}
	if want := "\n#4\nabcd\n#4\nefgh\n#2\nij\n##\n"; buf.String() != want {
		t.Fatalf("got %q, want %q", buf.String(), want)
	}
	buf.Reset()
	if err := NewChunkedWriter(&buf).WriteMessage([]byte("<ok/>")); err != nil {
		t.Fatal(err)
	}
	if want := "\n#5\n<ok/>\n##\n"; buf.String() != want {
		t.Fatalf("got %q, want %q", buf.String(), want)
	}
}

// TestFramingSwitchSharesBuffer checks the RFC 6242 §4.1 switch: a hello
// in end-of-message framing and a chunked rpc arriving in one read are
// both found when the readers share a *bufio.Reader.
func TestFramingSwitchSharesBuffer(t *testing.T) {
	in := "<hello/>" + EOMMarker + "\n#5\n<rpc>\n#6\n</rpc>\n##\n"
	br := bufio.NewReaderSize(strings.NewReader(in), ReadBufferSize)
	hello, err := NewEOMReader(br, 0).ReadMessage()
	if err != nil || string(hello) != "<hello/>" {
		t.Fatalf("hello: %q, %v", hello, err)
	}
	got, err := readAll(NewChunkedReader(br, 0))
	if err != io.EOF || !slices.Equal(got, []string{"<rpc></rpc>"}) {
		t.Fatalf("after switch: %q, %v", got, err)
	}
}
