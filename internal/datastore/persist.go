package datastore

import (
	"fmt"
	"os"
	"path/filepath"
)

// writeAtomic replaces file with data so that a crash at any instant leaves
// either the old content or the new one: write a temporary file in the same
// directory, fsync it, rename it over the target, fsync the directory (the
// rename itself is only durable once the directory entry is). A crash
// before the rename leaves a temporary file behind, which
// removeStaleTemps deletes at the next start.
func writeAtomic(file string, data []byte, at crashPoint) error {
	dir := filepath.Dir(file)
	at.reached("create-temp " + filepath.Base(file))
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(file)+tmpInfix+"*")
	if err != nil {
		return fmt.Errorf("datastore: %w", err)
	}
	name := tmp.Name()
	defer os.Remove(name) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("datastore: writing %s: %w", name, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("datastore: syncing %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("datastore: %w", err)
	}
	if err := os.Chmod(name, 0o600); err != nil {
		return fmt.Errorf("datastore: %w", err)
	}
	at.reached("rename " + filepath.Base(file))
	if err := os.Rename(name, file); err != nil {
		return fmt.Errorf("datastore: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("datastore: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("datastore: syncing %s: %w", dir, err)
	}
	return nil
}

// tmpInfix marks writeAtomic's temporary files: ".<name>.tmp-<random>".
const tmpInfix = ".tmp-"

// removeStaleTemps deletes the temporary files a crash in writeAtomic
// left in dir. They never hold the only copy of anything: the file they
// were to replace is intact.
func removeStaleTemps(dir string) {
	names, _ := filepath.Glob(filepath.Join(dir, ".*"+tmpInfix+"*"))
	for _, n := range names {
		_ = os.Remove(n)
	}
}

// crashPoint is called, when set, just before each write to the data
// directory, with a name for the write: the crash tests of this package
// kill the process there, to prove that a kill between any two writes
// leaves a directory Open recovers from. It is nil outside those tests.
type crashPoint func(point string)

func (at crashPoint) reached(point string) {
	if at != nil {
		at(point)
	}
}
