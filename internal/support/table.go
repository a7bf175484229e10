// Package support says which configuration nodes this release acts on.
// A node the runtime does not act on is refused at commit (and by
// validate) with operation-not-supported rather than accepted and
// ignored: an operator who commits mobike true must not believe the
// tunnel follows its addresses. Refused is the one table of such nodes,
// each row naming the feature it waits for; a feature that lands removes its
// rows and adds the nodes to Honoured, with the test that shows them
// acting. The README's Status table is rendered from Refused
// (TestReadmeStatus keeps them equal).
package support

// Row is a configuration node, or some of its values, that the runtime
// does not act on yet.
type Row struct {
	// Path is the schema path, without keys. A container or list row
	// covers its whole subtree: the node may not exist at all.
	Path string
	// Allowed, for a leaf, lists the values that are honoured; any
	// other is refused. Empty: any value but the leaf's default is
	// refused (a leaf without default: any value).
	Allowed []string
	// Denied, for a leaf or leaf-list, lists the values that are
	// refused; any other is honoured (e.g. a value of a leaf-list that
	// waits for a feature while the others work).
	Denied []string
	// NonMainVRF limits the row to vrfs other than main.
	NonMainVRF bool
	// Feature names what the node waits for, in the refusal's message.
	Feature string
	// Example is configuration lines (CLI syntax, after a base
	// configuration with one VPN "v1" with security policy "sp1" and
	// templates "it1"/"pt1") that set the node and are otherwise valid;
	// the tests commit them and expect the refusal.
	Example []string
}

// The features refused nodes wait for.
const (
	featureLocalAAA = "RADIUS authentication of ourselves (eap-radius and pre-shared-key-radius are remote-auth-method values: RADIUS authenticates peers)"
	featureVRF      = "vrf main only in this release (the IKE instance of another vrf runs without it)"
	featureSNMP     = "SNMP"
)

// Refused is the table of configuration nodes the runtime does not act
// on yet. Keep one row per node or subtree.
func Refused() []Row {
	return []Row{
		// IKE (and so IKE HA) runs in vrf main only: the VRRP groups of
		// another vrf would notify nothing.
		{Path: "/vrf/vrrp", NonMainVRF: true, Feature: featureVRF, Example: []string{"/ vrf red vrrp group g1 instance i1"}},
		// Another vrf runs its own IKE instance (sockets, dataplane and
		// routes in the vrf's namespace: the kernel XFRM dataplane when
		// main runs it, else the userspace one, whose lack of XFRM
		// interfaces ikesvc refuses); what the daemon
		// still runs for vrf main only is refused there: IKE HA, the
		// logging configuration (one syslog handler, main's), RADIUS
		// (its sockets would be main's), the VPN monitor's probes and
		// MOBIKE (main's address watcher).
		{Path: "/vrf/ike/ha", NonMainVRF: true, Feature: featureVRF,
			Example: []string{"/ vrf red vrrp group g1 instance vrrp0 notify-ha-group hg",
				"/ vrf red ike ha listen-ha-group hg node-id 1 local-address 192.168.100.1 remote-address 192.168.100.2 secret 0123456789abcdef0123"}},
		{Path: "/vrf/ike/logging", NonMainVRF: true, Feature: featureVRF, Example: []string{"/ vrf red ike logging daemon ike 2"}},
		{Path: "/vrf/ike/radius", NonMainVRF: true, Feature: featureVRF, Example: []string{"/ vrf red ike radius server 192.0.2.9 secret s3cret-radius"}},
		{Path: "/vrf/ike/vpn/security-policy/vpn-monitor", NonMainVRF: true, Feature: featureVRF, Example: append(redVPN(),
			"/ vrf red ike vpn v1 security-policy sp1 vpn-monitor destination-ip 10.2.0.1 source-address 10.1.0.1")},
		{Path: "/vrf/ike/vpn/ike-policy/mobike", NonMainVRF: true, Allowed: []string{"false"}, Feature: featureVRF,
			Example: append(redVPN(), "/ vrf red ike vpn v1 ike-policy mobike true")},
		{Path: "/vrf/ike/ike-policy-template/mobike", NonMainVRF: true, Allowed: []string{"false"}, Feature: featureVRF,
			Example: []string{"/ vrf red ike ike-policy-template it1 mobike true"}},
		{Path: "/vrf/kpi", NonMainVRF: true, Feature: featureVRF, Example: []string{"/ vrf red kpi prometheus enabled true"}},
		// RADIUS authenticates peers: as the way we authenticate
		// ourselves, eap-radius and pre-shared-key-radius mean nothing
		// (we have no RADIUS server to prove our identity to a peer).
		{Path: "/vrf/ike/ike-policy-template/local-auth-method", Allowed: []string{"pre-shared-key", "certificate"}, Feature: featureLocalAAA,
			Example: []string{"/ vrf main ike ike-policy-template it1 local-auth-method eap-radius"}},
		{Path: "/vrf/ike/vpn/ike-policy/local-auth-method", Allowed: []string{"pre-shared-key", "certificate"}, Feature: featureLocalAAA,
			Example: []string{"/ vrf main ike vpn v1 ike-policy local-auth-method pre-shared-key-radius"}},
		{Path: "/vrf/ike/global-options/snmp", Feature: featureSNMP, Example: []string{"/ vrf main ike global-options snmp true"}},
	}
}

// redVPN is a VPN v1 in vrf red, for the examples of the rows refused
// in vrfs other than main.
func redVPN() []string {
	return []string{
		"/ vrf red ike vpn v1 ike-policy pre-shared-key red-secret-1",
		"/ vrf red ike vpn v1 local-address 192.0.2.1 remote-address 198.51.100.1",
		"/ vrf red ike vpn v1 security-policy sp1 local-ts subnet 10.1.0.0/24",
		"/ vrf red ike vpn v1 security-policy sp1 remote-ts subnet 10.2.0.0/24",
	}
}
