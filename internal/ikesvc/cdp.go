package ikesvc

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// CRLs of distribution points (fetch-crl): the engine asks on its worker
// whether a certificate is revoked (config.Revocation), which must not
// block; a CRL not in the cache is fetched in the background, and until
// it arrives the status is unknown (the certificate passes, as with
// strongSwan's default policy). Fetched CRLs are kept until their
// nextUpdate, between cdpMinTTL and cdpMaxTTL; a failed fetch is tried
// again after cdpMinTTL.

const (
	cdpTimeout = 5 * time.Second
	cdpMinTTL  = 10 * time.Minute
	cdpMaxTTL  = 24 * time.Hour
	cdpMaxCRL  = 4 << 20
	// cdpMaxEntries bounds the cache: distribution points come from
	// peers' certificates.
	cdpMaxEntries = 1024
)

// cdpCache is the CRL cache of the service's CAs with fetch-crl.
type cdpCache struct {
	client *http.Client
	log    func(msg string, args ...any)
	now    func() time.Time

	mu sync.Mutex
	// entries are by URL; crl nil while fetching or after a failure.
	entries map[string]*cdpEntry
}

type cdpEntry struct {
	crl      *x509.RevocationList
	fetching bool
	until    time.Time
}

// crlFetcher returns the service's CRL cache, made on first use.
func (s *Service) crlFetcher() *cdpCache {
	s.cdpOnce.Do(func() {
		client := &http.Client{Timeout: cdpTimeout}
		if s.o.VRF != VRF {
			// The CRL distribution points are reached from the vrf:
			// the connection is opened inside its namespace (InVRF).
			// Name resolution, done by the resolver's own threads, is
			// the host's.
			tr := http.DefaultTransport.(*http.Transport).Clone()
			tr.DialContext = func(ctx context.Context, network, addr string) (c net.Conn, err error) {
				var d net.Dialer
				if e := s.o.InVRF(func() error { c, err = d.DialContext(ctx, network, addr); return nil }); e != nil {
					return nil, e
				}
				return c, err
			}
			client.Transport = tr
		}
		s.cdp = &cdpCache{client: client, log: s.log.Info, now: time.Now, entries: map[string]*cdpEntry{}}
	})
	return s.cdp
}

// Revoked implements config.Revocation: never blocks.
func (c *cdpCache) Revoked(cert, issuer *x509.Certificate) (revoked, known bool) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, url := range cert.CRLDistributionPoints {
		if !strings.HasPrefix(url, "http://") {
			continue // LDAP and HTTPS distribution points are not fetched
		}
		e := c.entries[url]
		if e == nil || (!e.fetching && now.After(e.until)) {
			if e == nil && len(c.entries) >= cdpMaxEntries {
				continue
			}
			e = &cdpEntry{fetching: true}
			c.entries[url] = e
			go c.fetch(url, issuer)
		}
		if e.crl == nil || e.crl.CheckSignatureFrom(issuer) != nil {
			continue
		}
		known = true
		for _, r := range e.crl.RevokedCertificateEntries {
			if r.SerialNumber.Cmp(cert.SerialNumber) == 0 {
				return true, true
			}
		}
	}
	return false, known
}

// fetch gets the CRL at url, checks it is issuer's, and caches it.
func (c *cdpCache) fetch(url string, issuer *x509.Certificate) {
	crl, err := c.get(url)
	if err == nil {
		err = crl.CheckSignatureFrom(issuer)
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	e := &cdpEntry{until: now.Add(cdpMinTTL)}
	if err != nil {
		c.log("pki: CRL fetch failed", "url", url, "err", err)
	} else {
		ttl := min(max(crl.NextUpdate.Sub(now), cdpMinTTL), cdpMaxTTL)
		e.crl, e.until = crl, now.Add(ttl)
		c.log("pki: CRL fetched", "url", url, "revoked", len(crl.RevokedCertificateEntries), "next-update", crl.NextUpdate.UTC().Format(time.RFC3339))
	}
	c.entries[url] = e
}

func (c *cdpCache) get(url string) (*x509.RevocationList, error) {
	resp, err := c.client.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, &httpStatusError{resp.Status}
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, cdpMaxCRL))
	if err != nil {
		return nil, err
	}
	if blk, _ := pem.Decode(b); blk != nil {
		b = blk.Bytes
	}
	return x509.ParseRevocationList(b)
}

type httpStatusError struct{ status string }

func (e *httpStatusError) Error() string { return "HTTP " + e.status }
