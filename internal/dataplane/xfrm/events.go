package xfrm

import (
	"errors"
	"os"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"

	"secgw/internal/dataplane"
)

// readEvents turns XFRM multicast messages into Events until Close. An
// event for an entry secgw does not own is dropped, as is the expiry of an
// AllocSPI placeholder that was never replaced by its SA.
func (d *Dataplane) readEvents() {
	defer d.wg.Done()
	for {
		b, err := d.ev.read()
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			if errors.Is(err, unix.ENOBUFS) {
				// The socket overflowed: events were lost. The
				// engine's own timers and the Reconciler still hold.
				d.log.Warn("xfrm: netlink events lost (receive buffer overflow)")
				continue
			}
			select {
			case <-d.done:
				return
			default:
			}
			d.log.Error("xfrm: reading netlink events", "err", err)
			return
		}
		walkMessages(b, func(h header, p []byte) error {
			if ev, ok := d.event(h.Type, p); ok {
				select {
				case d.events <- ev:
				case <-d.done:
				}
			}
			return nil
		})
	}
}

// event decodes one multicast message.
func (d *Dataplane) event(typ uint16, p []byte) (dataplane.Event, bool) {
	switch typ {
	case nl.XFRM_MSG_EXPIRE:
		ev, reqID, err := decodeExpire(p)
		// SPI 0 is the placeholder the kernel made for an acquire.
		if err != nil || !d.o.ReqIDs.Contains(reqID) || ev.SA.SPI == 0 {
			return ev, false
		}
		d.mu.Lock()
		larval := d.larval[ev.SA]
		if ev.Kind == dataplane.HardExpire {
			delete(d.larval, ev.SA)
			delete(d.saMark, ev.SA)
		}
		d.mu.Unlock()
		return ev, !larval
	case nl.XFRM_MSG_ACQUIRE:
		ev, index, err := decodeAcquire(p)
		return ev, err == nil && ownedIndex(index)
	}
	return dataplane.Event{}, false
}
