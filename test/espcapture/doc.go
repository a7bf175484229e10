// Package espcapture captures real ESP packets from strongSwan for the
// known-answer tests of internal/esp. Two charons (Debian's 5.9.8,
// kernel-libipsec, which always sends ESP in UDP on port 4500) run in two
// network namespaces joined by a veth pair, with child keys logged at
// chd=4. The test pings from one protected subnet to the other, captures
// the ESP-in-UDP datagrams on the veth with an AF_PACKET socket, finds
// each datagram's SA by SPI (swanctl --list-sas) and key (charon's log),
// and decrypts it with internal/esp: the inner packet must be the echo
// request or reply. `go test ./test/espcapture -update` writes the
// datagrams and keys to internal/esp/testdata/strongswan-*.json, which
// TestStrongSwanCaptures there checks without charon.
//
// It needs root and the packages of test/install-strongswan.sh; a
// missing one fails the test with its name.
package espcapture
