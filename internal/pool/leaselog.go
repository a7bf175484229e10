package pool

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"net/netip"
)

// The lease file is a header followed by records, each saying "identity
// holds address addr of pool": a later record for the same address or for
// the same identity and family in the pool replaces an earlier one.
// Manager.Set rewrites the file with the current leases (write to a
// temporary file, fsync, rename, fsync the directory); between two
// rewrites each new lease, and each lease taken up again after a release,
// is appended. A record carries a CRC-32C of its bytes, so a record torn
// by a crash in the middle of a write is recognized and dropped with
// everything after it: the file is never read as a lease nobody made.
//
// Record layout (big endian):
//
//	len(pool) 1 | pool | len(identity) 2 | identity | len(addr) 1 (4 or 16) | addr | crc32c 4
const leaseMagic = "SGWLEASE1\n"

// Record is one record of the lease file.
type Record struct {
	Pool, Identity string
	Addr           netip.Addr
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrBadLeaseFile is wrapped by DecodeLeases when the file does not start
// with the lease file header.
var ErrBadLeaseFile = errors.New("pool: not a lease file")

// AppendRecord appends the encoding of r to b. The pool name must fit 255
// octets and the identity 65535 (the model bounds both far lower).
func AppendRecord(b []byte, r Record) []byte {
	start := len(b)
	b = append(b, byte(len(r.Pool)))
	b = append(b, r.Pool...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.Identity)))
	b = append(b, r.Identity...)
	addr := r.Addr.Unmap().AsSlice()
	b = append(b, byte(len(addr)))
	b = append(b, addr...)
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// DecodeLeases decodes a lease file. It returns the records of the valid
// prefix and its length: a truncated or corrupt record ends the file
// there (the tail a crash tore), it is not an error. A file without the
// header is ErrBadLeaseFile.
func DecodeLeases(b []byte) (recs []Record, valid int, err error) {
	if len(b) < len(leaseMagic) || string(b[:len(leaseMagic)]) != leaseMagic {
		return nil, 0, ErrBadLeaseFile
	}
	off := len(leaseMagic)
	for off < len(b) {
		r, n, ok := decodeRecord(b[off:])
		if !ok {
			break
		}
		recs = append(recs, r)
		off += n
	}
	return recs, off, nil
}

// decodeRecord decodes the record at the start of b and returns its
// length.
func decodeRecord(b []byte) (Record, int, bool) {
	var r Record
	off := 0
	need := func(n int) bool { return len(b)-off >= n }
	if !need(1) {
		return r, 0, false
	}
	pl := int(b[off])
	off++
	if pl == 0 || !need(pl+2) {
		return r, 0, false
	}
	r.Pool = string(b[off : off+pl])
	off += pl
	il := int(binary.BigEndian.Uint16(b[off:]))
	off += 2
	if !need(il + 1) {
		return r, 0, false
	}
	r.Identity = string(b[off : off+il])
	off += il
	al := int(b[off])
	off++
	if (al != 4 && al != 16) || !need(al+4) {
		return r, 0, false
	}
	r.Addr, _ = netip.AddrFromSlice(b[off : off+al])
	off += al
	if crc32.Checksum(b[:off], castagnoli) != binary.BigEndian.Uint32(b[off:]) {
		return r, 0, false
	}
	return r, off + 4, true
}
