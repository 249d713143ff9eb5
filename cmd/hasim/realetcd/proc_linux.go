package realetcd

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel SIGKILL the member when the process that
// started it dies, so that no etcd outlives a test binary killed by its
// timeout or a recorder killed with -9.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
