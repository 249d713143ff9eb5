// Package harness is hasim's deterministic simulation kernel.
//
// # The model of the world
//
// A simulation (Sim) holds hosts, processes, a network and one event queue.
// Time is virtual: true time starts at 0 and jumps from one event to the
// next. Events are ordered by (time, sequence number); sequence numbers are
// handed out as events are queued, so ties break the same way on every
// machine.
//
// Hosts have a local clock (Clock), computed in integer arithmetic, with
// two readings as on a real machine: a monotonic one (an offset and a
// rate) by which timers fire, so a host whose clock runs 2x fast sees its
// timers fire after half the true time; and a wall one that also takes the
// jumps (NTP steps), for timestamps (Ctx.WallNow). Each host has a disk
// whose writes are volatile until a sync completes (after the host's
// SyncLatency); a crash loses the rest.
//
// Processes are step machines (Process): the kernel hands them one Input at
// a time, a start, a delivered message, a fired timer or a completed sync,
// and they act through the Ctx: Send, After and Cancel timers, Disk,
// Exit, Notef. They never read true time, never start goroutines and never
// block; only the kernel moves messages. A restart builds a fresh instance
// (Spawn), so volatile state is really gone.
//
// The network carries messages between hosts with per-link latency,
// jitter, loss, duplication and reordering (LinkParams); messages between
// processes of one host take the loopback. Partitions cut groups of hosts
// both ways or one way, and either drop messages or hold them the way a
// stalled TCP connection does, delivering them in order once healed. A
// message to a process that restarted meanwhile is dropped: its connection
// died with the old incarnation.
//
// # Randomness
//
// Every random choice comes from a named stream of the run's PRNG tree
// (Rand): "faults", "network/m1->m2", "proc/m1/etcd/2", "crypto", ... Each
// stream derives from the root seed and its own name alone, so a draw added
// in one place never shifts the others. Run installs the "crypto" stream as
// crypto/rand.Reader for the duration of a run, which is where raft draws
// its randomized election timeouts; since that variable is process-global,
// one process runs one simulation at a time (Run panics otherwise).
//
// # Faults and schedules
//
// Faults are typed values (Partition, Isolate, Heal, Crash, Restart, Kill,
// Start, Pause, Resume, ClockJump, ClockRate, NetFault, NetReset) with a
// canonical text form. A Schedule is a list of entries, "at T fault [+
// fault ...] [for D]": faults of one entry apply together, their role
// targets ("@raft-leader") resolved once when the entry fires, and are all
// undone D later. ParseSchedule reads the text form and Schedule.String
// prints it; Validate checks a schedule against a Topology and reports the
// entry and field at fault. GenerateSchedule draws valid schedules from a
// seed.
//
// # The trace
//
// Every event leaves one canonical line: "12.400000000 deliver #17
// m1/etcd->m2/etcd <payload>", "... timer m1/etcd tick 0", "... fault #3
// crash m2", "... drop #18 ... (partition) ...", "... note m1/etcd became
// leader". The SHA-256 of all lines is the run's trace hash: the same seed,
// config and schedule give the same hash on any machine, any GOMAXPROCS.
//
// # Running
//
// A Scenario builds a system on a Sim and judges the finished run with
// verdicts (OK, Violated, Unknown). Run(config, seed, schedule) builds,
// validates, runs for the configured duration and checks. The outcome is a
// pure function of its inputs.
package harness
