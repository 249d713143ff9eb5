package scenarios

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"hasim/harness"
)

// A soak (hasim soak) runs its seeds in worker processes: hasim's own
// (hasim soak-worker), or a user's test binary (hasim soak --exec), which
// speak the same protocol. The soak writes the seeds, one per line, to a
// worker's standard input; the worker answers each with JSON lines on its
// standard output (WorkerMsg): "found" with a failure as found, "result"
// with the seed's result, "shrunk" with the failure shrunk, and "idle"
// once it is ready for the next seed. Lines that are not such messages (a
// test binary's own output) are ignored.

// WorkerEnv names the environment variable that makes a user's test binary
// a soak worker: its value is the soak's configuration file (soak.json).
// ctrl.Check serves seeds when it is set.
const WorkerEnv = "HASIM_SOAK_WORKER"

// ReproEnv names the environment variable that makes a user's test binary
// replay a failure file (its value), as hasim repro does for the built-in
// scenarios.
const ReproEnv = "HASIM_REPRO"

// ReproOutEnv, when set with ReproEnv, is the directory for the replay's
// trace and views (hasim repro --out).
const ReproOutEnv = "HASIM_REPRO_OUT"

// ExecSpec is a user's test binary run as a soak's workers: the binary,
// by absolute path, and the arguments it is started with (such as
// -test.run=^TestOperator$).
type ExecSpec struct {
	Binary string   `json:"binary"`
	Args   []string `json:"args,omitempty"`
}

// String is the command line, for people.
func (e ExecSpec) String() string {
	return strings.TrimSpace(e.Binary + " " + strings.Join(e.Args, " "))
}

// SoakConfig is what a soak directory is for (its soak.json); a resumed
// soak must match it. A soak of the built-in scenarios draws each seed's
// case from Template; a soak of a user's test binary (Exec) lets the
// binary draw it.
type SoakConfig struct {
	Template    *Template `json:"template,omitempty"`
	Exec        *ExecSpec `json:"exec,omitempty"`
	SimDuration string    `json:"sim_duration"`
	Shard       string    `json:"shard"`
	VerifyEvery int       `json:"verify_every"`
}

// SoakResult is one line of a soak's results.jsonl: one seed's outcome.
type SoakResult struct {
	Seed        uint64             `json:"seed"`
	Class       string             `json:"class"` // "ok", ClassOutside, or a failure class
	Settings    map[string]string  `json:"settings,omitempty"`
	Checks      map[string]Verdict `json:"checks,omitempty"`
	TraceHash   string             `json:"trace_hash,omitempty"`
	SimSeconds  float64            `json:"sim_seconds"`
	WallSeconds float64            `json:"wall_seconds"`
	Events      uint64             `json:"events"`
	Marks       map[string]int     `json:"marks,omitempty"`
	Failure     string             `json:"failure_file,omitempty"`
	Detail      string             `json:"detail,omitempty"`
	Verified    bool               `json:"determinism_verified,omitempty"`
}

// NewSoakResult is the result of a seed's run: class "ok", or
// ClassOutside when its only violations came outside their envelopes; it
// also returns the checks that fail the run, sorted (the caller makes the
// class a failure's when there are any).
func NewSoakResult(seed uint64, res harness.Result) (SoakResult, []harness.CheckName) {
	r := SoakResult{Seed: seed, Class: "ok", Checks: map[string]Verdict{}, TraceHash: res.TraceHash,
		SimSeconds: res.SimTime.Seconds(), WallSeconds: res.Wall.Seconds(), Events: res.Events, Marks: res.Marks}
	var failed []harness.CheckName
	for _, v := range res.Verdicts {
		r.Checks[string(v.Check)] = Verdict{Verdict: v.Status, Detail: v.Detail, Outside: v.Outside, Advisory: v.Advisory}
		if v.Fails() {
			failed = append(failed, v.Check)
		} else if v.Status == harness.Violated && v.Outside != "" {
			r.Class = ClassOutside
		}
	}
	slices.Sort(failed)
	return r, failed
}

// JoinChecks lists check names, comma-separated (a failing seed's detail).
func JoinChecks(cs []harness.CheckName) string {
	parts := make([]string, len(cs))
	for i, c := range cs {
		parts[i] = string(c)
	}
	return strings.Join(parts, ", ")
}

// ClassOutside is the class of a seed whose only violations came outside
// the envelope their checks are claimed in: expected, not a failure.
const ClassOutside = "outside-envelope"

// WorkerMsg is what a worker sends back for a seed.
type WorkerMsg struct {
	Seed uint64 `json:"seed"`
	// MsgFound, MsgResult, MsgShrunk or MsgIdle.
	Kind    string      `json:"kind"`
	Failure *Failure    `json:"failure,omitempty"`
	Result  *SoakResult `json:"result,omitempty"`
}

