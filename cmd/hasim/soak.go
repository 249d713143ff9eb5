package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"hasim/checkers/judge/scenarios"
	"hasim/harness"
	"hasim/internal/memguard"
)

// A soak runs many seeds of one configuration, each in a worker process (a
// simulation owns its process: crypto/rand.Reader is global, and a crash
// or a hang must not take the soak down). The parent hands out seeds, keeps
// every result in DIR/results.jsonl as soon as it arrives, and every
// failure in DIR/failures/ as a failure file, first as found and then
// shrunk. Re-running with the same DIR resumes: finished seeds are skipped.

const soakUsage = `usage: hasim soak --out DIR (--seeds N | --duration D) [flags]

Runs many seeds in worker processes and keeps every failure as a failure
file (hasim repro replays it). Each seed draws its whole case, swarm style:
the scenario's settings not pinned (hasim scenarios lists them; --set
pins one), the fault kinds it enables, the fault rate, the share of faults
aimed at the moments components announce, and the schedule. Re-running
with the same --out resumes where the soak stopped; Ctrl-C stops cleanly.

With --exec BIN, the workers are a test binary of your own (go test -c),
started with the arguments after "--", whose ctrl.Check serves the seeds:
hasim soak --out DIR --seeds 500 --exec ./operator.test -- -test.run '^TestOperator$'
Each seed's case is drawn there; the scenario's flags do not apply.

`

func cmdSoak(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hasim soak", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var rf runFlags
	rf.registerSystem(fs)
	seeds := fs.Int("seeds", 0, "run seeds 1..N (of this shard)")
	wall := fs.Duration("duration", 0, "run for this much wall time instead (seeds 1, 2, 3, ...)")
	workers := fs.Int("workers", runtime.NumCPU(), "worker processes, one simulation each")
	shard := fs.String("shard", "1/1", "take the i-th of n disjoint seed sets: seeds s with (s-1) mod n = i-1")
	simDur := fs.Duration("sim-duration", 0, "simulated time per seed (default: 10m for the cluster, whose last 2m are kept free of faults; 2m for election; 1m for the others)")
	seedTimeout := fs.Duration("seed-timeout", 10*time.Minute, "wall budget per seed; past it the seed fails as a time-out")
	verify := fs.Int("verify-every", 10, "re-run every k-th passing seed to check determinism (0: never)")
	maxMem := fs.Int64("max-memory-mb", 4096, "a worker whose heap passes this fails its seed as a crash (out of memory)")
	maxFail := fs.Int("max-failures", 0, "stop handing out seeds after this many failing seeds (0: never); seeds in flight finish")
	fs.BoolVar(&rf.swarm, "swarm", true, "draw every setting not pinned per seed (false: the scenario's defaults)")
	execBin := fs.String("exec", "", "run a test binary of your own as the workers (arguments for it after \"--\"); see above")
	fs.Usage = func() { fmt.Fprint(stderr, soakUsage); fs.PrintDefaults() }
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var execArgs []string // after "--": the binary's
	if i := slices.Index(args, "--"); i >= 0 && *execBin != "" {
		execArgs = args[i+1:]
	}
	rf.noteGiven(fs)
	given := rf.given
	// Here --workers counts worker processes and --duration is wall time:
	// neither is the system's.
	rf.given = map[string]bool{}
	for k, v := range given {
		if k != "workers" && k != "duration" {
			rf.given[k] = v
		}
	}
	switch {
	case fs.NArg() > len(execArgs):
		return usagef("unexpected argument %q", fs.Arg(0))
	case rf.out == "":
		return usagef("--out: a soak needs a directory for its results")
	case *seeds < 0 || given["seeds"] && *seeds == 0:
		return usagef("--seeds: must be positive, got %d", *seeds)
	case *wall < 0 || given["duration"] && *wall == 0:
		return usagef("--duration: must be positive, got %s", *wall)
	case (*seeds > 0) == (*wall > 0):
		return usagef("give exactly one of --seeds N and --duration D")
	case *workers < 1 || *workers > 256:
		return usagef("--workers: %d out of range [1, 256]", *workers)
	case *simDur < 0 || rf.given["sim-duration"] && *simDur == 0 || *simDur > MaxSimDuration:
		return usagef("--sim-duration: %s out of range (0, %s]", *simDur, MaxSimDuration)
	case *verify < 0:
		return usagef("--verify-every: must not be negative")
	case *maxFail < 0:
		return usagef("--max-failures: must not be negative")
	case *seedTimeout <= 0:
		return usagef("--seed-timeout: must be positive, got %s", *seedTimeout)
	case *maxMem < memguard.MinMB:
		return usagef("--max-memory-mb: %d is below %d", *maxMem, memguard.MinMB)
	}
	si, sn, err := parseShard(*shard)
	if err != nil {
		return err
	}
	cfg := scenarios.SoakConfig{Shard: *shard, VerifyEvery: *verify}
	if *execBin != "" {
		e, err := execSpec(*execBin, execArgs, rf.given)
		if err != nil {
			return err
		}
		cfg.Exec = &e
		if *simDur > 0 {
			cfg.SimDuration = simDur.String() // else the binary's own
		}
	} else {
		if *simDur == 0 {
			*simDur = DefaultSimDuration(rf.scenario)
		}
		tpl, err := rf.template()
		if err != nil {
			return err
		}
		cfg.Template, cfg.SimDuration = &tpl, simDur.String()
	}
	done, err := openSoakDir(rf.out, cfg, stderr)
	if err != nil {
		return err
	}
	s := &soak{out: rf.out, cfg: cfg, done: done, stderr: stderr, workers: *workers, seedTimeout: *seedTimeout,
		maxMem: *maxMem, shardI: si, shardN: sn, limit: uint64(*seeds), maxFailures: *maxFail}
	if *wall > 0 {
		s.deadline = time.Now().Add(*wall)
	}
	return s.run(stdout)
}

