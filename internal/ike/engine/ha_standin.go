package engine

import (
	"errors"
	"net/netip"
)

// STAND-IN, to be deleted when the engine's HA side (slice ha-engine,
// internal/ike/engine/ha*.go) is merged: it declares that API (HA design,
// decision 8) so that the daemon's glue (internal/daemon/ha.go) builds
// against it. It syncs nothing: SyncImport refuses every record.

// SyncSink receives the engine's SA changes on the active node.
type SyncSink interface {
	SAUpdate(spiI, spiR uint64, rec []byte)
	SADelete(spiI, spiR uint64)
}

// SeqKey names an ESP SA as the dataplane does.
type SeqKey struct {
	Dst netip.Addr
	SPI uint32
}

// Seq is an ESP SA's last synced sequence numbers.
type Seq struct{ OSeq, ISeq uint64 }

// errNoHA is the stand-in's refusal.
var errNoHA = errors.New("engine: HA records are not built in this engine (stand-in)")

// SetSyncSink is the stand-in's: it keeps nothing.
func (e *Engine) SetSyncSink(SyncSink) {}

// SyncSnapshot is the stand-in's: no SA.
func (e *Engine) SyncSnapshot(func(spiI, spiR uint64, rec []byte)) {}

// SyncImport is the stand-in's: refused.
func (e *Engine) SyncImport([]byte) error { return errNoHA }

// SyncRemove is the stand-in's: nothing.
func (e *Engine) SyncRemove(uint64, uint64) {}

// SetRole is the stand-in's: the engine stays active.
func (e *Engine) SetRole(bool, func(SeqKey) (Seq, bool), uint64) error { return nil }

// Role is the stand-in's: always active.
func (e *Engine) Role() (active bool) { return true }
