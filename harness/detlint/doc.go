// Package detlint defines an analyzer that keeps simulated code
// deterministic.
//
// # Why
//
// hasim runs models under a deterministic simulation: given the same seed,
// a run must produce exactly the same sequence of events, every time, on
// every machine. That only holds if simulated code takes all of its
// nondeterminism — time, concurrency, randomness — from the simulation host,
// which controls and records it. Anything that reaches around the host (the
// real clock, the Go scheduler, the process-global random source, the
// operating system's entropy, Go's randomized map order) makes runs
// unreproducible, and the resulting bugs are the hardest kind to chase.
//
// detlint reports such constructs in the code under the analyzer's scope.
//
// # Scope
//
// Only packages whose import path is one of the scope prefixes, or lies
// below one, are checked. The prefixes come from the -scope flag, a
// comma-separated list that defaults to
//
//	hasim/model,hasim/harness
//
// A prefix p matches the import path p itself and every path p/...
// ("hasim/model" matches "hasim/model/disk" but not "hasim/modeling").
// A trailing "/..." on a prefix is accepted and ignored.
//
// Files whose names end in _test.go are never checked: tests may time
// things, spawn goroutines and so on.
//
// # Rules
//
// Each finding belongs to one rule; the rule's name is shown in brackets at
// the end of the message and is what an allow directive (below) names.
//
// wallclock: uses of time.Now, time.Since, time.Until, time.Sleep,
// time.After, time.AfterFunc, time.Tick, time.NewTimer and time.NewTicker,
// whether called or taken as a value (f := time.Now). These read or wait on
// the real clock; simulated code must use the host's local clock. Types and
// constants of package time (time.Duration, time.Second, time.Time values
// and their methods) are fine.
//
// goroutine: go statements. The Go scheduler decides when goroutines run,
// so their interleaving differs from run to run; concurrency in simulated
// code must be scheduled by the host.
//
// channel: channel type expressions (chan T, <-chan T, chan<- T, wherever
// they appear: declarations, struct fields, parameters, make), send
// statements, receive expressions, range loops over channels, and select
// statements. Channels exist to synchronize goroutines, and select picks
// among ready cases at random. A select is reported once; the send or
// receive that forms each of its cases is not reported again.
//
// globalrand: package-level functions of math/rand and math/rand/v2
// (Intn, Int63, Float64, Shuffle, Perm, Seed, Read, N, IntN, Uint64, ...),
// called or referenced. They draw from the process-global source, which is
// not seeded by the simulation. Constructors of seeded generators (New,
// NewSource, NewPCG, NewChaCha8, NewZipf), all methods (for example on a
// *rand.Rand), and types remain allowed: build a generator from the seed the
// host provides and call its methods.
//
// cryptorand: any use of crypto/rand's package-level functions (Read, Int,
// Prime, Text) or of its Reader variable. They draw from the operating
// system's entropy; the harness owns that source and model code must not
// draw from it.
//
// maprange: range loops over maps (including named map types, and type
// parameters whose type set consists of maps), and range loops directly over
// maps.Keys, maps.Values or maps.All. Go randomizes map iteration order.
// Range over sorted keys instead, for example
//
//	for _, k := range slices.Sorted(maps.Keys(m)) { ... m[k] ... }
//
// Map lookups, assignments, deletes and len are fine; only iteration order
// is a problem. An iterator from maps.Keys (or Values, All) stored in a
// variable and ranged over later is not detected.
//
// # Allowing a construct
//
// Some constructs are deliberate: a harness that really must read the wall
// clock, or a loop over a map whose result does not depend on order. Mark
// them with a directive comment naming the rule and giving a reason:
//
//	//detlint:allow maprange summing counts; order does not matter
//	for _, n := range counts {
//		total += n
//	}
//
//	start := time.Now() //detlint:allow wallclock harness measures real run time
//
// A directive suppresses findings of the named rule on its own line and on
// the line directly below it, and nothing else. Several rules may be given
// separated by commas (//detlint:allow channel,goroutine reason). The
// directive must start exactly with "//detlint:allow" (no space after the
// slashes). Text after a " //" inside the directive is treated as a
// trailing comment and is not part of the reason.
//
// A directive without a reason, or naming an unknown rule, is itself
// reported ("detlint:allow needs a rule and a reason") and suppresses
// nothing.
//
// # Running
//
// The command hasim/cmd/hasim-lint runs this analyzer:
//
//	go run ./cmd/hasim-lint ./model/... ./harness/...
//
// It prints file:line:col diagnostics and exits non-zero when it finds any.
// Use -scope to change the checked prefixes.
package detlint
