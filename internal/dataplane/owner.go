package dataplane

import "errors"

// ErrExist and ErrNotFound classify failed ops of every implementation
// (wrapped in an ApplyError): an add of an entry that exists, and an
// update or delete of one that does not (the kernel's EEXIST and
// ENOENT/ESRCH). A caller deleting what may already be gone (an SA removed
// by its hard lifetime) tests for ErrNotFound with errors.Is.
var (
	ErrExist    = errors.New("dataplane: entry exists")
	ErrNotFound = errors.New("dataplane: no such entry")
)

// ReqIDRange is a range of reqids, Min to Max inclusive.
type ReqIDRange struct{ Min, Max uint32 }

// Contains reports whether id is in the range.
func (r ReqIDRange) Contains(id uint32) bool { return id >= r.Min && id <= r.Max }

// OwnedReqIDs are the reqids secgw gives its SAs and policy templates
// ("5ec" for secgw). An implementation that shares its tables with other
// software (the kernel) recognises its own SAs by them after a restart,
// so no other IKE daemon on the host may use this range.
var OwnedReqIDs = ReqIDRange{Min: 0x5ec00000, Max: 0x5ecfffff}
