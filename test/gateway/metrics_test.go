package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"secgw/internal/netnsutil"
	"secgw/internal/poll"
)

// The metrics endpoint of the test: on secgwd's inner address in its
// namespace, with basic authentication; Prometheus listens on loopback
// in the same namespace.
const (
	metricsPort    = 9570
	promListen     = "127.0.0.1:9090"
	metricsUser    = "prom"
	metricsPass    = "scrape-secret-0123"
	scrapeInterval = time.Second
)

// httpIn is an HTTP client whose connections are made in namespace ns.
func httpIn(ns string) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := netnsutil.RunNamed(ns, func() error {
			var err error
			c, err = (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true}}
}

// startPrometheus runs Debian's prometheus in namespace ns with its own
// configuration and storage, scraping target every scrapeInterval with
// the basic credentials; t.Cleanup stops it.
func startPrometheus(t *testing.T, ns, target string) {
	t.Helper()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatal("gateway: prometheus missing: apt-get install prometheus (test/install-deps.sh)")
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`global:
  scrape_interval: %s
  evaluation_interval: %s
scrape_configs:
  - job_name: secgw
    metrics_path: /metrics
    basic_auth:
      username: %s
      password: %s
    static_configs:
      - targets: ['%s']
`, scrapeInterval, scrapeInterval, metricsUser, metricsPass, target)
	if err := os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "prometheus.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+promListen)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("gateway: starting prometheus: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		logf.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			t.Logf("prometheus log:\n%s", tail(string(b), 30))
		}
	})
}

// promQuery asks Prometheus's HTTP API (/api/v1/query) for an instant
// vector and returns its samples as label set -> value.
func promQuery(c *http.Client, q string) (map[string]float64, error) {
	resp, err := c.Get("http://" + promListen + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query %s: status %s", q, r.Status)
	}
	out := map[string]float64{}
	for _, s := range r.Data.Result {
		v, err := strconv.ParseFloat(fmt.Sprint(s.Value[1]), 64)
		if err != nil {
			return nil, err
		}
		var keys []string
		for k, val := range s.Metric {
			if k != "__name__" && k != "instance" && k != "job" {
				keys = append(keys, k+"="+val)
			}
		}
		sort.Strings(keys)
		out[strings.Join(keys, ",")] = v
	}
	return out, nil
}

// TestPrometheusScrapesSecgwd: a real Prometheus scrapes secgwd during a
// tunnel's life with charon. The endpoint is configured over NETCONF (vrf
// main kpi prometheus: address, port, per-tunnel, basic-auth); the values
// Prometheus stored (queried over its HTTP API) equal the SA state read
// over NETCONF: IKE and child SAs, setups, the child SA's own series with
// its SPIs, and the packets it carried once the traffic stopped. A scrape
// without the credentials is refused; promtool finds the exposition
// valid.
func TestPrometheusScrapesSecgwd(t *testing.T) {
	t.Parallel()
	st := newSetup(t, suiteGCM, policy4)
	hash, err := bcrypt.GenerateFromPassword([]byte(metricsPass), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	st.gw.rpc(t, `<edit-config><target><candidate/></target><config><vrf xmlns="`+nsVRF+`"><name>main</name>`+
		`<kpi xmlns="urn:secgw:yang:secgw-kpi"><prometheus><enabled>true</enabled><listen-address>`+gwInner4.String()+`</listen-address>`+
		`<port>`+strconv.Itoa(metricsPort)+`</port><per-tunnel>true</per-tunnel>`+
		`<basic-auth><user>`+metricsUser+`</user><password-hash>`+string(hash)+`</password-hash></basic-auth>`+
		`</prometheus></kpi></vrf></config></edit-config>`)
	st.gw.rpc(t, `<commit/>`)
	target := net.JoinHostPort(gwInner4.String(), strconv.Itoa(metricsPort))
	c := httpIn(st.top.gw)

	// Unauthenticated: refused.
	resp, err := c.Get("http://" + target + "/metrics")
	if err != nil {
		t.Fatalf("scrape without credentials: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || strings.Contains(string(body), "secgw_") {
		t.Errorf("scrape without credentials: status %d; want 401 and no metrics", resp.StatusCode)
	}

	startPrometheus(t, st.top.gw, target)
	st.gwInitiate(t, policy4)
	get := st.checkAgree(t, policy4.name)
	checkTraffic(t, st.top, traffic4)

	var up map[string]float64
	if !poll.Until(30*time.Second, func() bool {
		up, err = promQuery(c, `up{job="secgw"}`)
		return err == nil && up[""] == 1
	}) {
		t.Fatalf("prometheus does not scrape secgwd: up %v, %v", up, err)
	}
	child := get.Children[0]
	// Once the traffic stopped, Prometheus's last sample and <get> count
	// the same packets; both views of the SAs agree.
	var last string
	if !poll.Until(30*time.Second, func() bool {
		_, views, _ := st.views(t)
		if len(views) != 1 || len(views[0].Children) != 1 {
			last = fmt.Sprintf("<get> views %v", views)
			return false
		}
		cv := views[0].Children[0]
		checks := []struct {
			q    string
			want float64
		}{
			{`secgw_ike_sas{state="established",vrf="main"}`, 1},
			{`secgw_child_sas{state="installed",vrf="main"}`, 1},
			{`secgw_ike_sa_setups_total{vrf="main"}`, 1},
			{`secgw_child_sa_packets_total{direction="in",vpn="` + ourVPNName + `",policy="` + policy4.name +
				`",spi_in="` + child.SPIIn + `",spi_out="` + child.SPIOut + `"}`, float64(cv.PacketsIn)},
			{`secgw_esp_packets_total{direction="out",vrf="main"}`, float64(cv.PacketsOut)},
		}
		for _, ch := range checks {
			got, err := promQuery(c, ch.q)
			if err != nil || len(got) != 1 {
				last = fmt.Sprintf("%s: prometheus %v (%v), want one sample %v", ch.q, got, err, ch.want)
				return false
			}
			for _, v := range got {
				if v != ch.want {
					last = fmt.Sprintf("%s: prometheus %v, <get> %v", ch.q, v, ch.want)
					return false
				}
			}
		}
		return true
	}) {
		t.Errorf("prometheus and the state disagree: %s", last)
	}

	// promtool on what secgwd serves.
	req, _ := http.NewRequest("GET", "http://"+target+"/metrics", nil)
	req.SetBasicAuth(metricsUser, metricsPass)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	cmd := exec.Command("promtool", "check", "metrics")
	cmd.Stdin = strings.NewReader(string(body))
	if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "" {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
