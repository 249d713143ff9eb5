//go:build unix

package realetcd

import (
	"os"
	"syscall"
)

// signalPause sends SIGSTOP (pause) or SIGCONT to p.
func signalPause(p *os.Process, pause bool) error {
	if pause {
		return p.Signal(syscall.SIGSTOP)
	}
	return p.Signal(syscall.SIGCONT)
}
