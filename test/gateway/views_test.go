package gateway

import (
	"encoding/xml"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// saView is one IKE SA as seen from secgwd's side, in the vocabulary of
// `secgw show ike ike-sa details`: the three views of the tunnel (the
// CLI's text, <get>, charon's swanctl --list-sas) are each turned into it
// and must be equal.
type saView struct {
	State string // ESTABLISHED
	// Endpoints are secgwd's then the peer's address[port]: the ports
	// the IKE SA really uses (4500 once floated, RFC 7296 §2.23).
	Endpoints  string
	SPIi, SPIr string // 16 hex digits
	Algs       string // aes256-gcm-128/prf:hmac-sha256/ecp256
	Children   []childView
}

// childView is one child SA seen from secgwd's side: in is what secgwd
// receives, local its selector.
type childView struct {
	Name          string
	State         string // INSTALLED
	Encap         bool   // ESP in UDP
	SPIIn, SPIOut string // 8 hex digits
	Algs          string // aes256-gcm-128
	Local, Remote string // selectors
	// Packets counted in and out; not compared between views (a view
	// taken a moment later may count more), only checked for traffic.
	PacketsIn, PacketsOut uint64
}

func (v saView) String() string {
	s := fmt.Sprintf("%s %s %s_i %s_r %s", v.State, v.Endpoints, v.SPIi, v.SPIr, v.Algs)
	for _, c := range v.Children {
		s += fmt.Sprintf("\n  %s %s encap=%v in %s out %s %s %s === %s", c.Name, c.State, c.Encap, c.SPIIn, c.SPIOut, c.Algs, c.Local, c.Remote)
	}
	return s
}

// comparable returns v without the counters, children sorted by name.
func (v saView) comparable() saView {
	v.Children = slices.Clone(v.Children)
	for i := range v.Children {
		v.Children[i].PacketsIn, v.Children[i].PacketsOut = 0, 0
	}
	slices.SortFunc(v.Children, func(a, b childView) int { return strings.Compare(a.Name, b.Name) })
	return v
}

// Lines of `show ike ike-sa details` (see internal/cli's saDetails).
var (
	showIKELine   = regexp.MustCompile(`^(\S+): #\d+, (\w+), IKEv2, ([0-9a-f]{16})_i ([0-9a-f]{16})_r$`)
	showAlgsLine  = regexp.MustCompile(`^  ([a-z0-9:/-]+)$`)
	showChildLine = regexp.MustCompile(`^  (\S+): #\d+, reqid \d+, (\w+), (\w+?)(-in-UDP)?, esp:(\S+)$`)
	showSPILine   = regexp.MustCompile(`^    (in|out) +([0-9a-f]{8}), \d+ bytes, (\d+) packets$`)
	showTSLine    = regexp.MustCompile(`^    (local|remote) +(.*)$`)
	showPeerLine  = regexp.MustCompile(`^  (local|remote) +'.*' @ (\S+\[\d+\])`)
)

// viewsFromShow parses `secgw show ike ike-sa details`.
func viewsFromShow(text string) ([]saView, error) {
	var out []saView
	for _, l := range strings.Split(text, "\n") {
		if l == "" {
			continue
		}
		if m := showIKELine.FindStringSubmatch(l); m != nil {
			out = append(out, saView{State: m[2], SPIi: m[3], SPIr: m[4]})
			continue
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("show: line before the first IKE SA: %q", l)
		}
		sa := &out[len(out)-1]
		if m := showChildLine.FindStringSubmatch(l); m != nil {
			sa.Children = append(sa.Children, childView{Name: m[1], State: m[2], Encap: m[4] != "", Algs: m[5]})
			continue
		}
		if m := showAlgsLine.FindStringSubmatch(l); m != nil && len(sa.Children) == 0 {
			sa.Algs = m[1]
			continue
		}
		if m := showPeerLine.FindStringSubmatch(l); m != nil && len(sa.Children) == 0 {
			sa.Endpoints = strings.TrimSpace(sa.Endpoints + " " + m[2]) // local, then remote
			continue
		}
		if len(sa.Children) == 0 {
			continue // established line
		}
		c := &sa.Children[len(sa.Children)-1]
		if m := showSPILine.FindStringSubmatch(l); m != nil {
			n, _ := strconv.ParseUint(m[3], 10, 64)
			if m[1] == "in" {
				c.SPIIn, c.PacketsIn = m[2], n
			} else {
				c.SPIOut, c.PacketsOut = m[2], n
			}
		} else if m := showTSLine.FindStringSubmatch(l); m != nil {
			if m[1] == "local" {
				c.Local = m[2]
			} else {
				c.Remote = m[2]
			}
		}
	}
	return out, nil
}

// getIKESA is an ike-sa entry of <get> (secgw-ike.yang's state).
type getIKESA struct {
	Name     string `xml:"name"`
	State    string `xml:"state"`
	LAddr    string `xml:"local-address"`
	LPort    string `xml:"local-port"`
	RAddr    string `xml:"remote-address"`
	RPort    string `xml:"remote-port"`
	SPIi     string `xml:"initiator-spi"`
	SPIr     string `xml:"responder-spi"`
	Enc      string `xml:"enc-alg"`
	Auth     string `xml:"auth-alg"`
	AEAD     string `xml:"aead-alg"`
	PRF      string `xml:"prf-alg"`
	DH       string `xml:"dh-group"`
	ChildSAs []struct {
		Name       string `xml:"name"`
		State      string `xml:"state"`
		Mode       string `xml:"mode"`
		Encap      bool   `xml:"udp-encap"`
		SPIIn      string `xml:"spi-in"`
		SPIOut     string `xml:"spi-out"`
		Enc        string `xml:"enc-alg"`
		Auth       string `xml:"auth-alg"`
		AEAD       string `xml:"aead-alg"`
		PacketsIn  uint64 `xml:"packets-in"`
		PacketsOut uint64 `xml:"packets-out"`
		Local      string `xml:"local-ts>subnet"`
		Remote     string `xml:"remote-ts>subnet"`
	} `xml:"child-sa"`
}

// getFilter selects vrf main's ike-sa state in <get>.
const getFilter = `<get><filter type="subtree"><vrf xmlns="` + nsVRF + `"><name>main</name>` +
	`<ike xmlns="` + nsIKE + `"><ike-sa/></ike></vrf></filter></get>`

// viewsFromGet parses the data of <get> with getFilter.
func viewsFromGet(data string) ([]saView, error) {
	var d struct {
		VRF []struct {
			Name string     `xml:"name"`
			SAs  []getIKESA `xml:"ike>ike-sa"`
		} `xml:"vrf"`
	}
	// The reply's content is the <data> element.
	if err := xml.Unmarshal([]byte(data), &d); err != nil {
		return nil, fmt.Errorf("get: %v", err)
	}
	var out []saView
	for _, v := range d.VRF {
		for _, sa := range v.SAs {
			algs := joinAlgs(sa.Enc, sa.Auth, sa.AEAD)
			if sa.PRF != "" {
				algs += "/prf:" + sa.PRF
			}
			if sa.DH != "" {
				algs += "/" + sa.DH
			}
			view := saView{State: strings.ToUpper(sa.State), SPIi: sa.SPIi, SPIr: sa.SPIr, Algs: algs,
				Endpoints: sa.LAddr + "[" + sa.LPort + "] " + sa.RAddr + "[" + sa.RPort + "]"}
			for _, c := range sa.ChildSAs {
				view.Children = append(view.Children, childView{Name: c.Name, State: strings.ToUpper(c.State),
					Encap: c.Encap, SPIIn: c.SPIIn, SPIOut: c.SPIOut, Algs: joinAlgs(c.Enc, c.Auth, c.AEAD),
					Local: c.Local, Remote: c.Remote, PacketsIn: c.PacketsIn, PacketsOut: c.PacketsOut})
			}
			out = append(out, view)
		}
	}
	return out, nil
}

func joinAlgs(algs ...string) string {
	return strings.Join(slices.DeleteFunc(algs, func(s string) bool { return s == "" }), "/")
}

// viewsFromCharon turns charon's IKE SAs (swanctl --list-sas --raw) into
// secgwd's point of view: SPIs in and out, and selectors, swapped;
// algorithm names translated to the vsr ones.
func viewsFromCharon(sas []rawSection) []saView {
	var out []saView
	for _, sa := range sas {
		kv := sa.KV
		algs := joinAlgs(charonEncr(kv), charonName(kv["integ-alg"]))
		if p := kv["prf-alg"]; p != "" {
			algs += "/prf:" + charonName(strings.TrimPrefix(p, "PRF_"))
		}
		if g := kv["dh-group"]; g != "" {
			algs += "/" + charonName(g)
		}
		view := saView{State: kv["state"], SPIi: kv["initiator-spi"], SPIr: kv["responder-spi"], Algs: algs,
			Endpoints: kv["remote-host"] + "[" + kv["remote-port"] + "] " + kv["local-host"] + "[" + kv["local-port"] + "]"}
		if cs := sa.Sub["child-sas"]; cs != nil {
			for _, name := range cs.Order {
				c := cs.Sub[name].KV
				in, _ := strconv.ParseUint(c["packets-out"], 10, 64)
				outp, _ := strconv.ParseUint(c["packets-in"], 10, 64)
				view.Children = append(view.Children, childView{Name: c["name"], State: c["state"],
					Encap: c["encap"] == "yes", SPIIn: c["spi-out"], SPIOut: c["spi-in"],
					Algs:  joinAlgs(charonEncr(c), charonName(c["integ-alg"])),
					Local: strings.Trim(c["remote-ts"], "[]"), Remote: strings.Trim(c["local-ts"], "[]"),
					PacketsIn: in, PacketsOut: outp})
			}
		}
		out = append(out, view)
	}
	return out
}

// charonEncr is the vsr name of charon's encr-alg with its key size.
func charonEncr(kv map[string]string) string {
	ks := kv["encr-keysize"]
	switch kv["encr-alg"] {
	case "":
		return ""
	case "AES_CBC":
		return "aes" + ks + "-cbc"
	case "AES_GCM_16":
		return "aes" + ks + "-gcm-128"
	case "AES_GCM_12":
		return "aes" + ks + "-gcm-96"
	case "AES_GCM_8":
		return "aes" + ks + "-gcm-64"
	case "CHACHA20_POLY1305":
		return "chacha20-poly1305"
	}
	return "?" + kv["encr-alg"]
}

// charonName is the vsr name of charon's integrity, PRF (without PRF_)
// and DH names; an unknown one comes back marked, to show in a mismatch.
func charonName(s string) string {
	names := map[string]string{
		"HMAC_SHA1_96": "hmac-sha1", "HMAC_SHA2_256_128": "hmac-sha256", "HMAC_SHA2_384_192": "hmac-sha384",
		"HMAC_SHA2_512_256": "hmac-sha512", "HMAC_SHA1": "hmac-sha1", "HMAC_SHA2_256": "hmac-sha256",
		"HMAC_SHA2_384": "hmac-sha384", "HMAC_SHA2_512": "hmac-sha512",
		"MODP_2048": "modp2048", "MODP_3072": "modp3072", "MODP_4096": "modp4096",
		"ECP_256": "ecp256", "ECP_384": "ecp384", "ECP_521": "ecp521", "CURVE_25519": "curve25519",
	}
	if s == "" {
		return ""
	}
	if n, ok := names[s]; ok {
		return n
	}
	return "?" + s
}
