package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestReadInitialPassword(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pw")
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == InitialPasswordEnv {
				return v
			}
			return ""
		}
	}
	if pw, err := readInitialPassword(env("")); pw != "" || err != nil {
		t.Errorf("unset: %q, %v", pw, err)
	}
	for content, want := range map[string]string{"first\nsecond\n": "first", "crlf\r\n": "crlf", "no-newline": "no-newline"} {
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		if pw, err := readInitialPassword(env(file)); pw != want || err != nil {
			t.Errorf("%q: %q, %v; want %q", content, pw, err, want)
		}
	}
	if err := os.WriteFile(file, []byte("\nsecret-on-line-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := readInitialPassword(env(file)); err == nil || strings.Contains(err.Error(), "secret-on-line-2") {
		t.Errorf("empty first line: %v", err)
	}
}

// TestShowInitialPassword: on a plain stderr the password is printed;
// when stderr is the journal it goes to a 0600 file instead.
func TestShowInitialPassword(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	noEnv := func(string) string { return "" }
	if err := showInitialPassword("pw-1", "users.json", dir, false, f, noEnv, log); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	journal := func(k string) string {
		if k == "JOURNAL_STREAM" {
			return fmt.Sprintf("%d:%d", st.Dev, st.Ino)
		}
		return ""
	}
	if err := showInitialPassword("pw-2", "users.json", dir, false, f, journal, log); err != nil {
		t.Fatal(err)
	}
	out, _ := os.ReadFile(f.Name())
	if !strings.Contains(string(out), "pw-1") || strings.Contains(string(out), "pw-2") {
		t.Errorf("stderr: %q; want pw-1 and not pw-2", out)
	}
	b, err := os.ReadFile(filepath.Join(dir, initialPasswordFile))
	if err != nil || string(b) != "pw-2\n" {
		t.Errorf("initial-password: %q, %v", b, err)
	}
	if fi, _ := os.Stat(filepath.Join(dir, initialPasswordFile)); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode().Perm())
	}
	if isJournal(f, "1:2") || isJournal(f, "") {
		t.Error("isJournal matches another stream")
	}
}
