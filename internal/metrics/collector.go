// Package metrics exports secgw's operational state to Prometheus
// (github.com/prometheus/client_golang): IKE and child SAs by state,
// setups, rekeys and failures by reason, DoS counters, DPD and
// retransmissions, ESP traffic and drops by cause, the IKE workers' load,
// commits, NETCONF sessions and the IKE HA role.
//
// Nothing here counts: at each scrape the Collector reads the same
// sources the YANG operational state reads (the vrf's ike container as
// <get> serves it, and the few figures the model has no leaf for, in
// Extra), so that a value scraped and the state read over NETCONF at the
// same instant agree. The per-tunnel series (one per child SA) are off
// unless asked for: at 100k tunnels they are hundreds of thousands of
// series per scrape.
package metrics

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/openconfig/ygot/ygot"
	"github.com/prometheus/client_golang/prometheus"

	"secgw/generated"
	"secgw/internal/ptr"
)

// Sources are what the Collector reads at each scrape.
type Sources struct {
	// VRF is the vrf label of the series of State and Extra.
	VRF string
	// State returns the vrf's ike container as <get> serves it, without
	// secrets (nil: no IKE service).
	State func() *generated.SecgwVrf_Vrf_Ike
	// Extra returns the figures the model has no leaf for.
	Extra func() Extra
	// Others, if set, returns the other vrfs that run IKE now, by name:
	// each one's series carry its name as their vrf label. The daemon's
	// own figures (commits, NETCONF sessions) are VRF's only.
	Others func() map[string]VRFSource
}

// VRFSource is what a scrape reads of a vrf of Sources.Others.
type VRFSource struct {
	State *generated.SecgwVrf_Vrf_Ike
	Extra Extra
}

// Extra are the figures of a scrape that are not in the YANG state.
type Extra struct {
	// Blocked counts IKE_SA_INIT requests refused by block-threshold.
	Blocked uint64
	// Refusals counts the error notifications sent as responder, by
	// notify type (engine.OpStats.Refusals).
	Refusals map[string]uint64
	// ESPDrops counts dropped ESP and clear packets by cause (nil: the
	// dataplane does not count them, the fake one). The kernel
	// dataplane's are its namespace's XFRM counters summed into the
	// same causes (xfrm.Stats.Drops), plus expired and other.
	ESPDrops map[string]uint64
	// Workers are the IKE workers' load.
	Workers []Worker
	// Commits counts the commits to running, CommitSeconds the time
	// they took in all.
	Commits       uint64
	CommitSeconds float64
	// Sessions is the NETCONF sessions open now.
	Sessions int
}

// Worker is one IKE worker's load.
type Worker struct {
	Queued      int
	Jobs        uint64
	BusySeconds float64
	// Wait is how long datagrams waited in the worker's queue, Handling
	// how long the worker then spent on each (the engine's
	// WorkerStat.Wait and Handling).
	Wait, Handling Histogram
}

// Histogram is a distribution of durations: Counts[i] counts those up to
// Bounds[i] seconds and above Bounds[i-1] (not cumulative), the one more
// Counts than Bounds those above the last bound; Sum is their total in
// seconds. A Histogram without Bounds is not exported.
type Histogram struct {
	Bounds []float64
	Counts []uint64
	Sum    float64
}

// Collector is the prometheus.Collector of secgw's metrics.
type Collector struct {
	src       Sources
	perTunnel bool

	// mu guards esp, the ESP totals of each vrf.
	mu  sync.Mutex
	esp map[string]*espTotals
}

// espTotals are the ESP totals of a vrf: the counters of the child SAs
// installed now plus the last seen of those gone, so that the totals
// never decrease when a child SA is deleted.
type espTotals struct {
	retired [4]uint64            // bytes in, bytes out, packets in, packets out
	last    map[uint32][4]uint64 // by child SA unique-id
}

// NewCollector returns a Collector over src; perTunnel adds one series
// per child SA.
func NewCollector(src Sources, perTunnel bool) *Collector {
	return &Collector{src: src, perTunnel: perTunnel, esp: map[string]*espTotals{}}
}

func desc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc("secgw_"+name, help, append([]string{"vrf"}, labels...), nil)
}

