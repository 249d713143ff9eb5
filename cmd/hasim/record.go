package main

// hasim record: the store scenario's key-value workload against a real etcd
// cluster under real process faults, recorded as a history file and judged
// by the checker `hasim check --model kv` uses. Unlike the rest of hasim it
// runs on the wall clock, with goroutines and real processes: it is the
// bridge that lets the same checkers judge the real system.

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"hasim/checkers"
	"hasim/cmd/hasim/realetcd"
	"hasim/harness"
)

const recordUsage = `usage: hasim record [flags]

Starts a real 3-member etcd cluster on 127.0.0.1 (the etcd binary on PATH,
or --etcd), drives it with the store scenario's key-value workload (each
client one call at a time: get, put, compare-and-swap on the mod revision,
delete, on a few keys, unique values per write) while injecting process
faults on a schedule drawn from the seed (kill -9 and restart of a member,
SIGSTOP/SIGCONT of the leader, and of a follower), records every call in
'hasim check --model kv' format (--out), then checks it with that checker.

A write whose outcome is unknown (timeout, connection lost after sending)
is recorded as indeterminate; a call that certainly had no effect (a
refused connection, any failed read) as failed. With --serializable gets
are serializable reads, which members answer from their local state: a
follower that has not yet applied a write the leader acknowledged, or a
member resuming from SIGSTOP, answers stale, and the check finds it.

Exit codes: 0 linearizable (unknown is printed loudly; --strict makes it
exit 1), 1 violated, 2 bad usage or a cluster that would not start.

flags:
`

// Fixed parameters of the recorder.
const (
	// recordKeyEpoch: clients move to fresh keys this often (as the store
	// scenario's workload does every KeyEpoch), which keeps each key's
	// history, and so the checker's search, small.
	recordKeyEpoch = 5 * time.Second
	// recordCallTimeout is each call's deadline: shorter than etcd's own
	// request timeout (7s with the default election timeout), so that a
	// write stuck behind a paused leader ends indeterminate here.
	recordCallTimeout = 2 * time.Second
	// recordAvoid: after a call to a member fails, its client picks other
	// members for this long (as gRPC's reconnection backoff keeps
	// clientv3 off a broken endpoint).
	recordAvoid = time.Second
	// recordMaxUnknown caps the writes per key whose outcome is unknown or
	// still pending (model/store's MaxIndeterminatePerKey): each stays
	// concurrent with everything after it, and past a few per key the
	// checker's search explodes. A key at the cap is only read.
	recordMaxUnknown = 3
	// recordQuietTail: the end of the run is kept free of faults, so that
	// the cluster has recovered when the clients stop.
	recordQuietTail = 2 * time.Second
)

type recordFlags struct {
	duration     time.Duration
	seed         string
	out          string
	clients      int
	keys         int
	serializable bool
	rate         float64
	etcd         string
	dir          string
	timeout      time.Duration
	html         string
	strict       bool
}

