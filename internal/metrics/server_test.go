package metrics

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/crypto/bcrypt"

	"secgw/generated"
	"secgw/internal/ptr"
)

// state is an ike container with one established IKE SA carrying one
// child SA, one passive IKE SA (an HA standby's) with a passive child,
// and statistics.
func state() *generated.SecgwVrf_Vrf_Ike {
	return &generated.SecgwVrf_Vrf_Ike{
		IkeSa: map[uint32]*generated.SecgwVrf_Vrf_Ike_IkeSa{1: {
			UniqueId: ptr.To(uint32(1)), Name: ptr.To("hq"), State: generated.SecgwVrf_Vrf_Ike_IkeSa_State_established,
			ChildSa: map[uint32]*generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa{2: {
				UniqueId: ptr.To(uint32(2)), Name: ptr.To("sp1"), State: generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_State_installed,
				SpiIn: ptr.To("c0000001"), SpiOut: ptr.To("c0000002"),
				BytesIn: ptr.To(uint64(1000)), BytesOut: ptr.To(uint64(2000)), PacketsIn: ptr.To(uint64(10)), PacketsOut: ptr.To(uint64(20)),
				ReplayErrorsIn: ptr.To(uint64(3)), IntegrityErrorsIn: ptr.To(uint64(1)),
			}},
		}, 3: {
			// An HA standby's copy of the peer's SA: passive, and so
			// is its child.
			UniqueId: ptr.To(uint32(3)), Name: ptr.To("branch"), State: generated.SecgwVrf_Vrf_Ike_IkeSa_State_passive,
			ChildSa: map[uint32]*generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa{4: {
				UniqueId: ptr.To(uint32(4)), Name: ptr.To("sp2"), State: generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_State_passive,
			}},
		}},
		Ha: &generated.SecgwVrf_Vrf_Ike_Ha{State: &generated.SecgwVrf_Vrf_Ike_Ha_State{
			Role: generated.SecgwHa_HaRole_active, PeerConnected: ptr.To(true), IkeSaSynced: ptr.To(uint32(1)),
			MessagesSent: ptr.To(uint64(12)), Transitions: ptr.To(uint64(2)),
		}},
		Statistics: &generated.SecgwVrf_Vrf_Ike_Statistics{
			IkeSaSetups: ptr.To(uint64(3)), CookiesSent: ptr.To(uint64(7)), DpdSent: ptr.To(uint64(5)),
			Failure: map[generated.E_SecgwVrf_Vrf_Ike_Statistics_Failure_Reason]*generated.SecgwVrf_Vrf_Ike_Statistics_Failure{
				generated.SecgwVrf_Vrf_Ike_Statistics_Failure_Reason_no_proposal_chosen: {
					Reason: generated.SecgwVrf_Vrf_Ike_Statistics_Failure_Reason_no_proposal_chosen, Count: ptr.To(uint64(4))},
			},
		},
	}
}

func testSources() Sources {
	return Sources{VRF: "main", State: state, Extra: func() Extra {
		return Extra{Blocked: 2, Refusals: map[string]uint64{"NO_PROPOSAL_CHOSEN": 4},
			ESPDrops: map[string]uint64{"replay": 1, "bad_spi": 9}, Workers: []Worker{{Queued: 1, Jobs: 5, BusySeconds: 0.5,
				Wait:     Histogram{Bounds: []float64{0.001, 0.01}, Counts: []uint64{2, 2, 1}, Sum: 1.5},
				Handling: Histogram{Bounds: []float64{0.001, 0.01}, Counts: []uint64{4, 1, 0}, Sum: 0.5}}},
			Commits: 2, CommitSeconds: 0.01, Sessions: 1}
	}}
}

