// Package enginetest holds the in-memory twins of the engine's OS edges: a
// datagram network whose packets tests deliver one at a time, and a
// dataplane that records the child SAs it is given.
package enginetest

import (
	"context"
	"fmt"
	"sync"

	"secgw/internal/ike/engine"
)

// Network is an in-memory datagram network. Every endpoint's sent
// datagrams wait in one queue until the test delivers or drops them.
type Network struct {
	mu    sync.Mutex
	queue []engine.Datagram
	recv  chan engine.Datagram
}

// NewNetwork returns an empty network.
func NewNetwork() *Network { return &Network{recv: make(chan engine.Datagram, 64)} }

// Send implements engine.Conn: it queues a copy of d.
func (n *Network) Send(d engine.Datagram) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	d.Data = append([]byte(nil), d.Data...)
	n.queue = append(n.queue, d)
	return nil
}

// Receive implements engine.Conn for Engine.Run: it returns the datagrams
// given to Inject.
func (n *Network) Receive(ctx context.Context) (engine.Datagram, error) {
	select {
	case d := <-n.recv:
		return d, nil
	case <-ctx.Done():
		return engine.Datagram{}, ctx.Err()
	}
}

// Inject makes d available to Receive.
func (n *Network) Inject(d engine.Datagram) { n.recv <- d }

// Len returns the number of queued datagrams.
func (n *Network) Len() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.queue)
}

// Next removes and returns the oldest queued datagram; ok is false if
// there is none.
func (n *Network) Next() (d engine.Datagram, ok bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.queue) == 0 {
		return d, false
	}
	d = n.queue[0]
	n.queue = n.queue[1:]
	return d, true
}

// Dataplane records installed and deleted child SAs.
type Dataplane struct {
	mu        sync.Mutex
	Installed map[uint32]engine.ChildSA // by inbound SPI
	Deleted   []engine.ChildSA
}

// NewDataplane returns an empty recording dataplane.
func NewDataplane() *Dataplane { return &Dataplane{Installed: map[uint32]engine.ChildSA{}} }

// InstallChild implements engine.Dataplane.
func (d *Dataplane) InstallChild(c engine.ChildSA) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.Installed[c.InSPI]; ok {
		return fmt.Errorf("enginetest: SPI %08x already installed", c.InSPI)
	}
	d.Installed[c.InSPI] = c
	return nil
}

// DeleteChild implements engine.Dataplane.
func (d *Dataplane) DeleteChild(c engine.ChildSA) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.Installed[c.InSPI]; !ok {
		return fmt.Errorf("enginetest: SPI %08x not installed", c.InSPI)
	}
	delete(d.Installed, c.InSPI)
	d.Deleted = append(d.Deleted, c)
	return nil
}

// Children returns the installed child SAs.
func (d *Dataplane) Children() []engine.ChildSA {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []engine.ChildSA
	for _, c := range d.Installed {
		out = append(out, c)
	}
	return out
}
