package cli

import (
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"

	"secgw/generated"
)

// showPool runs 'show ike pool [vrf NAME] [POOL]': the usage of every
// virtual IP pool (ike pools and ha pools) from the pool-state of <get>,
// and with a pool name its leases. The leases of all pools are not listed
// at once: a concentrator holds thousands.
func (c *CLI) showPool(words []string) error {
	vrf, name := "main", ""
	for i := 0; i < len(words); i++ {
		switch {
		case words[i] == "vrf" && i+1 < len(words):
			i++
			vrf = words[i]
		case words[i] == "vrf":
			return fmt.Errorf("cli: show ike pool vrf needs a value")
		case name == "":
			name = words[i]
		default:
			return fmt.Errorf("cli: unknown word %q after show ike pool %s", words[i], name)
		}
	}
	path := []string{"vrf", vrf, "ike", "pool-state"}
	if name != "" {
		path = append(path, name)
	}
	d, err := c.getState(path, false)
	if err != nil {
		return err
	}
	var pools []*generated.SecgwVrf_Vrf_Ike_PoolState
	if v := d.Vrf[vrf]; v != nil && v.Ike != nil {
		for _, p := range v.Ike.PoolState {
			pools = append(pools, p)
		}
	}
	sort.Slice(pools, func(i, j int) bool { return str(pools[i].Name) < str(pools[j].Name) })
	if name != "" && len(pools) == 0 {
		return fmt.Errorf("cli: show ike pool: no pool %s", name)
	}
	_, err = io.WriteString(c.out, poolTable(pools, name != ""))
	return err
}

// poolTable is the table of 'show ike pool', and with leases one table
// of leases per pool under it.
func poolTable(pools []*generated.SecgwVrf_Vrf_Ike_PoolState, leases bool) string {
	rows := [][]string{{"Pool", "Type", "Size", "Leased", "Held", "Failures"}}
	for _, p := range pools {
		typ := "ike"
		if p.GetHa() {
			typ = "ha"
		}
		rows = append(rows, []string{str(p.Name), typ, strconv.FormatUint(p.GetSize(), 10),
			strconv.FormatUint(uint64(p.GetLeased()), 10), strconv.FormatUint(uint64(p.GetHeld()), 10),
			strconv.FormatUint(p.GetAddressFailures(), 10)})
	}
	out := table(rows)
	if !leases {
		return out
	}
	for _, p := range pools {
		rows := [][]string{{"Address", "Identity", "State"}}
		var ls []*generated.SecgwVrf_Vrf_Ike_PoolState_Lease
		for _, l := range p.Lease {
			ls = append(ls, l)
		}
		sort.Slice(ls, func(i, j int) bool { return addrLess(str(ls[i].Address), str(ls[j].Address)) })
		for _, l := range ls {
			st := "reserved"
			if n := l.GetHolders(); n > 0 {
				st = "held by " + strconv.FormatUint(uint64(n), 10) + " IKE SA"
				if n > 1 {
					st += "s"
				}
			}
			rows = append(rows, []string{str(l.Address), str(l.Identity), st})
		}
		out += "\n" + table(rows)
	}
	return out
}

// addrLess orders addresses numerically (IPv4 first), others as text.
func addrLess(a, b string) bool {
	x, errx := netip.ParseAddr(a)
	y, erry := netip.ParseAddr(b)
	if errx != nil || erry != nil {
		return a < b
	}
	return x.Less(y)
}