func serve(t *testing.T, cfg Config) *Server {
	t.Helper()
	if !cfg.Addr.IsValid() {
		cfg.Addr = netip.MustParseAddrPort("127.0.0.1:0")
	}
	s, err := Listen(cfg, testSources())
	if err != nil {
		t.Fatal(err)
	}
	s.Serve()
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func get(t *testing.T, c *http.Client, url, user, pass string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestExposition: the series of the state and of Extra, with their
// values; the ESP totals keep the bytes of a child SA that is gone.
func TestExposition(t *testing.T) {
	s := serve(t, Config{})
	code, body := get(t, http.DefaultClient, "http://"+s.Addr().String()+"/metrics", "", "")
	if code != 200 {
		t.Fatalf("status %d", code)
	}
	for _, want := range []string{
		`secgw_ike_sas{state="established",vrf="main"} 1`,
		`secgw_ike_sas{state="connecting",vrf="main"} 0`,
		`secgw_child_sas{state="installed",vrf="main"} 1`,
		`secgw_ike_sas{state="passive",vrf="main"} 1`,
		`secgw_child_sas{state="passive",vrf="main"} 1`,
		`secgw_child_sas{state="deleted",vrf="main"} 0`,
		`secgw_ike_sa_setups_total{vrf="main"} 3`,
		`secgw_ike_cookies_sent_total{vrf="main"} 7`,
		`secgw_ike_dpd_sent_total{vrf="main"} 5`,
		`secgw_ike_failures_total{reason="no-proposal-chosen",vrf="main"} 4`,
		`secgw_ike_refusals_total{notify="NO_PROPOSAL_CHOSEN",vrf="main"} 4`,
		`secgw_ike_blocked_total{vrf="main"} 2`,
		`secgw_esp_bytes_total{direction="in",vrf="main"} 1000`,
		`secgw_esp_packets_total{direction="out",vrf="main"} 20`,
		`secgw_esp_drops_total{cause="bad_spi",vrf="main"} 9`,
		`secgw_ike_worker_queue_depth{vrf="main",worker="0"} 1`,
		// The histograms: cumulative buckets, the last one above 10 ms.
		`secgw_ike_worker_queue_wait_seconds_bucket{vrf="main",worker="0",le="0.001"} 2`,
		`secgw_ike_worker_queue_wait_seconds_bucket{vrf="main",worker="0",le="0.01"} 4`,
		`secgw_ike_worker_queue_wait_seconds_bucket{vrf="main",worker="0",le="+Inf"} 5`,
		`secgw_ike_worker_queue_wait_seconds_sum{vrf="main",worker="0"} 1.5`,
		`secgw_ike_worker_queue_wait_seconds_count{vrf="main",worker="0"} 5`,
		`secgw_ike_worker_handling_seconds_bucket{vrf="main",worker="0",le="0.01"} 5`,
		`secgw_ike_worker_handling_seconds_count{vrf="main",worker="0"} 5`,
		`secgw_commits_total{vrf="main"} 2`,
		`secgw_netconf_sessions{vrf="main"} 1`,
		`secgw_ha_role{role="active",vrf="main"} 1`,
		`secgw_ha_role{role="standby",vrf="main"} 0`,
		`secgw_ha_peer_connected{vrf="main"} 1`,
		`secgw_ha_sas_synced{kind="ike",vrf="main"} 1`,
		`secgw_ha_messages_total{direction="sent",vrf="main"} 12`,
		`secgw_ha_transitions_total{vrf="main"} 2`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("exposition lacks %s", want)
		}
	}
	if strings.Contains(body, "secgw_child_sa_bytes_total") {
		t.Error("per-tunnel series without per-tunnel")
	}

	// The child SA goes: the totals keep its bytes.
	st := state()
	c := NewCollector(Sources{VRF: "main", State: func() *generated.SecgwVrf_Vrf_Ike { return st }}, false)
	collectText(t, c)
	st = state()
	delete(st.IkeSa[1].ChildSa, 2)
	if got := collectText(t, c); !strings.Contains(got, `secgw_esp_bytes_total{direction="in",vrf="main"} 1000`+"\n") {
		t.Errorf("after the child SA went, the total lost its bytes:\n%s", got)
	}
}

// TestServerPerTunnel: per-tunnel adds each child SA's own series, its
// replay and integrity drops (replay-errors-in, integrity-errors-in)
// included: sp1's, not sp2's.
func TestServerPerTunnel(t *testing.T) {
	s := serve(t, Config{PerTunnel: true})
	_, body := get(t, http.DefaultClient, "http://"+s.Addr().String()+"/metrics", "", "")
	want := `secgw_child_sa_bytes_total{direction="in",policy="sp1",spi_in="c0000001",spi_out="c0000002",unique_id="2",vpn="hq",vrf="main"} 1000`
	if !strings.Contains(body, want+"\n") {
		t.Errorf("exposition lacks %s", want)
	}

	st := state()
	st.IkeSa[1].ChildSa[4] = &generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa{
		UniqueId: ptr.To(uint32(4)), Name: ptr.To("sp2"), State: generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa_State_installed,
		SpiIn: ptr.To("c0000003"), SpiOut: ptr.To("c0000004"),
		ReplayErrorsIn: ptr.To(uint64(0)), IntegrityErrorsIn: ptr.To(uint64(0)),
	}
	body = collectText(t, NewCollector(Sources{VRF: "main", State: func() *generated.SecgwVrf_Vrf_Ike { return st }}, true))
	for _, want := range []string{
		`secgw_child_sa_drops_total{cause="replay",policy="sp1",spi_in="c0000001",spi_out="c0000002",unique_id="2",vpn="hq",vrf="main"} 3`,
		`secgw_child_sa_drops_total{cause="auth_failure",policy="sp1",spi_in="c0000001",spi_out="c0000002",unique_id="2",vpn="hq",vrf="main"} 1`,
		`secgw_child_sa_drops_total{cause="replay",policy="sp2",spi_in="c0000003",spi_out="c0000004",unique_id="4",vpn="hq",vrf="main"} 0`,
		`secgw_child_sa_drops_total{cause="auth_failure",policy="sp2",spi_in="c0000003",spi_out="c0000004",unique_id="4",vpn="hq",vrf="main"} 0`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("exposition lacks %s", want)
		}
	}
}

