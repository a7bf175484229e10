package daemon

import (
	"context"
	"log/slog"
	"time"

	"secgw/internal/dataplane"
	"secgw/internal/dataplane/xfrm"
)

// The bad-SPI response (respond-bad-spi) with the kernel dataplane: XFRM
// drops ESP with an unknown SPI and only counts it (XfrmInNoStates). While
// respond-bad-spi is configured, badSPIWatch reads that counter every
// badSPIEvery; when it grew, it samples the inbound ESP for at most
// badSPIWindow or badSPIMax distinct SPIs (xfrm.Dataplane.
// SampleUnknownSPI: a packet socket that exists only for the window) and
// hands the SPIs the kernel has no SA for to the engine as UnknownSPI
// events, which answers them as it does the userspace dataplane's
// (INVALID_SPI, max-responses a minute per peer). A peer that keeps
// sending on a stale SA is sampled at most once a period; a single stale
// packet, gone before the window opens, goes unanswered.
const (
	badSPIEvery  = time.Second
	badSPIWindow = 200 * time.Millisecond
	badSPIMax    = 16
)

// badSPIWatch watches the unknown-SPI counter. Its edges are functions,
// so that a test drives it without a kernel.
type badSPIWatch struct {
	enabled func() bool
	stats   func() (xfrm.Stats, error)
	sample  func(ctx context.Context, window time.Duration, max int) ([]dataplane.Event, error)
	report  func(dataplane.Event) error
	log     *slog.Logger

	// last is the counter at the previous tick; primed says there was
	// one since respond-bad-spi was last enabled.
	last   uint64
	primed bool
}

// tick runs one period: it reports how many events it handed on.
func (w *badSPIWatch) tick(ctx context.Context) int {
	if !w.enabled() {
		w.primed = false
		return 0
	}
	st, err := w.stats()
	if err != nil {
		w.log.Debug("bad-SPI response: kernel XFRM counters", "err", err)
		return 0
	}
	n := st["XfrmInNoStates"]
	grew := w.primed && n > w.last
	w.last, w.primed = n, true
	if !grew {
		return 0
	}
	evs, err := w.sample(ctx, badSPIWindow, badSPIMax)
	if err != nil {
		w.log.Debug("bad-SPI response: sampling", "err", err)
	}
	for _, ev := range evs {
		_ = w.report(ev)
	}
	return len(evs)
}

// run ticks every badSPIEvery until ctx ends.
func (w *badSPIWatch) run(ctx context.Context) {
	t := time.NewTicker(badSPIEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.tick(ctx)
		}
	}
}

// startBadSPIWatch starts the watch of the kernel dataplane x; the
// returned function stops it.
func (d *Daemon) startBadSPIWatch(x *xfrm.Dataplane) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	w := &badSPIWatch{
		enabled: func() bool { return d.ike.Engine().Config().Global.RespondBadSPI > 0 },
		stats:   x.Stats,
		sample:  x.SampleUnknownSPI,
		report:  d.ike.DataplaneEvent,
		log:     d.cfg.Logger.With("subsystem", "kernel"),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}