// The kinds of WorkerMsg.
const (
	// MsgFound: a failure, as found (sent as soon as it is known).
	MsgFound = "found"
	// MsgResult: the seed's result, sent before any shrinking, so that it
	// is safe whatever becomes of the shrinking.
	MsgResult = "result"
	// MsgShrunk: the failure, shrunk.
	MsgShrunk = "shrunk"
	// MsgIdle: done with the seed; ready for the next.
	MsgIdle = "idle"
)

// ParseWorkerMsg reads one line of a worker's output: ok is false for a
// line that is not a message (a test binary's own output).
func ParseWorkerMsg(line []byte) (WorkerMsg, bool) {
	var m WorkerMsg
	if json.Unmarshal(line, &m) != nil || m.Seed == 0 {
		return WorkerMsg{}, false
	}
	switch m.Kind {
	case MsgFound, MsgShrunk:
		return m, m.Failure != nil
	case MsgResult:
		return m, m.Result != nil
	case MsgIdle:
		return m, true
	}
	return WorkerMsg{}, false
}

// SeedRunner runs one seed in a worker. It may send a failure as found
// (MsgFound) before it returns; it returns the seed's result, and, for a
// failure worth shrinking, how to shrink it (which sends MsgShrunk if it
// finds a smaller schedule).
type SeedRunner func(seed uint64, send func(WorkerMsg) error) (SoakResult, func() error, error)

// ServeWorker is a worker's side of a soak: it reads seeds from in, one
// per line, runs each with run, and answers on out, until in ends.
func ServeWorker(in io.Reader, out io.Writer, run SeedRunner) error {
	enc := json.NewEncoder(out)
	send := func(m WorkerMsg) error { return enc.Encode(m) }
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		seed, err := strconv.ParseUint(strings.TrimSpace(sc.Text()), 10, 64)
		if err != nil || seed == 0 {
			return fmt.Errorf("soak worker: bad seed line %q", sc.Text())
		}
		r, shrink, err := run(seed, send)
		if err != nil {
			return err
		}
		r.Seed = seed
		if err := send(WorkerMsg{Seed: seed, Kind: MsgResult, Result: &r}); err != nil {
			return err
		}
		if shrink != nil {
			if err := shrink(); err != nil {
				return err
			}
		}
		if err := send(WorkerMsg{Seed: seed, Kind: MsgIdle}); err != nil {
			return err
		}
	}
	return sc.Err()
}

// DetailCap is how much of a check's detail text output shows on its line;
// JSON output and failure files keep the whole.
const DetailCap = 600

// CapDetail cuts a detail to DetailCap bytes (at a rune boundary) and
// says how much it left out.
func CapDetail(d string) string {
	if len(d) <= DetailCap {
		return d
	}
	cut := DetailCap
	for cut > 0 && !utf8.RuneStart(d[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%d more bytes; --json, or the failure file, has it all)", d[:cut], len(d)-cut)
}

// VerdictNote says why a violation does not fail the run.
func VerdictNote(v harness.Verdict) string {
	switch {
	case v.Status != harness.Violated:
		return ""
	case v.Advisory:
		return " [advisory: reported, not required]"
	case v.Outside != "":
		return " [expected: " + v.Outside + "]"
	}
	return ""
}

// CompareReplay prints how a replay of the failure went against the
// recorded run: whether its trace hash is the recorded one, then every
// verdict, recorded → now (a failure recorded as a crash or a time-out
// has no hash to match). It reports whether the replay is the recorded
// run (same) and whether a verdict fails it (violated).
func (f Failure) CompareReplay(w io.Writer, res harness.Result) (same, violated bool) {
	same = res.TraceHash == f.TraceHash || f.TraceHash == ""
	switch {
	case f.TraceHash == "":
		// A crash or a time-out: no recorded hash to match.
	case same:
		fmt.Fprintf(w, "trace hash %s: identical to the recorded run\n", res.TraceHash)
	default:
		fmt.Fprintf(w, "DIVERGENCE: trace hash %s, recorded %s: the replay is not the recorded run\n", res.TraceHash, f.TraceHash)
	}
	fmt.Fprintln(w, "checks (recorded → now):")
	for _, v := range res.Verdicts {
		was := f.Verdicts[v.Check].Verdict
		if was == "" {
			was = "-"
		}
		fmt.Fprintf(w, "  %-22s %-8s → %-8s %s%s\n", v.Check, was, v.Status, CapDetail(v.Detail), VerdictNote(v))
		violated = violated || v.Fails()
	}
	return same, violated
}
