//go:build unix && !linux

package lab

import "syscall"

// sysProcAttr puts a lab process in its own process group. Unlike Linux,
// other systems cannot tie a child's life to its parent's, so a lab whose
// owner dies without stopping it leaves its processes running.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
