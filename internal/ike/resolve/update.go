package resolve

import (
	"fmt"
	"reflect"
	"slices"
	"unique"

	"secgw/generated"
	"secgw/internal/ike/config"
	"secgw/internal/schema"
)

// Changes says what a commit changed in the ike container of a vrf, in
// the terms Update needs: which VPNs, templates and ppks, whether the
// global options changed, or that something Update does not follow
// changed (All: resolve everything).
type Changes struct {
	All, Global, PPKs bool
	// VPNs, IKETemplates and IPsecTemplates are the names of the
	// changed (added, modified, removed) entries.
	VPNs, IKETemplates, IPsecTemplates map[string]bool
}

// ChangesOf sorts the changed paths of a commit (datastore.Change.Path)
// that concern the ike container of vrf. A change of the vrf or of the
// ike container itself (enabled, dataplane) is All; one below a vpn,
// template or ppk entry names the entry; what resolution does not read
// (logging, pools, ha, other vrfs) is left out.
func ChangesOf(vrf string, paths []schema.DataPath) Changes {
	var ch Changes
	for _, p := range paths {
		if len(p) == 0 {
			ch.All = true
			continue
		}
		if p[0].Name != "vrf" || p[0].Key != vrf {
			continue
		}
		if len(p) < 2 || (len(p) == 2 && p[1].Name == "ike") {
			ch.All = true
			continue
		}
		if p[1].Name != "ike" {
			continue
		}
		switch e := p[2]; e.Name {
		case "vpn":
			ch.VPNs = addName(ch.VPNs, e.Key)
		case "ike-policy-template":
			ch.IKETemplates = addName(ch.IKETemplates, e.Key)
		case "ipsec-policy-template":
			ch.IPsecTemplates = addName(ch.IPsecTemplates, e.Key)
		case "ppk":
			ch.PPKs = true
		case "global-options":
			ch.Global = true
		}
	}
	return ch
}

func addName(m map[string]bool, n string) map[string]bool {
	if m == nil {
		m = map[string]bool{}
	}
	m[n] = true
	return m
}

// The dependency keys of config.Entry.Uses: what a VPN inherits from.
func ikeTemplateKey(n string) string   { return "ike-policy-template " + n }
func ipsecTemplateKey(n string) string { return "ipsec-policy-template " + n }
func ppkKey(n string) string           { return "ppk " + n }

// uses lists the dependency keys of a VPN. The keys are interned, and so
// is the list (shareUses): 100k VPNs of one template hold one copy.
func uses(v *generated.SecgwVrf_Vrf_Ike_Vpn) []string {
	var out []string
	if v.IkePolicy != nil && v.IkePolicy.Template != nil {
		out = append(out, unique.Make(ikeTemplateKey(*v.IkePolicy.Template)).Value())
	}
	if v.IpsecPolicy != nil && v.IpsecPolicy.Template != nil {
		out = append(out, unique.Make(ipsecTemplateKey(*v.IpsecPolicy.Template)).Value())
	}
	if v.Ppk != nil {
		out = append(out, unique.Make(ppkKey(*v.Ppk)).Value())
	}
	return shareUses(out)
}

// Result is what Update made of a commit.
type Result struct {
	Config *config.Config
	// Full: everything was resolved again (Changes.All, or no previous
	// configuration): Names is empty and every VPN may have changed.
	Full bool
	// Names are the VPNs resolved again or removed, sorted.
	Names []string
	// Resolved counts the VPNs resolved (the work of the commit).
	Resolved int
}

// Update resolves ike after the changes ch from prev, the configuration
// of ike before them (made by Config or Update): only the VPNs that ch
// names, and those that use a template or ppk it names, are resolved
// again; every other VPN is prev's, the same pointer. The global options
// are resolved every time (a handful of leaves), the ppk list when a ppk
// changed (a PPK equal to the previous one keeps its pointer, so that its
// VPNs do not change).
func Update(prev *config.Config, ike *generated.SecgwVrf_Vrf_Ike, ch Changes) (Result, error) {
	if prev == nil || ch.All || ike == nil {
		c := &config.Config{}
		if ike != nil {
			var err error
			if c, err = Config(ike); err != nil {
				return Result{}, err
			}
		}
		return Result{Config: c, Full: true, Resolved: len(c.VPNs)}, nil
	}
	g, err := resolveGlobalOptions(ike.GetGlobalOptions())
	if err != nil {
		return Result{}, err
	}
	d := config.Delta{Global: g, PPKs: prev.PPKs}
	names := map[string]bool{}
	for n := range ch.VPNs {
		names[n] = true
	}
	for t := range ch.IKETemplates {
		for _, n := range prev.Users(ikeTemplateKey(t)) {
			names[n] = true
		}
	}
	for t := range ch.IPsecTemplates {
		for _, n := range prev.Users(ipsecTemplateKey(t)) {
			names[n] = true
		}
	}
	if ch.PPKs {
		ppks, err := resolvePPKs(ike)
		if err != nil {
			return Result{}, err
		}
		old := map[string]*config.PPK{}
		for _, p := range prev.PPKs {
			old[p.Name] = p
		}
		for i, p := range ppks {
			o := old[p.Name]
			delete(old, p.Name)
			if o != nil && reflect.DeepEqual(o, p) {
				ppks[i] = o
				continue
			}
			for _, n := range prev.Users(ppkKey(p.Name)) {
				names[n] = true
			}
		}
		for name := range old { // removed
			for _, n := range prev.Users(ppkKey(name)) {
				names[n] = true
			}
		}
		d.PPKs = ppks
	}
	r := Result{Names: make([]string, 0, len(names))}
	for n := range names {
		r.Names = append(r.Names, n)
	}
	slices.Sort(r.Names)
	memo := newProposalMemo()
	for _, n := range r.Names {
		v := ike.Vpn[n]
		if v == nil || (v.Enabled != nil && !*v.Enabled) {
			if prev.VPN(n) != nil {
				d.Remove = append(d.Remove, n)
			}
			continue
		}
		e, err := resolveEntry(ike, v, d.PPKs, memo)
		if err != nil {
			return Result{}, err
		}
		r.Resolved++
		d.Put = append(d.Put, e)
	}
	r.Config = prev.Apply(d)
	return r, nil
}

// String describes the changes, for logs and test failures.
func (ch Changes) String() string {
	return fmt.Sprintf("all=%v global=%v ppks=%v vpns=%v ike-templates=%v ipsec-templates=%v",
		ch.All, ch.Global, ch.PPKs, ch.VPNs, ch.IKETemplates, ch.IPsecTemplates)
}
