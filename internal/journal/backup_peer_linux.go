package journal

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// checkPeer lets only the server's own user (and root) take a backup over the socket.
// The socket file is mode 0600 as well; this also covers the moment between making the
// socket and setting its mode.
func checkPeer(conn *net.UnixConn) error {
	raw, err := conn.SyscallConn()
	if err != nil {
		return err
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if cerr != nil {
		return fmt.Errorf("peer credentials: %w", cerr)
	}
	if uid := os.Geteuid(); int(cred.Uid) != uid && cred.Uid != 0 {
		return fmt.Errorf("user %d may not take a backup of this store (the server runs as user %d)", cred.Uid, uid)
	}
	return nil
}
