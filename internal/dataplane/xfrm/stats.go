package xfrm

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"strconv"

	"github.com/vishvananda/netns"

	"secgw/internal/netnsutil"
)

// Stats are the kernel's XFRM error counters of one network namespace,
// by the kernel's names (/proc/net/xfrm_stat, the kernel's
// Documentation/networking/xfrm_proc.rst): XfrmInNoStates,
// XfrmInStateSeqError...
type Stats map[string]uint64

// statFile is where a thread reads its network namespace's counters.
const statFile = "/proc/thread-self/net/xfrm_stat"

// ParseStats reads the lines "Name<blanks>value" of xfrm_stat. A line
// that is not a name and a decimal counter is an error.
func ParseStats(b []byte) (Stats, error) {
	out := Stats{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := bytes.Fields(sc.Bytes())
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			return nil, fmt.Errorf("xfrm: xfrm_stat line %q", sc.Bytes())
		}
		v, err := strconv.ParseUint(string(f[1]), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("xfrm: xfrm_stat %s: %w", f[0], err)
		}
		out[string(f[0])] = v
	}
	return out, sc.Err()
}

// dropCauses maps the kernel's counters onto the causes of
// secgw_esp_drops_total that the userspace dataplane counts (and two of
// the kernel's own: expired, other). The kernel counts per namespace,
// over every SA, ours or not.
//
//   - bad_spi: XfrmInNoStates, inbound ESP with an SPI no SA has.
//   - auth_failure: XfrmInStateProtoError, the ESP decapsulation failed:
//     a failed ICV check (the SA's integrity_failed counts those alone),
//     or a bad pad.
//   - replay: XfrmInStateSeqError, outside or already in the replay
//     window.
//   - malformed: XfrmInHdrError, XfrmInStateModeError,
//     XfrmInStateMismatch (an encapsulation other than the SA's),
//     XfrmFwdHdrError.
//   - selector: XfrmInTmplMismatch, decrypted by an SA that no policy
//     template for its traffic names.
//   - no_policy: XfrmInNoPols, decrypted traffic no inbound policy
//     matches.
//   - discard: XfrmInPolBlock and XfrmOutPolBlock, a block policy.
//   - no_sa: XfrmOutNoStates, outbound traffic whose policy has no SA
//     yet (an acquire is raised).
//   - seq_overflow: XfrmOutStateSeqError.
//   - expired: XfrmInStateExpired and XfrmOutStateExpired, an SA past
//     its hard limit.
//   - other: every other counter (XfrmInError, XfrmInBufferError,
//     XfrmOutError, XfrmOutBundleGenError, the *StateInvalid,
//     *PolError, *DirError counters...), and any a newer kernel adds.
var dropCauses = map[string]string{
	"XfrmInNoStates":        "bad_spi",
	"XfrmInStateProtoError": "auth_failure",
	"XfrmInStateSeqError":   "replay",
	"XfrmInHdrError":        "malformed",
	"XfrmInStateModeError":  "malformed",
	"XfrmInStateMismatch":   "malformed",
	"XfrmFwdHdrError":       "malformed",
	"XfrmInTmplMismatch":    "selector",
	"XfrmInNoPols":          "no_policy",
	"XfrmInPolBlock":        "discard",
	"XfrmOutPolBlock":       "discard",
	"XfrmOutNoStates":       "no_sa",
	"XfrmOutStateSeqError":  "seq_overflow",
	"XfrmInStateExpired":    "expired",
	"XfrmOutStateExpired":   "expired",
}

// Drops sums the counters by cause (dropCauses).
func (s Stats) Drops() map[string]uint64 {
	out := map[string]uint64{}
	for name, v := range s {
		cause, ok := dropCauses[name]
		if !ok {
			cause = "other"
		}
		out[cause] += v
	}
	return out
}

// statReader reads the xfrm_stat of the namespace it was opened in: a
// /proc/net file keeps the namespace of its opening.
type statReader struct {
	f *os.File
}

// openStats opens the xfrm_stat of namespace ns.
func openStats(ns netns.NsHandle) (*statReader, error) {
	var f *os.File
	err := netnsutil.Run(ns, func() error {
		// Locked: /proc/thread-self is this thread's namespace.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		var err error
		f, err = os.Open(statFile)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("xfrm: %w", err)
	}
	return &statReader{f: f}, nil
}

// read reads the counters now.
func (r *statReader) read() (Stats, error) {
	if _, err := r.f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("xfrm: xfrm_stat: %w", err)
	}
	b, err := io.ReadAll(r.f)
	if err != nil {
		return nil, fmt.Errorf("xfrm: xfrm_stat: %w", err)
	}
	return ParseStats(b)
}

// Stats returns the kernel's XFRM error counters of the dataplane's
// namespace. The file is opened on first use, in that namespace.
func (d *Dataplane) Stats() (Stats, error) {
	d.statMu.Lock()
	defer d.statMu.Unlock()
	if d.stat == nil {
		r, err := openStats(d.o.NetNS)
		if err != nil {
			return nil, err
		}
		d.stat = r
	}
	return d.stat.read()
}

// closeStats closes the xfrm_stat file.
func (d *Dataplane) closeStats() error {
	d.statMu.Lock()
	defer d.statMu.Unlock()
	if d.stat == nil {
		return nil
	}
	err := d.stat.f.Close()
	d.stat = nil
	return err
}