// execSpec checks a soak's --exec binary and the flags given with it.
func execSpec(bin string, args []string, given map[string]bool) (scenarios.ExecSpec, error) {
	for _, f := range []string{"scenario", "size", "topology", "bug", "standby-lb", "cache-reads", "set", "envelope", "fault-rate", "faults", "aim", "swarm"} {
		if given[f] {
			return scenarios.ExecSpec{}, usagef("--%s: a soak of a test binary (--exec) draws its cases there; leave --%s out", f, f)
		}
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		return scenarios.ExecSpec{}, usagef("--exec: %v", err)
	}
	st, err := os.Stat(abs)
	switch {
	case err != nil:
		return scenarios.ExecSpec{}, usagef("--exec: %v", err)
	case st.IsDir() || st.Mode()&0o111 == 0:
		return scenarios.ExecSpec{}, usagef("--exec: %s is not an executable file (build one with go test -c)", bin)
	}
	return scenarios.ExecSpec{Binary: abs, Args: args}, nil
}

// DefaultSimDuration is a soak seed's simulated time: 10 minutes for the
// cluster (its last 2 are kept free of faults), 2 for leader election (the
// last 40s free), 1 for the others.
func DefaultSimDuration(scenario string) time.Duration {
	switch scenario {
	case "cluster":
		return 10 * time.Minute
	case "election":
		return 2 * time.Minute
	}
	return time.Minute
}

func parseShard(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 1 || i > n {
		return 0, 0, usagef("--shard: %q is not i/n with 1 <= i <= n", s)
	}
	return i, n, nil
}

