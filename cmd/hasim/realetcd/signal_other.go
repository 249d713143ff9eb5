//go:build !unix

package realetcd

import (
	"errors"
	"os"
)

// signalPause fails: pausing a process needs SIGSTOP, which only unix
// systems have.
func signalPause(p *os.Process, pause bool) error {
	return errors.New("pausing a member needs SIGSTOP (unix only)")
}
