// Command hasim runs deterministic simulations of highly available control
// planes and judges them with checkers.
//
//	hasim run   [flags]   run one simulation and print its summary
//	hasim repro FILE      replay a failure file and verify its trace hash
//	hasim soak --out DIR  run many seeds in worker processes (resumable)
//	hasim report DIR...   merge soak directories into one summary
//	hasim check FILE      check a recorded history for linearizability
//	hasim record [flags]  record a history against a real etcd under faults, and check it
//	hasim bugs            list the bug switches
//	hasim scenarios       list the scenarios
//
// Exit codes: 0 when no check fails, 1 when one does, 2 on bad usage or
// bad input (the message names the flag or field), 3 when a soak was
// interrupted (the same command resumes it).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// usageError is bad input from the user: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// errViolated means the run completed and some check was violated: exit 1.
var errViolated = errors.New("a check was violated")

const topUsage = `hasim: deterministic simulation testing for HA control planes

usage:
  hasim run [flags]      run one simulation and print its summary (hasim run -h)
  hasim repro FILE       replay a failure file exactly and verify its trace hash
  hasim soak --out DIR   run many seeds in worker processes, keeping every failure (hasim soak -h)
  hasim report DIR...    merge soak directories (shards, machines) into one summary
  hasim check FILE       check a history file for linearizability (hasim check -h)
  hasim record [flags]   record a history against a real 3-member etcd under process faults, and check it (hasim record -h)
  hasim bugs             list the bug switches that plant known bugs
  hasim scenarios        list the scenarios

exit codes: 0 no check failed, 1 a check failed, 2 bad usage or input,
            3 a soak interrupted (the same command resumes it)
`

func main() { os.Exit(realMain(os.Args[1:], os.Stdout, os.Stderr)) }

func realMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return 2
	}
	var err error
	switch args[0] {
	case "run":
		err = cmdRun(args[1:], stdout, stderr)
	case "repro":
		err = cmdRepro(args[1:], stdout, stderr)
	case "soak":
		err = cmdSoak(args[1:], stdout, stderr)
	case "report":
		err = cmdReport(args[1:], stdout, stderr)
	case "soak-worker":
		err = cmdSoakWorker(args[1:], stdout, stderr)
	case "check":
		err = cmdCheck(args[1:], stdout, stderr)
	case "record":
		err = cmdRecord(args[1:], stdout, stderr)
	case "bugs":
		err = cmdBugs(args[1:], stdout)
	case "scenarios":
		err = cmdScenarios(args[1:], stdout)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, topUsage)
		return 0
	default:
		err = usagef("unknown command %q (run 'hasim help')", args[0])
	}
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errViolated):
		return 1
	case errors.Is(err, errInterrupted):
		return 3
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "hasim %s: %v\n", args[0], err)
		return 2
	case errors.Is(err, errHelp):
		return 0
	default:
		fmt.Fprintf(stderr, "hasim %s: %v\n", args[0], err)
		return 2
	}
}

// parseFlags parses a subcommand's flags: -h is errHelp, anything else
// wrong is a usage error.
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return usagef("%v", err)
	}
	return nil
}

// parseInterleaved parses a subcommand's flags, which may come before,
// between or after its arguments, and returns the arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var rest []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return rest, nil
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// createTrace makes dir and creates dir/trace.txt in it for a run's trace.
func createTrace(dir string) (*os.File, string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, "", usagef("--out: %v", err)
	}
	path := filepath.Join(dir, "trace.txt")
	f, err := os.Create(path)
	if err != nil {
		return nil, "", usagef("--out: %v", err)
	}
	return f, path, nil
}
