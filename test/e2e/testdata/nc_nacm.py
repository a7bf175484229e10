"""NETCONF access control (RFC 8341, ietf-netconf-acm /nacm) through Debian's
ncclient: run by test/e2e/nacm_test.go against a fresh secgwd whose users
file has an admin and a read-only reader. Prints PASS/FAIL lines.

The reader is put in group ops, whose rules (taken in the order of their
names) let it read and write /vrf/ike, run edit-config, commit and
discard-changes, and deny it get-schema, netconf-config-change and /aaa.
"""

import argparse
import sys

from ncclient import manager
from ncclient.operations import RPCError

from nclib import NS_NC, cfg, go, values, vpn

NS_AAA = "urn:secgw:yang:secgw-aaa"
NS_NACM = "urn:ietf:params:xml:ns:yang:ietf-netconf-acm"
failed = 0


def check(name, ok, why=""):
    global failed
    if ok:
        print("PASS", name)
    else:
        failed += 1
        print("FAIL %s: %s" % (name, why))
    sys.stdout.flush()


def connect(args, user, password):
    return manager.connect(host=args.host, port=args.port, username=user, password=password,
                           hostkey_verify=False, look_for_keys=False, allow_agent=False, timeout=30)


def error_of(fn):
    try:
        fn()
    except RPCError as e:
        return e
    return None


def rule(name, kind, ops, action, module="*"):
    return ("<rule><name>%s</name><module-name>%s</module-name>%s<access-operations>%s</access-operations>"
            "<action>%s</action></rule>" % (name, module, kind, ops, action))


def nacm(inner):
    return '<config><nacm xmlns="%s">%s</nacm></config>' % (NS_NACM, inner)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--password", required=True)
    p.add_argument("--reader-user", required=True)
    p.add_argument("--reader-password", required=True)
    args = p.parse_args()
    admin = connect(args, "admin", args.password)
    reader = connect(args, args.reader_user, args.reader_password)

    # Lockout: rules denying the admin group /aaa are refused at commit.
    admin.edit_config(target="candidate", config=nacm(
        "<rule-list><name>oops</name><group>admin</group>%s</rule-list>" % rule("no-aaa", "<path>/aaa</path>", "*", "deny")))
    e = error_of(admin.commit)
    check("lockout refused", e is not None and "no admin able" in str(e), "commit: %r" % e)
    admin.discard_changes()

    # Before rules: the reader writes nothing.
    e = error_of(lambda: reader.edit_config(target="candidate", config=go("<threads>2</threads>")))
    check("read-only edit denied", e is not None and e.tag == "access-denied", "edit: %r" % e)

    admin.edit_config(target="candidate", config=nacm(
        "<groups><group><name>ops</name><user-name>%s</user-name></group></groups>" % args.reader_user +
        "<rule-list><name>ops</name><group>ops</group>" +
        rule("10-ike", "<path>/vrf/ike</path>", "create read update delete", "permit", "secgw-ike") +
        rule("20-edit", "<rpc-name>edit-config</rpc-name>", "exec", "permit", "ietf-netconf") +
        rule("21-commit", "<rpc-name>commit</rpc-name>", "exec", "permit", "ietf-netconf") +
        rule("22-discard", "<rpc-name>discard-changes</rpc-name>", "exec", "permit", "ietf-netconf") +
        rule("30-schema", "<rpc-name>get-schema</rpc-name>", "exec", "deny") +
        rule("40-changes", "<notification-name>netconf-config-change</notification-name>", "read", "deny") +
        rule("50-aaa", "<path>/aaa</path>", "*", "deny") +
        "</rule-list>"))
    admin.commit()

    # Data-node rules: /vrf/ike written, the rest of /vrf refused.
    try:
        reader.edit_config(target="candidate", config=go("<threads>2</threads>"))
        reader.commit()
        check("ops writes /vrf/ike", True)
    except RPCError as ex:
        check("ops writes /vrf/ike", False, repr(ex))
    desc = '<config><vrf xmlns="urn:secgw:yang:secgw-vrf"><name>main</name><description>x</description></vrf></config>'
    e = error_of(lambda: reader.edit_config(target="candidate", config=desc))
    check("ops denied /vrf/description", e is not None and e.tag == "access-denied" and "description" in (e.path or ""),
          "edit: %r path %r" % (e, getattr(e, "path", None)))
    data = reader.get_config(source="running").data_xml
    check("ops reads /vrf/ike", values(data, "//i:global-options/i:threads") == ["2"], data)
    check("ops does not read /aaa", NS_AAA not in data, data)
    check("ops does not read /nacm (default-deny-all)", NS_NACM not in data, data)

    # A denied rpc.
    e = error_of(lambda: reader.get_schema("secgw-aaa"))
    check("ops denied get-schema", e is not None and e.tag == "access-denied", "get-schema: %r" % e)
    admin.get_schema("secgw-aaa")

    # A secret: the PSK of a VPN in the candidate, granted by 10-ike.
    admin.edit_config(target="candidate", config=vpn("nacm1"))
    data = reader.get_config(source="candidate").data_xml
    check("ops reads the PSK its rule grants", "0x00112233445566778899aabbccddeeff" in data, data)
    admin.discard_changes()

    # A denied notification: the reader's first one is the session
    # start that followed the config change, not the change.
    reader.create_subscription()
    admin.edit_config(target="candidate", config=go("<threads>3</threads>"))
    admin.commit()
    later = connect(args, "admin", args.password)
    n = reader.take_notification(timeout=10)
    xml = n.notification_xml if n is not None else ""
    check("ops misses netconf-config-change", "netconf-session-start" in xml and "netconf-config-change" not in xml, xml)
    later.close_session()

    # Rules gone, the secret is hidden again: read-only sees no PSK.
    admin.edit_config(target="candidate", config='<config><nacm xmlns="%s" xmlns:nc="%s" nc:operation="delete"/></config>' % (NS_NACM, NS_NC))
    admin.commit()
    admin.edit_config(target="candidate", config=vpn("nacm2"))
    data = reader.get_config(source="candidate").data_xml
    check("read-only without rules reads no PSK", "<name>nacm2</name>" in data and "0x0011" not in data, data)
    admin.discard_changes()
    print("checks done, %d failing" % failed)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
