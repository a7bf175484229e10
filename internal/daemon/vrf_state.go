package daemon

import (
	"log/slog"

	"secgw/generated"
	"secgw/internal/dataplane/userspace"
	"secgw/internal/dataplane/xfrm"
	"secgw/internal/ike/engine"
	"secgw/internal/ikesvc"
	"secgw/internal/metrics"
)

// fillStatistics adds to the statistics of a vrf's ike state what its
// service does not count: cookies-sent, the COOKIE challenges of its
// engine's DoS protection, and esp-unknown-spi, the ESP its userspace
// dataplane (us, nil with another) received for an unknown SPI, or the
// kernel counted in the namespace of its XFRM dataplane (kx, nil with
// another).
func fillStatistics(ike *generated.SecgwVrf_Vrf_Ike, s *ikesvc.Service, us *userspace.Dataplane, kx *xfrm.Dataplane) {
	if ike.Statistics == nil {
		return
	}
	cookies := s.Engine().DoSStats().Cookies
	ike.Statistics.CookiesSent = &cookies
	if us != nil {
		unknown := us.Stats().UnknownSPI
		ike.Statistics.EspUnknownSpi = &unknown
	} else if kx != nil {
		// The kernel's count of its namespace (metrics.go).
		if st, err := kx.Stats(); err == nil {
			unknown := st["XfrmInNoStates"]
			ike.Statistics.EspUnknownSpi = &unknown
		}
	}
}

// kernelOf is dp as the kernel XFRM dataplane, nil when it is another.
func kernelOf(dp any) *xfrm.Dataplane {
	x, _ := dp.(*xfrm.Dataplane)
	return x
}

// extraOf are the figures of a vrf's metrics that its state has no leaf
// for: those of its engine and of its userspace dataplane (us, nil with
// another) or of its kernel XFRM dataplane (kx, nil with another).
func extraOf(eng *engine.Engine, us *userspace.Dataplane, kx *xfrm.Dataplane) metrics.Extra {
	ops := eng.OpStats()
	x := metrics.Extra{Blocked: eng.DoSStats().Blocked, Refusals: ops.Refusals}
	for _, w := range eng.WorkerStats() {
		x.Workers = append(x.Workers, metrics.Worker{Queued: w.Queued, Jobs: w.Jobs, BusySeconds: w.Busy.Seconds(),
			Wait: latencyOf(w.Wait), Handling: latencyOf(w.Handling)})
	}
	if us != nil {
		s := us.Stats()
		// The causes of the list first: auth failure, replay,
		// bad SPI, malformed, no SA; then the dataplane's others.
		x.ESPDrops = map[string]uint64{
			"auth_failure": s.Auth, "replay": s.Replay, "bad_spi": s.UnknownSPI,
			"malformed": s.Malformed + s.BadInner, "no_sa": s.NoSA, "selector": s.Selector,
			"no_policy": s.NoPolicy, "discard": s.Discard, "too_big": s.TooBig,
			"seq_overflow": s.SeqOverflow, "send_error": s.SendErrors, "tun_error": s.TUNErrors,
		}
	} else if kx != nil {
		// The kernel's XFRM counters of the dataplane's namespace (all
		// its SAs, secgwd's or not), summed into the same causes
		// (xfrm.Stats.Drops says which counter goes where).
		if st, err := kx.Stats(); err == nil {
			x.ESPDrops = st.Drops()
		}
	}
	return x
}

// metrics are the metrics sources of the vrfs whose instance runs: each
// one's state as <get> serves it (without secrets or diagnostics) and
// its extra figures.
func (v *vrfs) metrics() map[string]metrics.VRFSource {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make(map[string]metrics.VRFSource, len(v.inst))
	for name, in := range v.inst {
		ike := in.ike.State(false)
		fillStatistics(ike, in.ike, in.us, kernelOf(in.dp))
		out[name] = metrics.VRFSource{State: ike, Extra: extraOf(in.ike.Engine(), in.us, kernelOf(in.dp))}
	}
	return out
}

// mainLogger is the logger of what runs for vrf main beside its IKE
// service (which names its vrf itself): the dataplane, its child SA
// programmer, routes, sp-hash, virtual IPs and pools, MOBIKE and HA.
// Their lines name vrf main as those of another vrf's instance name
// theirs.
func (d *Daemon) mainLogger() *slog.Logger { return d.cfg.Logger.With("vrf", ikesvc.VRF) }

// latencyOf is a worker's latency histogram for the metrics, its bounds
// engine.LatencyBounds in seconds.
func latencyOf(l engine.Latency) metrics.Histogram {
	b := make([]float64, engine.LatencyBuckets)
	for i, d := range engine.LatencyBounds() {
		b[i] = d.Seconds()
	}
	return metrics.Histogram{Bounds: b, Counts: l.Counts[:], Sum: l.Sum.Seconds()}
}
