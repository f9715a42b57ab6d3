//go:build !linux

package journal

import "net"

// checkPeer relies on the socket file's mode (0600) where peer credentials are not read.
func checkPeer(*net.UnixConn) error { return nil }