func cmdRecord(args []string, stdout, stderr io.Writer) error {
	var f recordFlags
	fs := flag.NewFlagSet("hasim record", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&f.duration, "duration", 20*time.Second, "how long the clients run (the first three faults, one of each kind, need up to 17.5s)")
	fs.StringVar(&f.seed, "seed", "1", "seed of the fault schedule and the clients' choices: a number, or \"random\"")
	fs.StringVar(&f.out, "out", "hasim-record.jsonl", "history file to write (hasim check --model kv reads it)")
	fs.IntVar(&f.clients, "clients", 6, "concurrent clients, each with one call at a time")
	fs.IntVar(&f.keys, "keys", 5, "keys per key epoch (clients move to fresh keys every 5s)")
	fs.BoolVar(&f.serializable, "serializable", false, "gets are serializable reads (served locally by members, possibly stale)")
	fs.Float64Var(&f.rate, "rate", 500, "calls per second over all clients, about (0: as fast as the cluster answers)")
	fs.StringVar(&f.etcd, "etcd", "", "etcd binary (default: etcd on PATH)")
	fs.StringVar(&f.dir, "dir", "", "directory for the members' data and logs, kept (default: a temporary one, removed)")
	fs.DurationVar(&f.timeout, "timeout", 60*time.Second, "bound on the checker's search; past it the verdict is unknown")
	fs.StringVar(&f.html, "html", "", "write porcupine's HTML view of a violation to this file")
	fs.BoolVar(&f.strict, "strict", false, "exit 1 when the verdict is unknown, not only when violated")
	fs.Usage = func() {
		fmt.Fprint(stderr, recordUsage)
		fs.PrintDefaults()
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (hasim record takes flags only)", fs.Arg(0))
	}
	seed, drawn, err := parseSeed(f.seed)
	if err != nil {
		return err
	}
	switch {
	case f.duration <= 0 || f.duration > time.Hour:
		return usagef("--duration: %s out of range (0, 1h]", f.duration)
	case f.clients < 1 || f.clients > 256:
		return usagef("--clients: %d out of range [1, 256]", f.clients)
	case f.keys < 1 || f.keys > 1000:
		return usagef("--keys: %d out of range [1, 1000]", f.keys)
	case f.rate < 0:
		return usagef("--rate: must not be negative, got %g", f.rate)
	case f.timeout <= 0:
		return usagef("--timeout: must be positive, got %s", f.timeout)
	case f.out == "":
		return usagef("--out: a history file is needed")
	}
	bin, err := realetcd.FindBinary(f.etcd)
	if err != nil {
		return usagef("--etcd: %v", err)
	}
	// Create the history file first: a bad path fails before 20 seconds
	// of work.
	outFile, err := os.Create(f.out)
	if err != nil {
		return usagef("--out: %v", err)
	}
	written := false
	defer func() {
		outFile.Close()
		if !written {
			// An empty file would read as a history with nothing to
			// judge.
			os.Remove(f.out)
		}
	}()

	dir := f.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "hasim-record-"); err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return usagef("--dir: %v", err)
	}

	// Ctrl-C or SIGTERM end the run early; the members are killed either
	// way.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	sched := recordSchedule(seed, f.duration)
	seedNote := ""
	if drawn {
		seedNote = " (drawn at random)"
	}
	reads := "linearizable gets"
	if f.serializable {
		reads = "serializable gets"
	}
	cluster, err := realetcd.StartCluster(ctx, realetcd.Config{Bin: bin, Dir: dir, Size: 3})
	if err != nil {
		return fmt.Errorf("starting etcd: %w", err)
	}
	defer cluster.Close()
	version := "etcd"
	if st, err := cluster.Members[0].Client.Status(ctx); err == nil {
		version += " " + st.Version
	}
	fmt.Fprintf(stdout, "hasim record: 3 members of %s on 127.0.0.1, seed %d%s, %s, %d clients on %d keys, %s\n",
		version, seed, seedNote, f.duration, f.clients, f.keys, reads)
	if f.dir != "" {
		fmt.Fprintf(stdout, "members' data and logs: %s\n", cluster.Dir)
	}
	fmt.Fprintf(stdout, "schedule (generated from the seed, %d faults):\n", len(sched))
	for _, ft := range sched {
		fmt.Fprintf(stdout, "  %s\n", ft)
	}

	rec := &recorder{flags: f, seed: seed, cluster: cluster, unknown: map[string]int{}, pending: map[string]int{}}
	log := &faultLog{w: stdout}
	fmt.Fprintln(stdout, "faults:")
	rec.run(ctx, sched, log)
	cluster.Close()
	if ctx.Err() != nil {
		return fmt.Errorf("interrupted: %w", ctx.Err())
	}
	if len(log.lines) == 0 {
		fmt.Fprintln(stdout, "  (none)")
	}
	for _, c := range cluster.Crashes() {
		fmt.Fprintf(stdout, "warning: %s\n", c)
	}

	// Write the history, then check what was written, exactly as `hasim
	// check --model kv FILE` would.
	header := []string{
		fmt.Sprintf("hasim record --seed %d --duration %s --clients %d --keys %d --rate %g --serializable=%t (%s)",
			seed, f.duration, f.clients, f.keys, f.rate, f.serializable, version),
	}
	for _, l := range log.lines {
		header = append(header, "fault: "+l)
	}
	if err := writeHistory(outFile, header, rec.ops); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	if err := outFile.Close(); err != nil {
		return fmt.Errorf("--out: %w", err)
	}
	written = true
	fmt.Fprintf(stdout, "history: %s: %s\n", f.out, historySummary(rec.ops))

	in, err := os.Open(f.out)
	if err != nil {
		return err
	}
	defer in.Close()
	ops, err := checkers.ReadKVHistory(in)
	if err != nil {
		return fmt.Errorf("reading back %s: %w", f.out, err)
	}
	v, rep := checkers.CheckLinearizable(ops, checkers.LinearizableOptions{Timeout: f.timeout, HTMLPath: f.html})
	status := string(v.Status)
	if v.Status == harness.Unknown {
		status = "UNKNOWN"
	}
	fmt.Fprintf(stdout, "check (hasim check --model kv %s):\n", f.out)
	fmt.Fprintf(stdout, "  %-8s %s  %s\n", status, v.Check, v.Detail)
	switch v.Status {
	case harness.Violated:
		if rep.HTMLPath == "" {
			fmt.Fprintln(stdout, "(--html FILE writes porcupine's view of the violation)")
		}
	case harness.Unknown:
		fmt.Fprintf(stdout, "warning: UNKNOWN is not ok: the checker could not decide (a longer --timeout may)\n")
	}
	if v.Status == harness.Violated || (f.strict && v.Status == harness.Unknown) {
		return errViolated
	}
	return nil
}

