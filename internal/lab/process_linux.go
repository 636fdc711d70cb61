package lab

import "syscall"

// sysProcAttr puts a lab process in its own process group and has the kernel
// kill it if the lab's owner dies without stopping it (a test binary that
// panics or times out, a daemon killed with SIGKILL): no lab process outlives
// the process that started it.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
