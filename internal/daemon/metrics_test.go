package daemon

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	gonetconf "github.com/Juniper/go-netconf/netconf"
	"golang.org/x/crypto/bcrypt"
)

// freePort returns a TCP port of 127.0.0.1 nobody listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func kpiXML(enabled bool, port int) string {
	return fmt.Sprintf(`<edit-config><target><candidate/></target><config><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name>`+
		`<kpi xmlns="urn:secgw:yang:secgw-kpi"><prometheus><enabled>%t</enabled><listen-address>127.0.0.1</listen-address>`+
		`<port>%d</port></prometheus></kpi></vrf></config></edit-config>`, enabled, port)
}

func scrape(url string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("status %d", resp.StatusCode)
	}
	return string(b), err
}

// TestMetricsEndpointCommit: the endpoint is off by default, a commit of
// kpi prometheus enabled starts it on the address and port given, its
// series agree with the state read over NETCONF (IKE SAs, setups, the
// per-SA counters that used to stay empty), and a commit that disables
// it stops it. Off loopback it must have basic-auth or tls.
func TestMetricsEndpointCommit(t *testing.T) {
	a := startGateway(t, "a", 17520)
	b := startGateway(t, "b", 17520)
	b.configure(t, "merge", vpnXML("from-a", "net", "127.0.0.2", "", "b.example", "a.example", "10.2.0.0/16", "10.1.0.0/16"))
	a.configure(t, "merge", vpnXML("to-b", "net", "127.0.0.1", "127.0.0.2", "a.example", "b.example", "10.1.0.0/16", "10.2.0.0/16"))
	out := a.rpc(t, `<initiate xmlns="urn:secgw:yang:secgw-ike"><child-sa><security-policy>net</security-policy></child-sa></initiate>`)
	if !strings.Contains(out, "CHILD_SA net{2} established") {
		t.Fatalf("initiate reply:\n%s", out)
	}
	port := freePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	if _, err := scrape(url); err == nil {
		t.Fatal("an endpoint serves before any configuration")
	}
	a.rpc(t, kpiXML(true, port))
	a.rpc(t, `<commit/>`)
	body, err := scrape(url)
	if err != nil {
		t.Fatalf("scrape after enabling: %v", err)
	}
	st := a.rpc(t, `<get><filter type="subtree"><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name><ike xmlns="urn:secgw:yang:secgw-ike"><statistics/><ike-sa/></ike></vrf></filter></get>`)
	setups := regexp.MustCompile(`<ike-sa-setups>(\d+)</ike-sa-setups>`).FindStringSubmatch(st)
	if setups == nil {
		t.Fatalf("no ike-sa-setups in the state:\n%s", st)
	}
	for _, want := range []string{
		`secgw_ike_sas{state="established",vrf="main"} 1`,
		`secgw_child_sas{state="installed",vrf="main"} 1`,
		`secgw_ike_sa_setups_total{vrf="main"} ` + setups[1],
		`secgw_netconf_sessions{vrf="main"} 1`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("exposition lacks %s", want)
		}
	}
	if !regexp.MustCompile(`secgw_commits_total\{vrf="main"\} [1-9]`).MatchString(body) {
		t.Error("no commit counted")
	}
	// The workers' latency histograms count every job the workers did
	// (the initiator's workers took the IKE_SA_INIT and IKE_AUTH
	// responses), each in its +Inf bucket too.
	sum := func(re string) (n int) {
		for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(body, -1) {
			v, _ := strconv.Atoi(m[1])
			n += v
		}
		return n
	}
	jobs := sum(`(?m)^secgw_ike_worker_jobs_total\{vrf="main",worker="\d+"\} (\d+)$`)
	for _, h := range []string{"queue_wait", "handling"} {
		count := sum(`(?m)^secgw_ike_worker_` + h + `_seconds_count\{vrf="main",worker="\d+"\} (\d+)$`)
		inf := sum(`(?m)^secgw_ike_worker_` + h + `_seconds_bucket\{vrf="main",worker="\d+",le="\+Inf"\} (\d+)$`)
		if jobs < 2 || count != jobs || inf != jobs {
			t.Errorf("secgw_ike_worker_%s_seconds: count %d, +Inf bucket %d; want the %d jobs (at least 2)", h, count, inf, jobs)
		}
	}
	// The IKE SA's own counters: IKE_SA_INIT and IKE_AUTH sent.
	if !strings.Contains(st, "<requests-sent>2</requests-sent>") || !strings.Contains(st, "<retransmissions>0</retransmissions>") ||
		!strings.Contains(st, "<dpd-sent>0</dpd-sent>") || !strings.Contains(st, "<dpd-timeouts>0</dpd-timeouts>") {
		t.Errorf("per-SA and DPD counters not in the state:\n%s", st)
	}
	a.rpc(t, kpiXML(false, port))
	a.rpc(t, `<commit/>`)
	if _, err := scrape(url); err == nil {
		t.Error("the endpoint still serves once disabled")
	}
	metricsProtection(t, a)
}

// metricsProtection: an endpoint off loopback needs basic-auth or tls;
// without either the commit is refused with invalid-value on
// listen-address.
func metricsProtection(t *testing.T, a *gateway) {
	tmp := t.TempDir()
	certFile, keyFile := filepath.Join(tmp, "cert.pem"), filepath.Join(tmp, "key.pem")
	writeCert(t, certFile, keyFile, 1)
	hash, err := bcrypt.GenerateFromPassword([]byte("scrape"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	auth := `<basic-auth><user>prom</user><password-hash>` + string(hash) + `</password-hash></basic-auth>`
	tls := `<tls><certificate-file>` + certFile + `</certificate-file><key-file>` + keyFile + `</key-file></tls>`
	for _, c := range []struct {
		addr, protection string
		ok               bool
	}{
		{"127.0.0.1", "", true},
		{"::1", "", true},
		{"0.0.0.0", "", false},
		{"::", "", false},
		{"192.0.2.1", "", false},
		{"0.0.0.0", auth, true},
		{"::", tls, true},
	} {
		a.rpc(t, fmt.Sprintf(`<edit-config><target><candidate/></target><config><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name>`+
			`<kpi xmlns="urn:secgw:yang:secgw-kpi"><prometheus xmlns:nc="urn:ietf:params:xml:ns:netconf:base:1.0" nc:operation="replace">`+
			`<enabled>true</enabled><listen-address>%s</listen-address><port>%d</port>%s</prometheus></kpi></vrf></config></edit-config>`,
			c.addr, freePort(t), c.protection))
		_, err := a.s.Exec(gonetconf.RawMethod(`<commit/>`))
		var re *gonetconf.RPCError
		switch {
		case c.ok && err != nil:
			t.Errorf("listen-address %s with %.12q: commit refused: %v", c.addr, c.protection, err)
		case !c.ok && !errors.As(err, &re):
			t.Errorf("listen-address %s without protection: commit %v, want an rpc-error", c.addr, err)
		case !c.ok && (re.Tag != "invalid-value" || !regexp.MustCompile(`prometheus/(\w+:)?listen-address$`).MatchString(re.Path) ||
			!strings.Contains(re.Message, "set basic-auth or tls")):
			t.Errorf("listen-address %s without protection: tag %q path %q message %q, want invalid-value on listen-address saying what to set",
				c.addr, re.Tag, re.Path, re.Message)
		}
		a.rpc(t, `<discard-changes/>`)
	}
	a.rpc(t, kpiXML(false, freePort(t)))
	a.rpc(t, `<commit/>`)
}
