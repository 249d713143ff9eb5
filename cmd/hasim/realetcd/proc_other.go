//go:build !linux

package realetcd

import "os/exec"

// setDeathSignal does nothing where the kernel has no parent-death signal:
// there only Cluster.Close ends the members.
func setDeathSignal(cmd *exec.Cmd) {}
