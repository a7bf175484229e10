// Package xfrm is the kernel dataplane: it programs ESP SAs and security
// policies into Linux XFRM over netlink (NETLINK_XFRM) and reads back
// state, counters, acquires and expiries.
//
// Messages are built and parsed here (constants and the socket helpers of
// github.com/vishvananda/netlink and netns) rather than through the
// library's Xfrm* calls, for three reasons: a batch of ops goes to the
// kernel in one sendmsg and is acknowledged once (the library waits for an
// ack per op), the library drops the ESN replay state when it lists SAs,
// and its monitor does not deliver acquires reliably.
//
// # Batches
//
// Apply packs up to 256 ops into one buffer, each message without
// NLM_F_ACK except the last: the kernel handles the messages of a buffer
// in order under one lock (xfrm_netlink_rcv) and answers only failures,
// then the final ack. A failed op does not stop the kernel from handling
// the ops after it in the same buffer; Apply reports the first failure as
// an *ApplyError and does not send later buffers (see
// dataplane.Dataplane.Apply).
//
// # Ownership
//
// The kernel's tables are shared with anything else on the host (another
// IKE daemon, ip xfrm by hand). List returns only what secgw owns, also
// after a restart, by two markers that survive in the kernel:
//   - an SA is ours when its reqid is in Options.ReqIDs (default
//     dataplane.OwnedReqIDs, 0x5ec00000-0x5ecfffff);
//   - a policy is ours when its index carries secgw's tag: the kernel lets
//     the creator choose a policy's index (xfrm_userpolicy_info.index, low
//     3 bits the direction), and this package gives its policies indexes
//     0x5e000000 | n<<3 | dir. Bypass and discard policies have no
//     template, hence no reqid: the index is the one marker every policy
//     has. The kernel's own index generator counts up from 8 in steps of 8
//     and would need some 197 million policy insertions in one namespace to
//     reach the tag.
//
// Acquires and expiries of entries that are not ours are not delivered.
//
// # What the kernel does not keep
//
// An SA's direction (listed SAs have Dir 0; the Reconciler ignores it;
// SeqStates reports the direction of the SAs this process installed, and
// infers the others' from their counters). Lifetimes are whole seconds.
// An SA's sequence numbers are kept (its replay state: last sent, highest
// received and the window's bitmap); List reports where they stand as the
// SA's OSeq and ISeq.
package xfrm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"secgw/internal/dataplane"
)

// Policy index tagging; see the package comment.
const (
	indexTag  = 0x5e000000
	indexMask = 0xff000000
	indexMax  = 1<<21 - 1 // n in tag | n<<3 | dir
)

func ownedIndex(i uint32) bool { return i&indexMask == indexTag }

// batchOps bounds a batch: its messages must fit the socket's send buffer
// and the error replies of all its ops the receive buffer.
const batchOps = 256

// Options configure a Dataplane.
type Options struct {
	// NetNS is the network namespace to program; zero or netns.None()
	// means the current one.
	NetNS netns.NsHandle
	// ReqIDs are the reqids of owned SAs; zero means
	// dataplane.OwnedReqIDs.
	ReqIDs dataplane.ReqIDRange
	// Events subscribes to acquires and expiries (Events stays empty
	// otherwise).
	Events bool
	Logger *slog.Logger
}

// Dataplane is the kernel XFRM implementation of dataplane.Dataplane.
// Its methods are safe for concurrent use: requests share one netlink
// socket under a mutex.
type Dataplane struct {
	o   Options
	log *slog.Logger

	mu  sync.Mutex
	c   *conn
	buf msg
	// usedIdx holds the policy indexes in use as of the last List, plus
	// those given out since (deletes do not free them: with 2^21 indexes
	// per direction the counter nextIdx comes back to them only after the
	// next List has refreshed the set).
	usedIdx map[uint32]bool
	nextIdx uint32
	// saMark remembers the non-zero mark of owned SAs: the kernel needs it
	// to find the SA (Counters).
	saMark map[dataplane.SAKey]dataplane.Mark
	// saDir remembers the direction of the SAs added or updated here, which
	// the kernel does not keep (SeqStates reports it); List drops the SAs
	// that are gone.
	saDir map[dataplane.SAKey]dataplane.Dir
	// larval holds SPIs reserved by AllocSPI and not yet added: their SA
	// is added with XFRM_MSG_UPDSA, which replaces the placeholder.
	larval map[dataplane.SAKey]bool

	ev     *eventConn
	events chan dataplane.Event
	done   chan struct{}
	wg     sync.WaitGroup
	closed bool

	// statMu guards stat, the namespace's xfrm_stat (stats.go).
	statMu sync.Mutex
	stat   *statReader
}

