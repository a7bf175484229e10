package datastore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// The journal file holds the commits made since the last snapshot, one
// record each: a 4-octet big-endian length, a 4-octet CRC-32C of the
// payload, and the payload (a JSON commitRecord). A commit is durable once
// its record is written and fsynced. A crash in the middle of a write
// leaves a torn last record, which the next start detects (short read or
// checksum mismatch) and cuts off: that commit was never acknowledged.
type wal struct {
	f    *os.File
	size int64
	at   crashPoint // the tests' kill points; nil in production
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// maxRecord bounds a record, so that a damaged length cannot make the
// reader allocate gigabytes.
const maxRecord = 1 << 30

// openWAL opens (creating) the journal file and returns it with the
// payloads of its intact records; a torn tail is truncated.
func openWAL(file string, at crashPoint) (*wal, [][]byte, error) {
	f, err := os.OpenFile(file, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, fmt.Errorf("datastore: %w", err)
	}
	var recs [][]byte
	var off int64
	hdr := make([]byte, 8)
	for {
		if _, err := io.ReadFull(f, hdr); err != nil {
			break
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		if n > maxRecord {
			break
		}
		payload := make([]byte, n)
		if _, err := io.ReadFull(f, payload); err != nil {
			break
		}
		if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(hdr[4:]) {
			break
		}
		recs = append(recs, payload)
		off += 8 + int64(n)
	}
	if fi, err := f.Stat(); err == nil && fi.Size() != off {
		at.reached("journal-cut")
		if err := f.Truncate(off); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("datastore: %w", err)
		}
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("datastore: %w", err)
	}
	return &wal{f: f, size: off, at: at}, recs, nil
}

// append writes one record and fsyncs it.
func (w *wal) append(payload []byte) error {
	if w == nil || w.f == nil {
		return errors.New("datastore: journal is closed")
	}
	buf := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint32(buf[:4], uint32(len(payload)))
	binary.BigEndian.PutUint32(buf[4:], crc32.Checksum(payload, castagnoli))
	buf = append(buf, payload...)
	w.at.reached("journal-append")
	if _, err := w.f.Write(buf); err != nil {
		// Cut the partial write off so later records stay readable.
		_ = w.f.Truncate(w.size)
		_, _ = w.f.Seek(w.size, io.SeekStart)
		return fmt.Errorf("datastore: journal: %w", err)
	}
	w.at.reached("journal-appended")
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("datastore: journal: %w", err)
	}
	w.size += int64(len(buf))
	return nil
}

// reset empties the journal after a snapshot made it redundant.
func (w *wal) reset() error {
	w.at.reached("journal-reset")
	if err := w.f.Truncate(0); err != nil {
		return fmt.Errorf("datastore: journal: %w", err)
	}
	if _, err := w.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("datastore: journal: %w", err)
	}
	w.size = 0
	return w.f.Sync()
}

func (w *wal) close() error {
	if w == nil || w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}