// recFaultKind is a kind of process fault of the recorder.
type recFaultKind int

const (
	recKill          recFaultKind = iota // SIGKILL a member, restart it later
	recPauseLeader                       // SIGSTOP the leader, SIGCONT later
	recPauseFollower                     // SIGSTOP a follower, SIGCONT later
)

// recFault is one entry of a schedule: at At (from the clients' start),
// for For.
type recFault struct {
	At, For time.Duration
	Kind    recFaultKind
	// Member is the member killed (recKill), or which of the followers is
	// paused, 0 or 1, in member order (recPauseFollower).
	Member int
}

func (f recFault) String() string {
	at := "at " + f.At.Round(time.Millisecond).String()
	d := f.For.Round(time.Millisecond)
	switch f.Kind {
	case recKill:
		return fmt.Sprintf("%s kill -9 m%d, restart after %s", at, f.Member+1, d)
	case recPauseLeader:
		return fmt.Sprintf("%s SIGSTOP the leader for %s", at, d)
	default:
		return fmt.Sprintf("%s SIGSTOP follower %d of 2 for %s", at, f.Member+1, d)
	}
}

// recordSchedule draws a fault schedule from seed: one fault at a time,
// never two members down together (so a quorum remains), and the quiet
// tail free. The first three faults are one of each kind, in an order
// drawn from the seed, so that every run of 17.5s or more has them all
// (at most 1.5s before the first, 2.5s + 3.5s + 5s of faults, 1.5s
// between each two, and the tail); later ones are drawn at random.
//
// A paused member keeps its sockets: what clients send it queues in the
// kernel and is served the moment it resumes, from the state it had when
// it was stopped, before raft catches it up (measured: reads queued during
// a 2s pause were all answered at its end with the revision of its
// start). Serializable reads are then stale, and a linearizable history
// shows it; linearizable reads wait for a quorum round and do not.
func recordSchedule(seed uint64, d time.Duration) []recFault {
	r := rand.New(rand.NewPCG(seed, 0x5eed_fa17))
	between := func(lo, hi time.Duration) time.Duration { return lo + time.Duration(r.Int64N(int64(hi-lo)+1)) }
	order := []recFaultKind{recKill, recPauseLeader, recPauseFollower}
	r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	var out []recFault
	t := between(time.Second, 1500*time.Millisecond)
	for i := 0; ; i++ {
		kind := recFaultKind(r.IntN(3))
		if i < len(order) {
			kind = order[i]
		}
		f := recFault{At: t, Kind: kind}
		switch kind {
		case recKill:
			// Long enough for clients to see refusals; a restart takes
			// about a second more.
			f.For, f.Member = between(time.Second, 2500*time.Millisecond), r.IntN(3)
		case recPauseLeader:
			// Past the election timeout (1s): the others elect a new
			// leader while the old one sleeps.
			f.For = between(2*time.Second, 3500*time.Millisecond)
		case recPauseFollower:
			f.For, f.Member = between(3*time.Second, 5*time.Second), r.IntN(2)
		}
		if f.At+f.For > d-recordQuietTail {
			return out
		}
		out = append(out, f)
		t = f.At + f.For + between(time.Second, 1500*time.Millisecond)
	}
}

// faultLog prints what the fault injector did as it does it, and keeps the
// lines for the history file's header.
type faultLog struct {
	mu    sync.Mutex
	w     io.Writer
	lines []string
}