// openSoakDir creates or resumes a soak directory and returns the seeds
// already finished there: every seed with a result, except one whose only
// result is a single crash or time-out, which runs once more (a worker may
// have died of something else than its seed: the machine's memory, a
// kill). A torn last line of the results (a soak killed while writing it)
// is cut off before anything is appended, and said so on stderr.
func openSoakDir(dir string, cfg scenarios.SoakConfig, stderr io.Writer) (map[uint64]bool, error) {
	if err := os.MkdirAll(filepath.Join(dir, "failures"), 0o755); err != nil {
		return nil, usagef("--out: %v", err)
	}
	path := filepath.Join(dir, "soak.json")
	want, _ := json.MarshalIndent(cfg, "", "  ")
	if have, err := os.ReadFile(path); err == nil {
		var old scenarios.SoakConfig
		if err := json.Unmarshal(have, &old); err != nil {
			return nil, usagef("--out: %s is not a soak configuration: %v", path, err)
		}
		if oldJ, _ := json.MarshalIndent(old, "", "  "); string(oldJ) != string(want) {
			return nil, usagef("--out: %s holds a soak of another configuration; use another directory\nthere:\n%s\nasked:\n%s", dir, oldJ, want)
		}
	} else if err := os.WriteFile(path, append(want, '\n'), 0o644); err != nil {
		return nil, usagef("--out: %v", err)
	}
	resultsPath := filepath.Join(dir, "results.jsonl")
	torn, err := cutTornLine(resultsPath)
	if err != nil {
		return nil, err
	}
	if torn > 0 {
		fmt.Fprintf(stderr, "hasim soak: %s ended in a torn line (%d bytes, a write cut short); cut it off before resuming\n", resultsPath, torn)
	}
	results, err := readResults(resultsPath)
	if err != nil {
		return nil, err
	}
	done := map[uint64]bool{}
	broke := map[uint64]int{} // seed → crashes and time-outs recorded
	for _, r := range results {
		if r.Class == scenarios.ClassCrash || r.Class == scenarios.ClassTimeout {
			broke[r.Seed]++
			done[r.Seed] = broke[r.Seed] >= 2
			continue
		}
		done[r.Seed] = true
	}
	return done, nil
}

// cutTornLine truncates a results file after its last complete line, if
// what follows is not a whole JSON line, and returns how many bytes it cut.
func cutTornLine(path string) (int, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) || len(b) == 0 {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	keep := len(b)
	if b[len(b)-1] != '\n' {
		keep = bytes.LastIndexByte(b, '\n') + 1
		if tail := b[keep:]; json.Valid(tail) {
			// A whole line whose newline was lost: keep it, end it.
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o644)
			if err != nil {
				return 0, err
			}
			defer f.Close()
			_, err = f.Write([]byte{'\n'})
			return 0, err
		}
	}
	if keep == len(b) {
		return 0, nil
	}
	if err := os.Truncate(path, int64(keep)); err != nil {
		return 0, err
	}
	return len(b) - keep, nil
}

// latestResults keeps, of a results file's lines, the last one of each
// seed (a crashed seed run again on resume has two), in the order of those
// last lines.
func latestResults(rs []scenarios.SoakResult) []scenarios.SoakResult {
	last := map[uint64]int{}
	for i, r := range rs {
		last[r.Seed] = i
	}
	var out []scenarios.SoakResult
	for i, r := range rs {
		if last[r.Seed] == i {
			out = append(out, r)
		}
	}
	return out
}

// readResults reads a results file; a torn last line (a soak killed while
// writing it) is ignored, any other bad line is an error.
func readResults(path string) ([]scenarios.SoakResult, error) {
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []scenarios.SoakResult
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	var bad error
	for n := 1; sc.Scan(); n++ {
		if bad != nil {
			return nil, bad
		}
		var r scenarios.SoakResult
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			bad = fmt.Errorf("%s: line %d: %v", path, n, err)
			continue
		}
		out = append(out, r)
	}
	return out, sc.Err()
}

