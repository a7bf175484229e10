// Package framing reads and writes NETCONF messages in the two framings of
// RFC 6242: end-of-message (base:1.0, §4.3) and chunked (base:1.1, §4.2).
// It is the one implementation of both, shared by the server's sessions
// (internal/netconf/transport) and the client (internal/ncclient), and
// imports nothing of either.
package framing

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
)

// Framing limits and markers from RFC 6242.
const (
	// EOMMarker is the end-of-message marker of the base:1.0 framing
	// (RFC 6242 §4.3).
	EOMMarker = "]]>]]>"
	// MaxChunkSize is the largest chunk-size allowed by the chunked
	// framing ABNF of RFC 6242 §4.2.
	MaxChunkSize = 4294967295
	// DefaultMaxMessageSize is the message size limit used when none is
	// configured: 16 MiB.
	DefaultMaxMessageSize = 16 << 20
	// ReadBufferSize is the size of the bufio.Reader the framing readers
	// wrap around a plain io.Reader; a *bufio.Reader at least this large
	// is used as it is.
	ReadBufferSize = 32 << 10
)

var (
	// ErrMessageTooLarge is returned by the framing readers when a message
	// would exceed their maximum size. The stream cannot be resynchronised
	// afterwards.
	ErrMessageTooLarge = errors.New("netconf: message exceeds the maximum size")
	// ErrMalformedFrame is wrapped by the errors a ChunkedReader returns for
	// input that does not follow the chunked framing ABNF.
	ErrMalformedFrame = errors.New("netconf: malformed chunked framing")
	// ErrEmptyMessage is returned by ChunkedWriter for an empty message,
	// which chunked framing cannot express (chunk-data is 1*OCTET).
	ErrEmptyMessage = errors.New("netconf: cannot frame an empty message")
	// ErrMarkerInMessage is returned by EOMWriter for a message that
	// contains the end-of-message marker, or ends in "]]>", and so would
	// not be read back as written.
	ErrMarkerInMessage = errors.New("netconf: message contains the ]]>]]> marker")
)

// MessageReader yields one complete, unframed NETCONF message at a time.
// After any error other than a nil one, every later call returns the same
// error. io.EOF means the stream ended cleanly between two messages.
type MessageReader interface {
	// ReadMessage returns the next complete message, unframed.
	ReadMessage() ([]byte, error)
}

// Budget is charged for the buffer capacity a reader allocates for a
// message. An error from Charge fails the read with that error (the
// server's memory for incoming messages is shared by its sessions).
type Budget interface {
	Charge(n int) error
}

// MessageWriter frames and writes one NETCONF message per call.
type MessageWriter interface {
	// WriteMessage writes msg, framed, as one message.
	WriteMessage(msg []byte) error
}

// bufferedReader returns r itself when it is already a large enough
// *bufio.Reader, so that several framing readers can share one stream and
// its read-ahead (the switch from end-of-message to chunked framing after
// the hellos, RFC 6242 §4.1, must not lose bytes the first reader buffered).
func bufferedReader(r io.Reader) *bufio.Reader {
	return bufio.NewReaderSize(r, ReadBufferSize)
}

// EOMReader reads messages delimited by the base:1.0 end-of-message
// marker ]]>]]> (RFC 6242 §4.3). The marker may arrive split across any
// number of reads.
type EOMReader struct {
	br     *bufio.Reader
	max    int
	err    error
	budget Budget // charged for what the reader allocates; nil: none
}

// NewEOMReader returns an EOMReader that rejects messages longer than
// maxSize bytes (DefaultMaxMessageSize if maxSize <= 0). If r is a
// *bufio.Reader of at least 32 KiB it is used directly.
func NewEOMReader(r io.Reader, maxSize int) *EOMReader {
	if maxSize <= 0 {
		maxSize = DefaultMaxMessageSize
	}
	return &EOMReader{br: bufferedReader(r), max: maxSize}
}

// SetBudget makes the reader charge what it allocates to b.
func (r *EOMReader) SetBudget(b Budget) { r.budget = b }