// The series. Names follow Prometheus' conventions: _total for
// counters, base units (bytes, seconds).
var (
	dIKESAs       = desc("ike_sas", "IKE SAs now, by state (the ike-sa list of the state).", "state")
	dChildSAs     = desc("child_sas", "Child SAs now, by state.", "state")
	dHalfOpen     = desc("ike_sa_half_open", "Half-open responder IKE SAs now (statistics ike-sa-half-open).")
	dIKESetups    = desc("ike_sa_setups_total", "IKE SAs established (statistics ike-sa-setups).")
	dChildSetups  = desc("child_sa_setups_total", "Child SAs installed (statistics child-sa-setups).")
	dIKERekeys    = desc("ike_rekeys_total", "IKE SA rekeys (statistics ike-rekeys).")
	dChildRekeys  = desc("child_rekeys_total", "Child SA rekeys (statistics child-rekeys).")
	dFailures     = desc("ike_failures_total", "Failed negotiations by reason (statistics failure).", "reason")
	dRefusals     = desc("ike_refusals_total", "Error notifications sent as responder, by notify type.", "notify")
	dCookies      = desc("ike_cookies_sent_total", "COOKIE challenges sent (statistics cookies-sent).")
	dBlocked      = desc("ike_blocked_total", "IKE_SA_INIT requests refused by block-threshold.")
	dDPDSent      = desc("ike_dpd_sent_total", "Liveness checks sent (statistics dpd-sent).")
	dDPDTimeouts  = desc("ike_dpd_timeouts_total", "IKE SAs closed because DPD went unanswered (statistics dpd-timeouts).")
	dRetransmits  = desc("ike_retransmissions_total", "IKE requests retransmitted (statistics retransmissions).")
	dRedirects    = desc("ike_redirects_sent_total", "REDIRECT notifications sent (statistics redirects-sent).")
	dInvalidSPI   = desc("ike_invalid_spi_sent_total", "INVALID_SPI notifications sent for ESP with an unknown SPI (statistics invalid-spi-sent).")
	dInvalidLim   = desc("ike_invalid_spi_limited_total", "Unknown-SPI reports left unanswered by respond-bad-spi max-responses (statistics invalid-spi-limited).")
	dInvalidRecv  = desc("ike_invalid_spi_received_total", "INVALID_SPI notifications received that named a child SA's outbound SPI and deleted it (statistics invalid-spi-received).")
	dESPBytes     = desc("esp_bytes_total", "Bytes through child SAs (the child-sa bytes-in/out, those of deleted child SAs included).", "direction")
	dESPPackets   = desc("esp_packets_total", "Packets through child SAs (the child-sa packets-in/out, those of deleted child SAs included).", "direction")
	dESPDrops     = desc("esp_drops_total", "Packets the dataplane dropped, by cause.", "cause")
	dQueue        = desc("ike_worker_queue_depth", "Datagrams waiting for an IKE worker now.", "worker")
	dJobs         = desc("ike_worker_jobs_total", "Datagrams an IKE worker handled.", "worker")
	dBusy         = desc("ike_worker_busy_seconds_total", "Time an IKE worker spent handling datagrams (mean job latency: its rate over jobs').", "worker")
	dWait         = desc("ike_worker_queue_wait_seconds", "Time each datagram waited in an IKE worker's queue before the worker took it.", "worker")
	dHandling     = desc("ike_worker_handling_seconds", "Time an IKE worker spent handling each datagram (after its queue wait).", "worker")
	dCommits      = desc("commits_total", "Commits to the running datastore.")
	dCommitSecs   = desc("commit_seconds_total", "Time commits to running took.")
	dSessions     = desc("netconf_sessions", "NETCONF sessions open now.")
	dHARole       = desc("ha_role", "1 for the IKE HA role this node has now (ike ha state role), 0 for the others.", "role")
	dHAPeer       = desc("ha_peer_connected", "1 while the HA synchronization link is up.")
	dHASynced     = desc("ha_sas_synced", "SAs synchronized with the HA peer, by kind (ike, child).", "kind")
	dHAMessages   = desc("ha_messages_total", "HA synchronization messages, by direction (sent, received, rejected).", "direction")
	dHATrans      = desc("ha_transitions_total", "HA role changes since start.")
	dHASplit      = desc("ha_split_brains_total", "Times both HA nodes were found active with the link up.")
	dTunnelBytes  = desc("child_sa_bytes_total", "Bytes of one child SA (per-tunnel).", "vpn", "policy", "unique_id", "spi_in", "spi_out", "direction")
	dTunnelPacket = desc("child_sa_packets_total", "Packets of one child SA (per-tunnel).", "vpn", "policy", "unique_id", "spi_in", "spi_out", "direction")
	dTunnelDrops  = desc("child_sa_drops_total", "Inbound packets of one child SA dropped by the anti-replay check (cause replay) or the integrity check (cause auth_failure): the child-sa replay-errors-in and integrity-errors-in (per-tunnel).", "vpn", "policy", "unique_id", "spi_in", "spi_out", "cause")
)

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{dIKESAs, dChildSAs, dHalfOpen, dIKESetups, dChildSetups, dIKERekeys,
		dChildRekeys, dFailures, dRefusals, dCookies, dBlocked, dDPDSent, dDPDTimeouts, dRetransmits, dRedirects, dInvalidSPI, dInvalidLim, dInvalidRecv,
		dESPBytes, dESPPackets, dESPDrops, dQueue, dJobs, dBusy, dWait, dHandling, dCommits, dCommitSecs, dSessions,
		dHARole, dHAPeer, dHASynced, dHAMessages, dHATrans, dHASplit} {
		ch <- d
	}
	if c.perTunnel {
		ch <- dTunnelBytes
		ch <- dTunnelPacket
		ch <- dTunnelDrops
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	var ike *generated.SecgwVrf_Vrf_Ike
	if c.src.State != nil {
		ike = c.src.State()
	}
	var x *Extra
	if c.src.Extra != nil {
		e := c.src.Extra()
		x = &e
	}
	c.collectVRF(ch, c.src.VRF, ike, x, true)
	if c.src.Others == nil {
		return
	}
	for name, o := range c.src.Others() {
		if name == c.src.VRF {
			continue
		}
		c.collectVRF(ch, name, o.State, &o.Extra, false)
	}
}