type soak struct {
	out         string
	cfg         scenarios.SoakConfig
	done        map[uint64]bool
	stderr      io.Writer
	workers     int
	seedTimeout time.Duration
	maxMem      int64
	shardI      int
	shardN      int
	limit       uint64 // last seed of the universe; 0: unbounded
	deadline    time.Time
	maxFailures int // stop handing out seeds after this many failures (0: never)

	next     uint64
	results  *os.File
	started  time.Time
	todo     int // seeds of this shard left when the soak began (with --seeds)
	count    int
	failures map[string]int
	simTime  float64
}

type worker struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	seed   uint64 // in flight; 0 when idle
	since  time.Time
	gone   bool
	stderr *tailBuffer
	// timedOut marks a seed already recorded as a time-out: the worker is
	// being killed, and nothing it still says counts.
	timedOut bool
	// resulted: the seed's result is recorded (the worker may still be
	// shrinking its failure), since resultAt.
	resulted bool
	resultAt time.Time
}

type event struct {
	w    *worker
	msg  *scenarios.WorkerMsg
	exit error
}

// nextSeed returns the next seed of this shard not yet done, or 0.
func (s *soak) nextSeed() uint64 {
	for {
		s.next++
		if s.limit > 0 && s.next > s.limit {
			return 0
		}
		if (s.next-1)%uint64(s.shardN) != uint64(s.shardI-1) || s.done[s.next] {
			continue
		}
		return s.next
	}
}

