package loadtest

import (
	"encoding/xml"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"secgw/generated"
	"secgw/internal/ncclient"
	"secgw/internal/schema"
	"secgw/internal/xmlcodec"
)

// The benchmark of secgwd itself: secgwd is given, over NETCONF, the
// configuration the responder runs (ResponderIKE), and its IKE SAs are
// counted from its own state.

// XML namespaces of vrf and ike.
const (
	nsVRF = "urn:secgw:yang:secgw-vrf"
	nsIKE = "urn:secgw:yang:secgw-ike"
)

// SecgwdConfig returns the <config> content of an edit-config that gives
// secgwd the responder's configuration (ResponderIKE) in vrf main.
func SecgwdConfig(o ResponderOptions) ([]byte, error) {
	s, err := schema.Load()
	if err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	d := &generated.Device{}
	d.GetOrCreateVrf("main").Ike = ResponderIKE(o)
	c, err := xmlcodec.New(s)
	if err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	b, err := c.Append(nil, d, xmlcodec.EncodeOptions{Config: true, Secrets: true})
	if err != nil {
		return nil, fmt.Errorf("loadtest: encoding the configuration of secgwd: %w", err)
	}
	return b, nil
}

// ConfigureSecgwd merges SecgwdConfig(o) into the candidate of the
// NETCONF session s and commits it.
func ConfigureSecgwd(s *ncclient.Session, o ResponderOptions) error {
	cfg, err := SecgwdConfig(o)
	if err != nil {
		return err
	}
	if o.Cert != "" {
		// The store's files, by the load-pki-file RPC.
		for _, f := range []string{PKIGW + ".crt", PKIGW + ".key", PKIRoot} {
			b, err := os.ReadFile(filepath.Join(o.Cert, f))
			if err != nil {
				return fmt.Errorf("loadtest: %w", err)
			}
			var esc strings.Builder
			xml.EscapeText(&esc, b)
			if msg, err := s.Do(`<load-pki-file xmlns="` + nsIKE + `"><file>` + f + `</file><content>` + esc.String() + `</content></load-pki-file>`); err != nil {
				return fmt.Errorf("loadtest: load-pki-file %s: %v\n%s", f, err, msg)
			}
		}
	}
	if msg, err := s.Do("<edit-config><target><candidate/></target><config>" + string(cfg) + "</config></edit-config>"); err != nil {
		return fmt.Errorf("loadtest: edit-config: %v\n%s", err, msg)
	}
	if msg, err := s.Do("<commit/>"); err != nil {
		return fmt.Errorf("loadtest: commit: %v\n%s", err, msg)
	}
	return nil
}

// SecgwdSAs counts secgwd's IKE SAs by state, and their child SAs by
// state, from the ike-sa list of vrf main.
type SecgwdSAs struct {
	IKE, Child map[string]int
	// Held counts the IKE SAs a peer holds: established or in a rekey
	// (rekeying), with at least one child SA in any state. An IKE SA a
	// rekey replaced (rekeyed, deleting) is not counted: while an IKE SA
	// rekey overlaps, the peer holds one.
	Held int
}

// CountSecgwdSAs reads the state of secgwd's IKE SAs and their child SAs
// over the NETCONF session s.
func CountSecgwdSAs(s *ncclient.Session) (SecgwdSAs, error) {
	msg, err := s.Do(`<get><filter type="subtree"><vrf xmlns="` + nsVRF + `"><name>main</name><ike xmlns="` + nsIKE +
		`"><ike-sa><state/><child-sa><state/></child-sa></ike-sa></ike></vrf></filter></get>`)
	if err != nil {
		return SecgwdSAs{}, fmt.Errorf("loadtest: get ike-sa: %v", err)
	}
	var reply struct {
		VRF []struct {
			IKE struct {
				SA []struct {
					State string `xml:"state"`
					Child []struct {
						State string `xml:"state"`
					} `xml:"child-sa"`
				} `xml:"ike-sa"`
			} `xml:"ike"`
		} `xml:"data>vrf"`
	}
	if err := xml.Unmarshal(msg, &reply); err != nil {
		return SecgwdSAs{}, fmt.Errorf("loadtest: get ike-sa reply: %w", err)
	}
	n := SecgwdSAs{IKE: map[string]int{}, Child: map[string]int{}}
	for _, v := range reply.VRF {
		for _, sa := range v.IKE.SA {
			n.IKE[sa.State]++
			if (sa.State == "established" || sa.State == "rekeying") && len(sa.Child) > 0 {
				n.Held++
			}
			for _, c := range sa.Child {
				n.Child[c.State]++
			}
		}
	}
	return n, nil
}
