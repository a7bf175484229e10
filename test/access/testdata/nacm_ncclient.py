"""RFC 8341 access control (ietf-netconf-acm, /nacm) through Debian's
ncclient, against a secgwd whose /aaa has the admin root and the
read-only alice (set up by
nacm_ncclient_test.go, which runs this with /usr/bin/python3).

Each check prints "PASS name" or "FAIL name: why"; the Go test fails on
any FAIL line and when too few PASS lines appear.
"""

import argparse
import re
import sys

from lxml import etree
from ncclient import manager
from ncclient.operations import RPCError
import ncclient.transport.ssh as ncssh

# ncclient polls its send queue every TICK (0.1 s); a shorter tick keeps
# the run fast and changes nothing on the wire.
ncssh.TICK = 0.005

NS_VRF = "urn:secgw:yang:secgw-vrf"
NS_IKE = "urn:secgw:yang:secgw-ike"
NS_NACM = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"
NS_YANG = "urn:ietf:params:xml:ns:yang:1"
NSMAP = {"v": NS_VRF, "i": NS_IKE, "n": NS_NACM}

passed = 0
failed = 0


def check(name, ok, why=""):
    global passed, failed
    if ok:
        passed += 1
        print("PASS", name)
    else:
        failed += 1
        print("FAIL %s: %s" % (name, why))
    sys.stdout.flush()


def rpc_error(name, fn, tag, path_end=None, msg=None):
    """fn must fail with an rpc-error of tag, whose error-path ends with
    path_end (prefixes removed) and whose message holds msg."""
    try:
        fn()
    except RPCError as e:
        path = e.path.strip() if e.path else ""
        unprefixed = unprefix(path)
        ok = e.tag == tag and (path_end is None or unprefixed.endswith(path_end)) and (msg is None or msg in (e.message or ""))
        check(name, ok, "rpc-error tag=%r path=%r message=%r, want %s ending %r with %r" % (e.tag, path, e.message, tag, path_end, msg))
        return
    except Exception as e:  # pylint: disable=broad-except
        check(name, False, "%s: %s" % (type(e).__name__, e))
        return
    check(name, False, "succeeded, want rpc-error %s" % tag)


def unprefix(path):
    """path without the module prefixes the server qualifies nodes with
    (RFC 6241 §4.3), quoted key values left alone."""
    parts = re.split(r"('[^']*'|\"[^\"]*\")", path)
    return "".join(p if i % 2 else re.sub(r"[A-Za-z_][\w.-]*:(?=[A-Za-z_])", "", p) for i, p in enumerate(parts))


def call(name, fn):
    try:
        r = fn()
        check(name, True)
        return r
    except Exception as e:  # pylint: disable=broad-except
        check(name, False, "%s: %s" % (type(e).__name__, e))
        return None


def connect(args, user, password):
    return manager.connect(host=args.host, port=args.port, username=user, password=password,
                           hostkey_verify=False, look_for_keys=False, allow_agent=False, timeout=30)


def ike(content):
    return ('<config><vrf xmlns="%s"><name>main</name><ike xmlns="%s">%s</ike></vrf></config>'
            % (NS_VRF, NS_IKE, content))


def vpn(name, remote, psk):
    return ("<vpn><name>%s</name><remote-address>%s</remote-address>"
            "<ike-policy><pre-shared-key>%s</pre-shared-key></ike-policy></vpn>" % (name, remote, psk))


def nacm(content):
    return '<config><nacm xmlns="%s">%s</nacm></config>' % (NS_NACM, content)


def rule(name, kind, ops, action, module="*"):
    return ("<rule><name>%s</name><module-name>%s</module-name>%s<access-operations>%s</access-operations>"
            "<action>%s</action></rule>" % (name, module, kind, ops, action))


def path(p):
    return "<path>%s</path>" % p.replace("&", "&amp;").replace("<", "&lt;")


def names(data_xml):
    root = etree.fromstring(data_xml.encode())
    return sorted(root.xpath("//i:vpn/i:name/text()", namespaces=NSMAP))


def texts(data_xml, xp):
    root = etree.fromstring(data_xml.encode())
    return root.xpath(xp, namespaces=NSMAP)


