package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/crypto/ssh"

	"secgw/internal/loadtest"
	"secgw/internal/ncclient"
)

// netconfFlags name a secgwd to talk NETCONF to; the password comes from
// SECGW_PASSWORD (not a flag: it would show in ps).
type netconfFlags struct {
	addr, user *string
	timeout    *time.Duration
}

func newNetconfFlags(fs *flag.FlagSet) *netconfFlags {
	return &netconfFlags{
		addr:    fs.String("netconf", "127.0.0.1:830", "secgwd's NETCONF address"),
		user:    fs.String("user", "admin", "NETCONF user (password from SECGW_PASSWORD)"),
		timeout: fs.Duration("timeout", 60*time.Second, "bound on each NETCONF read and write"),
	}
}

func (f *netconfFlags) dial() (*ncclient.Session, error) {
	cfg := &ssh.ClientConfig{User: *f.user, Auth: []ssh.AuthMethod{ssh.Password(os.Getenv("SECGW_PASSWORD"))},
		HostKeyCallback: ssh.InsecureIgnoreHostKey()}
	return ncclient.Dial(*f.addr, cfg, *f.timeout)
}

// secgwdConfig gives secgwd the responder's configuration over NETCONF
// (edit-config of the candidate, commit).
func secgwdConfig(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("secgw-loadtest secgwd-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nf := newNetconfFlags(fs)
	rf := newResponderFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	o, err := rf.options()
	if err != nil {
		fmt.Fprintln(stderr, "secgw-loadtest secgwd-config:", err)
		return 2
	}
	s, err := nf.dial()
	if err != nil {
		fmt.Fprintln(stderr, "secgw-loadtest secgwd-config:", err)
		return 1
	}
	defer s.Close()
	if err := loadtest.ConfigureSecgwd(s, o); err != nil {
		fmt.Fprintln(stderr, "secgw-loadtest secgwd-config:", err)
		return 1
	}
	fmt.Fprintln(stdout, "CONFIGURED")
	return 0
}

// secgwdCount prints one SECGWD line: secgwd's IKE SAs established and in
// all, their child SAs installed and in all, and the IKE SAs its peers
// hold (SecgwdSAs.Held), from its state over NETCONF.
func secgwdCount(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("secgw-loadtest secgwd-count", flag.ContinueOnError)
	fs.SetOutput(stderr)
	nf := newNetconfFlags(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	s, err := nf.dial()
	if err != nil {
		fmt.Fprintln(stderr, "secgw-loadtest secgwd-count:", err)
		return 1
	}
	defer s.Close()
	n, err := loadtest.CountSecgwdSAs(s)
	if err != nil {
		fmt.Fprintln(stderr, "secgw-loadtest secgwd-count:", err)
		return 1
	}
	total := func(m map[string]int) (t int) {
		for _, v := range m {
			t += v
		}
		return t
	}
	fmt.Fprintf(stdout, "SECGWD established=%d ike_sas=%d child_installed=%d child_sas=%d held=%d\n",
		n.IKE["established"], total(n.IKE), n.Child["installed"], total(n.Child), n.Held)
	return 0
}