// New opens a Dataplane. With o.Events it subscribes to the acquire and
// expire multicast groups.
func New(o Options) (*Dataplane, error) {
	if o.ReqIDs == (dataplane.ReqIDRange{}) {
		o.ReqIDs = dataplane.OwnedReqIDs
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c, err := openConn(o.NetNS)
	if err != nil {
		return nil, err
	}
	d := &Dataplane{
		o: o, log: log.With("subsystem", "kernel"), c: c,
		usedIdx: map[uint32]bool{},
		saMark:  map[dataplane.SAKey]dataplane.Mark{}, larval: map[dataplane.SAKey]bool{},
		saDir:  map[dataplane.SAKey]dataplane.Dir{},
		events: make(chan dataplane.Event, 256), done: make(chan struct{}),
	}
	if o.Events {
		if d.ev, err = openEvents(o.NetNS, nl.XFRMNLGRP_ACQUIRE, nl.XFRMNLGRP_EXPIRE); err != nil {
			c.close()
			return nil, err
		}
		d.wg.Add(1)
		go d.readEvents()
	}
	return d, nil
}

// Kind implements dataplane.Dataplane.
func (d *Dataplane) Kind() string { return "kernel" }

// Close implements dataplane.Dataplane.
func (d *Dataplane) Close() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return nil
	}
	d.closed = true
	close(d.done)
	err := d.c.close()
	d.mu.Unlock()
	if d.ev != nil {
		d.ev.close()
	}
	d.wg.Wait()
	close(d.events)
	return errors.Join(err, d.closeStats())
}

// Events implements dataplane.Dataplane.
func (d *Dataplane) Events() <-chan dataplane.Event { return d.events }

// Apply implements dataplane.Dataplane; see the package comment for
// batching.
func (d *Dataplane) Apply(ctx context.Context, ops []dataplane.Op) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return errors.New("xfrm: closed")
	}
	for start := 0; start < len(ops); {
		if err := ctx.Err(); err != nil {
			return &dataplane.ApplyError{Index: start, Op: ops[start], Err: fmt.Errorf("xfrm: %w", err)}
		}
		n, err := d.applyBatch(ops[start:min(start+batchOps, len(ops))], start)
		if err != nil {
			return err
		}
		start += n
	}
	return nil
}

