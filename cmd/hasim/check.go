package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"hasim/checkers"
	"hasim/harness"
)

// jsonCheckResult is what `hasim check --json` prints.
type jsonCheckResult struct {
	Check       string         `json:"check"`
	Verdict     harness.Status `json:"verdict"`
	Detail      string         `json:"detail"`
	HTML        string         `json:"html"`
	Model       string         `json:"model"`
	Ops         int            `json:"ops"`
	Keys        int            `json:"keys"`
	FailingKeys []string       `json:"failing_keys"`
}

const checkUsage = `usage: hasim check [flags] FILE

Checks a history file (JSON lines, one operation per line; see the README or
'go doc hasim/checkers ReadKVHistory') for linearizability with porcupine.
Keys start absent unless an initial line gives their state before the
history, e.g. {"initial": true, "key": "x", "value": "a", "mod": 3,
"create": 2, "version": 2}.

  --model kv        single-key ops of an etcd-like store: get, put, delete, cas
  --model register  Jepsen-style read, write, cas on registers

Exit codes: 0 linearizable (or unknown, which is printed loudly; --strict
makes it exit 1), 1 violated, 2 bad usage or a malformed file (the message
names the line and field).

flags:
`

func cmdCheck(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hasim check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	model := fs.String("model", "kv", "history model: kv or register")
	timeout := fs.Duration("timeout", checkers.DefaultLinearizableTimeout, "bound on the search; past it the verdict is unknown")
	html := fs.String("html", "", "write porcupine's HTML view of a violation to this file")
	asJSON := fs.Bool("json", false, "print one JSON object instead of text")
	strict := fs.Bool("strict", false, "exit 1 when the verdict is unknown, not only when violated")
	fs.Usage = func() {
		fmt.Fprint(stderr, checkUsage)
		fs.PrintDefaults()
	}
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(files) == 0:
		return usagef("missing the history FILE (hasim check -h)")
	case len(files) > 1:
		return usagef("unexpected argument %q: one history FILE only", files[1])
	case *model != "kv" && *model != "register":
		return usagef("--model: %q is not kv or register", *model)
	case *timeout <= 0:
		return usagef("--timeout: must be positive, got %s", *timeout)
	}
	path := files[0]
	f, err := os.Open(path)
	if err != nil {
		return usagef("%v", err)
	}
	defer f.Close()

	opts := checkers.LinearizableOptions{Timeout: *timeout, HTMLPath: *html}
	var v harness.Verdict
	var rep checkers.LinearizableReport
	if *model == "kv" {
		h, err := checkers.ReadKVHistoryFile(f)
		if err != nil {
			return usagef("%s: %v", path, err)
		}
		v, rep = checkers.CheckLinearizableFrom(h.Initial, h.Ops, opts)
	} else {
		h, err := checkers.ReadRegisterHistoryFile(f)
		if err != nil {
			return usagef("%s: %v", path, err)
		}
		v, rep = checkers.CheckRegisterFrom(h.Initial, h.Ops, opts)
	}

	if *asJSON {
		out := jsonCheckResult{Check: string(v.Check), Verdict: v.Status, Detail: v.Detail, HTML: rep.HTMLPath,
			Model: *model, Ops: rep.Ops, Keys: rep.Keys, FailingKeys: rep.FailingKeys}
		if out.FailingKeys == nil {
			out.FailingKeys = []string{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(out); err != nil {
			return err
		}
		if v.Status == harness.Unknown {
			fmt.Fprintf(stderr, "hasim check: UNKNOWN: the checker could not decide; this is not a pass\n")
		}
	} else {
		fmt.Fprintf(stdout, "hasim check: %s, %s model\n", path, *model)
		status := string(v.Status)
		if v.Status == harness.Unknown {
			status = "UNKNOWN"
		}
		fmt.Fprintf(stdout, "  %-8s %s  %s\n", status, v.Check, v.Detail)
		switch v.Status {
		case harness.Violated:
			if *html == "" {
				fmt.Fprintln(stdout, "(--html FILE writes porcupine's view of the violation)")
			}
		case harness.Unknown:
			msg := "UNKNOWN is not ok: the checker could not decide"
			if strings.Contains(v.Detail, "timed out") {
				msg += fmt.Sprintf(" within --timeout %s; try a longer one", *timeout)
			}
			fmt.Fprintf(stdout, "warning: %s\n", msg)
		}
	}
	if v.Status == harness.Violated || (*strict && v.Status == harness.Unknown) {
		return errViolated
	}
	return nil
}
