package cli

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func newHostKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var hostAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8830}

const hostName = "127.0.0.1:8830"

// TestHostKeyModes: each mode on an unknown host, then on a known one
// with the right key and with another (always refused).
func TestHostKeyModes(t *testing.T) {
	key, other := newHostKey(t), newHostKey(t)
	for _, c := range []struct {
		mode     string
		answer   bool
		wantErr  string
		recorded bool
	}{
		{mode: HostKeyStrict, wantErr: "is not in"},
		{mode: HostKeyAsk, answer: false, wantErr: "not accepted"},
		{mode: HostKeyAsk, answer: true, recorded: true},
		{mode: HostKeyAcceptNew, recorded: true},
		{mode: HostKeyIfKnown},
		{mode: HostKeyOff},
	} {
		file := filepath.Join(t.TempDir(), "ssh", "known_hosts")
		var asked string
		var note strings.Builder
		cfg := HostKeyConfig{File: file, Mode: c.mode, Note: &note,
			Ask: func(q string) (bool, error) { asked = q; return c.answer, nil }}
		cb, err := cfg.HostKeyCallback()
		if err != nil {
			t.Fatal(err)
		}
		err = cb(hostName, hostAddr, key)
		if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
			t.Errorf("%s, answer %v: unknown host: %v, want %q", c.mode, c.answer, err, c.wantErr)
		}
		if c.mode == HostKeyAsk && !strings.Contains(asked, ssh.FingerprintSHA256(key)) {
			t.Errorf("ask: the question %q does not show the fingerprint", asked)
		}
		b, _ := os.ReadFile(file)
		if got := strings.Contains(string(b), "[127.0.0.1]:8830 ssh-ed25519 "); got != c.recorded {
			t.Errorf("%s, answer %v: recorded %v, want %v (file %q)", c.mode, c.answer, got, c.recorded, b)
		}
		if !c.recorded {
			continue
		}
		if info, err := os.Stat(file); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: known_hosts mode %v, %v; want 0600", c.mode, info.Mode(), err)
		}
		// Known now: the same key passes, another is refused, in every
		// mode but off.
		if err := cb(hostName, hostAddr, key); err != nil {
			t.Errorf("%s: the recorded key: %v", c.mode, err)
		}
		for _, m := range []string{HostKeyStrict, HostKeyAsk, HostKeyAcceptNew, HostKeyIfKnown} {
			cfg.Mode = m
			cb2, _ := cfg.HostKeyCallback()
			if err := cb2(hostName, hostAddr, other); err == nil || !strings.Contains(err.Error(), "HOST KEY CHANGED") {
				t.Errorf("%s: a changed key: %v, want refused", m, err)
			}
		}
	}
}

// TestHostKeyPin: a pinned fingerprint or public key lets only that key
// in, whatever known_hosts holds.
func TestHostKeyPin(t *testing.T) {
	key, other := newHostKey(t), newHostKey(t)
	for _, pin := range []string{ssh.FingerprintSHA256(key), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))} {
		cb, err := HostKeyConfig{Pin: pin, Mode: HostKeyOff}.HostKeyCallback()
		if err != nil {
			t.Fatal(err)
		}
		if err := cb(hostName, hostAddr, key); err != nil {
			t.Errorf("pin %.20s: the pinned key: %v", pin, err)
		}
		if err := cb(hostName, hostAddr, other); err == nil || !strings.Contains(err.Error(), "not the pinned") {
			t.Errorf("pin %.20s: another key: %v, want refused", pin, err)
		}
	}
	for _, bad := range []string{"MD5:aa", "ssh-ed25519 notbase64"} {
		if _, err := (HostKeyConfig{Pin: bad}).HostKeyCallback(); err == nil {
			t.Errorf("pin %q accepted", bad)
		}
	}
	if _, err := (HostKeyConfig{Mode: "sometimes"}).HostKeyCallback(); err == nil {
		t.Error("mode sometimes accepted")
	}
	if _, err := (HostKeyConfig{File: "x", Mode: HostKeyAsk}).HostKeyCallback(); err == nil {
		t.Error("ask without a terminal accepted")
	}
}

// TestIdentityEncrypted: an encrypted key needs its passphrase; without
// a terminal to ask on, the error says so.
func TestIdentityEncrypted(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "k", []byte("open sesame"))
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "id")
	if err := os.WriteFile(file, pemEncode(block), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := (Keys{Identities: []string{file}}).Signers(); err == nil || !strings.Contains(err.Error(), "no terminal") {
		t.Errorf("encrypted key without a prompt: %v", err)
	}
	signers, _, err := Keys{Identities: []string{file}, Passphrase: func(string) ([]byte, error) { return []byte("open sesame"), nil }}.Signers()
	if err != nil {
		t.Fatal(err)
	}
	if s, err := signers(); err != nil || len(s) != 1 {
		t.Errorf("signers: %d, %v", len(s), err)
	}
	_, _, err = Keys{Identities: []string{file}, Passphrase: func(string) ([]byte, error) { return []byte("wrong"), nil }}.Signers()
	if err == nil || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong passphrase: %v", err)
	}
	if _, _, err := (Keys{Identities: []string{file + ".missing"}}).Signers(); err == nil {
		t.Error("a missing identity file accepted")
	}
}

func pemEncode(b *pem.Block) []byte { return pem.EncodeToMemory(b) }

// TestRPCSecretNotInHistory: a set-password line carries a secret (the
// RPC input's password leaf is sgt:secret), so the history file skips it.
func TestRPCSecretNotInHistory(t *testing.T) {
	c := New(loadSchema(t), nil, io.Discard)
	if !c.HasSecret("cmd aaa set-password user reader password s3cr3t-pw") {
		t.Error("set-password's line is not private")
	}
	if c.HasSecret("cmd ike flush vrf main") {
		t.Error("a flush line is private")
	}
}
