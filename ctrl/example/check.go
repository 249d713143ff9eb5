package example

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"hasim/ctrl"
	"hasim/model/kube"
	"hasim/model/store"
)

// FleetName is the fleet the example's runs reconcile, in namespace
// default.
const FleetName = "f1"

// fleet is the fleet as its owner writes it.
func fleet(replicas int32, version string) *Fleet {
	return &Fleet{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: FleetName},
		Spec: FleetSpec{Replicas: replicas, Version: version}}
}

// Setup is the operator's ctrl.Check setup, with the given bugs planted:
// the fleet starts at 2 drones of v1; every 5s for the first 2m15s its
// owner (an autoscaler, say) scales it up by one, and every 30s rolls out
// a new version, while the faults strike; the invariants below must hold
// at every store revision, and Settled within the recovery budget after
// the faults heal. etcd runs on hosts of its own (external topology), so
// that an API server's watch cache can lag behind a partitioned member
// while its quorum reads go to the others.
func Setup(b Bugs) ctrl.Setup {
	var changes []ctrl.Change
	for i := 1; i <= 13; i++ {
		changes = append(changes, ctrl.Change{At: time.Duration(i) * 10 * time.Second, Object: fleet(int32(2+i), fmt.Sprintf("v%d", 1+i/3))})
	}
	return ctrl.Setup{
		Scheme: NewScheme(),
		Reconcilers: []ctrl.Options{{Name: "fleet", For: &Fleet{}, Owns: []client.Object{&Drone{}},
			New: func(r ctrl.Replica) reconcile.Reconciler { return &Reconciler{Client: r.GetClient(), Bugs: b} }}},
		Objects:    []client.Object{fleet(2, "v1")},
		Changes:    changes,
		Invariants: Invariants,
		Settled:    Settled,
		Cluster:    kube.Config{Topology: store.External, Workers: 1},
	}
}

// Invariants are what an operator author would write for the fleet, as
// ctrl.Setup.Invariants wants them (afresh for every run):
//   - at-most-replicas: a fleet never has more drones than its
//     spec.replicas (its owner only scales up here, so even a deposed
//     leader acting on an old spec stays within it);
//   - owned: every drone has exactly one controller, a fleet that exists,
//     with the uid its ownerReference names;
//   - observed-generation-monotonic: a fleet's status.observedGeneration
//     never goes back, and never passes its generation.
//
// They share one reading of the objects per store revision.
func Invariants() []ctrl.Invariant {
	observed := map[string]int64{}
	var snap snapshot
	read := func(s ctrl.State) (*snapshot, error) {
		if snap.rev != s.Rev() || snap.rev == 0 {
			var err error
			if snap, err = readSnapshot(s); err != nil {
				return nil, err
			}
		}
		return &snap, nil
	}
	return []ctrl.Invariant{
		{Name: "at-most-replicas", Check: func(s ctrl.State) error {
			sn, err := read(s)
			if err != nil {
				return err
			}
			for i := range sn.fleets {
				f := &sn.fleets[i]
				if drones := sn.controlled(f); int32(len(drones)) > f.Spec.Replicas {
					return fmt.Errorf("fleet %s has %d drones, spec.replicas %d: %s", f.Name, len(drones), f.Spec.Replicas, names(drones))
				}
			}
			return nil
		}},
		{Name: "owned", Check: func(s ctrl.State) error {
			sn, err := read(s)
			if err != nil {
				return err
			}
			for _, d := range sn.drones {
				ref := metav1.GetControllerOf(&d)
				if ref == nil || len(d.OwnerReferences) != 1 {
					return fmt.Errorf("drone %s has owners %v", d.Name, d.OwnerReferences)
				}
				f := sn.fleet(d.Namespace, ref.Name)
				switch {
				case f == nil:
					return fmt.Errorf("drone %s: its fleet %s does not exist", d.Name, ref.Name)
				case f.UID != ref.UID:
					return fmt.Errorf("drone %s names fleet uid %s, the fleet has %s", d.Name, ref.UID, f.UID)
				}
			}
			return nil
		}},
		{Name: "observed-generation-monotonic", Check: func(s ctrl.State) error {
			sn, err := read(s)
			if err != nil {
				return err
			}
			for _, f := range sn.fleets {
				key := f.Namespace + "/" + f.Name
				got, before := f.Status.ObservedGeneration, observed[key]
				switch {
				case got < before:
					return fmt.Errorf("fleet %s: status.observedGeneration went back from %d to %d", f.Name, before, got)
				case got > f.Generation:
					return fmt.Errorf("fleet %s: status.observedGeneration %d is past its generation %d", f.Name, got, f.Generation)
				}
				observed[key] = got
			}
			return nil
		}},
	}
}

// Settled is the fleet's settled state: as many drones as it wants, each
// at its version, and its status counting them at its generation.
func Settled(s ctrl.State) error {
	sn, err := readSnapshot(s)
	if err != nil {
		return err
	}
	for i := range sn.fleets {
		f := &sn.fleets[i]
		drones := sn.controlled(f)
		if n := int32(len(drones)); n != f.Spec.Replicas {
			return fmt.Errorf("fleet %s has %d drones, wants %d: %s", f.Name, n, f.Spec.Replicas, names(drones))
		}
		for _, d := range drones {
			if d.Spec.Version != f.Spec.Version {
				return fmt.Errorf("drone %s runs %s, fleet %s wants %s", d.Name, d.Spec.Version, f.Name, f.Spec.Version)
			}
		}
		if f.Status.Replicas != int32(len(drones)) || f.Status.ObservedGeneration != f.Generation {
			return fmt.Errorf("fleet %s status counts %d drones at generation %d; %d exist, generation %d",
				f.Name, f.Status.Replicas, f.Status.ObservedGeneration, len(drones), f.Generation)
		}
	}
	return nil
}

// snapshot is the fleets and drones at one store revision.
type snapshot struct {
	rev    int64
	fleets []Fleet
	drones []Drone
}

// readSnapshot reads every fleet and drone of the state.
func readSnapshot(s ctrl.State) (snapshot, error) {
	var fleets FleetList
	var drones DroneList
	if err := s.List(&fleets); err != nil {
		return snapshot{}, err
	}
	if err := s.List(&drones); err != nil {
		return snapshot{}, err
	}
	return snapshot{rev: s.Rev(), fleets: fleets.Items, drones: drones.Items}, nil
}

// fleet returns the fleet of that namespace and name, or nil.
func (sn *snapshot) fleet(namespace, name string) *Fleet {
	for i := range sn.fleets {
		if f := &sn.fleets[i]; f.Namespace == namespace && f.Name == name {
			return f
		}
	}
	return nil
}

// controlled returns the drones whose controller is the fleet f.
func (sn *snapshot) controlled(f *Fleet) []Drone {
	var mine []Drone
	for _, d := range sn.drones {
		if ref := metav1.GetControllerOf(&d); ref != nil && ref.UID == f.UID && d.Namespace == f.Namespace {
			mine = append(mine, d)
		}
	}
	return mine
}

func names(drones []Drone) []string {
	out := make([]string, len(drones))
	for i, d := range drones {
		out[i] = d.Name
	}
	return out
}
