package model

import "hasim/harness"

// The names of hasim's checks, shared by the scenarios that run them, the
// bug switches they catch, the properties and the tools.
const (
	// CheckRaftSafety: raft's election safety, log matching, leader
	// completeness and state machine safety.
	CheckRaftSafety harness.CheckName = "raft-safety"
	// CheckLinearizability: the store's key-value history is linearizable.
	CheckLinearizability harness.CheckName = "linearizability"
	// CheckAckedDurable: no acknowledged write is lost.
	CheckAckedDurable harness.CheckName = "acked-durable"
	// CheckConverged: the counter's replicas agree at the end.
	CheckConverged harness.CheckName = "converged"
	// CheckSingleActive: at most one elected replica acts at any instant;
	// in the cluster, one check per lease (CheckSingleActive.Of(lease name)).
	CheckSingleActive harness.CheckName = "single-active"
	// CheckDeposedWrites: no write lands after its writer was deposed.
	CheckDeposedWrites harness.CheckName = "deposed-writes"
	// CheckAPILinearizable: the API's ConfigMaps, as users saw them
	// through the load balancer, are linearizable registers.
	CheckAPILinearizable harness.CheckName = "api-linearizable"
	// CheckNoTimeTravel: no read returns an older resourceVersion than one
	// its client saw before; one check per read mode (.Of("quorum")).
	CheckNoTimeTravel harness.CheckName = "no-time-travel"
	// CheckWorkloadContinuity: pods keep running while the masters are
	// down, and stop only for a reason.
	CheckWorkloadContinuity harness.CheckName = "workload-continuity"
	// CheckNoSurplusPods: no ReplicaSet grows past what it wants from what
	// its controller could know.
	CheckNoSurplusPods harness.CheckName = "no-surplus-pods"
	// CheckAPIAvailable: the API answers through the load balancer while
	// the system could serve.
	CheckAPIAvailable harness.CheckName = "api-available"
	// CheckRecoversAfterHeal: after the last fault heals, the system
	// recovers within its budget.
	CheckRecoversAfterHeal harness.CheckName = "recovers-after-heal"
	// CheckInvariant: a user's invariant holds at every store revision;
	// one check per invariant (CheckInvariant.Of(its name)).
	CheckInvariant harness.CheckName = "invariant"
)
