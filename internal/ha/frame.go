package ha

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The sync link carries SA keys: every frame after the handshake is
// sealed with AES-256-GCM under a key per direction derived from the HA
// secret and both nodes' fresh nonces (HA design, decision 4). A peer
// without the secret derives other keys: its first frame fails to open
// and the connection closes, counted in messages-rejected.
//
// Handshake, in clear, each side sends once:
//
//	magic "SGHA"(4) version(1) node-id(1) nonce(32)
//
// then every frame is
//
//	length(4) AES-256-GCM(key of the direction, nonce = 0(4) || counter(8),
//	                      plaintext = one message, additional data = length)
//
// The counter starts at 0 on each connection and direction and never
// repeats within it (keys are fresh per connection, as the nonces are), so
// that a GCM nonce is never reused under a key (NIST SP 800-38D §8.2.1):
// a frame replayed, dropped or reordered by an attacker on the link fails
// to open.

const (
	hsMagic    = "SGHA"
	nonceLen   = 32
	hsLen      = len(hsMagic) + 1 + 1 + nonceLen
	hkdfLabel  = "secgw ha v1"
	keyLen     = 32 // AES-256
	maxFrame   = maxRecord + 1024 + 16
	gcmNonceSz = 12
)

// errOpen is a frame that failed authentication.
var errOpen = errors.New("ha: frame failed authentication (wrong secret or corrupted)")

// hsMsg is one side's handshake.
type hsMsg struct {
	nodeID uint8
	nonce  [nonceLen]byte
}

func newHandshake(nodeID uint8) (hsMsg, error) {
	h := hsMsg{nodeID: nodeID}
	if _, err := rand.Read(h.nonce[:]); err != nil {
		return h, fmt.Errorf("ha: nonce: %w", err)
	}
	return h, nil
}

func (h hsMsg) marshal() []byte {
	b := make([]byte, 0, hsLen)
	b = append(b, hsMagic...)
	b = append(b, protoVersion, h.nodeID)
	return append(b, h.nonce[:]...)
}

func parseHandshake(b []byte) (hsMsg, error) {
	var h hsMsg
	if len(b) != hsLen || string(b[:4]) != hsMagic {
		return h, errors.New("ha: not a secgw HA handshake")
	}
	if b[4] != protoVersion {
		return h, fmt.Errorf("ha: handshake of protocol version %d (this node speaks %d)", b[4], protoVersion)
	}
	h.nodeID = b[5]
	copy(h.nonce[:], b[6:])
	return h, nil
}

// sessionKeys derives the key of each direction: HKDF-SHA256 (RFC 5869)
// with the secret as input keying material, the nonces of node 1 and node
// 2 (in that order) as salt, and the label with the direction as info.
// send is the key of frames from local to remote.
func sessionKeys(secret []byte, local, remote hsMsg) (send, recv []byte, err error) {
	n1, n2 := local, remote
	if local.nodeID > remote.nodeID {
		n1, n2 = remote, local
	}
	salt := append(append([]byte{}, n1.nonce[:]...), n2.nonce[:]...)
	dir := func(from, to uint8) ([]byte, error) {
		return hkdf.Key(sha256.New, secret, salt, fmt.Sprintf("%s %d>%d", hkdfLabel, from, to), keyLen)
	}
	if send, err = dir(local.nodeID, remote.nodeID); err != nil {
		return nil, nil, fmt.Errorf("ha: hkdf: %w", err)
	}
	if recv, err = dir(remote.nodeID, local.nodeID); err != nil {
		return nil, nil, fmt.Errorf("ha: hkdf: %w", err)
	}
	return send, recv, nil
}

// sealer seals or opens the frames of one direction.
type sealer struct {
	aead    cipher.AEAD
	counter uint64
}

func newSealer(key []byte) (*sealer, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("ha: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("ha: %w", err)
	}
	return &sealer{aead: aead}, nil
}

func (s *sealer) nonce() []byte {
	var n [gcmNonceSz]byte
	binary.BigEndian.PutUint64(n[4:], s.counter)
	s.counter++
	return n[:]
}

// seal appends the frame of msg to b.
func (s *sealer) seal(b, msg []byte) ([]byte, error) {
	n := len(msg) + s.aead.Overhead()
	if n > maxFrame {
		return nil, fmt.Errorf("ha: frame of %d bytes (at most %d)", n, maxFrame)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	hdr := b[len(b)-4:]
	return s.aead.Seal(b, s.nonce(), msg, hdr), nil
}

// readFrame reads and opens one frame from r into buf (grown as needed)
// and returns the plaintext, which aliases buf.
func (s *sealer) readFrame(r io.Reader, buf []byte) ([]byte, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, buf, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:]))
	if n < s.aead.Overhead() || n > maxFrame {
		return nil, buf, fmt.Errorf("%w: frame length %d", errOpen, n)
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, buf, err
	}
	pt, err := s.aead.Open(buf[:0], s.nonce(), buf, hdr[:])
	if err != nil {
		return nil, buf, errOpen
	}
	return pt, buf, nil
}