// collectVRF sends the series of vrf; daemon adds the daemon's own
// figures of x (commits, sessions).
func (c *Collector) collectVRF(ch chan<- prometheus.Metric, vrf string, ike *generated.SecgwVrf_Vrf_Ike, x *Extra, daemon bool) {
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{vrf}, l...)...)
	}
	counter := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, append([]string{vrf}, l...)...)
	}
	if ike != nil {
		c.collectState(vrf, ike, gauge, counter)
	}
	if x == nil {
		return
	}
	counter(dBlocked, float64(x.Blocked))
	for n, v := range x.Refusals {
		counter(dRefusals, float64(v), n)
	}
	for cause, v := range x.ESPDrops {
		counter(dESPDrops, float64(v), cause)
	}
	for i, w := range x.Workers {
		id := strconv.Itoa(i)
		gauge(dQueue, float64(w.Queued), id)
		counter(dJobs, float64(w.Jobs), id)
		counter(dBusy, w.BusySeconds, id)
		histogram(ch, dWait, w.Wait, vrf, id)
		histogram(ch, dHandling, w.Handling, vrf, id)
	}
	if !daemon {
		return
	}
	counter(dCommits, float64(x.Commits))
	counter(dCommitSecs, x.CommitSeconds)
	gauge(dSessions, float64(x.Sessions))
}

// ikeSAStates and childSAStates are the values of the state leaves of
// ike-sa and child-sa, from the YANG enums, in the module's order: every
// state <get> can show is exported, an HA standby's passive SAs
// included, and a value added to the model is exported without an edit
// here.
var (
	ikeSAStates   = enumNames(generated.SecgwVrf_Vrf_Ike_IkeSa_State_UNSET)
	childSAStates = enumNames(generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_State_UNSET)
)

// enumNames returns the names of e's type's values, ordered by value.
func enumNames(e ygot.GoEnum) []string {
	defs := e.ΛMap()[strings.TrimPrefix(fmt.Sprintf("%T", e), "generated.")]
	vals := make([]int64, 0, len(defs))
	for v := range defs {
		vals = append(vals, v)
	}
	slices.Sort(vals)
	names := make([]string, len(vals))
	for i, v := range vals {
		names[i] = defs[v].Name
	}
	return names
}

type emit func(d *prometheus.Desc, v float64, labels ...string)

// histogram sends h as a Prometheus histogram (cumulative buckets).
func histogram(ch chan<- prometheus.Metric, d *prometheus.Desc, h Histogram, labels ...string) {
	if len(h.Bounds) == 0 || len(h.Counts) != len(h.Bounds)+1 {
		return
	}
	buckets := make(map[float64]uint64, len(h.Bounds))
	var n uint64
	for i, b := range h.Bounds {
		n += h.Counts[i]
		buckets[b] = n
	}
	n += h.Counts[len(h.Bounds)]
	ch <- prometheus.MustNewConstHistogram(d, n, h.Sum, buckets, labels...)
}

