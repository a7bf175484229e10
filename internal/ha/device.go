package ha

import (
	"fmt"
	"syscall"
)

// bindDevice returns a socket Control function that binds to ifname
// (SO_BINDTODEVICE, socket(7)): `ha interface` keeps the sync link on
// its dedicated link, whatever the routes say. nil for "".
func bindDevice(ifname string) func(network, address string, c syscall.RawConn) error {
	if ifname == "" {
		return nil
	}
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptString(int(fd), syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, ifname)
		}); err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("ha: interface %s: %w", ifname, serr)
		}
		return nil
	}
}
