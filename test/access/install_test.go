package access

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"secgw/test/secgwdtest"
)

// TestMakeInstall runs make install into a scratch DESTDIR, once with
// PREFIX=/usr and once with PREFIX=/usr/local, and checks every file the
// Makefile's install target promises: the two programs executable and
// answering -version with the version make linked in, the systemd unit
// with its paths under PREFIX (so it follows PREFIX), the default options
// file under SYSCONFDIR, the bash completion, every YANG module of yang/
// and the README. No root: everything lands under DESTDIR.
func TestMakeInstall(t *testing.T) {
	for _, tool := range []string{"make", "install", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing (test/install-deps.sh)", tool)
		}
	}
	repo := secgwdtest.RepoRoot()
	yangs, err := filepath.Glob(filepath.Join(repo, "yang", "*.yang"))
	if err != nil || len(yangs) == 0 {
		t.Fatalf("no YANG modules in %s/yang: %v", repo, err)
	}
	readme, err := os.ReadFile(filepath.Join(repo, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	bindir := filepath.Join(t.TempDir(), "bin") // shared: the second make reuses the build
	for _, prefix := range []string{"/usr", "/usr/local"} {
		t.Run(strings.ReplaceAll(prefix, "/", "_"), func(t *testing.T) {
			dest := t.TempDir()
			mk := exec.Command("make", "install", "VERSION=9.8.6-install", "DESTDIR="+dest,
				"PREFIX="+prefix, "SYSCONFDIR=/etc", "BINDIR="+bindir)
			mk.Dir = repo
			if out, err := mk.CombinedOutput(); err != nil {
				t.Fatalf("make install: %v\n%s", err, out)
			}
			root := func(p string) string { return filepath.Join(dest, p) }

			for prog, path := range map[string]string{"secgwd": prefix + "/sbin/secgwd", "secgw": prefix + "/bin/secgw"} {
				fi, err := os.Stat(root(path))
				if err != nil || fi.Mode().Perm() != 0o755 || !fi.Mode().IsRegular() {
					t.Errorf("%s: %v, %v; want a 0755 file", path, fi, err)
					continue
				}
				v, err := exec.Command(root(path), "-version").Output()
				if err != nil || !strings.HasPrefix(string(v), prog+" 9.8.6-install ") {
					t.Errorf("%s -version: %q, %v; want the version make linked in", path, v, err)
				}
			}

			unit, err := os.ReadFile(root(prefix + "/lib/systemd/system/secgwd.service"))
			if err != nil {
				t.Fatalf("the unit: %v", err)
			}
			for _, want := range []string{
				"ExecStart=" + prefix + "/sbin/secgwd -dir /var/lib/secgw $SECGWD_OPTS\n",
				"EnvironmentFile=-/etc/default/secgwd\n",
				"file://" + prefix + "/share/doc/secgw/README.md",
			} {
				if !strings.Contains(string(unit), want) {
					t.Errorf("the unit lacks %q:\n%s", want, unit)
				}
			}
			if strings.Contains(string(unit), "@SBINDIR@") {
				t.Errorf("the unit keeps @SBINDIR@:\n%s", unit)
			}
			// No man page is shipped: a Documentation=man: entry would
			// point systemctl help at nothing.
			if strings.Contains(string(unit), "man:") {
				t.Errorf("the unit names a man page, which is not installed:\n%s", unit)
			}

			def, err := os.ReadFile(root("/etc/default/secgwd"))
			if err != nil || !strings.Contains(string(def), "SECGWD_OPTS=") {
				t.Errorf("/etc/default/secgwd: %v\n%s", err, def)
			}

			comp, err := os.ReadFile(root(prefix + "/share/bash-completion/completions/secgw"))
			if err != nil || !strings.Contains(string(comp), "complete ") || !strings.Contains(string(comp), "_secgw") {
				t.Errorf("the bash completion: %v\n%.300s", err, comp)
			}

			for _, y := range yangs {
				want, _ := os.ReadFile(y)
				path := prefix + "/share/secgw/yang/" + filepath.Base(y)
				got, err := os.ReadFile(root(path))
				if err != nil || string(got) != string(want) {
					t.Errorf("%s: %v, or not the file of yang/", path, err)
				}
			}
			installed, _ := filepath.Glob(root(prefix + "/share/secgw/yang/*"))
			if len(installed) != len(yangs) {
				t.Errorf("%d files in share/secgw/yang, want the %d modules of yang/", len(installed), len(yangs))
			}

			doc, err := os.ReadFile(root(prefix + "/share/doc/secgw/README.md"))
			if err != nil || string(doc) != string(readme) {
				t.Errorf("the README: %v, or not README.md", err)
			}
		})
	}
}
