package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// InitialPasswordEnv names a file holding the admin password of a first
// start (for systemd: LoadCredential= and
// SECGW_INITIAL_PASSWORD_FILE=%d/admin-password, or any root-only file).
const InitialPasswordEnv = "SECGW_INITIAL_PASSWORD_FILE"

// initialPasswordFile is where a generated password goes when standard
// error is the journal, in the data directory (mode 0600).
const initialPasswordFile = "initial-password"

// readInitialPassword reads the file named by SECGW_INITIAL_PASSWORD_FILE:
// its first line, without the line end. No variable: "" (generate one).
func readInitialPassword(getenv func(string) string) (string, error) {
	name := getenv(InitialPasswordEnv)
	if name == "" {
		return "", nil
	}
	b, err := os.ReadFile(name)
	if err != nil {
		return "", fmt.Errorf("%s: %w", InitialPasswordEnv, err)
	}
	pw, _, _ := strings.Cut(string(b), "\n")
	pw = strings.TrimSuffix(pw, "\r")
	if pw == "" {
		return "", fmt.Errorf("%s: %s holds no password on its first line", InitialPasswordEnv, name)
	}
	return pw, nil
}

// showInitialPassword tells the operator the admin password a first
// start generated, once, and never through the journal: on standard
// error unless standard error is the journal (systemd's JOURNAL_STREAM
// names it), in which case it goes to DIR/initial-password (0600) and
// only that file's name is logged. A password taken from
// SECGW_INITIAL_PASSWORD_FILE is the operator's already and is not shown.
func showInitialPassword(pw, usersFile, dir string, fromFile bool, stderr *os.File, getenv func(string) string, log *slog.Logger) error {
	switch {
	case pw == "":
		return nil
	case fromFile:
		log.Info("created user admin with the password of "+InitialPasswordEnv, "subsystem", "daemon", "users", usersFile)
		return nil
	case !isJournal(stderr, getenv("JOURNAL_STREAM")):
		fmt.Fprintf(stderr, "secgwd: created user admin with password %s (stored hashed in %s)\n", pw, usersFile)
		return nil
	}
	file := filepath.Join(dir, initialPasswordFile)
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("writing the initial password: %w", err)
	}
	_, err = io.WriteString(f, pw+"\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing the initial password: %w", err)
	}
	log.Warn("created user admin; its password is in a root-only file: read it, then delete the file",
		"subsystem", "daemon", "file", file)
	return nil
}

// isJournal reports whether f is the journal's stream: systemd sets
// JOURNAL_STREAM to "DEVICE:INODE" of the socket it gives as standard
// output/error (systemd.exec(5)).
func isJournal(f *os.File, stream string) bool {
	if stream == "" {
		return false
	}
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false
	}
	return stream == fmt.Sprintf("%d:%d", st.Dev, st.Ino)
}
