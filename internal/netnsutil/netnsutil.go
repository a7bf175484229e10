// Package netnsutil is the one place that creates, enters and deletes
// network namespaces: the kernel dataplane opens its netlink sockets in
// the namespace it serves and probes ESP in a throwaway one, and the
// tests build their topologies (namespaces, veth pairs with addresses,
// sysctls) with it, through the testing wrappers of netnstest.
//
// A goroutine enters a namespace only on a locked OS thread and leaves it
// before the thread is unlocked: the Go runtime moves goroutines between
// threads, and a thread left in another namespace would carry whatever
// runs on it next there.
package netnsutil

import (
	"errors"
	"fmt"
	"os"
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

// New creates an anonymous network namespace without entering it; it
// lives as long as the returned handle (or anything created in it) is
// open.
func New() (netns.NsHandle, error) {
	ns, err := create(netns.New)
	if err != nil {
		return netns.None(), fmt.Errorf("netns: new network namespace: %w", err)
	}
	return ns, nil
}

// NewNamed creates the network namespace called name, as ip netns add
// NAME does (a bind mount under /run/netns, so that ip netns exec and
// RunNamed find it), without entering it. It lives until DeleteNamed.
func NewNamed(name string) (netns.NsHandle, error) {
	ns, err := create(func() (netns.NsHandle, error) { return netns.NewNamed(name) })
	if err != nil {
		return netns.None(), fmt.Errorf("netns: new network namespace %s: %w", name, err)
	}
	return ns, nil
}

// DeleteNamed deletes the name of a namespace made by NewNamed (or ip
// netns add), as ip netns del does; the namespace itself goes when
// nothing holds it any more.
func DeleteNamed(name string) error {
	if err := netns.DeleteNamed(name); err != nil {
		return fmt.Errorf("netns: delete network namespace %s: %w", name, err)
	}
	return nil
}

// create runs mk, which unshares the locked thread into a new namespace,
// and moves the thread back to the namespace it came from.
func create(mk func() (netns.NsHandle, error)) (netns.NsHandle, error) {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return netns.None(), err
	}
	defer orig.Close()
	ns, err := mk()
	// mk may fail after the unshare (netns.NewNamed's bind mount): move
	// back in every case.
	if serr := netns.Set(orig); serr != nil {
		// The thread stays in the new namespace and locked: the runtime
		// ends it with the goroutine.
		if ns.IsOpen() {
			ns.Close()
		}
		return netns.None(), errors.Join(err, fmt.Errorf("back to the original namespace: %w", serr))
	}
	runtime.UnlockOSThread()
	if err != nil {
		return netns.None(), err
	}
	return ns, nil
}

// Sysctl writes a /proc/sys value inside ns (key is the path below
// /proc/sys, e.g. "net/core/xfrm_acq_expires").
func Sysctl(ns netns.NsHandle, key, value string) error {
	err := Run(ns, func() error { return os.WriteFile("/proc/sys/"+key, []byte(value), 0o644) })
	if err != nil {
		return fmt.Errorf("netns: sysctl %s: %w", key, err)
	}
	return nil
}
