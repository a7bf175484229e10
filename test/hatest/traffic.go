package hatest

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"syscall"
	"time"
)

// PingInterval is the continuous ping's interval: with it, N lost
// echoes in a row are a gap of about N × 100 ms, so a gap under 1 s is at
// most 9 lost in a row.
const PingInterval = 100 * time.Millisecond

// MaxLost is the most echoes a failover may lose in a row (gap < 1 s).
const MaxLost = 9

// Pinger is a continuous ping through the tunnel, from the peer's site
// to the concentrator's.
type Pinger struct {
	cmd *exec.Cmd
	out bytes.Buffer
	err chan error
}

// StartPing starts `ping -i 0.1` from src to dst in namespace ns.
func StartPing(ns string, src, dst netip.Addr) (*Pinger, error) {
	p := &Pinger{err: make(chan error, 1)}
	p.cmd = exec.Command("ip", "netns", "exec", ns, "ping", "-n", "-i", "0.1", "-W", "1", "-I", src.String(), dst.String())
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { p.err <- p.cmd.Wait() }()
	return p, nil
}

var (
	seqRE     = regexp.MustCompile(`icmp_seq=(\d+) ttl=`)
	summaryRE = regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`)
)

// PingResult is what a continuous ping saw.
type PingResult struct {
	Sent, Received int
	// MaxGap is the longest run of echoes without an answer, between
	// two answered ones (or after the last answered one).
	MaxGap int
	Output string
}

// Stop ends the ping (SIGINT: it prints its summary) and reads it.
func (p *Pinger) Stop() PingResult {
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.err:
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		<-p.err
	}
	r := PingResult{Output: p.out.String()}
	if m := summaryRE.FindStringSubmatch(r.Output); m != nil {
		r.Sent, _ = strconv.Atoi(m[1])
		r.Received, _ = strconv.Atoi(m[2])
	}
	var seqs []int
	for _, m := range seqRE.FindAllStringSubmatch(r.Output, -1) {
		n, _ := strconv.Atoi(m[1])
		seqs = append(seqs, n)
	}
	sort.Ints(seqs)
	prev := 0 // ping numbers from 1
	for _, s := range seqs {
		if g := s - prev - 1; g > r.MaxGap {
			r.MaxGap = g
		}
		prev = s
	}
	if g := r.Sent - prev; g > r.MaxGap {
		r.MaxGap = g
	}
	return r
}

func (r PingResult) String() string {
	return fmt.Sprintf("%d sent, %d answered, longest gap %d echoes (%v)", r.Sent, r.Received, r.MaxGap, time.Duration(r.MaxGap)*PingInterval)
}

// Iperf is an iperf3 TCP flow through the tunnel: the server in the LAN
// host's namespace, the client in the peer's.
type Iperf struct {
	server, client *exec.Cmd
	out            bytes.Buffer
	err            chan error
	cancel         context.CancelFunc
}

// StartIperf starts iperf3's server on dst (serverNS) and a client from
// src (clientNS) sending at rate (e.g. "10M") for d.
func StartIperf(serverNS string, dst netip.Addr, clientNS string, src netip.Addr, rate string, d time.Duration) (*Iperf, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	f := &Iperf{err: make(chan error, 1), cancel: cancel}
	f.server = exec.CommandContext(ctx, "ip", "netns", "exec", serverNS, "iperf3", "-s", "-1", "-B", dst.String(), "-p", "5201")
	f.server.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := f.server.Start(); err != nil {
		cancel()
		return nil, err
	}
	time.Sleep(300 * time.Millisecond) // the server listens
	f.client = exec.CommandContext(ctx, "ip", "netns", "exec", clientNS, "iperf3", "-c", dst.String(), "-B", src.String(), "-p", "5201",
		"-b", rate, "-t", strconv.Itoa(int(d.Seconds())), "-i", "1", "--connect-timeout", "3000")
	f.client.Stdout, f.client.Stderr = &f.out, &f.out
	f.client.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := f.client.Start(); err != nil {
		f.server.Process.Kill()
		f.server.Wait()
		cancel()
		return nil, err
	}
	go func() { f.err <- f.client.Wait() }()
	return f, nil
}

// Wait waits for the client's end and returns its output and whether
// the flow completed (exit status 0: the TCP connection survived).
func (f *Iperf) Wait() (string, error) {
	err := <-f.err
	f.server.Process.Kill()
	f.server.Wait()
	f.cancel()
	return f.out.String(), err
}
