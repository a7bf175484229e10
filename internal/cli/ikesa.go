package cli

import (
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"secgw/generated"
	"secgw/internal/ptr"
)

// ikeSAOptions are the words 'show ike ike-sa' takes: a view, and
// filters that select SAs (the concentrator guide retrieves "the details
// of a particular one either from its originating IP address or from
// its originating ID").
var ikeSAOptions = []Cand{
	{Word: "details", Help: "Details of the IKE SAs and their child SAs"},
	{Word: "with-keys", Help: "Details, with the keys"},
	{Word: "vrf", Help: "The vrf (default main) <name>"},
	{Word: "vpn", Help: "Only the SAs of this VPN <name>"},
	{Word: "unique-id", Help: "Only the IKE SA with this unique id <uint32>"},
	{Word: "remote-address", Help: "Only the SAs with this peer address <ip-address>"},
	{Word: "remote-id", Help: "Only the SAs with this peer identity <string>"},
}

// saQuery is a parsed 'show ike ike-sa'.
type saQuery struct {
	details, keys bool
	vrf           string
	filters       map[string]string
}

func parseSAQuery(words []string) (*saQuery, error) {
	q := &saQuery{vrf: "main", filters: map[string]string{}}
	for i := 0; i < len(words); i++ {
		switch w := words[i]; w {
		case "details":
			q.details = true
		case "with-keys":
			q.details, q.keys = true, true
		case "vrf", "vpn", "unique-id", "remote-address", "remote-id":
			if i+1 >= len(words) {
				return nil, fmt.Errorf("cli: show ike ike-sa %s needs a value", w)
			}
			i++
			if w == "vrf" {
				q.vrf = words[i]
			} else {
				q.filters[w] = words[i]
			}
		default:
			return nil, fmt.Errorf("cli: unknown word %q after show ike ike-sa: expected one of details, with-keys, vrf, vpn, unique-id, remote-address, remote-id", w)
		}
	}
	return q, nil
}

func (q *saQuery) match(sa *generated.SecgwVrf_Vrf_Ike_IkeSa) bool {
	for k, v := range q.filters {
		var got string
		switch k {
		case "vpn":
			got = str(sa.Name)
		case "unique-id":
			got = strconv.FormatUint(uint64(u32(sa.UniqueId)), 10)
		case "remote-address":
			got = str(sa.RemoteAddress)
		case "remote-id":
			got = str(sa.RemoteId)
		}
		if got != v {
			return false
		}
	}
	return true
}

// showIkeSA runs 'show ike ike-sa [details|with-keys] [vrf NAME] ...'
// from the ike-sa and child-sa state of <get>.
func (c *CLI) showIkeSA(words []string) error {
	q, err := parseSAQuery(words)
	if err != nil {
		return err
	}
	// The keys come only when asked: the server sends them to a filter
	// that names them.
	d, err := c.getState([]string{"vrf", q.vrf, "ike", "ike-sa"}, q.keys)
	if err != nil {
		return err
	}
	var sas []*generated.SecgwVrf_Vrf_Ike_IkeSa
	if v := d.Vrf[q.vrf]; v != nil && v.Ike != nil {
		for _, sa := range v.Ike.IkeSa {
			if q.match(sa) {
				sas = append(sas, sa)
			}
		}
	}
	sort.Slice(sas, func(i, j int) bool { return u32(sas[i].UniqueId) < u32(sas[j].UniqueId) })
	var out string
	if q.details {
		out = c.saDetails(sas, q.keys)
	} else {
		out = c.saSummary(sas)
	}
	_, err = io.WriteString(c.out, out)
	return err
}

// saSummary is the table of 'show ike ike-sa': columns left-aligned to
// their widest cell, one space apart, the last one unpadded.
func (c *CLI) saSummary(sas []*generated.SecgwVrf_Vrf_Ike_IkeSa) string {
	rows := [][]string{{"VPN", "Local-Addr", "Local-ID", "Remote-Addr", "Remote-ID", "State", "Child-SAs"}}
	for _, sa := range sas {
		rows = append(rows, []string{str(sa.Name), str(sa.LocalAddress), str(sa.LocalId),
			str(sa.RemoteAddress), str(sa.RemoteId), c.enum(sa.State), strconv.Itoa(len(sa.ChildSa))})
	}
	return table(rows)
}

