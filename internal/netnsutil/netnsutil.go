// Package netnsutil runs code inside a network namespace: the kernel
// dataplane opens its netlink sockets there, and the tests create sockets
// and TUN devices in the namespaces of their topologies.
package netnsutil

import (
	"fmt"
	"runtime"

	"github.com/vishvananda/netns"
)

// Run runs fn on an OS thread in network namespace ns (the current one
// when ns is netns.None() or 0, which is never a namespace handle).
// Sockets and devices created by fn stay in ns after the thread has left
// it. If the thread cannot be moved back it stays locked, so that the
// runtime retires it with the goroutine instead of reusing it elsewhere.
func Run(ns netns.NsHandle, fn func() error) error {
	if !ns.IsOpen() || ns == 0 {
		return fn()
	}
	runtime.LockOSThread()
	cur, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: current network namespace: %w", err)
	}
	defer cur.Close()
	if err := netns.Set(ns); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netns: enter network namespace: %w", err)
	}
	ferr := fn()
	if err := netns.Set(cur); err != nil {
		return fmt.Errorf("netns: leave network namespace: %w", err)
	}
	runtime.UnlockOSThread()
	return ferr
}

// RunNamed is Run in the namespace called name (ip netns add NAME).
func RunNamed(name string, fn func() error) error {
	ns, err := netns.GetFromName(name)
	if err != nil {
		return fmt.Errorf("netns %s: %w", name, err)
	}
	defer ns.Close()
	if err := Run(ns, fn); err != nil {
		return fmt.Errorf("netns %s: %w", name, err)
	}
	return nil
}
