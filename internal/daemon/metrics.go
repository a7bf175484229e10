package daemon

import (
	"crypto/tls"
	"fmt"
	"net/netip"
	"sync"

	"golang.org/x/crypto/bcrypt"

	"secgw/generated"
	"secgw/internal/datastore"
	"secgw/internal/ikesvc"
	"secgw/internal/metrics"
	"secgw/internal/netconf"
	"secgw/internal/rpcerr"
)

// metricsEndpoint runs the Prometheus endpoint of vrf main's kpi
// prometheus container: a commit that enables, changes or disables it
// starts, restarts or stops it. It is a datastore subscriber.
type metricsEndpoint struct {
	d *Daemon

	mu  sync.Mutex
	cur *metrics.Server // nil: disabled
	// old is the configuration a transaction replaced, for Abort.
	old map[uint64]*metrics.Config
}

// Name implements datastore.Subscriber.
func (m *metricsEndpoint) Name() string { return "metrics" }

// metricsConfig reads vrf main's kpi prometheus container; nil when the
// endpoint is disabled.
func metricsConfig(dev *generated.Device) (*metrics.Config, error) {
	if dev == nil || dev.Vrf[ikesvc.VRF] == nil || dev.Vrf[ikesvc.VRF].Kpi == nil || dev.Vrf[ikesvc.VRF].Kpi.Prometheus == nil {
		return nil, nil
	}
	p := dev.Vrf[ikesvc.VRF].Kpi.Prometheus
	if !p.GetEnabled() {
		return nil, nil
	}
	// Defaults are the model's (secgw-kpi.yang): loopback, 9570.
	addr, port := "127.0.0.1", uint16(9570)
	if p.ListenAddress != nil {
		addr = *p.ListenAddress
	}
	if p.Port != nil {
		port = *p.Port
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return nil, fmt.Errorf("kpi prometheus listen-address: %w", err)
	}
	c := &metrics.Config{Addr: netip.AddrPortFrom(ip, port), PerTunnel: p.GetPerTunnel()}
	if a := p.BasicAuth; a != nil {
		c.User, c.PasswordHash = a.GetUser(), a.GetPasswordHash()
	}
	if t := p.Tls; t != nil {
		c.CertFile, c.KeyFile = t.GetCertificateFile(), t.GetKeyFile()
	}
	return c, nil
}

// metricsAddrPath is the error-path of vrf main's kpi prometheus
// listen-address.
const metricsAddrPath = "/vrf[name='main']/kpi/prometheus/listen-address"

// Prepare implements datastore.Subscriber: what can be checked before
// the endpoint restarts is (the hash, the TLS key pair), so that a bad
// one refuses the commit. An endpoint off loopback must be protected:
// with neither basic-auth nor tls anyone who reaches the address would
// read the gateway's peers and counters, so the commit is refused.
func (m *metricsEndpoint) Prepare(tx *datastore.Tx) error {
	c, err := metricsConfig(tx.New)
	if err != nil || c == nil {
		return err
	}
	if !c.Addr.Addr().IsLoopback() && c.User == "" && c.CertFile == "" {
		return &rpcerr.Error{Type: rpcerr.TypeApplication, Tag: rpcerr.TagInvalidValue, Path: metricsAddrPath,
			Message: fmt.Sprintf("kpi prometheus listen-address %s is not loopback: set basic-auth or tls, or listen on 127.0.0.1 or ::1",
				c.Addr.Addr())}
	}
	if c.User != "" {
		if _, err := bcrypt.Cost([]byte(c.PasswordHash)); err != nil {
			return fmt.Errorf("kpi prometheus basic-auth password-hash is not a bcrypt hash")
		}
	}
	if c.CertFile != "" {
		if _, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile); err != nil {
			return fmt.Errorf("kpi prometheus tls: %w", err)
		}
	}
	return nil
}

// Apply implements datastore.Subscriber.
func (m *metricsEndpoint) Apply(tx *datastore.Tx) error {
	c, err := metricsConfig(tx.New)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.old == nil {
		m.old = map[uint64]*metrics.Config{}
	}
	clear(m.old)
	var was *metrics.Config
	if m.cur != nil {
		cc := m.cur.Config()
		was = &cc
	}
	m.old[tx.ID] = was
	return m.setLocked(c)
}

// Abort implements datastore.Subscriber.
func (m *metricsEndpoint) Abort(tx *datastore.Tx) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c, ok := m.old[tx.ID]; ok {
		if err := m.setLocked(c); err != nil {
			m.d.log.Error("metrics endpoint not restored", "err", err)
		}
	}
}

// setLocked makes the endpoint run with c (nil: stopped).
func (m *metricsEndpoint) setLocked(c *metrics.Config) error {
	if m.cur != nil && c != nil && m.cur.Config() == *c {
		return nil
	}
	if m.cur != nil {
		_ = m.cur.Close()
		m.cur = nil
		m.d.log.Info("metrics endpoint stopped")
	}
	if c == nil {
		return nil
	}
	s, err := metrics.Listen(*c, m.d.metricsSources())
	if err != nil {
		return err
	}
	s.Serve()
	m.cur = s
	m.d.log.Info("metrics endpoint serving", "listen", s.Addr().String(), "per-tunnel", c.PerTunnel,
		"basic-auth", c.User != "", "tls", c.CertFile != "")
	return nil
}

// close stops the endpoint.
func (m *metricsEndpoint) close() {
	m.mu.Lock()
	defer m.mu.Unlock()
	_ = m.setLocked(nil)
}

// startMetrics starts the endpoint as running configures it and
// subscribes it to commits.
func (d *Daemon) startMetrics() {
	d.metrics = &metricsEndpoint{d: d}
	c, err := metricsConfig(d.store.Snapshot(datastore.Running))
	if err == nil && c != nil {
		d.metrics.mu.Lock()
		err = d.metrics.setLocked(c)
		d.metrics.mu.Unlock()
	}
	if err != nil {
		// As for IKE: serve NETCONF, so that the operator can fix it.
		d.log.Error("metrics endpoint could not start", "err", err)
	}
	d.store.Subscribe(d.metrics)
}

// metricsSources are what the endpoint reads at each scrape: the state
// <get> serves, and the engine's, dataplane's, datastore's and NETCONF
// server's figures the model has no leaf for.
func (d *Daemon) metricsSources() metrics.Sources {
	return metrics.Sources{
		VRF: ikesvc.VRF,
		State: func() *generated.SecgwVrf_Vrf_Ike {
			// Not the diagnostics (the dataplane's whole table), nor
			// the other vrfs (Others).
			return d.mainState(netconf.StateRequest{Wants: func(path ...string) bool {
				return len(path) < 3 || path[2] != "diagnostics"
			}})
		},
		Extra: d.metricsExtra,
		// The vrfs other than main that run IKE, each with its label.
		Others: func() map[string]metrics.VRFSource {
			if d.vrfs == nil {
				return nil
			}
			return d.vrfs.metrics()
		},
	}
}

func (d *Daemon) metricsExtra() metrics.Extra {
	x := extraOf(d.ike.Engine(), d.userspace, kernelOf(d.dataplane))
	n, total := d.store.CommitStats()
	x.Commits, x.CommitSeconds = n, total.Seconds()
	if d.netconf != nil {
		x.Sessions = d.netconf.Stats().Sessions
	}
	return x
}