// applyBatch sends ops as one buffer and returns how many it sent. base
// is the index of ops[0] in the caller's slice.
func (d *Dataplane) applyBatch(ops []dataplane.Op, base int) (int, error) {
	d.buf.b = d.buf.b[:0]
	first := d.c.seq + 1
	var encErr error
	idx := make([]uint32, len(ops)) // policy index given to each add/update
	n := 0
	for ; n < len(ops); n++ {
		seq := d.c.nextSeq()
		if encErr = d.encode(&ops[n], seq, &idx[n]); encErr != nil {
			d.c.seq-- // not sent
			break
		}
	}
	if n == 0 {
		return 0, &dataplane.ApplyError{Index: base, Op: ops[0], Err: encErr}
	}
	// Only the last message asks for an ack: it tells that all are done.
	last := d.c.seq
	setAckOnLast(d.buf.b)
	if err := d.c.send(d.buf.b); err != nil {
		return 0, &dataplane.ApplyError{Index: base, Op: ops[0], Err: err}
	}
	failed := make(map[int]error)
	for done := false; !done; {
		err := d.c.recv(func(h header, p []byte) error {
			if h.Type != unix.NLMSG_ERROR {
				return nil
			}
			err, seq, ok := parseError(h, p)
			if !ok || seq-first >= uint32(n) {
				return nil // not a reply to this batch
			}
			if err != nil {
				failed[int(seq-first)] = err
			}
			if seq == last {
				done = true
			}
			return nil
		})
		if err != nil {
			// The outcome of the batch is unknown: List tells.
			return 0, &dataplane.ApplyError{Index: base, Op: ops[0], Err: err}
		}
	}
	firstFail := -1
	for i := 0; i < n; i++ {
		if err, ok := failed[i]; ok {
			if firstFail < 0 {
				firstFail = i
			}
			d.log.Debug("xfrm op failed", "op", ops[i].Kind.String(), "err", err)
			if idx[i] != 0 {
				delete(d.usedIdx, idx[i])
			}
			continue
		}
		d.committed(&ops[i])
	}
	if firstFail >= 0 {
		return 0, &dataplane.ApplyError{Index: base + firstFail, Op: ops[firstFail], Err: failed[firstFail]}
	}
	if encErr != nil {
		return 0, &dataplane.ApplyError{Index: base + n, Op: ops[n], Err: encErr}
	}
	return n, nil
}

// setAckOnLast sets NLM_F_ACK on the last message of a batch buffer.
func setAckOnLast(b []byte) {
	off := 0
	for {
		l := int(ne.Uint32(b[off:]))
		if off+align4(l) >= len(b) {
			ne.PutUint16(b[off+6:], ne.Uint16(b[off+6:])|unix.NLM_F_ACK)
			return
		}
		off += align4(l)
	}
}

// encode appends op's message to the batch buffer; for policy adds and
// updates it chooses the index (*index).
func (d *Dataplane) encode(op *dataplane.Op, seq uint32, index *uint32) error {
	const flags = unix.NLM_F_REQUEST
	save := len(d.buf.b)
	var err error
	switch op.Kind {
	case dataplane.AddSA, dataplane.UpdateSA:
		if op.SA == nil {
			return errors.New("xfrm: op without SA")
		}
		if !d.o.ReqIDs.Contains(op.SA.ReqID) {
			return fmt.Errorf("xfrm: reqid %d outside the owned range", op.SA.ReqID)
		}
		typ := uint16(nl.XFRM_MSG_NEWSA)
		if op.Kind == dataplane.UpdateSA || d.larval[op.SA.Key()] {
			typ = nl.XFRM_MSG_UPDSA
		}
		err = encodeSA(&d.buf, typ, flags, seq, op.SA)
	case dataplane.DeleteSA:
		if op.SA == nil {
			return errors.New("xfrm: op without SA")
		}
		err = encodeSAID(&d.buf, nl.XFRM_MSG_DELSA, flags, seq, op.SA.Key(), op.SA.Mark)
	case dataplane.AddPolicy, dataplane.UpdatePolicy:
		if op.Policy == nil {
			return errors.New("xfrm: op without policy")
		}
		typ := uint16(nl.XFRM_MSG_NEWPOLICY)
		if op.Kind == dataplane.UpdatePolicy {
			typ = nl.XFRM_MSG_UPDPOLICY
		}
		// On an update of an existing policy the kernel keeps its index
		// and ignores this one.
		if *index, err = d.allocIndex(op.Policy); err == nil {
			if err = encodePolicy(&d.buf, typ, flags, seq, op.Policy, *index); err != nil {
				delete(d.usedIdx, *index)
			}
		}
	case dataplane.DeletePolicy:
		if op.Policy == nil {
			return errors.New("xfrm: op without policy")
		}
		err = encodePolicyDel(&d.buf, flags, seq, op.Policy)
	default:
		err = fmt.Errorf("xfrm: unknown op %d", op.Kind)
	}
	if err != nil {
		d.buf.b = d.buf.b[:save]
	}
	return err
}

