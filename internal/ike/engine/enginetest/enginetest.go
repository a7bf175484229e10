// Package enginetest holds the in-memory twins of the engine's OS edges: a
// datagram network whose packets tests deliver one at a time, and a
// dataplane that records the child SAs and trap policies it is given.
package enginetest

import (
	"context"
	"fmt"
	"sync"
	"time"

	ikecrypto "secgw/internal/ike/crypto"
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

// Dataplane records installed and deleted child SAs, in order, and the
// trap policies; it implements engine.TrapDataplane, engine.Activity
// (with the times tests set), engine.ESPSupport (see Refuse) and
// engine.ReqIDs (one reqid per VPN and policy, from 1, as the programmer
// keeps one across rekeys).
type Dataplane struct {
	mu        sync.Mutex
	Installed map[uint32]engine.ChildSA // by inbound SPI
	Deleted   []engine.ChildSA
	// Log lists the operations in order: "install XXXXXXXX" and
	// "delete XXXXXXXX" (inbound SPIs in hex), "trap POLICY" and
	// "untrap POLICY".
	Log      []string
	traps    map[string]engine.Trap
	activity map[uint32][2]time.Time
	reqids   map[[2]string]uint32
	// InstallHook, if set, runs first in InstallChild: its error fails
	// the installation (a dataplane that cannot carry the negotiated
	// suite), and it may panic (the engine's panic safety).
	InstallHook func(c engine.ChildSA) error
	// Refuse, if set, names the ESP suites the dataplane cannot carry:
	// InstallChild fails for them and SupportsESP reports them
	// (engine.ESPSupport; a test hands it to Options.SupportsESP).
	Refuse func(s ikecrypto.Suite) bool
}

// SupportsESP implements engine.ESPSupport: every suite but those Refuse
// names.
func (d *Dataplane) SupportsESP(s ikecrypto.Suite) bool { return d.Refuse == nil || !d.Refuse(s) }

// NewDataplane returns an empty recording dataplane.
func NewDataplane() *Dataplane {
	return &Dataplane{Installed: map[uint32]engine.ChildSA{}, traps: map[string]engine.Trap{}, activity: map[uint32][2]time.Time{}}
}

// InstallChild implements engine.Dataplane.
func (d *Dataplane) InstallChild(c engine.ChildSA) error {
	if d.InstallHook != nil {
		if err := d.InstallHook(c); err != nil {
			return err
		}
	}
	if !d.SupportsESP(c.Suite) {
		return fmt.Errorf("enginetest: cannot carry ESP suite %s", c.Suite)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.Installed[c.InSPI]; ok {
		return fmt.Errorf("enginetest: SPI %08x already installed", c.InSPI)
	}
	d.Installed[c.InSPI] = c
	if d.reqids == nil {
		d.reqids = map[[2]string]uint32{}
	}
	if k := [2]string{c.VPN, c.Policy}; d.reqids[k] == 0 {
		d.reqids[k] = uint32(len(d.reqids) + 1)
	}
	d.Log = append(d.Log, fmt.Sprintf("install %08x", c.InSPI))
	return nil
}

// MoveChild implements engine.ChildMover: the installed child SA takes
// moved's addresses and encapsulation (MOBIKE); Log gets "move SPI".
func (d *Dataplane) MoveChild(old, moved engine.ChildSA) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.Installed[old.InSPI]; !ok || old.InSPI != moved.InSPI || old.OutSPI != moved.OutSPI {
		return fmt.Errorf("enginetest: SPI %08x not installed or SPIs changed", old.InSPI)
	}
	d.Installed[old.InSPI] = moved
	d.Log = append(d.Log, fmt.Sprintf("move %08x", old.InSPI))
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
	d.Log = append(d.Log, fmt.Sprintf("delete %08x", c.InSPI))
	return nil
}

// ReqID implements engine.ReqIDs.
func (d *Dataplane) ReqID(inSPI uint32) (uint32, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.Installed[inSPI]
	if !ok {
		return 0, false
	}
	return d.reqids[[2]string{c.VPN, c.Policy}], true
}

// InstallTrap implements engine.TrapDataplane.
func (d *Dataplane) InstallTrap(t engine.Trap) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.traps[t.Policy]; ok {
		return fmt.Errorf("enginetest: trap %s already installed", t.Policy)
	}
	d.traps[t.Policy] = t
	d.Log = append(d.Log, "trap "+t.Policy)
	return nil
}

// RemoveTrap implements engine.TrapDataplane.
func (d *Dataplane) RemoveTrap(t engine.Trap) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.traps[t.Policy]; !ok {
		return fmt.Errorf("enginetest: trap %s not installed", t.Policy)
	}
	delete(d.traps, t.Policy)
	d.Log = append(d.Log, "untrap "+t.Policy)
	return nil
}

// Traps returns the installed trap policies by policy name.
func (d *Dataplane) Traps() map[string]engine.Trap {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]engine.Trap{}
	for k, v := range d.traps {
		out[k] = v
	}
	return out
}

// SetActivity sets when the child SA with inbound SPI inSPI last received
// and sent traffic, as LastActivity reports it.
func (d *Dataplane) SetActivity(inSPI uint32, in, out time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.activity[inSPI] = [2]time.Time{in, out}
}

// LastActivity implements engine.Activity.
func (d *Dataplane) LastActivity(c engine.ChildSA) (in, out time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := d.activity[c.InSPI]
	return a[0], a[1]
}

// Ops returns a copy of Log.
func (d *Dataplane) Ops() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.Log...)
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