def subtree(content):
    return ("subtree", '<vrf xmlns="%s"><name>main</name><ike xmlns="%s">%s</ike></vrf>' % (NS_VRF, NS_IKE, content))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--admin", required=True)
    ap.add_argument("--admin-password", required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--user-password", required=True)
    args = ap.parse_args()

    root = connect(args, args.admin, args.admin_password)
    call("admin commits VPNs hq and acme",
         lambda: (root.edit_config(target="candidate", config=ike(
             vpn("hq", "198.51.100.1", "hq-key-1") + vpn("acme", "198.51.100.2", "acme-key-1"))), root.commit()))

    # Bad input: each refused at commit with the right rpc-error.
    where = "/nacm/rule-list[name='bad']/rule[name='r']/path"
    for p, msg in [("/vrf[name='main'", "does not parse"),
                   ("/vrf[name='main']/ike/vpnx", "no node vpnx under /vrf[name='main']/ike"),
                   ("/vrf/ike[name='x']", "is not a list"),
                   ("/vrf/ike/vpn[.='x']", "[key = 'value']")]:
        root.edit_config(target="candidate", config=nacm(
            "<rule-list><name>bad</name><group>*</group>%s</rule-list>" % rule("r", path(p), "read", "deny")))
        rpc_error("validate refuses path %s" % p, lambda: root.validate(source="candidate"), "invalid-value", where, msg)
        rpc_error("commit refuses path %s" % p, root.commit, "invalid-value", where, msg)
        root.discard_changes()
    root.edit_config(target="candidate", config=nacm(
        "<rule-list><name>oops</name><group>admin</group>%s</rule-list>" % rule("no-aaa", path("/aaa"), "*", "deny")))
    rpc_error("commit refuses rules locking the last admin out", root.commit, "operation-failed", None, "no admin able")
    root.discard_changes()
    root.edit_config(target="candidate", config=nacm(
        "<rule-list><name>oops</name><group>admin</group>%s</rule-list>" % rule("no-rules", path("/nacm"), "update", "deny")))
    rpc_error("commit refuses rules that stop the admins updating /nacm", root.commit, "operation-failed", None, "no admin able")
    root.discard_changes()
    root.edit_config(target="candidate", config=nacm(
        "<rule-list><name>oops</name><group>*</group>%s</rule-list>"
        % rule("no-nacm", path("/aaa[name='x']"), "*", "deny")))
    rpc_error("commit refuses a key predicate on a container", root.commit, "invalid-value", "rule[name='no-nacm']/path", "/aaa is not a list")
    root.discard_changes()

    # One rule of each type for group ops (alice), in the order written
    # (ordered-by user): keyed data-node rules, a schema-path one,
    # operation rules.
    rules = (rule("10-no-acme", path("/vrf[name='main']/ike/vpn[name='acme']"), "read create update delete", "deny")
             + rule("20-no-remote", path("/vrf/ike/vpn/remote-address"), "read", "deny")
             + rule("30-hq", path("/sv:vrf[sv:name='main']/ike:ike/vpn[name=\"hq\"]"), "create read update delete", "permit")
             + rule("40-edit", "<rpc-name>edit-config</rpc-name>", "exec", "permit", "ietf-netconf")
             + rule("41-commit", "<rpc-name>commit</rpc-name>", "exec", "permit", "ietf-netconf")
             + rule("50-no-schema", "<rpc-name>get-schema</rpc-name>", "exec", "deny"))
    call("admin commits the rules", lambda: (root.edit_config(target="candidate", config=nacm(
        "<groups><group><name>ops</name><user-name>%s</user-name></group></groups>"
        "<rule-list><name>ops</name><group>ops</group>%s</rule-list>" % (args.user, rules))), root.commit()))

    alice = connect(args, args.user, args.user_password)

    # Reads: acme is not there, remote-address is not there, hq's secret
    # is (30-hq grants read of hq and below, secrets included).
    data = alice.get_config(source="running").data_xml
    check("get-config: hq, not acme", names(data) == ["hq"], names(data))
    check("get-config: no remote-address", not texts(data, "//i:remote-address"), data)
    check("get-config: hq's key granted", texts(data, "//i:vpn/i:ike-policy/i:pre-shared-key/text()") == ["hq-key-1"], data)
    check("get-config: never acme's key", "acme-key-1" not in data, data)
    data = alice.get(filter=subtree("<vpn/>")).data_xml
    check("get, subtree: hq only", names(data) == ["hq"], data)
    for what, flt in [
        ("subtree: acme by key", subtree("<vpn><name>acme</name></vpn>")),
        ("subtree: content match on a denied leaf", subtree("<vpn><remote-address>198.51.100.1</remote-address></vpn>")),
        ("subtree: content match on acme's key", subtree("<vpn><ike-policy><pre-shared-key>acme-key-1</pre-shared-key></ike-policy></vpn>")),
        ("xpath: acme by key", ("xpath", "/vrf/ike/vpn[name='acme']")),
        ("xpath: predicate on a denied leaf", ("xpath", "/vrf/ike/vpn[remote-address='198.51.100.1']")),
        ("xpath: existence of a denied leaf", ("xpath", "/vrf/ike/vpn[remote-address]")),
    ]:
        # A subtree filter's vrf key is a content match: vrf main, which
        # alice may read, comes back with its name, as without rules.
        data = alice.get_config(source="running", filter=flt).data_xml
        check("get-config, " + what + ": no vpn", not texts(data, "//i:vpn"), data)
    data = alice.get_config(source="running", filter=("xpath", "/vrf[count(ike/vpn) > 1]/name")).data_xml
    check("get-config, xpath counting a denied entry: nothing", not texts(data, "//v:vrf"), data)
    data = alice.get_config(source="running", filter=("xpath", "/vrf/ike/vpn[ike-policy/pre-shared-key='hq-key-1']/name")).data_xml
    check("get-config, xpath on a granted secret: hq", names(data) == ["hq"], data)

    # Writes: hq yes, acme no (access-denied at the node), another VPN no
    # (write-default deny).
    call("edit-config of hq", lambda: alice.edit_config(target="candidate", config=ike(
        "<vpn><name>hq</name><remote-address>198.51.100.9</remote-address></vpn>")))
    rpc_error("edit-config of acme", lambda: alice.edit_config(target="candidate", config=ike(
        "<vpn><name>acme</name><remote-address>198.51.100.9</remote-address></vpn>")),
        "access-denied", "/vrf[name='main']/ike/vpn[name='acme']/remote-address", "may not write remote-address")
    rpc_error("edit-config creating another vpn", lambda: alice.edit_config(target="candidate", config=ike(
        "<vpn><name>branch</name></vpn>")), "access-denied", "/vrf[name='main']/ike/vpn[name='branch']", "may not write vpn")
    call("commit of hq's change", alice.commit)
    data = root.get_config(source="running", filter=subtree("<vpn><name>hq</name><remote-address/></vpn>")).data_xml
    check("hq's remote-address committed", texts(data, "//i:remote-address/text()") == ["198.51.100.9"], data)

    # Operation rule: get-schema denied.
    rpc_error("get-schema denied", lambda: alice.get_schema("secgw-aaa"), "access-denied", None, "may not")

    # Rule order (RFC 8341 section 3.4.5, rules ordered-by user): a rule
    # named to sort last but inserted first decides before 20-no-remote;
    # moved after it with the insert attribute (RFC 7950 section 7.8.6),
    # it no longer does.
    def place(attrs):
        return nacm('<rule-list xmlns:yang="%s"><name>ops</name><rule %s><name>99-remote</name>'
                    '<path>/vrf/ike/vpn/remote-address</path><access-operations>read</access-operations>'
                    '<action>permit</action></rule></rule-list>' % (NS_YANG, attrs))

    def alice_reads_remote():
        data = alice.get_config(source="running", filter=subtree("<vpn><name>hq</name></vpn>")).data_xml
        return texts(data, "//i:remote-address/text()") == ["198.51.100.9"]

    call("admin inserts 99-remote first", lambda: (root.edit_config(target="candidate", config=place('yang:insert="first"')), root.commit()))
    check("99-remote, first, permits hq's remote-address", alice_reads_remote())
    data = root.get_config(source="running", filter=("subtree", '<nacm xmlns="%s"><rule-list/></nacm>' % NS_NACM)).data_xml
    order = texts(data, "//n:rule-list[n:name='ops']/n:rule/n:name/text()")
    check("get-config lists the rules in their order", order[:2] == ["99-remote", "10-no-acme"], order)
    call("admin moves 99-remote after 20-no-remote", lambda: (root.edit_config(target="candidate", config=place(
        'yang:insert="after" yang:key="[name=\'20-no-remote\']"')), root.commit()))
    check("99-remote, after 20-no-remote, no longer decides", not alice_reads_remote())
    rpc_error("insert before a rule that does not exist", lambda: root.edit_config(target="candidate", config=place(
        'yang:insert="before" yang:key="[name=\'nope\']"')), "missing-attribute", "rule[name='99-remote']", "names no entry")
    root.discard_changes()

    # The module itself: the hello lists ietf-netconf-acm at RFC 8341's
    # revision, and get-schema returns it.
    cap = NS_NACM + "?module=ietf-netconf-acm&revision=2018-02-14"
    check("hello lists ietf-netconf-acm", cap in list(root.server_capabilities), cap)
    text = call("get-schema ietf-netconf-acm", lambda: root.get_schema("ietf-netconf-acm").data)
    check("get-schema returns the module", text is not None and "module ietf-netconf-acm" in text, text)

    # RFC 8341 Appendix A.2-style configuration, as standard NACM tooling
    # writes it: a groups entry and a rule-list with a data-node rule
    # (and a comment), at the top level in the ietf namespace, placed
    # before the ops rule-list. It denies alice hq, which 30-hq granted.
    example = ('<nacm xmlns="%s" xmlns:yang="%s">'
               '<groups><group><name>limited</name><user-name>%s</user-name></group></groups>'
               '<rule-list yang:insert="first"><name>limited-acl</name><group>limited</group>'
               '<rule><name>deny-hq</name><module-name>secgw-ike</module-name>'
               "<path>/vrf/ike/vpn[name='hq']</path><access-operations>*</access-operations>"
               '<action>deny</action><comment>No VPN hq for the limited group.</comment></rule>'
               '</rule-list></nacm>' % (NS_NACM, NS_YANG, args.user))
    call("admin commits the RFC 8341 example", lambda: (root.edit_config(target="candidate", config="<config>%s</config>" % example), root.commit()))
    data = alice.get_config(source="running").data_xml
    check("the example's rule is enforced: alice reads no vpn", names(data) == [], data)
    rpc_error("the example's rule is enforced: alice may not write hq", lambda: alice.edit_config(target="candidate", config=ike(
        "<vpn><name>hq</name><remote-address>198.51.100.8</remote-address></vpn>")), "access-denied", None, "may not write")

    alice.close_session()
    root.close_session()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