func (l *faultLog) add(at time.Duration, format string, args ...any) {
	line := fmt.Sprintf("%-8s %s", at.Round(time.Millisecond), fmt.Sprintf(format, args...))
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, line)
	fmt.Fprintf(l.w, "  %s\n", line)
}

// recorder runs the clients and the faults and collects the history.
type recorder struct {
	flags   recordFlags
	seed    uint64
	cluster *realetcd.Cluster
	start   time.Time

	mu  sync.Mutex
	ops []checkers.KVOp
	// unknown counts each key's writes of unknown outcome, pending its
	// writes in flight (see recordMaxUnknown).
	unknown map[string]int
	pending map[string]int
}

// now is the time since the clients started, on the monotonic clock.
func (r *recorder) now() time.Duration { return time.Since(r.start) }

func (r *recorder) run(ctx context.Context, sched []recFault, log *faultLog) {
	r.start = time.Now()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r.faults(ctx, sched, log)
	}()
	var cw sync.WaitGroup
	for id := 0; id < r.flags.clients; id++ {
		cw.Add(1)
		go func() {
			defer cw.Done()
			r.client(ctx, id)
		}()
	}
	cw.Wait()
	cancel()
	wg.Wait()
}

// sleep waits d unless ctx ends first; it reports whether ctx is alive.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// faults carries out the schedule. A paused member is always resumed and a
// killed one restarted, even when the run is cut short, so that the
// cluster is whole when the clients' last calls end.
func (r *recorder) faults(ctx context.Context, sched []recFault, log *faultLog) {
	c := r.cluster
	for _, f := range sched {
		if !sleep(ctx, f.At-r.now()) {
			return
		}
		switch f.Kind {
		case recKill:
			m := c.Members[f.Member]
			if err := m.Kill(); err != nil {
				log.add(r.now(), "kill -9 %s failed: %v", m.Name, err)
				continue
			}
			log.add(r.now(), "kill -9 %s", m.Name)
			sleep(ctx, f.For)
			if err := m.Restart(); err != nil {
				log.add(r.now(), "restart %s failed: %v", m.Name, err)
				continue
			}
			log.add(r.now(), "restart %s", m.Name)
		case recPauseLeader, recPauseFollower:
			leader := r.findLeader(ctx)
			if leader < 0 {
				log.add(r.now(), "no leader found; %s skipped", f)
				continue
			}
			target, role := leader, "leader"
			if f.Kind == recPauseFollower {
				var followers []int
				for i := range c.Members {
					if i != leader {
						followers = append(followers, i)
					}
				}
				target, role = followers[f.Member%len(followers)], "follower"
			}
			m := c.Members[target]
			if err := m.Pause(); err != nil {
				log.add(r.now(), "SIGSTOP %s failed: %v", m.Name, err)
				continue
			}
			log.add(r.now(), "SIGSTOP %s (%s)", m.Name, role)
			sleep(ctx, f.For)
			if err := m.Resume(); err != nil {
				log.add(r.now(), "SIGCONT %s failed: %v", m.Name, err)
				continue
			}
			log.add(r.now(), "SIGCONT %s", m.Name)
		}
	}
}

// findLeader asks the members for the leader for up to 10s: an election
// may be under way after the previous fault, and a member resumed from a
// pause campaigns at a higher term (etcd 3.4 runs without pre-vote), which
// on a loaded machine may take several rounds to settle.
func (r *recorder) findLeader(ctx context.Context) int {
	deadline := time.Now().Add(10 * time.Second)
	for {
		if l := r.cluster.Leader(ctx, 300*time.Millisecond); l >= 0 {
			return l
		}
		if time.Now().After(deadline) || !sleep(ctx, 100*time.Millisecond) {
			return -1
		}
	}
}

// recordKey names key i of the key epoch that is current at t.
func recordKey(t time.Duration, i int) string {
	return "k" + strconv.FormatInt(int64(t/recordKeyEpoch), 10) + "." + strconv.Itoa(i)
}

// mayWrite reserves a write on key unless the key is at the cap of writes
// of unknown outcome (counting those in flight, which may become so).
func (r *recorder) mayWrite(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.unknown[key]+r.pending[key] >= recordMaxUnknown {
		return false
	}
	r.pending[key]++
	return true
}

