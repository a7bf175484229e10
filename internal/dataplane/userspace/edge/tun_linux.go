package edge

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// tunQueue is one queue of a Linux TUN device, on Go's poller.
type tunQueue struct{ f *os.File }

// CreateTUN creates (or attaches to) the TUN device name with queues
// queues (IFF_MULTI_QUEUE, one file descriptor each) without packet
// information headers, in the calling thread's network namespace. The
// caller brings the link up and gives it addresses and routes.
func CreateTUN(name string, queues int) ([]Device, error) {
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
		ifr.SetUint16(unix.IFF_TUN | unix.IFF_NO_PI | unix.IFF_MULTI_QUEUE)
		if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
			unix.Close(fd)
			closeAll(devs)
			return nil, fmt.Errorf("edge: TUNSETIFF %s: %w", name, err)
		}
		// A non-blocking descriptor goes on the runtime poller: Read
		// parks the goroutine, and Close wakes it.
		devs = append(devs, &tunQueue{f: os.NewFile(uintptr(fd), "/dev/net/tun")})
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
	n, err := q.f.Read(b)
	if errors.Is(err, os.ErrClosed) {
		return n, ErrClosed
	}
	return n, err
}

// Write implements Device.
func (q *tunQueue) Write(b []byte) (int, error) { return q.f.Write(b) }

// Close implements Device.
func (q *tunQueue) Close() error { return q.f.Close() }
