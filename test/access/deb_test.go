package access

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"secgw/internal/netnsutil/netnstest"
	"secgw/test/secgwdtest"
)

// dpkgRoot runs dpkg on the scratch root: --force-script-chrootless runs
// the maintainer scripts on the host with DPKG_ROOT set, as Debian's
// bootstrap tools do, so the root needs no shell of its own.
func dpkgRoot(t *testing.T, root string, args ...string) string {
	t.Helper()
	out, err := exec.Command("dpkg", append([]string{"--root=" + root, "--force-script-chrootless"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestDebPackage builds the package with make deb, checks its contents,
// installs it with dpkg into a scratch root (postinst makes the data
// directory), starts the installed secgwd in a network namespace, logs
// in with the installed secgw, and purges the package (the data goes).
func TestDebPackage(t *testing.T) {
	netnstest.RequireRoot(t)
	for _, tool := range []string{"dpkg-deb", "dpkg", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing (test/install-deps.sh)", tool)
		}
	}
	tmp := t.TempDir()
	mk := exec.Command("make", "deb", "VERSION=9.8.7-test", "BINDIR="+filepath.Join(tmp, "bin"), "DEB_OUT="+filepath.Join(tmp, "dist"))
	mk.Dir = secgwdtest.RepoRoot()
	out, err := mk.CombinedOutput()
	if err != nil {
		t.Fatalf("make deb: %v\n%s", err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(tmp, "dist", "secgw_9.8.7~test_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("make deb made %v\n%s", debs, out)
	}
	deb := debs[0]
	contents, err := exec.Command("dpkg-deb", "--contents", deb).Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"./usr/sbin/secgwd", "./usr/bin/secgw", "./lib/systemd/system/secgwd.service",
		"./etc/default/secgwd", "./usr/share/bash-completion/completions/secgw", "./usr/share/secgw/yang/secgw-ike.yang"} {
		if !strings.Contains(string(contents), want+"\n") {
			t.Errorf("the package lacks %s:\n%s", want, contents)
		}
	}
	if conf, _ := exec.Command("dpkg-deb", "--info", deb, "conffiles").Output(); strings.TrimSpace(string(conf)) != "/etc/default/secgwd" {
		t.Errorf("conffiles %q, want /etc/default/secgwd", conf)
	}

	root := filepath.Join(tmp, "root")
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"var/lib/dpkg/status", "var/lib/dpkg/available"} {
		if err := os.WriteFile(filepath.Join(root, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dpkgRoot(t, root, "-i", deb)
	data := filepath.Join(root, "var/lib/secgw")
	if fi, err := os.Stat(data); err != nil || fi.Mode().Perm() != 0o700 || !fi.IsDir() {
		t.Fatalf("postinst's data directory: %v, %v; want a 0700 directory", fi, err)
	}
	unit, _ := os.ReadFile(filepath.Join(root, "lib/systemd/system/secgwd.service"))
	if !strings.Contains(string(unit), "ExecStart=/usr/sbin/secgwd -dir /var/lib/secgw $SECGWD_OPTS") {
		t.Errorf("unit's ExecStart:\n%s", unit)
	}
	secgwd, secgw := filepath.Join(root, "usr/sbin/secgwd"), filepath.Join(root, "usr/bin/secgw")
	for prog, path := range map[string]string{"secgwd": secgwd, "secgw": secgw} {
		v, err := exec.Command(path, "-version").Output()
		if err != nil || !strings.HasPrefix(string(v), prog+" 9.8.7-test ") {
			t.Errorf("%s -version: %q, %v; want the version make linked in", prog, v, err)
		}
	}

	// The installed daemon, in a namespace of its own, on the package's
	// data directory; the installed CLI logs in with the password it
	// printed.
	ns := netnstest.Name("access-deb", 1)
	netnstest.NewNamed(t, ns)
	d, err := secgwdtest.LaunchIn(ns, secgwd, data, "info")
	if err != nil {
		t.Fatal(err)
	}
	if d.Password == "" {
		d.Kill()
		t.Fatalf("the installed secgwd printed no initial password:\n%s", d.Logs())
	}
	cli := exec.Command("ip", "netns", "exec", ns, secgw, "-host", d.Host, "-port", d.Port, "show", "config")
	cli.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + tmp, "SECGW_PASSWORD=" + d.Password}
	if out, err := cli.CombinedOutput(); err != nil {
		t.Errorf("the installed secgw against the installed secgwd: %v\n%s", err, out)
	}
	d.Stop(t)
	if _, err := os.Stat(filepath.Join(data, "users.json")); err != nil {
		t.Errorf("secgwd made no users file in the package's data directory: %v", err)
	}

	dpkgRoot(t, root, "--purge", "secgw")
	for _, gone := range []string{"usr/sbin/secgwd", "usr/bin/secgw", "etc/default/secgwd", "var/lib/secgw"} {
		if _, err := os.Stat(filepath.Join(root, gone)); !os.IsNotExist(err) {
			t.Errorf("after purge %s: %v, want gone", gone, err)
		}
	}
}

// TestBashCompletion sources the script 'secgw -completion bash' prints
// into a real bash and completes one-shot commands, flags before them
// included.
func TestBashCompletion(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Fatal("bash is missing")
	}
	for _, c := range []struct {
		words string
		want  []string
	}{
		{"secgw sh", []string{"show"}},
		{"secgw -host 192.0.2.1 -port 8830 show ik", []string{"ike"}},
		{"secgw cmd ike ", nil}, // the RPCs of module ike: some
		{"secgw -ho", []string{"-host", "-host-key", "-host-key-check"}},
	} {
		script := `source <(secgw -completion bash)
COMP_WORDS=(` + c.words + `); COMP_CWORD=$((${#COMP_WORDS[@]}-1))
case "$W" in *" ") COMP_WORDS+=(""); COMP_CWORD=$((COMP_CWORD+1));; esac
_secgw; printf '%s\n' "${COMPREPLY[@]}"`
		cmd := exec.Command("bash", "-c", script)
		cmd.Env = []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "W=" + c.words}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v\n%s", c.words, err, out)
		}
		got := strings.Fields(string(out))
		if c.want == nil {
			if len(got) == 0 {
				t.Errorf("%q: no completion", c.words)
			}
			continue
		}
		if strings.Join(got, " ") != strings.Join(c.want, " ") {
			t.Errorf("%q: completed %q, want %q", c.words, got, c.want)
		}
	}
}
