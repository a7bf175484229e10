package edge

import (
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// tunQueue is one queue of a Linux TUN device, on Go's poller.
type tunQueue struct {
	f *os.File
	// vnet: every packet carries a virtio-net header (IFF_VNET_HDR) and
	// the kernel may hand over TCP super-segments (TUN_F_TSO4/6) and
	// packets with partial checksums (TUN_F_CSUM).
	vnet bool
	// Read side (one reader at a time): the last packet read and what is
	// left of it.
	rbuf []byte
	seg  segmenter
	// Write side: the packet behind an all-zero virtio-net header.
	wmu  sync.Mutex
	wbuf []byte
	// gro holds the TCP super-segment of WriteCoalesced (under wmu).
	gro coalescer
}

// CreateTUN creates (or attaches to) the TUN device name with queues
// queues (IFF_MULTI_QUEUE, one file descriptor each) without packet
// information headers, in the calling thread's network namespace. The
// caller brings the link up and gives it addresses and routes.
func CreateTUN(name string, queues int) ([]Device, error) {
	return createTUN(name, queues, false)
}

// CreateOffloadTUN is CreateTUN with offloads (IFF_VNET_HDR, TUN_F_CSUM,
// TUN_F_TSO4, TUN_F_TSO6): one read may return a TCP super-segment of up
// to 64 KiB, which the queues' ReadBatch cuts into packets of the TUN's
// MTU, so that a batch of ESP datagrams comes out of a single read(2).
// The Devices are BatchDevices.
func CreateOffloadTUN(name string, queues int) ([]Device, error) {
	return createTUN(name, queues, true)
}

func createTUN(name string, queues int, offload bool) ([]Device, error) {
	if queues < 1 {
		queues = 1
	}
	var devs []Device
	for range queues {
		fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
		if err != nil {
			closeAll(devs)
			return nil, fmt.Errorf("edge: open /dev/net/tun: %w", err)
		}
		ifr, err := unix.NewIfreq(name)
		if err != nil {
			unix.Close(fd)
			closeAll(devs)
			return nil, fmt.Errorf("edge: TUN name %q: %w", name, err)
		}
		flags := uint16(unix.IFF_TUN | unix.IFF_NO_PI | unix.IFF_MULTI_QUEUE)
		if offload {
			flags |= unix.IFF_VNET_HDR
		}
		ifr.SetUint16(flags)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			closeAll(devs)
			return nil, fmt.Errorf("edge: TUNSETIFF %s: %w", name, err)
		}
		q := &tunQueue{vnet: offload}
		if offload {
			err := unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, unix.TUN_F_CSUM|unix.TUN_F_TSO4|unix.TUN_F_TSO6)
			if err != nil {
				unix.Close(fd)
				closeAll(devs)
				return nil, fmt.Errorf("edge: TUNSETOFFLOAD %s: %w", name, err)
			}
			q.rbuf = make([]byte, vnetHdrLen+65535)
			q.wbuf = make([]byte, vnetHdrLen+65535)
			q.gro = coalescer{buf: make([]byte, vnetHdrLen+65535), write: q.writeRaw}
		}
		// A non-blocking descriptor goes on the runtime poller: Read
		// parks the goroutine, and Close wakes it.
		q.f = os.NewFile(uintptr(fd), "/dev/net/tun")
		devs = append(devs, q)
	}
	return devs, nil
}

func closeAll(devs []Device) {
	for _, d := range devs {
		d.Close()
	}
}

// Read implements Device.
func (q *tunQueue) Read(b []byte) (int, error) {
	if q.vnet {
		var size [1]int
		if _, err := q.ReadBatch([][]byte{b}, size[:], 0); err != nil {
			return 0, err
		}
		return size[0], nil
	}
	n, err := q.f.Read(b)
	if errors.Is(err, os.ErrClosed) {
		return n, ErrClosed
	}
	return n, err
}

// ReadBatch implements BatchDevice: without offloads one packet per call;
// with them the packets cut from one read, continuing a super-segment
// that did not fit into bufs before reading again.
func (q *tunQueue) ReadBatch(bufs [][]byte, sizes []int, offset int) (int, error) {
	if !q.vnet {
		n, err := q.Read(bufs[0][offset:])
		if err != nil {
			return 0, err
		}
		sizes[0] = n
		return 1, nil
	}
	for {
		for !q.seg.more() {
			n, err := q.f.Read(q.rbuf)
			if err != nil {
				if errors.Is(err, os.ErrClosed) {
					return 0, ErrClosed
				}
				return 0, err
			}
			if n < vnetHdrLen || q.seg.reset(decodeVnetHdr(q.rbuf), q.rbuf[vnetHdrLen:n]) != nil {
				q.seg = segmenter{} // malformed: dropped
			}
		}
		i := 0
		for ; i < len(bufs) && q.seg.more(); i++ {
			n, err := q.seg.write(bufs[i][offset:])
			if err != nil {
				q.seg = segmenter{}
				break
			}
			sizes[i] = n
		}
		if i > 0 {
			return i, nil
		}
	}
}

// Write implements Device.
func (q *tunQueue) Write(b []byte) (int, error) {
	if !q.vnet {
		return q.f.Write(b)
	}
	if len(b) > len(q.wbuf)-vnetHdrLen {
		return 0, errGSO
	}
	q.wmu.Lock()
	defer q.wmu.Unlock()
	if err := q.gro.flush(); err != nil {
		return 0, err
	}
	clear(q.wbuf[:vnetHdrLen]) // no offload: checksums are complete
	n := copy(q.wbuf[vnetHdrLen:], b)
	if _, err := q.f.Write(q.wbuf[:vnetHdrLen+n]); err != nil {
		return 0, err
	}
	return n, nil
}

// WriteCoalesced implements CoalescingDevice: without offloads it is
// Write.
func (q *tunQueue) WriteCoalesced(b []byte) (int, error) {
	if !q.vnet {
		return q.f.Write(b)
	}
	q.wmu.Lock()
	defer q.wmu.Unlock()
	if err := q.gro.add(b); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Flush implements CoalescingDevice.
func (q *tunQueue) Flush() error {
	if !q.vnet {
		return nil
	}
	q.wmu.Lock()
	defer q.wmu.Unlock()
	return q.gro.flush()
}

// writeRaw writes one packet with its virtio-net header.
func (q *tunQueue) writeRaw(b []byte) error {
	_, err := q.f.Write(b)
	return err
}

// Close implements Device.
func (q *tunQueue) Close() error { return q.f.Close() }
