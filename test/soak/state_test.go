package soak

import (
	"fmt"
	"slices"
	"strings"

	"secgw/internal/swanctl"
)

// ikeSA is an ike-sa entry of <get>, or charon's view turned into the
// same vocabulary from its peer's side.
type ikeSA struct {
	VPN, State string
	SPIi, SPIr string
	Children   []childSA
}

// childSA is a child-sa entry: in and out as seen by the side that holds
// the ike-sa.
type childSA struct {
	Name, State   string
	SPIIn, SPIOut string
	ReqID         string
}

// stateFilter selects vrf main's ike state in <get>.
const stateFilter = `<get><filter type="subtree"><vrf xmlns="` + nsVRF + `"><name>main</name>` +
	`<ike xmlns="` + nsIKE + `"><ike-sa/><diagnostics/></ike></vrf></filter></get>`

// ikeState is what the soak reads from a secgwd's <get>.
type ikeState struct {
	SAs []ikeSA
	// The dataplane's SAs and policies and the goroutine count of the
	// diagnostics container.
	DPSAs, DPPolicies []string
	Goroutines        int
	HasDiagnostics    bool
}

func parseState(data string) (ikeState, error) {
	root, err := parseXML(data)
	if err != nil {
		return ikeState{}, err
	}
	var st ikeState
	for _, vrf := range root.child("data").all("vrf") {
		ike := vrf.child("ike")
		for _, sa := range ike.all("ike-sa") {
			s := ikeSA{VPN: sa.textOf("name"), State: strings.ToUpper(sa.textOf("state")),
				SPIi: sa.textOf("initiator-spi"), SPIr: sa.textOf("responder-spi")}
			for _, c := range sa.all("child-sa") {
				s.Children = append(s.Children, childSA{Name: c.textOf("name"), State: strings.ToUpper(c.textOf("state")),
					SPIIn: c.textOf("spi-in"), SPIOut: c.textOf("spi-out"), ReqID: c.textOf("reqid")})
			}
			st.SAs = append(st.SAs, s)
		}
		if d := ike.child("diagnostics"); d != nil {
			st.HasDiagnostics = true
			for _, s := range d.all("dataplane-sa") {
				st.DPSAs = append(st.DPSAs, s.text)
			}
			for _, p := range d.all("dataplane-policy") {
				st.DPPolicies = append(st.DPPolicies, p.text)
			}
			fmt.Sscan(d.textOf("goroutines"), &st.Goroutines)
		}
	}
	return st, nil
}

// fromCharon turns charon's IKE SAs into its peer's point of view (in and
// out swapped).
func fromCharon(sas []swanctl.Section) []ikeSA {
	var out []ikeSA
	for _, sa := range sas {
		kv := sa.KV
		s := ikeSA{VPN: sa.Name, State: kv["state"], SPIi: kv["initiator-spi"], SPIr: kv["responder-spi"]}
		if cs := sa.Sub["child-sas"]; cs != nil {
			for _, name := range cs.Order {
				c := cs.Sub[name].KV
				s.Children = append(s.Children, childSA{Name: c["name"], State: c["state"], SPIIn: c["spi-out"], SPIOut: c["spi-in"]})
			}
		}
		out = append(out, s)
	}
	return out
}

// swapped is a secgwd peer's IKE SA seen from the other side.
func (s ikeSA) swapped() ikeSA {
	s.Children = slices.Clone(s.Children)
	for i := range s.Children {
		c := &s.Children[i]
		c.SPIIn, c.SPIOut, c.ReqID = c.SPIOut, c.SPIIn, ""
	}
	return s
}

// agreeKeys are the established IKE SAs and their installed child SAs of
// one VPN, as sorted lines that both sides of a tunnel must share.
func agreeKeys(sas []ikeSA, vpn string) []string {
	var out []string
	for _, s := range sas {
		if s.VPN != vpn || s.State != "ESTABLISHED" {
			continue
		}
		out = append(out, "ike "+s.SPIi+" "+s.SPIr)
		for _, c := range s.Children {
			if c.State == "INSTALLED" {
				out = append(out, fmt.Sprintf("child %s %s in %s out %s", s.SPIi, c.Name, c.SPIIn, c.SPIOut))
			}
		}
	}
	slices.Sort(out)
	return out
}