// allocIndex returns a free tagged index for a policy of p's direction.
func (d *Dataplane) allocIndex(p *dataplane.Policy) (uint32, error) {
	dir, err := kernelDir(p.Dir)
	if err != nil {
		return 0, err
	}
	for tries := 0; tries <= indexMax; tries++ {
		d.nextIdx = (d.nextIdx + 1) & indexMax
		i := indexTag | d.nextIdx<<3 | uint32(dir)
		if !d.usedIdx[i] {
			// Reserve it now: two adds of one batch must not share it.
			d.usedIdx[i] = true
			return i, nil
		}
	}
	return 0, errors.New("xfrm: no free policy index")
}

// committed updates the bookkeeping after an SA op succeeded.
func (d *Dataplane) committed(op *dataplane.Op) {
	switch op.Kind {
	case dataplane.AddSA, dataplane.UpdateSA:
		delete(d.larval, op.SA.Key())
		if op.SA.Mark != (dataplane.Mark{}) {
			d.saMark[op.SA.Key()] = op.SA.Mark
		} else {
			delete(d.saMark, op.SA.Key())
		}
		if op.SA.Dir == dataplane.In || op.SA.Dir == dataplane.Out {
			d.saDir[op.SA.Key()] = op.SA.Dir
		}
	case dataplane.DeleteSA:
		delete(d.saMark, op.SA.Key())
		delete(d.saDir, op.SA.Key())
	}
}

// List implements dataplane.Dataplane: the owned SAs (reqid) and policies
// (index tag), keys included. Placeholders from AllocSPI are left out.
func (d *Dataplane) List(ctx context.Context) (dataplane.State, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return dataplane.State{}, errors.New("xfrm: closed")
	}
	var s dataplane.State
	err := d.c.dump(nl.XFRM_MSG_GETSA, nl.XFRM_MSG_NEWSA, func(p []byte) error {
		if len(p) < sizeUsersaInfo || !d.o.ReqIDs.Contains(ne.Uint32(p[saReqid:])) {
			return nil
		}
		sa, info, err := decodeSA(p)
		if err != nil {
			d.log.Warn("xfrm: undecodable owned SA", "err", err)
			return nil
		}
		if !info.larval {
			s.SAs = append(s.SAs, sa)
		}
		return nil
	})
	if err != nil {
		return dataplane.State{}, fmt.Errorf("xfrm: list SAs: %w", err)
	}
	saMark := map[dataplane.SAKey]dataplane.Mark{}
	saDir := make(map[dataplane.SAKey]dataplane.Dir, len(s.SAs))
	for i := range s.SAs {
		k := s.SAs[i].Key()
		if s.SAs[i].Mark != (dataplane.Mark{}) {
			saMark[k] = s.SAs[i].Mark
		}
		if dir, ok := d.saDir[k]; ok {
			saDir[k] = dir
		}
	}
	usedIdx := make(map[uint32]bool, len(d.usedIdx))
	err = d.c.dump(nl.XFRM_MSG_GETPOLICY, nl.XFRM_MSG_NEWPOLICY, func(p []byte) error {
		if len(p) < sizePolicyInfo || !ownedIndex(ne.Uint32(p[polIndex:])) {
			return nil
		}
		pol, index, ok, err := decodePolicy(p)
		if err != nil {
			d.log.Warn("xfrm: undecodable owned policy", "err", err)
			return nil
		}
		if ok {
			s.Policies = append(s.Policies, pol)
			usedIdx[index] = true
		}
		return nil
	})
	if err != nil {
		return dataplane.State{}, fmt.Errorf("xfrm: list policies: %w", err)
	}
	d.saMark, d.usedIdx, d.saDir = saMark, usedIdx, saDir
	return s, nil
}

