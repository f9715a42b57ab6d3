//go:build !linux

package main

import "syscall"

// dieWithParent: only Linux can have a child killed when its parent ends; elsewhere
// the tests' cleanups stop what they started.
func dieWithParent() *syscall.SysProcAttr { return nil }