func (s *soak) run(stdout io.Writer) error {
	var err error
	s.results, err = os.OpenFile(filepath.Join(s.out, "results.jsonl"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer s.results.Close()
	s.started = time.Now()
	s.failures = map[string]int{}
	for seed := uint64(s.shardI); seed <= s.limit; seed += uint64(s.shardN) {
		if !s.done[seed] {
			s.todo++
		}
	}
	events := make(chan event, 64)
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sig)

	configPath := filepath.Join(s.out, "soak.json")
	var pool []*worker
	start := func() (*worker, error) {
		w := &worker{stderr: &tailBuffer{max: 4096}}
		if e := s.cfg.Exec; e != nil {
			// The user's binary; its test framework's own output goes
			// to stdout too, and is ignored. hasim/ctrl watches its heap
			// against the limit memguard.Env gives it.
			w.cmd = exec.Command(e.Binary, e.Args...)
			w.cmd.Env = append(os.Environ(), scenarios.WorkerEnv+"="+configPath, memguard.Env+"="+strconv.FormatInt(s.maxMem, 10))
		} else {
			exe, err := os.Executable()
			if err != nil {
				return nil, err
			}
			w.cmd = exec.Command(exe, "soak-worker", "--config", configPath, "--max-memory-mb", strconv.FormatInt(s.maxMem, 10))
		}
		w.cmd.Stderr = w.stderr
		if w.in, err = w.cmd.StdinPipe(); err != nil {
			return nil, err
		}
		outPipe, err := w.cmd.StdoutPipe()
		if err != nil {
			return nil, err
		}
		if err := w.cmd.Start(); err != nil {
			return nil, err
		}
		go func() {
			sc := bufio.NewScanner(outPipe)
			sc.Buffer(make([]byte, 1<<20), 256<<20)
			for sc.Scan() {
				if m, ok := scenarios.ParseWorkerMsg(sc.Bytes()); ok {
					events <- event{w: w, msg: &m}
				}
			}
			events <- event{w: w, exit: w.cmd.Wait()}
		}()
		return w, nil
	}
	dispatch := func(w *worker) bool {
		if !s.deadline.IsZero() && time.Now().After(s.deadline) {
			return false
		}
		if s.maxFailures > 0 && s.failed() >= s.maxFailures {
			return false
		}
		seed := s.nextSeed()
		if seed == 0 {
			return false
		}
		w.seed, w.since, w.timedOut, w.resulted = seed, time.Now(), false, false
		fmt.Fprintf(w.in, "%d\n", seed)
		return true
	}
	for i := 0; i < s.workers; i++ {
		w, err := start()
		if err != nil {
			return err
		}
		pool = append(pool, w)
		dispatch(w)
	}
	tty := isTerminal(s.stderr)
	const tickEvery = 500 * time.Millisecond
	tick := time.NewTicker(tickEvery)
	defer tick.Stop()
	lastTick := time.Now()
	lastPlain := time.Now()
	interrupted := false
	busy := func() int {
		n := 0
		for _, w := range pool {
			if w.seed != 0 && !w.gone {
				n++
			}
		}
		return n
	}
	for busy() > 0 {
		select {
		case <-sig:
			interrupted = true
			fmt.Fprintf(s.stderr, "\nhasim soak: interrupted; seeds in flight will run again on resume\n")
			for _, w := range pool {
				if !w.gone {
					w.cmd.Process.Kill()
				}
				w.seed = 0
			}
		case ev := <-events:
			w := ev.w
			if ev.msg != nil {
				// A seed is recorded only from its own worker, while that
				// worker still runs it: a result that comes after its
				// seed was recorded as a time-out, or from a worker
				// being killed, is not the seed's, and a worker being
				// killed is handed no further seed.
				if w.timedOut || interrupted || ev.msg.Seed != w.seed {
					continue
				}
				if err := s.handle(w, ev.msg); err != nil {
					return err
				}
				switch ev.msg.Kind {
				case scenarios.MsgResult:
					w.resulted, w.resultAt = true, time.Now()
				case scenarios.MsgIdle:
					w.seed = 0
					if !dispatch(w) {
						w.in.Close()
					}
				}
				continue
			}
			// The worker exited.
			w.gone = true
			if interrupted {
				continue
			}
			if w.seed != 0 && !w.timedOut && !w.resulted {
				class, detail := scenarios.ClassCrash, "the worker died: "+describeExit(ev.exit, w.stderr.String())
				if err := s.record(scenarios.SoakResult{Seed: w.seed, Class: class, Detail: detail}); err != nil {
					return err
				}
			}
			if w.seed != 0 || !s.finished() {
				nw, err := start()
				if err != nil {
					return err
				}
				// The new worker takes the dead one's place in the pool
				// (its reader reports under its own pointer).
				for i := range pool {
					if pool[i] == w {
						pool[i] = nw
					}
				}
				if !dispatch(nw) {
					nw.in.Close()
				}
			}
		case <-tick.C:
			// A soak that was itself stopped (SIGSTOP, a laptop's
			// suspend) must not blame its seeds: the time it stood still
			// does not count against their budget.
			if gap := time.Since(lastTick); gap > 10*tickEvery {
				for _, w := range pool {
					w.since = w.since.Add(gap)
					w.resultAt = w.resultAt.Add(gap) // a shrink's budget too
				}
				fmt.Fprintf(s.stderr, "\nhasim soak: stood still for %s (suspended?); seed time-outs do not count it\n", gap.Round(time.Second))
			}
			lastTick = time.Now()
			for _, w := range pool {
				if w.seed != 0 && !w.gone && !w.timedOut && w.resulted && time.Since(w.resultAt) > s.seedTimeout {
					// Its result is safe; only the shrinking is given up.
					w.timedOut = true
					fmt.Fprintf(s.stderr, "\nhasim soak: gave up shrinking seed %d after %s\n", w.seed, s.seedTimeout)
					w.cmd.Process.Kill()
					continue
				}
				if w.seed != 0 && !w.gone && !w.timedOut && !w.resulted && time.Since(w.since) > s.seedTimeout {
					w.timedOut = true
					if err := s.record(scenarios.SoakResult{Seed: w.seed, Class: scenarios.ClassTimeout,
						Detail: fmt.Sprintf("no result after %s of wall time", s.seedTimeout)}); err != nil {
						return err
					}
					w.cmd.Process.Kill()
				}
			}
			if tty {
				// Back to the line's start, then erase what a longer
				// earlier line left beyond the new one.
				fmt.Fprintf(s.stderr, "\r%s\x1b[K", s.progress())
			} else if time.Since(lastPlain) > 10*time.Second {
				lastPlain = time.Now()
				fmt.Fprintln(s.stderr, s.progress())
			}
		}
	}
	if tty {
		fmt.Fprintln(s.stderr)
	}
	fmt.Fprintf(stdout, "hasim soak %s: %s\n", s.out, s.progress())
	fmt.Fprintf(stdout, "results: %s\nmerge shards: go run ./cmd/hasim report %s [more dirs]\n", filepath.Join(s.out, "results.jsonl"), s.out)
	if interrupted {
		fmt.Fprintf(stdout, "interrupted: run the same command again to resume\n")
		return errInterrupted
	}
	if s.maxFailures > 0 && s.failed() >= s.maxFailures {
		fmt.Fprintf(stdout, "stopped after %d failing seeds (--max-failures)\n", s.failed())
	}
	all, err := readResults(filepath.Join(s.out, "results.jsonl"))
	if err != nil {
		return err
	}
	for _, r := range latestResults(all) {
		if failing(r.Class) {
			return errViolated
		}
	}
	return nil
}

// failed counts the failing seeds recorded in this session.
func (s *soak) failed() int {
	n := 0
	for _, k := range harness.SortedKeys(s.failures) {
		if k != scenarios.ClassOutside {
			n += s.failures[k]
		}
	}
	return n
}

// errInterrupted: the soak was stopped (Ctrl-C, SIGTERM) before it ended;
// the same command resumes it. Exit code 3.
var errInterrupted = errors.New("soak interrupted")

// failing reports whether a result's class is a failure.
func failing(class string) bool { return class != "ok" && class != scenarios.ClassOutside }

func (s *soak) finished() bool {
	if !s.deadline.IsZero() && time.Now().After(s.deadline) {
		return true
	}
	if s.maxFailures > 0 && s.failed() >= s.maxFailures {
		return true
	}
	return s.limit > 0 && s.next >= s.limit
}

// handle takes one message of a worker.
func (s *soak) handle(w *worker, m *scenarios.WorkerMsg) error {
	switch m.Kind {
	case scenarios.MsgFound, scenarios.MsgShrunk:
		if s.cfg.Exec != nil {
			m.Failure.Exec, m.Failure.Spec = s.cfg.Exec, scenarios.Spec{} // replayed by the binary
		}
		name := fmt.Sprintf("failure-%d.json", m.Seed)
		if m.Kind == scenarios.MsgShrunk {
			name = fmt.Sprintf("failure-%d-shrunk.json", m.Seed)
		}
		return m.Failure.Write(filepath.Join(s.out, "failures", name))
	case scenarios.MsgResult:
		if w.timedOut {
			return nil // already recorded as a time-out
		}
		r := *m.Result
		if failing(r.Class) {
			// Its shrunk failure, if shrinking finds a smaller one, will
			// be failure-N-shrunk.json beside it.
			r.Failure = filepath.Join("failures", fmt.Sprintf("failure-%d.json", r.Seed))
		}
		return s.record(r)
	}
	return nil
}

// record appends a result and makes it durable before anything else.
func (s *soak) record(r scenarios.SoakResult) error {
	if failing(r.Class) && r.Failure == "" {
		f := scenarios.Failure{Version: scenarios.FailureVersion, Seed: r.Seed, Duration: s.cfg.SimDuration,
			Class: r.Class, Found: "soak: " + r.Detail}
		d, _ := time.ParseDuration(s.cfg.SimDuration)
		if s.cfg.Exec != nil {
			// A crash or time-out of the binary: its seed replays there.
			f.Exec = s.cfg.Exec
		} else if c, err := s.cfg.Template.Draw(r.Seed, d); err == nil {
			f.Schedule = c.Schedule.String()
			f.Spec, _ = scenarios.SpecOf(c.Scenario)
			r.Settings = c.Settings
		}
		name := filepath.Join("failures", fmt.Sprintf("failure-%d.json", r.Seed))
		if err := f.Write(filepath.Join(s.out, name)); err != nil {
			return err
		}
		r.Failure = name
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := s.results.Write(append(b, '\n')); err != nil {
		return err
	}
	if err := s.results.Sync(); err != nil {
		return err
	}
	s.count++
	s.simTime += r.SimSeconds
	if r.Class != "ok" {
		s.failures[r.Class]++
	}
	return nil
}

func (s *soak) progress() string {
	el := time.Since(s.started).Seconds()
	rate := float64(s.count) / max(el, 1e-9)
	var fails []string
	for _, k := range harness.SortedKeys(s.failures) {
		fails = append(fails, fmt.Sprintf("%d %s", s.failures[k], k))
	}
	f := "no failures"
	if len(fails) > 0 {
		f = strings.Join(fails, ", ")
	}
	eta := ""
	if left := s.todo - s.count; s.limit > 0 && rate > 0 && left > 0 {
		eta = fmt.Sprintf(", ETA %s", time.Duration(float64(left)/rate*float64(time.Second)).Round(time.Second))
	}
	return fmt.Sprintf("%d seeds (%.1f/s), %.2f simulated hours, %s%s", s.count, rate, s.simTime/3600, f, eta)
}

func describeExit(err error, stderr string) string {
	msg := "exited"
	if err != nil {
		msg = err.Error()
	}
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == memguard.ExitCode {
		msg = "out of memory (heap over --max-memory-mb)"
	}
	if t := strings.TrimSpace(stderr); t != "" {
		if lines := strings.Split(t, "\n"); len(lines) > 8 {
			t = strings.Join(lines[:8], "\n") + "\n…"
		}
		msg += "\n" + t
	}
	return msg
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// tailBuffer keeps the first max bytes written (a panic's message and the
// top of its stack).
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	if room := t.max - len(t.b); room > 0 {
		t.b = append(t.b, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// cmdSoakWorker is the worker side: it reads seeds from stdin, one per
// line, runs each, and answers in JSON lines on stdout.
func cmdSoakWorker(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("hasim soak-worker", flag.ContinueOnError)
	fs.SetOutput(stderr)
	config := fs.String("config", "", "the soak's soak.json")
	maxMem := fs.Int64("max-memory-mb", 4096, "heap limit")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	b, err := os.ReadFile(*config)
	if err != nil {
		return usagef("--config: %v", err)
	}
	var cfg scenarios.SoakConfig
	if err := json.Unmarshal(b, &cfg); err != nil {
		return usagef("--config: %v", err)
	}
	d, err := time.ParseDuration(cfg.SimDuration)
	if err != nil {
		return usagef("--config: sim_duration: %v", err)
	}
	// The parent handles Ctrl-C and SIGTERM (a terminal, systemd or a
	// kill of the process group send them to every process in it): a worker
	// must not die of them first and be taken for a crash. It ends when the
	// parent closes its input, or kills it.
	signal.Ignore(os.Interrupt, syscall.SIGTERM)
	go memguard.Watch(*maxMem)
	if cfg.Template == nil {
		return usagef("--config: %s is a soak of a test binary (exec), not of a scenario", *config)
	}
	passed := 0
	return scenarios.ServeWorker(os.Stdin, stdout, func(seed uint64, send func(scenarios.WorkerMsg) error) (scenarios.SoakResult, func() error, error) {
		injectWorkerFault(seed)
		return soakSeed(cfg, seed, d, send, &passed)
	})
}

// MaxShrinkRuns bounds the runs a soak spends shrinking one failure.
const MaxShrinkRuns = 200

// soakSeed runs one seed; on a violation it reports the failure at once and
// returns, with the result, how to shrink the schedule and report the
// shrunk failure.
func soakSeed(cfg scenarios.SoakConfig, seed uint64, d time.Duration, send func(scenarios.WorkerMsg) error, passed *int) (scenarios.SoakResult, func() error, error) {
	c, err := cfg.Template.Draw(seed, d)
	if err != nil {
		return scenarios.SoakResult{}, nil, err
	}
	spec, err := scenarios.SpecOf(c.Scenario)
	if err != nil {
		return scenarios.SoakResult{}, nil, err
	}
	build := func() (scenarios.Scenario, error) { return spec.Build() }
	sc, sched := c.Scenario, c.Schedule
	res, err := harness.Run(harness.Config{Scenario: sc, Duration: d}, seed, sched)
	if err != nil {
		return scenarios.SoakResult{}, nil, err
	}
	r, violated := scenarios.NewSoakResult(seed, res)
	r.Settings = c.Settings
	if len(violated) == 0 {
		*passed++
		if cfg.VerifyEvery > 0 && *passed%cfg.VerifyEvery == 0 {
			sc2, _ := build()
			again, err := harness.Run(harness.Config{Scenario: sc2, Duration: d}, seed, sched)
			if err != nil {
				return scenarios.SoakResult{}, nil, err
			}
			r.Verified = true
			if again.TraceHash != res.TraceHash {
				r.Class = scenarios.ClassDivergence
				r.Detail = fmt.Sprintf("the same seed gave trace hash %s, then %s", res.TraceHash, again.TraceHash)
				f, err := scenarios.NewFailure(sc, seed, d, sched, res, "soak determinism re-run")
				if err != nil {
					return scenarios.SoakResult{}, nil, err
				}
				f.Class = scenarios.ClassDivergence
				return r, nil, send(scenarios.WorkerMsg{Seed: seed, Kind: scenarios.MsgFound, Failure: &f})
			}
		}
		return r, nil, nil
	}
	r.Class = scenarios.ClassViolation
	r.Detail = scenarios.JoinChecks(violated) + " violated"
	f, err := scenarios.NewFailure(sc, seed, d, sched, res, "soak")
	if err != nil {
		return scenarios.SoakResult{}, nil, err
	}
	f.Class = scenarios.ClassViolation
	if err := send(scenarios.WorkerMsg{Seed: seed, Kind: scenarios.MsgFound, Failure: &f}); err != nil {
		return scenarios.SoakResult{}, nil, err
	}
	shrink := func() error {
		small, runs, err := scenarios.Shrink(build, seed, d, sched, violated, MaxShrinkRuns)
		if err != nil {
			return err
		}
		if harness.Schedule(small).String() == sched.String() {
			return nil // nothing to take away
		}
		sc3, _ := build()
		res3, err := harness.Run(harness.Config{Scenario: sc3, Duration: d}, seed, small)
		if err != nil {
			return err
		}
		fs, err := scenarios.NewFailure(sc3, seed, d, small, res3, fmt.Sprintf("soak, shrunk from %d to %d entries in %d runs", len(sched), len(small), runs))
		if err != nil {
			return err
		}
		fs.Class, fs.Shrunk = scenarios.ClassViolation, true
		return send(scenarios.WorkerMsg{Seed: seed, Kind: scenarios.MsgShrunk, Failure: &fs})
	}
	return r, shrink, nil
}

// injectWorkerFault lets the soak's own tests make a worker panic, hang or
// run out of memory on one seed ($HASIM_SOAK_TEST_FAULT="panic:5",
// "hang:6", "oom:7"), to prove those failures are recorded; nothing else
// sets it.
func injectWorkerFault(seed uint64) {
	kind, at, ok := strings.Cut(os.Getenv("HASIM_SOAK_TEST_FAULT"), ":")
	if !ok || at != strconv.FormatUint(seed, 10) {
		return
	}
	switch kind {
	case "panic":
		panic(fmt.Sprintf("injected panic on seed %d", seed))
	case "hang":
		select {}
	case "oom":
		var hog [][]byte
		for {
			hog = append(hog, make([]byte, 64<<20))
			time.Sleep(10 * time.Millisecond)
		}
	}
}