func (c *Collector) collectState(vrf string, ike *generated.SecgwVrf_Vrf_Ike, gauge, counter emit) {
	c.mu.Lock()
	t := c.esp[vrf]
	if t == nil {
		t = &espTotals{}
		c.esp[vrf] = t
	}
	c.mu.Unlock()
	ikeStates, childStates := map[string]int{}, map[string]int{}
	var now [4]uint64
	seen := make(map[uint32][4]uint64, len(t.last))
	for _, sa := range ike.IkeSa {
		ikeStates[sa.State.String()]++
		for _, cs := range sa.ChildSa {
			childStates[cs.State.String()]++
			v := [4]uint64{u64(cs.BytesIn), u64(cs.BytesOut), u64(cs.PacketsIn), u64(cs.PacketsOut)}
			for i := range v {
				now[i] += v[i]
			}
			if cs.UniqueId != nil {
				seen[*cs.UniqueId] = v
			}
			if c.perTunnel {
				l := []string{str(sa.Name), str(cs.Name), strconv.FormatUint(uint64(u32(cs.UniqueId)), 10), str(cs.SpiIn), str(cs.SpiOut)}
				counter(dTunnelBytes, float64(v[0]), append(l, "in")...)
				counter(dTunnelBytes, float64(v[1]), append(l, "out")...)
				counter(dTunnelPacket, float64(v[2]), append(l, "in")...)
				counter(dTunnelPacket, float64(v[3]), append(l, "out")...)
				// The causes of esp_drops_total, for one SA.
				counter(dTunnelDrops, float64(u64(cs.ReplayErrorsIn)), append(l, "replay")...)
				counter(dTunnelDrops, float64(u64(cs.IntegrityErrorsIn)), append(l, "auth_failure")...)
			}
		}
	}
	// Every state is exported, zero included, so that a dashboard's sum
	// has a series to start from.
	for _, st := range ikeSAStates {
		gauge(dIKESAs, float64(ikeStates[st]), st)
	}
	for _, st := range childSAStates {
		gauge(dChildSAs, float64(childStates[st]), st)
	}
	c.mu.Lock()
	for id, v := range t.last {
		if _, ok := seen[id]; !ok {
			for i := range v {
				t.retired[i] += v[i]
			}
		}
	}
	t.last = seen
	for i := range now {
		now[i] += t.retired[i]
	}
	c.mu.Unlock()
	counter(dESPBytes, float64(now[0]), "in")
	counter(dESPBytes, float64(now[1]), "out")
	counter(dESPPackets, float64(now[2]), "in")
	counter(dESPPackets, float64(now[3]), "out")

	if ike.Ha != nil && ike.Ha.State != nil {
		collectHA(ike.Ha.State, gauge, counter)
	}
	s := ike.Statistics
	if s == nil {
		return
	}
	gauge(dHalfOpen, float64(u32(s.IkeSaHalfOpen)))
	counter(dIKESetups, float64(u64(s.IkeSaSetups)))
	counter(dChildSetups, float64(u64(s.ChildSaSetups)))
	counter(dIKERekeys, float64(u64(s.IkeRekeys)))
	counter(dChildRekeys, float64(u64(s.ChildRekeys)))
	counter(dCookies, float64(u64(s.CookiesSent)))
	counter(dDPDSent, float64(u64(s.DpdSent)))
	counter(dDPDTimeouts, float64(u64(s.DpdTimeouts)))
	counter(dRetransmits, float64(u64(s.Retransmissions)))
	counter(dRedirects, float64(u64(s.RedirectsSent)))
	counter(dInvalidSPI, float64(u64(s.InvalidSpiSent)))
	counter(dInvalidLim, float64(u64(s.InvalidSpiLimited)))
	counter(dInvalidRecv, float64(u64(s.InvalidSpiReceived)))
	for r, f := range s.Failure {
		counter(dFailures, float64(u64(f.Count)), r.String())
	}
}

// collectHA exports ike ha state (only with IKE HA configured).
func collectHA(h *generated.SecgwVrf_Vrf_Ike_Ha_State, gauge, counter emit) {
	role := h.Role.String()
	for _, r := range []string{"init", "active", "standby"} {
		v := 0.0
		if r == role {
			v = 1
		}
		gauge(dHARole, v, r)
	}
	peer := 0.0
	if h.PeerConnected != nil && *h.PeerConnected {
		peer = 1
	}
	gauge(dHAPeer, peer)
	gauge(dHASynced, float64(u32(h.IkeSaSynced)), "ike")
	gauge(dHASynced, float64(u32(h.ChildSaSynced)), "child")
	counter(dHAMessages, float64(u64(h.MessagesSent)), "sent")
	counter(dHAMessages, float64(u64(h.MessagesReceived)), "received")
	counter(dHAMessages, float64(u64(h.MessagesRejected)), "rejected")
	counter(dHATrans, float64(u64(h.Transitions)))
	counter(dHASplit, float64(u64(h.SplitBrains)))
}

// The optional leaves of the state tree, nil read as zero.
var (
	u64 = ptr.Val[uint64]
	u32 = ptr.Val[uint32]
	str = ptr.Val[string]
)
