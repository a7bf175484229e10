package loadtest

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ikecrypto "secgw/internal/ike/crypto"
	"secgw/internal/ike/wire"
)

// FloodOptions configures the half-open flood: IKE_SA_INIT requests from
// many source addresses and ports, each with a fresh SPIi and nonce, that
// are never followed by IKE_AUTH. They cost the responder a key exchange
// and a half-open SA each unless it asks for cookies (RFC 7296 §2.6).
type FloodOptions struct {
	// Rate is requests per second; 0 disables the flood.
	Rate float64
	// Duration bounds the flood; 0 floods for the whole run.
	Duration time.Duration
	// Sources are the source addresses; nil means the generator's.
	Sources        []netip.Addr
	SocketsPerAddr int
}

// FloodStats counts the flood's requests and what came back.
type FloodStats struct {
	Sent, SendErrors int64
	// Answered are full IKE_SA_INIT responses (SA, KE, Nr): the responder
	// created a half-open SA. Cookies are COOKIE challenges. Notifies
	// counts other error notifications by name.
	Answered, Cookies int64
	Notifies          map[string]int64
	Elapsed           time.Duration
}

func (s *FloodStats) format(b *strings.Builder) {
	fmt.Fprintf(b, "flood: sent %d half-open IKE_SA_INIT in %.1f s (%.0f/s); answered %d, cookies %d",
		s.Sent, s.Elapsed.Seconds(), float64(s.Sent)/max(s.Elapsed.Seconds(), 1e-9), s.Answered, s.Cookies)
	names := make([]string, 0, len(s.Notifies))
	for k := range s.Notifies {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		fmt.Fprintf(b, ", %s %d", k, s.Notifies[k])
	}
	if s.SendErrors > 0 {
		fmt.Fprintf(b, ", send errors %d", s.SendErrors)
	}
	b.WriteString("\n")
}

// flooder sends the flood and classifies the answers.
type flooder struct {
	o       FloodOptions
	p       *Profile
	remote  netip.AddrPort
	socks   []*socket
	kes     [][]byte // a few public values, reused: the flood never completes
	readers sync.WaitGroup
	closed  atomic.Bool

	sent, sendErrors, answered, cookies atomic.Int64
	mu                                  sync.Mutex
	notifies                            map[string]int64
	elapsed                             time.Duration
}

func newFlooder(o FloodOptions, defaultSources []netip.Addr, remote netip.AddrPort, p *Profile) (*flooder, error) {
	if o.Sources == nil {
		o.Sources = defaultSources
	}
	if len(o.Sources) == 0 {
		return nil, errors.New("loadtest: flood without source address")
	}
	f := &flooder{o: o, p: p, remote: remote, notifies: map[string]int64{}}
	for range 8 {
		dh, err := ikecrypto.NewDH(p.Suite.Group, nil)
		if err != nil {
			return nil, err
		}
		f.kes = append(f.kes, dh.PublicKey())
	}
	socks, err := listen(o.Sources, max(o.SocketsPerAddr, 1))
	if err != nil {
		return nil, err
	}
	f.socks = socks
	for _, s := range socks {
		f.readers.Add(1)
		go f.read(s)
	}
	return f, nil
}

// run sends requests at the rate until ctx is done or Duration passed.
func (f *flooder) run(ctx context.Context) {
	if f.o.Duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, f.o.Duration)
		defer cancel()
	}
	var seed [32]byte
	crand.Read(seed[:])
	rng := mrand.NewChaCha8(seed)
	pacer := NewPacer(f.o.Rate, max(1, int(f.o.Rate/100)))
	start := time.Now()
	defer func() {
		f.mu.Lock()
		f.elapsed = time.Since(start)
		f.mu.Unlock()
	}()
	for i := 0; ; i++ {
		if pacer.Wait(ctx) != nil {
			return
		}
		s := f.socks[i%len(f.socks)]
		raw, err := f.request(rng, s.local, f.kes[i%len(f.kes)])
		if err != nil {
			return
		}
		f.sent.Add(1)
		if _, err := s.conn.WriteToUDPAddrPort(raw, f.remote); err != nil {
			f.sendErrors.Add(1)
		}
	}
}

// request builds one IKE_SA_INIT request with a random SPIi and nonce.
func (f *flooder) request(rng *mrand.ChaCha8, local netip.AddrPort, ke []byte) ([]byte, error) {
	var spi uint64
	for spi == 0 {
		spi = rng.Uint64()
	}
	ni := make([]byte, nonceLen)
	for i := 0; i < nonceLen; i += 8 {
		binary.LittleEndian.PutUint64(ni[i:], rng.Uint64())
	}
	ps := []wire.Payload{&wire.SA{Proposals: []wire.Proposal{f.p.IKE}},
		&wire.KE{Group: f.p.Suite.Group, Data: ke}, &wire.Nonce{Data: ni}}
	if len(f.p.AddKE) > 0 {
		// As initRequest: without it a responder refuses the additional
		// key exchanges before it keeps any state (RFC 9370 §2.2.1).
		ps = append(ps, wire.NewNotify(wire.NotifyIntermediateExchangeSupported, nil))
	}
	if f.p.NATD {
		ps = append(ps, wire.NewNotify(wire.NotifyNATDetectionSourceIP, natdHash(spi, 0, local)),
			wire.NewNotify(wire.NotifyNATDetectionDestinationIP, natdHash(spi, 0, f.remote)))
	}
	h := wire.Header{SPIi: spi, MajorVersion: wire.MajorVersion, Exchange: wire.ExchangeIKESAInit, Flags: wire.FlagInitiator}
	return (&wire.Message{Header: h, Payloads: ps}).Marshal()
}

// read classifies the answers arriving on one flood socket.
func (f *flooder) read(s *socket) {
	defer f.readers.Done()
	buf := make([]byte, 65535)
	for {
		n, _, err := s.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if f.closed.Load() || errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		m, err := wire.Parse(buf[:n])
		if err != nil || !m.Header.Flags.Response() || m.Header.Exchange != wire.ExchangeIKESAInit {
			continue
		}
		ps := wire.SkipUnknown(m.Payloads)
		switch {
		case wire.FindNotify(ps, wire.NotifyCookie) != nil:
			f.cookies.Add(1)
		case find[*wire.SA](ps) != nil:
			f.answered.Add(1)
		default:
			name := "other"
			if n := wire.FirstError(ps); n != nil {
				name = n.NotifyType.String()
			}
			f.mu.Lock()
			f.notifies[name]++
			f.mu.Unlock()
		}
	}
}

func (f *flooder) stats() *FloodStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := &FloodStats{Sent: f.sent.Load(), SendErrors: f.sendErrors.Load(), Answered: f.answered.Load(),
		Cookies: f.cookies.Load(), Notifies: map[string]int64{}, Elapsed: f.elapsed}
	for k, v := range f.notifies {
		s.Notifies[k] = v
	}
	return s
}

func (f *flooder) close() {
	f.closed.Store(true)
	for _, s := range f.socks {
		s.conn.Close()
	}
	f.readers.Wait()
}
