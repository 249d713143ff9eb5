// Package memguard ends a soak worker whose heap outgrows its limit, so
// that a leak fails the seed it ran (as a crash, out of memory) instead
// of the machine. hasim's own workers and a user's test binary serving a
// soak (hasim/ctrl) use it.
package memguard

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"time"
)

// ExitCode is a worker's exit code when its heap passed the limit.
const ExitCode = 3

// Env names the environment variable through which hasim soak --exec
// gives a user's test binary its heap limit, in MB (--max-memory-mb).
const Env = "HASIM_MAX_MEMORY_MB"

// MinMB is the least limit a worker may be given: a simulation's own
// working set is tens of megabytes, so below it every seed would fail as
// out of memory.
const MinMB = 64

// Watch checks the heap every 200ms of real time, outside any simulation,
// and exits the process with ExitCode once it passes limitMB, saying so on
// standard error. It runs until the process ends: start it on a goroutine
// of its own.
func Watch(limitMB int64) {
	limit := limitMB << 20
	var ms runtime.MemStats
	for range time.Tick(200 * time.Millisecond) {
		runtime.ReadMemStats(&ms)
		if int64(ms.HeapAlloc) > limit {
			fmt.Fprintf(os.Stderr, "heap %d MB over the limit of %d MB\n", ms.HeapAlloc>>20, limitMB)
			os.Exit(ExitCode)
		}
	}
}

// FromEnv returns the limit Env gives: false when it is unset; an error
// names the variable when its value is not a number of MB of at least
// MinMB.
func FromEnv() (int64, bool, error) {
	v := os.Getenv(Env)
	if v == "" {
		return 0, false, nil
	}
	mb, err := strconv.ParseInt(v, 10, 64)
	if err != nil || mb < MinMB {
		return 0, false, fmt.Errorf("%s=%q: want a number of MB, at least %d", Env, v, MinMB)
	}
	return mb, true, nil
}
