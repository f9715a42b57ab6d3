package main

import "syscall"

// dieWithParent makes a started server get SIGKILL when the test process ends, even when
// it ends without running cleanups (a test binary's timeout panics): no hub or node
// outlives its test.
func dieWithParent() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