// wrote releases a reservation of mayWrite.
func (r *recorder) wrote(key string, indeterminate bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pending[key]--
	if indeterminate {
		r.unknown[key]++
	}
}

func (r *recorder) record(op checkers.KVOp) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, op)
}

// client is one sequential client: the store scenario's workload mix (40%
// puts of unique values, 40% gets, 10% deletes, 10% compare-and-swaps on
// the mod revision it last saw), members picked round robin, skipping for
// a while one whose call failed. Its choices come from the seed; what the
// cluster answers, and when, does not.
func (r *recorder) client(ctx context.Context, id int) {
	rng := rand.New(rand.NewPCG(r.seed, uint64(id)+1))
	members := r.cluster.Members
	next := id % len(members)
	avoid := make([]time.Time, len(members))
	lastMod := map[string]int64{}
	// Calls start a random gap apart, gap on average, counted from the
	// previous call's start (a slow call eats into the next gap).
	var gap, nextAt time.Duration
	if r.flags.rate > 0 {
		gap = time.Duration(float64(time.Second) * float64(r.flags.clients) / r.flags.rate)
	}
	for n := 1; ; n++ {
		if gap > 0 {
			nextAt += time.Duration(rng.Int64N(int64(2*gap) + 1))
			if !sleep(ctx, nextAt-r.now()) {
				return
			}
			nextAt = max(nextAt, r.now()-gap)
		}
		now := r.now()
		if now >= r.flags.duration || ctx.Err() != nil {
			return
		}
		key := recordKey(now, rng.IntN(r.flags.keys))
		// Round robin over the members not being avoided.
		m := next
		for i := 0; i < len(members); i++ {
			j := (next + i) % len(members)
			if time.Now().After(avoid[j]) {
				m = j
				break
			}
		}
		next = (m + 1) % len(members)

		x := rng.IntN(100)
		write := x < 40 || x >= 80
		if write && !r.mayWrite(key) {
			x, write = 50, false
		}
		value := "c" + strconv.Itoa(id) + "-" + strconv.Itoa(n)
		var op checkers.KVOp
		switch {
		case x < 40:
			op = r.put(ctx, members[m].Client, key, value)
		case x < 80:
			op = r.get(ctx, members[m].Client, key)
		case x < 90:
			op = r.del(ctx, members[m].Client, key)
		default:
			op = r.cas(ctx, members[m].Client, key, lastMod[key], value)
		}
		op.Client = id
		if write {
			r.wrote(key, op.Indeterminate)
		}
		if op.Failed || op.Indeterminate {
			avoid[m] = time.Now().Add(recordAvoid)
		}
		// What the client now believes the key's mod revision is, for its
		// next compare-and-swap (as the model's workload keeps it).
		switch {
		case op.Failed || op.Indeterminate:
		case op.Kind == checkers.KVPut || op.Kind == checkers.KVCas && op.Succeeded:
			lastMod[key] = op.Revision
		case op.Kind == checkers.KVDelete:
			lastMod[key] = 0
		default:
			lastMod[key] = op.Mod
		}
		r.record(op)
		if ctx.Err() != nil {
			return
		}
	}
}

// call times one request: it returns the call's start and end (since the
// clients started) and a context with the call's deadline.
func (r *recorder) call(ctx context.Context, do func(ctx context.Context) error) (start, end time.Duration, err error) {
	cctx, cancel := context.WithTimeout(ctx, recordCallTimeout)
	defer cancel()
	start = r.now()
	err = do(cctx)
	end = r.now()
	return start, end, err
}

// writeOutcome marks a write that failed: certainly without effect when
// it never reached the member, of unknown outcome otherwise (it may have
// been proposed, committed, and its answer lost).
func writeOutcome(op *checkers.KVOp, err error) {
	if realetcd.NotSent(err) {
		op.Failed = true
	} else {
		op.Indeterminate = true
	}
}

func readInto(op *checkers.KVOp, kvs []realetcd.KeyValue) {
	if len(kvs) == 0 {
		return
	}
	kv := kvs[0]
	op.Found, op.Got, op.Mod, op.Create, op.Version = true, kv.Value, kv.ModRevision, kv.CreateRevision, kv.Version
}

