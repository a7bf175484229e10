package ha

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// pipeListener is an in-memory listener: dial hands it one end of a
// net.Pipe.
type pipeListener struct {
	conns chan net.Conn
	once  sync.Once
	done  chan struct{}
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return &net.TCPAddr{} }

func (l *pipeListener) dial(ctx context.Context) (net.Conn, error) {
	a, b := net.Pipe()
	select {
	case l.conns <- b:
		return a, nil
	case <-l.done:
		return nil, errors.New("closed")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// storeOf reads what node n holds for k.
func storeOf(n *Node, k SeqKey) (SeqEntry, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	e, ok := n.store[k]
	return e, ok
}

// TestSeqSyncPeriods, on a fake clock and an in-memory link: the active
// sends the numbers of an SA that advanced by sync-period-packets × 1000
// within the second that follows, the others (and the SAs gone) at the
// next sync-period-time (HA design, decision 6).
func TestSeqSyncPeriods(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l1, l2 := newPipeListener(), newPipeListener()
		e1, e2 := newFakeEngine(), newFakeEngine()
		src := newFakeSeqs()
		k := SeqKey{Dst: netip.MustParseAddr("192.0.2.1"), SPI: 0x100}
		gone := SeqKey{Dst: netip.MustParseAddr("192.0.2.1"), SPI: 0x200}
		src.set(SeqEntry{Key: k, Out: true})
		src.set(SeqEntry{Key: gone, Out: true})
		c1 := Config{NodeID: 1, Secret: secret, SyncPeriod: 10 * time.Second, SyncPackets: 1,
			Listen: func() (net.Listener, error) { return l1, nil }, Dial: l2.dial}
		c2 := Config{NodeID: 2, Secret: secret, Listen: func() (net.Listener, error) { return l2, nil }}
		n1, n2 := New(c1, e1, src), New(c2, e2, nil)
		if err := n1.Start(); err != nil {
			t.Fatal(err)
		}
		if err := n2.Start(); err != nil {
			t.Fatal(err)
		}
		defer n2.Close()
		defer n1.Close()
		if _, err := n1.Notify(VRRPMaster); err != nil {
			t.Fatal(err)
		}
		if _, err := n2.Notify(VRRPBackup); err != nil {
			t.Fatal(err)
		}
		time.Sleep(1500 * time.Millisecond) // the hellos, then the snapshot
		synctest.Wait()
		if _, ok := storeOf(n2, gone); !ok {
			t.Fatal("the snapshot carried no sequence numbers")
		}

		src.set(SeqEntry{Key: k, Out: true, Seq: Seq{OSeq: 999}})
		time.Sleep(time.Second)
		synctest.Wait()
		if e, _ := storeOf(n2, k); e.OSeq != 0 {
			t.Fatalf("999 packets sent before sync-period-packets (1000): standby has %d", e.OSeq)
		}
		src.set(SeqEntry{Key: k, Out: true, Seq: Seq{OSeq: 1000}})
		time.Sleep(time.Second)
		synctest.Wait()
		if e, _ := storeOf(n2, k); e.OSeq != 1000 {
			t.Fatalf("1000 packets: standby has %d, want it within the second", e.OSeq)
		}

		src.set(SeqEntry{Key: k, Out: true, Seq: Seq{OSeq: 1001}})
		src.drop(gone)
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if e, _ := storeOf(n2, k); e.OSeq != 1000 {
			t.Fatalf("sent before sync-period-time: %d", e.OSeq)
		}
		time.Sleep(5 * time.Second) // 11.5 s since the start: one period
		synctest.Wait()
		if e, _ := storeOf(n2, k); e.OSeq != 1001 {
			t.Fatalf("after sync-period-time: standby has %d, want 1001", e.OSeq)
		}
		if _, ok := storeOf(n2, gone); ok {
			t.Fatal("the SA gone is still held after sync-period-time")
		}
	})
}