func table(rows [][]string) string {
	widths := make([]int, len(rows[0]))
	for _, r := range rows {
		for i, cell := range r {
			widths[i] = max(widths[i], len(cell))
		}
	}
	var b strings.Builder
	for _, r := range rows {
		for i, cell := range r {
			b.WriteString(cell)
			if i < len(r)-1 {
				b.WriteString(strings.Repeat(" ", widths[i]-len(cell)+1))
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// saDetails is 'show ike ike-sa details' (and with-keys), in the layout
// of strongSwan's 'swanctl --list-sas' the guide shows.
func (c *CLI) saDetails(sas []*generated.SecgwVrf_Vrf_Ike_IkeSa, keys bool) string {
	var b strings.Builder
	for _, sa := range sas {
		version := u8(sa.Version)
		if version == 0 {
			version = 2
		}
		fmt.Fprintf(&b, "%s: #%d, %s, IKEv%d, %s_i %s_r\n", str(sa.Name), u32(sa.UniqueId),
			strings.ToUpper(c.enum(sa.State)), version, str(sa.InitiatorSpi), str(sa.ResponderSpi))
		fmt.Fprintf(&b, "  local  '%s' @ %s[%d]%s\n", str(sa.LocalId), str(sa.LocalAddress), u16(sa.LocalPort), vips(sa.LocalVip))
		fmt.Fprintf(&b, "  remote '%s' @ %s[%d]%s\n", str(sa.RemoteId), str(sa.RemoteAddress), u16(sa.RemotePort), vips(sa.RemoteVip))
		algs := c.algs(sa.EncAlg, sa.AuthAlg, sa.AeadAlg)
		if sa.PrfAlg != 0 {
			algs = append(algs, "prf:"+c.enum(sa.PrfAlg))
		}
		if sa.DhGroup != 0 {
			algs = append(algs, c.enum(sa.DhGroup))
		}
		for _, k := range sa.AdditionalKeyExchange {
			algs = append(algs, c.enum(k)) // RFC 9370, in the order they ran
		}
		if sa.PpkUsed != nil && *sa.PpkUsed {
			algs = append(algs, "PPK")
		}
		if len(algs) > 0 {
			b.WriteString("  " + strings.Join(algs, "/") + "\n")
		}
		if keys {
			for _, k := range []struct {
				name string
				v    *string
			}{{"sk_ei", sa.SkEi}, {"sk_er", sa.SkEr}, {"sk_ai", sa.SkAi}, {"sk_ar", sa.SkAr}} {
				if k.v != nil {
					b.WriteString("  " + k.name + " " + *k.v + "\n")
				}
			}
		}
		if sa.EstablishedTime != nil {
			fmt.Fprintf(&b, "  established %ds ago", *sa.EstablishedTime)
			if sa.RekeyTime != nil && *sa.RekeyTime > 0 {
				fmt.Fprintf(&b, ", rekeying in %ds", *sa.RekeyTime)
			}
			if sa.ReauthTime != nil && *sa.ReauthTime > 0 {
				fmt.Fprintf(&b, ", reauth in %ds", *sa.ReauthTime)
			}
			b.WriteByte('\n')
		}
		ids := make([]uint32, 0, len(sa.ChildSa))
		for id := range sa.ChildSa {
			ids = append(ids, id)
		}
		sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
		for _, id := range ids {
			c.childDetails(&b, sa.ChildSa[id], keys)
		}
	}
	return b.String()
}

// childDetails writes one child SA. As in swanctl, the line after the
// mode ends only when the SA has a protocol (an installed SA): a deleted
// one runs on into its traffic selectors, which the guide's output
// after a child rekey shows ("DELETED, TUNNEL    local  ...").
func (c *CLI) childDetails(b *strings.Builder, ch *generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa, keys bool) {
	encap := ""
	if ch.UdpEncap != nil && *ch.UdpEncap {
		encap = "-in-UDP"
	}
	fmt.Fprintf(b, "  %s: #%d, reqid %d, %s, %s%s", str(ch.Name), u32(ch.UniqueId), u32(ch.Reqid),
		strings.ToUpper(c.enum(ch.State)), strings.ToUpper(c.enum(ch.Mode)), encap)
	if ch.Protocol != 0 {
		algs := c.algs(ch.EncAlg, ch.AuthAlg, ch.AeadAlg)
		if ch.DhGroup != 0 {
			algs = append(algs, c.enum(ch.DhGroup))
		}
		if ch.Esn != nil && *ch.Esn {
			algs = append(algs, "ESN")
		}
		fmt.Fprintf(b, ", %s:%s\n", c.enum(ch.Protocol), strings.Join(algs, "/"))
		b.WriteString("    installed " + strconv.FormatUint(u64(ch.InstalledTime), 10) + "s ago")
		if ch.RekeyTime != nil && *ch.RekeyTime > 0 {
			fmt.Fprintf(b, ", rekeying in %ds", *ch.RekeyTime)
		}
		if ch.LifeTime != nil && *ch.LifeTime > 0 {
			fmt.Fprintf(b, ", expires in %ds", *ch.LifeTime)
		}
		b.WriteByte('\n')
		fmt.Fprintf(b, "    in  %s, %d bytes, %d packets\n", str(ch.SpiIn), u64(ch.BytesIn), u64(ch.PacketsIn))
		// The inbound drops only when there are some: the guide's
		// layout (swanctl's, which has no such line) stays as it is for
		// a healthy SA, and a line appears when the SA is attacked or
		// the path corrupts packets.
		if replay, integ := u64(ch.ReplayErrorsIn), u64(ch.IntegrityErrorsIn); replay != 0 || integ != 0 {
			fmt.Fprintf(b, "    in  errors %d replay, %d integrity\n", replay, integ)
		}
		fmt.Fprintf(b, "    out %s, %d bytes, %d packets\n", str(ch.SpiOut), u64(ch.BytesOut), u64(ch.PacketsOut))
		if keys {
			for _, k := range []struct {
				name string
				v    *string
			}{{"encr-key-in", ch.EncrKeyIn}, {"encr-key-out", ch.EncrKeyOut}, {"integ-key-in", ch.IntegKeyIn}, {"integ-key-out", ch.IntegKeyOut}} {
				if k.v != nil {
					b.WriteString("    " + k.name + " " + *k.v + "\n")
				}
			}
		}
	}
	local, remote := childTS(ch)
	b.WriteString("    local  " + strings.Join(local, " ") + "\n")
	b.WriteString("    remote " + strings.Join(remote, " ") + "\n")
}

// algs lists the encryption and integrity algorithms, or the AEAD one.
func (c *CLI) algs(enc, auth, aead any) []string {
	var out []string
	for _, v := range []any{enc, auth, aead} {
		if s := c.enum(v); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// enum returns the YANG name of an enum value, "" when unset.
func (c *CLI) enum(v any) string {
	s, _ := c.s.Format(reflect.ValueOf(v))
	return s
}

// childTS returns the traffic selectors of a child SA, all of them when
// the traffic-selectors lists are there, else the first of each side.
func childTS(ch *generated.SecgwVrf_Vrf_Ike_IkeSa_ChildSa) (local, remote []string) {
	if ts := ch.TrafficSelectors; ts != nil && (len(ts.LocalTs) > 0 || len(ts.RemoteTs) > 0) {
		for _, id := range sortedIDs(ts.LocalTs) {
			e := ts.LocalTs[id]
			local = append(local, tsString(e.Subnet, e.Protocol, e.Port))
		}
		for _, id := range sortedIDs(ts.RemoteTs) {
			e := ts.RemoteTs[id]
			remote = append(remote, tsString(e.Subnet, e.Protocol, e.Port))
		}
		return local, remote
	}
	if l := ch.LocalTs; l != nil {
		local = append(local, tsString(l.Subnet, l.Protocol, l.Port))
	}
	if r := ch.RemoteTs; r != nil {
		remote = append(remote, tsString(r.Subnet, r.Protocol, r.Port))
	}
	return local, remote
}

func sortedIDs[V any](m map[uint32]V) []uint32 {
	ids := make([]uint32, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

// protoNames are the IP protocols strongSwan prints by name in traffic
// selectors.
var protoNames = map[uint8]string{1: "icmp", 6: "tcp", 17: "udp", 58: "ipv6-icmp", 132: "sctp"}

// tsString prints a traffic selector as strongSwan does:
// "10.0.0.0/24", "10.0.0.0/24[tcp]", "10.0.0.0/24[tcp/443]".
func tsString(subnet *string, proto *uint8, port *uint16) string {
	s := "0.0.0.0/0"
	if subnet != nil {
		s = *subnet
	}
	if proto == nil && port == nil {
		return s
	}
	p := ""
	if proto != nil {
		p = protoNames[*proto]
		if p == "" {
			p = strconv.Itoa(int(*proto))
		}
	}
	if port != nil {
		p += "/" + strconv.Itoa(int(*port))
	}
	return s + "[" + p + "]"
}

func vips(vs []string) string {
	var b strings.Builder
	for _, v := range vs {
		b.WriteString(" [" + v + "]")
	}
	return b.String()
}

// str returns a string leaf for display (see printable).
func str(p *string) string { return printable(ptr.Val(p)) }

// The optional leaves of the state tree, nil read as zero.
var (
	u8  = ptr.Val[uint8]
	u16 = ptr.Val[uint16]
	u32 = ptr.Val[uint32]
	u64 = ptr.Val[uint64]
)