// ReadMessage returns the next message without its marker. It consumes
// input as it arrives and fails as soon as the message outgrows the limit,
// so at most maxSize+len(EOMMarker) bytes of a message are held in memory
// and a peer cannot stall the check by withholding the rest. End of input
// after nothing but white space is io.EOF; inside a message it is
// io.ErrUnexpectedEOF.
func (r *EOMReader) ReadMessage() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	limit := r.max + len(EOMMarker)
	var msg []byte
	for {
		if r.br.Buffered() == 0 {
			if _, err := r.br.Peek(1); err != nil { // one Read at most
				r.err = err
				if errors.Is(err, io.EOF) {
					r.err = io.EOF
					if len(bytes.TrimSpace(msg)) > 0 {
						r.err = io.ErrUnexpectedEOF
					}
				}
				return nil, r.err
			}
		}
		data, _ := r.br.Peek(r.br.Buffered())
		// The marker ends in '>': scan up to and including the next one.
		take := len(data)
		if i := bytes.IndexByte(data, '>'); i >= 0 {
			take = i + 1
		}
		if len(msg)+take > limit {
			r.err = ErrMessageTooLarge
			return nil, r.err
		}
		var err error
		if msg, err = grow(r.budget, msg, take, limit); err != nil {
			r.err = err
			return nil, err
		}
		msg = append(msg, data[:take]...)
		_, _ = r.br.Discard(take)
		if msg[len(msg)-1] == '>' && bytes.HasSuffix(msg, []byte(EOMMarker)) {
			return msg[:len(msg)-len(EOMMarker)], nil
		}
	}
}

// EOMWriter writes messages followed by the end-of-message marker.
type EOMWriter struct {
	w io.Writer
}

// NewEOMWriter returns an EOMWriter writing to w.
func NewEOMWriter(w io.Writer) *EOMWriter {
	return &EOMWriter{w: w}
}

// WriteMessage writes msg and the marker. A message containing the marker
// is refused (a peer would read it as two messages), and so is one ending
// in "]]>", since with the marker appended a marker would start inside it.
// Well-formed XML never ends that way.
func (w *EOMWriter) WriteMessage(msg []byte) error {
	if bytes.Contains(msg, []byte(EOMMarker)) || bytes.HasSuffix(msg, []byte("]]>")) {
		return ErrMarkerInMessage
	}
	if _, err := w.w.Write(msg); err != nil {
		return err
	}
	_, err := io.WriteString(w.w, EOMMarker)
	return err
}

// ChunkedReader reads messages in the base:1.1 chunked framing of
// RFC 6242 §4.2:
//
//	Chunked-Message = 1*chunk end-of-chunks
//	chunk           = LF HASH chunk-size LF chunk-data
//	chunk-size      = 1*DIGIT1 0*DIGIT   ; no leading zero, <= 4294967295
//	end-of-chunks   = LF HASH HASH LF
//
// A message may consist of any number of chunks and arrive split across
// any number of reads.
type ChunkedReader struct {
	br     *bufio.Reader
	max    int
	err    error
	budget Budget // charged for what the reader allocates; nil: none
}

// NewChunkedReader returns a ChunkedReader that rejects messages longer
// than maxSize bytes (DefaultMaxMessageSize if maxSize <= 0). If r is a
// *bufio.Reader of at least 32 KiB it is used directly.
func NewChunkedReader(r io.Reader, maxSize int) *ChunkedReader {
	if maxSize <= 0 {
		maxSize = DefaultMaxMessageSize
	}
	return &ChunkedReader{br: bufferedReader(r), max: maxSize}
}

// SetBudget makes the reader charge what it allocates to b.
func (r *ChunkedReader) SetBudget(b Budget) { r.budget = b }

// ReadMessage returns the concatenated chunk data of the next message.
// The size limit is checked against each chunk header before its data is
// read, so at most maxSize bytes are ever buffered, and they are
// allocated as the data arrives. Errors for bad framing
// wrap ErrMalformedFrame.
func (r *ChunkedReader) ReadMessage() ([]byte, error) {
	if r.err != nil {
		return nil, r.err
	}
	msg, err := r.readMessage()
	if err != nil {
		r.err = err
		return nil, err
	}
	return msg, nil
}

func (r *ChunkedReader) readMessage() ([]byte, error) {
	var msg []byte
	for first := true; ; first = false {
		size, err := r.readHeader(first)
		if err != nil {
			return nil, err
		}
		if size == 0 { // end-of-chunks
			if first {
				return nil, fmt.Errorf("%w: end-of-chunks before any chunk", ErrMalformedFrame)
			}
			return msg, nil
		}
		if size > uint64(r.max-len(msg)) {
			return nil, ErrMessageTooLarge
		}
		// Read the chunk as it arrives rather than allocating its
		// declared size up front: memory follows the bytes received.
		for n := int(size); n > 0; {
			step := min(n, max(cap(msg)-len(msg), ReadBufferSize))
			if msg, err = grow(r.budget, msg, step, r.max); err != nil {
				return nil, err
			}
			if _, err := io.ReadFull(r.br, msg[len(msg):len(msg)+step]); err != nil {
				return nil, unexpected(err)
			}
			msg = msg[:len(msg)+step]
			n -= step
		}
	}
}

