// Package ctrl runs a controller-runtime reconcile.Reconciler, unmodified,
// inside hasim's simulated control plane: one replica on every master,
// leader-elected through a Lease like the controller-managers, under every
// fault hasim generates, judged by the cluster's checks.
//
// # Terms
//
// A Manager holds what the replicas of every registered reconciler share:
// the user's runtime.Scheme, the mapping of kinds to the resources the
// simulated API serves, and the bridge to simulated time. Options describe
// one reconciler (what controller-runtime's builder is told: For, Owns, a
// name); Manager.Elected turns them into a kube.Elected registration, so
// that leader election, single-active/<lease>, deposed-writes,
// recovers-after-heal, the role @active-<name> and the generated faults
// all come from the cluster's own registration path.
//
// In each replica, kube.Informers over its master's API server (stale under
// faults, as client-go's are) feed a work queue with controller-runtime's
// semantics: requests are de-duplicated, an item is never handed out twice
// at once, a failed reconcile is retried after a per-item exponential
// backoff (5ms doubling up to 1000s), and Result.RequeueAfter and
// Result.Requeue take effect on the replica's simulated clock. A change to
// an owned object enqueues its controller owner. The queue runs only while
// the replica leads and every informer has synced, with one reconcile at a
// time (MaxConcurrentReconciles 1).
//
// # Coroutines
//
// Each Reconcile call runs as a coroutine (iter.Pull). The client's reads
// (Get, List) are served from the informers' caches at once. Every write
// the user's code makes suspends it: the write goes out as an API request
// through the replica (kube.Replica.Write, which deposed-writes follows),
// and the coroutine resumes, within the kernel's step that delivers the
// answer, with the answer mapped to the error controller-runtime's client
// would return (apierrors' NotFound, AlreadyExists, Conflict, Invalid,
// ...). Reads through the API reader (Replica.GetAPIReader) suspend it the
// same way: each is a quorum read of the replica's master's API server.
// Nothing of a reconcile outlives its process: when the replica's process
// stops or crashes, its coroutine is abandoned (stopped; the client calls
// it still makes fail at once and reach nobody).
//
// # Simulated time
//
// Manager.Run runs the simulation inside a testing/synctest bubble. Before
// user code resumes, the kernel's goroutine sleeps until the bubble's
// clock reads the bubble's start plus the replica's local clock reading;
// synctest advances the bubble's clock at once, so time.Now, timers and
// context deadlines in user code follow simulated time, the same in every
// run of a seed. A context deadline also bounds the write the user's code
// waits on. Deviation, named: the bubble has one clock, so when the hosts'
// clocks differ, user code sees the latest local reading of any replica
// resumed so far (never a clock going backwards), not exactly its own
// host's. Outside a bubble (harness.Run called directly) nothing sleeps and
// user code reads the real clock.
//
// # Check
//
// Check(t, Setup) is the entry point for go test: rapid draws cases, each
// a seed and a fault schedule generated for the cluster with the
// reconcilers registered (faults on their processes and hosts, on the role
// @active-<name>, aimed at their writes), kept inside leader election's
// safety envelope. A process on host DriverHost, outside the fault model,
// creates Setup.Objects and makes Setup.Changes through the load balancer.
// Every verdict must hold: the cluster's own checks (among them
// api-linearizable/objects, which judges the API reader's reads against
// the store), invariant/<name> for
// each of Setup.Invariants (judged on the ground truth, a State, at every
// new store revision), and recovers-after-heal, which includes
// Setup.Settled. A failure is shrunk and reported with its seed, schedule,
// verdicts and one command that replays it (-hasim.replay=FILE); its
// trace and the checkers' views go under FailureDir. The first case, every
// RecheckEvery-th and the failure reported run twice: traces that differ
// are reported as a nondeterministic reconciler, with the first line that
// differs. Find is Check for tests that expect a failure; Fuzz is Check as
// a fuzz target. The package example is a worked example.
//
// # What hasim serves
//
// Objects are converted through the user's scheme to the API model's
// generic objects (see hasim/model/kube's generic.go): name (or
// generateName, which the API server completes on a create) and
// namespace, uid, resourceVersion, generation, labels, annotations,
// ownerReferences (with their controller and blockOwnerDeletion flags),
// finalizers, creationTimestamp and deletionTimestamp (the API server's
// clock, which the server sets), spec and status. The
// kinds a reconciler names in For and Owns are registered with the cluster
// as custom resources (Manager.Resources). Whatever the model does not hold
// is refused with an error that says "unsupported by hasim" rather than
// dropped: managedFields, top-level fields
// other than spec and status, server-side apply, patch types other than a
// JSON merge patch, dry runs, field selectors, paging, DeleteAllOf,
// foreground or orphan deletion, uid preconditions, subresources other
// than status, and reads of kinds the reconciler does not watch (reads
// come from its informers). Silently dropped, because the model has no
// place for them and they change nothing it models: a delete's grace
// period, and the timestamps a request sends (the server's to set).
package ctrl
