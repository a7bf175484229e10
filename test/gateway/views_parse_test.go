package gateway

import (
	"os"
	"reflect"
	"testing"
)

// The three views of one tunnel (suite aes128-sha256-modp2048, an IPv4
// and an IPv6 child SA, after traffic), captured from secgwd and charon
// 5.9.8 by TestSuites (keys removed from the <get> reply): parsed, they
// must give the same SAs, with charon's point of view turned into
// secgwd's.
func TestViewsAgreeOnCapture(t *testing.T) {
	read := func(name string) string {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	want := saView{State: "ESTABLISHED", Endpoints: "192.0.2.1[4500] 192.0.2.2[4500]", SPIi: "ee98b97815dc0ccf", SPIr: "2e0593901b88608a",
		Algs: "aes128-cbc/hmac-sha256/prf:hmac-sha256/modp2048", Children: []childView{
			{Name: "net4", State: "INSTALLED", Encap: true, SPIIn: "73a9a31a", SPIOut: "1656a091",
				Algs: "aes128-cbc/hmac-sha256", Local: gwNet4, Remote: charonNet4},
			{Name: "net6", State: "INSTALLED", Encap: true, SPIIn: "dcb157a5", SPIOut: "88f02880",
				Algs: "aes128-cbc/hmac-sha256", Local: gwNet6, Remote: charonNet6},
		}}
	show, err := viewsFromShow(read("show-details.txt"))
	if err != nil {
		t.Fatal(err)
	}
	get, err := viewsFromGet(read("get-ike-sa.xml"))
	if err != nil {
		t.Fatal(err)
	}
	ch := viewsFromCharon(listSAsRaw(read("list-sas.raw")))
	for _, v := range []struct {
		name  string
		views []saView
		in    uint64 // packets in of net4
	}{{"show", show, 2150}, {"get", get, 2150}, {"charon", ch, 2288}} {
		if len(v.views) != 1 {
			t.Fatalf("%s: %d IKE SAs, want 1", v.name, len(v.views))
		}
		if got := v.views[0].comparable(); !reflect.DeepEqual(got, want) {
			t.Errorf("%s:\n%v\nwant\n%v", v.name, got, want)
		}
		if in := v.views[0].Children[0].PacketsIn; in != v.in {
			t.Errorf("%s: net4 counted %d packets in, want %d", v.name, in, v.in)
		}
	}
	// A mismatch is reported, not papered over.
	st := &setup{s: suiteCBC128, policies: []policy{policy4, policy6}}
	if d := agreeErr(show, get, ch, st, []string{"net4", "net6"}); d != "" {
		t.Errorf("agreeErr on the capture: %s", d)
	}
	st.s = suiteGCM
	if d := agreeErr(show, get, ch, st, []string{"net4", "net6"}); d == "" {
		t.Error("agreeErr accepted the capture for another suite")
	}
	ch[0].Children[1].SPIIn = "00000000"
	st.s = suiteCBC128
	if d := agreeErr(show, get, ch, st, []string{"net4", "net6"}); d == "" {
		t.Error("agreeErr accepted different SPIs")
	}
}

func TestViewsEmpty(t *testing.T) {
	if v, err := viewsFromShow(""); err != nil || len(v) != 0 {
		t.Errorf("empty show: %v, %v", v, err)
	}
	if v, err := viewsFromGet(`<data/>`); err != nil || len(v) != 0 {
		t.Errorf("empty get: %v, %v", v, err)
	}
	if v := viewsFromCharon(listSAsRaw("")); len(v) != 0 {
		t.Errorf("empty swanctl: %v", v)
	}
	if _, err := viewsFromShow("  net4: #2, reqid 2, INSTALLED, TUNNEL, esp:aes128-cbc\n"); err == nil {
		t.Error("a child SA line without its IKE SA was accepted")
	}
}
