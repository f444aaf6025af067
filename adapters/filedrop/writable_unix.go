//go:build unix

package filedrop

import "syscall"

// writable says whether the gateway's user may create files in folder p
// (access(2) with W_OK).
func writable(p string) bool { return syscall.Access(p, 0x2) == nil }