func (r *recorder) get(ctx context.Context, c *realetcd.Client, key string) checkers.KVOp {
	var resp *realetcd.RangeResponse
	start, end, err := r.call(ctx, func(ctx context.Context) (err error) {
		resp, err = c.Range(ctx, realetcd.RangeRequest{Key: key, Serializable: r.flags.serializable})
		return err
	})
	op := checkers.KVOp{Kind: checkers.KVGet, Key: key, Start: start, End: end}
	if err != nil {
		// A read has no effect, whatever went wrong.
		op.Failed = true
		return op
	}
	op.Revision = resp.Header.Revision
	readInto(&op, resp.KVs)
	return op
}

func (r *recorder) put(ctx context.Context, c *realetcd.Client, key, value string) checkers.KVOp {
	var resp *realetcd.PutResponse
	start, end, err := r.call(ctx, func(ctx context.Context) (err error) {
		resp, err = c.Put(ctx, realetcd.PutRequest{Key: key, Value: value})
		return err
	})
	op := checkers.KVOp{Kind: checkers.KVPut, Key: key, Value: value, Start: start, End: end}
	if err != nil {
		writeOutcome(&op, err)
		return op
	}
	op.Revision = resp.Header.Revision
	return op
}

func (r *recorder) del(ctx context.Context, c *realetcd.Client, key string) checkers.KVOp {
	var resp *realetcd.DeleteRangeResponse
	start, end, err := r.call(ctx, func(ctx context.Context) (err error) {
		resp, err = c.DeleteRange(ctx, realetcd.DeleteRangeRequest{Key: key})
		return err
	})
	op := checkers.KVOp{Kind: checkers.KVDelete, Key: key, Start: start, End: end}
	if err != nil {
		writeOutcome(&op, err)
		return op
	}
	op.Deleted, op.Revision = resp.Deleted, resp.Header.Revision
	return op
}

// cas writes value if key's mod revision is expect (0: the key is absent),
// and otherwise reads the key, in one transaction.
func (r *recorder) cas(ctx context.Context, c *realetcd.Client, key string, expect int64, value string) checkers.KVOp {
	var resp *realetcd.TxnResponse
	start, end, err := r.call(ctx, func(ctx context.Context) (err error) {
		resp, err = c.Txn(ctx, realetcd.TxnRequest{
			Compare: []realetcd.Compare{{Key: key, Target: realetcd.TargetMod, Result: realetcd.ResultEqual, Num: expect}},
			Success: []realetcd.RequestOp{{Put: &realetcd.PutRequest{Key: key, Value: value}}},
			Failure: []realetcd.RequestOp{{Range: &realetcd.RangeRequest{Key: key}}},
		})
		return err
	})
	op := checkers.KVOp{Kind: checkers.KVCas, Key: key, Value: value, ExpectMod: expect, Start: start, End: end}
	switch {
	case err != nil:
		writeOutcome(&op, err)
	case resp.Succeeded:
		op.Succeeded, op.Revision = true, resp.Header.Revision
	case len(resp.Responses) != 1 || resp.Responses[0].Range == nil:
		// Not what etcd answers; keep the history honest rather than
		// guess.
		op.Indeterminate = true
	default:
		op.Revision = resp.Header.Revision
		readInto(&op, resp.Responses[0].Range.KVs)
	}
	return op
}

// writeHistory writes header lines as comments, then ops in call order in
// the format of checkers.ReadKVHistory.
func writeHistory(w io.Writer, header []string, ops []checkers.KVOp) error {
	bw := bufio.NewWriter(w)
	for _, h := range header {
		fmt.Fprintf(bw, "# %s\n", h)
	}
	sorted := append([]checkers.KVOp(nil), ops...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Start < sorted[j].Start })
	if err := checkers.WriteKVHistory(bw, sorted); err != nil {
		return err
	}
	return bw.Flush()
}

// historySummary counts a history's ops by kind and outcome.
func historySummary(ops []checkers.KVOp) string {
	kinds := map[checkers.KVKind]int{}
	indet, failed := 0, 0
	for _, op := range ops {
		kinds[op.Kind]++
		if op.Indeterminate {
			indet++
		}
		if op.Failed {
			failed++
		}
	}
	var parts []string
	for _, k := range []checkers.KVKind{checkers.KVGet, checkers.KVPut, checkers.KVDelete, checkers.KVCas} {
		parts = append(parts, fmt.Sprintf("%d %s", kinds[k], k))
	}
	return fmt.Sprintf("%d ops (%s), %d indeterminate, %d failed", len(ops), strings.Join(parts, ", "), indet, failed)
}
