// Package kernel holds the tests that need a kernel with ESP: they program
// SAs and policies through internal/dataplane/xfrm in network namespaces
// and pass real ESP traffic between them; TestCrossVRFSecgwd does it with
// two secgwd processes, from the static secgwd and secgw binaries run.sh
// puts in the initramfs (/secgw-bin, or $SECGW_VM_BIN). They are built
// with the vmtest tag into a static test binary and run by run.sh (make
// test-kernel) inside qemu on Debian's stock kernel, since the machines
// that build secgw may have XFRM without ESP.
package kernel
