package daemon

import (
	"crypto/tls"
	"errors"
	"fmt"
)

// Reload re-reads what secgwd reads from files, for SIGHUP: the users
// file (new logins use the new accounts; the sessions of removed users,
// and of users whose role changed, are ended), and the TLS certificate
// and key of the metrics endpoint (renewed certificates are served
// without a commit). The configuration itself, logging included, is not
// re-read: it changes by commit only. What fails to load is logged and
// the old version kept; Reload never stops the daemon. It returns the
// errors joined, for tests.
func (d *Daemon) Reload() error {
	d.log.Info("reloading on SIGHUP: users file, metrics TLS files")
	var errs []error
	ended, err := d.netconf.ReloadUsers(d.UsersFile())
	if err != nil {
		d.log.Error("users file not reloaded, the previous accounts stay", "file", d.UsersFile(), "err", err)
		errs = append(errs, err)
	} else {
		d.log.Info("users file reloaded", "file", d.UsersFile(), "sessions-ended", len(ended))
	}
	if err := d.metrics.reloadTLS(); err != nil {
		d.log.Error("metrics TLS files not reloaded, the previous certificate stays", "err", err)
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// reloadTLS restarts a TLS metrics endpoint so that it reads its
// certificate and key again; a pair that no longer loads leaves the
// running endpoint as it is.
func (m *metricsEndpoint) reloadTLS() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cur == nil || m.cur.Config().CertFile == "" {
		return nil
	}
	c := m.cur.Config()
	if _, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile); err != nil {
		return fmt.Errorf("daemon: metrics tls: %w", err)
	}
	_ = m.cur.Close()
	m.cur = nil
	if err := m.setLocked(&c); err != nil {
		return fmt.Errorf("daemon: metrics endpoint not restarted: %w", err)
	}
	m.d.log.Info("metrics TLS files reloaded", "certificate", c.CertFile)
	return nil
}
