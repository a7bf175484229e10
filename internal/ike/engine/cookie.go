package engine

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// The COOKIE of IKE_SA_INIT (RFC 7296 §2.6):
//
//	Cookie = <VersionIDofSecret> | Hash(Ni | IPi | SPIi | <secret>)
//
// with HMAC-SHA-256 keyed by <secret> as the hash, and a one-octet
// <VersionIDofSecret>. §2.6 says <secret> is "periodically changed" and
// that a responder "should change the value of <secret> frequently,
// especially if under attack"; a cookie made with the secret just
// replaced must still be accepted for a while, for an initiator whose
// request carrying it was already on the way (or is retransmitted).
// <VersionIDofSecret> tells which secret made a cookie, so that checking
// it costs one MAC whatever the number of secrets kept.
//
// The secret rotates every CookieSecretLifetime; the previous one is
// accepted for CookieSecretGrace after it was replaced, then forgotten.
// Rotation is done on use, by the first worker that needs a cookie once
// the lifetime is over, so that an idle engine runs no timer for it; the
// previous secret's grace starts at that rotation, so a cookie is
// accepted at least CookieSecretGrace after it was handed out.

// CookieSecretLifetime is how long a cookie secret is used to make
// cookies. The model has no leaf for it. Two minutes bounds what a leaked
// or brute-forced secret is worth, and costs one random read and one
// allocation per period.
const CookieSecretLifetime = 2 * time.Minute

// CookieSecretGrace is how long cookies made with the previous secret are
// still accepted after it was replaced: longer than the last
// retransmission of an IKE_SA_INIT request with the default constants
// (47.5 s after the first), so that an initiator that got its cookie just
// before a rotation and retransmits its request gets through.
const CookieSecretGrace = time.Minute

// cookieSecrets is one generation of the cookie secrets; it is never
// changed once published (Engine.cookies), a rotation publishes a new one.
type cookieSecrets struct {
	cur, prev       [32]byte
	curVer, prevVer byte
	// havePrev: prev is accepted until prevUntil (engine clock, mono).
	havePrev  bool
	prevUntil int64
	// rotateAt is when cur is replaced (engine clock).
	rotateAt int64
}

// cookieJar holds the engine's cookie secrets: readers load them
// atomically; mu serializes the rotations.
type cookieJar struct {
	mu  sync.Mutex
	cur atomic.Pointer[cookieSecrets]
}

// initCookies draws the first secret.
func (e *Engine) initCookies() {
	s := &cookieSecrets{curVer: 1, rotateAt: e.deadline(CookieSecretLifetime)}
	io.ReadFull(e.o.Rand, s.cur[:])
	e.cookies.cur.Store(s)
}

// cookieSecrets returns the secrets in use now, rotating them first when
// the current one has lived CookieSecretLifetime.
func (e *Engine) cookieSecrets() *cookieSecrets {
	now := e.mono()
	s := e.cookies.cur.Load()
	if now < s.rotateAt {
		return s
	}
	e.cookies.mu.Lock()
	defer e.cookies.mu.Unlock()
	if s = e.cookies.cur.Load(); now < s.rotateAt {
		return s // another worker rotated meanwhile
	}
	n := &cookieSecrets{prev: s.cur, prevVer: s.curVer, havePrev: true,
		prevUntil: now + int64(CookieSecretGrace), curVer: s.curVer + 1, rotateAt: now + int64(CookieSecretLifetime)}
	if n.curVer == 0 {
		n.curVer = 1
	}
	io.ReadFull(e.o.Rand, n.cur[:])
	e.cookies.cur.Store(n)
	e.dos.cookieRotations.Add(1)
	e.debug("cookie secret rotated", "version", n.curVer)
	return n
}

// cookie computes the COOKIE to hand out for a request with nonce ni from
// address ipi with SPI spii, with the current secret.
func (e *Engine) cookie(ni []byte, ipi netip.Addr, spii uint64) []byte {
	s := e.cookieSecrets()
	return cookieMAC(&s.cur, s.curVer, ni, ipi, spii)
}

// validCookie reports whether c is a cookie we made, with the current
// secret or the previous one within its grace, for that request.
func (e *Engine) validCookie(c, ni []byte, ipi netip.Addr, spii uint64) bool {
	if len(c) != 1+sha256.Size {
		return false
	}
	s := e.cookieSecrets()
	switch {
	case c[0] == s.curVer:
		return hmac.Equal(c, cookieMAC(&s.cur, s.curVer, ni, ipi, spii))
	case s.havePrev && c[0] == s.prevVer && e.mono() < s.prevUntil:
		return hmac.Equal(c, cookieMAC(&s.prev, s.prevVer, ni, ipi, spii))
	}
	return false
}

// cookieMAC is <VersionIDofSecret> | HMAC-SHA-256(secret, Ni | IPi | SPIi).
func cookieMAC(secret *[32]byte, ver byte, ni []byte, ipi netip.Addr, spii uint64) []byte {
	h := hmac.New(sha256.New, secret[:])
	h.Write(ni)
	h.Write(ipi.Unmap().AsSlice())
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], spii)
	h.Write(b[:])
	return h.Sum([]byte{ver})
}