// TestServerBasicAuth: with basic-auth, a scrape without credentials or
// with wrong ones is refused (401 and a challenge), the right ones pass.
func TestServerBasicAuth(t *testing.T) {
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	s := serve(t, Config{User: "prom", PasswordHash: string(hash)})
	url := "http://" + s.Addr().String() + "/metrics"
	for _, c := range []struct{ user, pass string }{{"", ""}, {"prom", "wrong"}, {"other", "s3cret"}} {
		req, _ := http.NewRequest("GET", url, nil)
		if c.user != "" {
			req.SetBasicAuth(c.user, c.pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" || strings.Contains(string(b), "secgw_") {
			t.Errorf("%q/%q: status %d, challenge %q: want 401 with a challenge and no metrics", c.user, c.pass, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	}
	for range 2 { // the second through the cached digest
		if code, body := get(t, http.DefaultClient, url, "prom", "s3cret"); code != 200 || !strings.Contains(body, "secgw_ike_sas") {
			t.Errorf("right credentials: status %d", code)
		}
	}
	if _, err := Listen(Config{Addr: netip.MustParseAddrPort("127.0.0.1:0"), User: "prom", PasswordHash: "plain"}, testSources()); err == nil {
		t.Error("a password-hash that is no bcrypt hash was accepted")
	}
}

// TestServerTLS: with a certificate and key, the endpoint speaks HTTPS
// only.
func TestServerTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	s := serve(t, Config{CertFile: certFile, KeyFile: keyFile})
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}}
	if code, body := get(t, c, "https://"+s.Addr().String()+"/metrics", "", ""); code != 200 || !strings.Contains(body, "secgw_ike_sas") {
		t.Errorf("https: status %d", code)
	}
	resp, err := http.Get("http://" + s.Addr().String() + "/metrics")
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "secgw_") {
			t.Error("plain http served the metrics")
		}
	}
	if _, err := Listen(Config{Addr: netip.MustParseAddrPort("127.0.0.1:0"), CertFile: filepath.Join(dir, "none"), KeyFile: keyFile}, testSources()); err == nil {
		t.Error("a missing certificate file was accepted")
	}
}

// TestScrapeStorm: 200 concurrent scrapes are each answered (200, or 503
// beyond the in-flight bound) or made to wait for a connection slot,
// and once they are done the goroutines are back where they were.
func TestScrapeStorm(t *testing.T) {
	s := serve(t, Config{})
	url := "http://" + s.Addr().String() + "/metrics"
	before := runtime.NumGoroutine()
	tr := &http.Transport{MaxConnsPerHost: 0, DisableKeepAlives: true}
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Get(url)
			if err != nil {
				mu.Lock()
				codes[-1]++
				mu.Unlock()
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			mu.Lock()
			codes[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	tr.CloseIdleConnections()
	t.Logf("answers by status: %v", codes)
	if codes[200] == 0 || codes[-1] > 0 || codes[200]+codes[503] != 200 {
		t.Errorf("answers by status: %v; want 200s and 503s only", codes)
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before+5 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+5 {
		t.Errorf("goroutines %d after the storm, %d before", n, before)
	}
}

// TestPromtoolCheck: Debian's promtool finds nothing wrong with the
// exposition (names, types, help, units).
func TestPromtoolCheck(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool missing: apt-get install prometheus (test/install-deps.sh)")
	}
	s := serve(t, Config{PerTunnel: true})
	_, body := get(t, http.DefaultClient, "http://"+s.Addr().String()+"/metrics", "", "")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}

func collectText(t *testing.T, c *Collector) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	return rec.Body.String()
}

// selfSigned writes a self-signed certificate for localhost and
// 127.0.0.1 and its key, and returns a pool that trusts it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, IsCA: true,
		BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
