package security

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"secgw/test/secgwdtest"
)

// TestConnectionFlood performs a pre-authentication connection flood at test scale: for 5 s,
// 40 workers on 20 addresses (127.0.0.2-21) open idle TCP connections to
// the NETCONF port as fast as they can, reopening each one secgwd closes
// (20,000 at most, the number), against a secgwd allowed 1,024
// file descriptors (the 20,200 connections against 20,000). With the limits, secgwd keeps at most 16
// unauthenticated connections per source and 256 in all, with a 5 s
// timeout under pressure, so its descriptors stay far below the limit,
// a fresh admin login from 127.0.0.1 completes within 2 s and an
// established session is answered within 1 s throughout. Before them,
// accept failed with EMFILE until idle connections timed out after 30 s.
func TestConnectionFlood(t *testing.T) {
	d := launch(t, secgwdtest.NewDataDir(t))
	pid := d.Cmd.Process.Pid
	const fdLimit = 1024
	if err := unix.Prlimit(pid, unix.RLIMIT_NOFILE, &unix.Rlimit{Cur: fdLimit, Max: fdLimit}, nil); err != nil {
		t.Fatalf("lowering secgwd's RLIMIT_NOFILE: %v", err)
	}
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil || lim.Cur < 4000 {
		t.Fatalf("the test needs 4,000 file descriptors for its connections, has %d (%v): raise ulimit -n", lim.Cur, err)
	}

	probe := startProbe(t, d)
	stopLogins := loginProbe(t, d.Addr, secgwdtest.AdminPassword, 300*time.Millisecond)

	const (
		sources  = 20
		total    = 20000
		duration = 5 * time.Second
	)
	var (
		mu     sync.Mutex
		conns  []net.Conn
		opened atomic.Int64
		failed atomic.Int64
		maxFDs atomic.Int64
	)
	stopWatch := make(chan struct{})
	watchDone := make(chan struct{})
	go func() { // secgwd's descriptors, every 50 ms
		defer close(watchDone)
		for {
			if n := int64(openFDs(pid)); n > maxFDs.Load() {
				maxFDs.Store(n)
			}
			select {
			case <-stopWatch:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range 2 * sources {
		src := fmt.Sprintf("127.0.0.%d", 2+w%sources)
		wg.Go(func() {
			for opened.Load()+failed.Load() < total && time.Since(start) < duration {
				c, err := dialFrom(src, d.Addr)
				if err != nil {
					failed.Add(1)
					continue
				}
				opened.Add(1)
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
				go func() { // idle until secgwd closes it, then reopen (the loop)
					var b [256]byte
					for {
						if _, err := c.Read(b[:]); err != nil {
							c.Close()
							return
						}
					}
				}()
			}
		})
	}
	wg.Wait()
	t.Logf("flood: %d connections opened, %d dials failed, in %v", opened.Load(), failed.Load(), time.Since(start).Round(time.Millisecond))
	time.Sleep(6 * time.Second) // hold them past the busy timeout
	close(stopWatch)
	<-watchDone

	stopLogins()
	probe.stop()
	t.Logf("secgwd's open file descriptors peaked at %d (limit %d)", maxFDs.Load(), fdLimit)
	if maxFDs.Load() > 400 {
		t.Errorf("secgwd held up to %d file descriptors, want the unauthenticated connections capped well below %d", maxFDs.Load(), fdLimit)
	}
	if opened.Load() < 3000 {
		t.Errorf("only %d connections could be opened in %v: the flood did not happen", opened.Load(), duration)
	}
	for _, c := range conns {
		c.Close()
	}
}
