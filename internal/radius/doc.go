// Package radius is secgw's RADIUS client (RFC 2865, RFC 2866, RFC 3579):
// the AAA backend of remote-auth-method eap-radius and
// pre-shared-key-radius, and of RADIUS accounting.
//
// Packets are encoded and parsed with layeh.com/radius; the exchange
// itself (servers in order with failover, per-server timeout and
// retries, the checks of the Response Authenticator and of the
// Message-Authenticator, the decryption of MS-MPPE keys and of
// Tunnel-Password) is here, so that every dropped reply is logged and
// every failure says which servers were tried.
//
// A Client is safe for concurrent use. Its calls block for at most the
// sum of the servers' timeouts times their tries: callers that must not
// block (the IKE engine's workers) call it from their own goroutine.
//
// Secrets (the shared secret, User-Password, MSK, Tunnel-Password) never
// appear in a log record or an error string.
package radius
