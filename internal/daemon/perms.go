package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// checkSecretFiles refuses to start on a data directory whose secret
// files are readable by group or others, as the NETCONF transport refuses
// such a host key (the daemon started silently with a
// 0644 journal or users file). Every file it checks holds secrets: the
// users file has password hashes and keys; running.json, the journal and
// the commit history hold the configuration with its pre-shared keys.
// The daemon creates them all with mode 0600, so a looser mode was set by
// someone else: it is the operator's to fix (chmod 600), not the daemon's
// to repair silently. Missing files are fine: they are created later.
func checkSecretFiles(dir string) error {
	files := []string{
		filepath.Join(dir, UsersFile),
		filepath.Join(dir, ConfigDir, "running.json"),
		filepath.Join(dir, ConfigDir, "journal"),
	}
	history, err := filepath.Glob(filepath.Join(dir, ConfigDir, "history", "*.json"))
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	files = append(files, history...)
	for _, f := range files {
		fi, err := os.Lstat(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("daemon: %w", err)
		}
		if perm := fi.Mode().Perm(); perm&0o077 != 0 {
			return fmt.Errorf("daemon: %s holds secrets but is accessible by group or others (mode %04o): "+
				"chmod 600 it (secgwd refuses to start, as it refuses such a host key)", f, perm)
		}
	}
	return nil
}