// SeqStates implements dataplane.Dataplane with one dump of the SAD
// (XFRM_MSG_GETSA with NLM_F_DUMP): the kernel walks its SAs under its
// state lock a batch of replies at a time, and the packet path takes
// each SA's own lock, so traffic does not stop. Only the owned SAs
// (reqid) are reported, placeholders left out; keys are not copied.
func (d *Dataplane) SeqStates(ctx context.Context) ([]dataplane.SeqState, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil, errors.New("xfrm: closed")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("xfrm: %w", err)
	}
	out := make([]dataplane.SeqState, 0, len(d.saDir))
	err := d.c.dump(nl.XFRM_MSG_GETSA, nl.XFRM_MSG_NEWSA, func(p []byte) error {
		k, reqID, oseq, iseq, larval, err := decodeSeq(p)
		if err != nil || larval || !d.o.ReqIDs.Contains(reqID) {
			return nil
		}
		st := dataplane.SeqState{Key: k, Dir: d.saDir[k], OSeq: oseq, ISeq: iseq}
		if st.Dir == 0 {
			// Installed by an earlier process: an SA that sent is
			// outbound, one that received inbound (the kernel keeps
			// the other counter at 0).
			switch {
			case oseq != 0 && iseq == 0:
				st.Dir = dataplane.Out
			case iseq != 0 && oseq == 0:
				st.Dir = dataplane.In
			}
		}
		out = append(out, st)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("xfrm: sequence numbers: %w", err)
	}
	return out, nil
}

// Counters implements dataplane.Dataplane from the SA's lifetime counters
// and statistics (struct xfrm_lifetime_cur, struct xfrm_stats) and its
// replay state.
func (d *Dataplane) Counters(ctx context.Context, k dataplane.SAKey) (dataplane.Counters, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return dataplane.Counters{}, errors.New("xfrm: closed")
	}
	p, err := d.c.request(nl.XFRM_MSG_GETSA, 0, func(m *msg) {
		putSAID(m, k)
		if mk := d.saMark[k]; mk != (dataplane.Mark{}) {
			putMark(m, mk)
		}
	}, nl.XFRM_MSG_NEWSA)
	if err != nil {
		return dataplane.Counters{}, fmt.Errorf("xfrm: counters of %s: %w", k, err)
	}
	_, info, err := decodeSA(p)
	if err != nil {
		return dataplane.Counters{}, err
	}
	c := dataplane.Counters{
		Bytes: info.bytes, Packets: info.packets,
		ReplayDrops: uint64(info.replayWindowDrop) + uint64(info.replayDrop), AuthDrops: uint64(info.authFail),
		OSeq: info.oseq, ISeq: info.iseq, Added: time.Unix(int64(info.addTime), 0),
	}
	if info.useTime != 0 {
		c.LastUsed = time.Unix(int64(info.useTime), 0)
	}
	return c, nil
}

// AllocSPI implements dataplane.Dataplane with XFRM_MSG_ALLOCSPI: the
// kernel picks a free SPI in 256..2^32-1 and holds it with a placeholder
// SA (which expires after net.core.xfrm_acq_expires seconds unless the
// real SA replaces it).
func (d *Dataplane) AllocSPI(ctx context.Context, src, dst netip.Addr, reqID uint32) (uint32, error) {
	if !src.IsValid() || !dst.IsValid() || src.Is4() != dst.Is4() {
		return 0, errors.New("xfrm: allocspi needs two addresses of one family")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return 0, errors.New("xfrm: closed")
	}
	p, err := d.c.request(nl.XFRM_MSG_ALLOCSPI, 0, func(m *msg) {
		b := m.put(sizeSpiInfo)
		putAddr(b[saID:], dst)
		b[saID+20] = unix.IPPROTO_ESP
		putAddr(b[saSaddr:], src)
		ne.PutUint32(b[saReqid:], reqID)
		ne.PutUint16(b[saFamily:], family(dst))
		b[saMode] = xfrmModeTunnel
		ne.PutUint32(b[sizeUsersaInfo:], 256)
		ne.PutUint32(b[sizeUsersaInfo+4:], ^uint32(0))
	}, nl.XFRM_MSG_NEWSA)
	if err != nil {
		return 0, fmt.Errorf("xfrm: allocspi: %w", err)
	}
	sa, _, err := decodeSA(p)
	if err != nil {
		return 0, err
	}
	d.larval[sa.Key()] = true
	return sa.SPI, nil
}