// readHeader reads "\n#<size>\n" and returns size, or "\n##\n" and
// returns 0. io.EOF is returned only before the first byte of a message.
func (r *ChunkedReader) readHeader(first bool) (uint64, error) {
	c, err := r.br.ReadByte()
	if err != nil {
		if first && errors.Is(err, io.EOF) {
			return 0, io.EOF
		}
		return 0, unexpected(err)
	}
	if c != '\n' {
		return 0, fmt.Errorf("%w: expected LF before chunk header, got %s", ErrMalformedFrame, quoteByte(c))
	}
	if c, err = r.br.ReadByte(); err != nil {
		return 0, unexpected(err)
	}
	if c != '#' {
		return 0, fmt.Errorf("%w: expected '#' in chunk header, got %s", ErrMalformedFrame, quoteByte(c))
	}
	if c, err = r.br.ReadByte(); err != nil {
		return 0, unexpected(err)
	}
	if c == '#' {
		if c, err = r.br.ReadByte(); err != nil {
			return 0, unexpected(err)
		}
		if c != '\n' {
			return 0, fmt.Errorf("%w: expected LF after end-of-chunks, got %s", ErrMalformedFrame, quoteByte(c))
		}
		return 0, nil
	}
	if c < '1' || c > '9' {
		return 0, fmt.Errorf("%w: chunk-size must start with 1-9, got %s", ErrMalformedFrame, quoteByte(c))
	}
	size := uint64(c - '0')
	for digits := 1; ; digits++ {
		if c, err = r.br.ReadByte(); err != nil {
			return 0, unexpected(err)
		}
		if c == '\n' {
			return size, nil
		}
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: expected digit or LF in chunk-size, got %s", ErrMalformedFrame, quoteByte(c))
		}
		size = size*10 + uint64(c-'0')
		if digits >= 10 || size > MaxChunkSize {
			return 0, fmt.Errorf("%w: chunk-size exceeds %d", ErrMalformedFrame, uint64(MaxChunkSize))
		}
	}
}

// unexpected turns io.EOF inside a message into io.ErrUnexpectedEOF.
func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// grow makes room for n more bytes in buf without raising its capacity
// above limit (callers have checked len(buf)+n against it), charging the
// capacity it adds to b (nil: none).
func grow(b Budget, buf []byte, n, limit int) ([]byte, error) {
	need := len(buf) + n
	if need <= cap(buf) {
		return buf, nil
	}
	c := min(max(2*cap(buf), need, 512), limit)
	// What the reader holds is the capacity of its buffers; the old
	// array, garbage after the copy, is not counted.
	if b != nil {
		if err := b.Charge(c - cap(buf)); err != nil {
			return nil, err
		}
	}
	nb := make([]byte, len(buf), c)
	copy(nb, buf)
	return nb, nil
}

// maxChunkInt is MaxChunkSize as an int, or the largest int on platforms
// where an int cannot hold it.
var maxChunkInt = int(min(uint64(MaxChunkSize), uint64(math.MaxInt)))

func quoteByte(c byte) string {
	return strconv.QuoteRune(rune(c))
}

// ChunkedWriter writes messages in the chunked framing. By default each
// message is one chunk, which is what every known client parses best;
// MaxChunk > 0 splits larger messages into chunks of at most MaxChunk
// bytes.
type ChunkedWriter struct {
	w io.Writer
	// MaxChunk is the largest chunk to emit; 0 means MaxChunkSize.
	MaxChunk int
}

// NewChunkedWriter returns a ChunkedWriter writing to w.
func NewChunkedWriter(w io.Writer) *ChunkedWriter {
	return &ChunkedWriter{w: w}
}

// WriteMessage writes msg as one or more chunks and end-of-chunks. An
// empty message is refused with ErrEmptyMessage.
func (w *ChunkedWriter) WriteMessage(msg []byte) error {
	if len(msg) == 0 {
		return ErrEmptyMessage
	}
	limit := w.MaxChunk
	if limit <= 0 || uint64(limit) > MaxChunkSize {
		limit = maxChunkInt
	}
	var hdr [16]byte
	for len(msg) > 0 {
		n := min(len(msg), limit)
		h := append(hdr[:0], '\n', '#')
		h = strconv.AppendUint(h, uint64(n), 10)
		h = append(h, '\n')
		if _, err := w.w.Write(h); err != nil {
			return err
		}
		if _, err := w.w.Write(msg[:n]); err != nil {
			return err
		}
		msg = msg[n:]
	}
	_, err := io.WriteString(w.w, "\n##\n")
	return err
}
