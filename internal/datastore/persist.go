package datastore

import (
	"fmt"
	"os"
	"path/filepath"
)

// writeAtomic replaces file with data so that a crash at any instant leaves
// either the old content or the new one: write a temporary file in the same
// directory, fsync it, rename it over the target, fsync the directory (the
// rename itself is only durable once the directory entry is).
func writeAtomic(file string, data []byte) error {
	dir := filepath.Dir(file)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(file)+".tmp-*")
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
