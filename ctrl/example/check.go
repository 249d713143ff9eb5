package example

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"hasim/ctrl"
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
// the fleet starts at 2 drones of v1; every 15s for the first 2m15s its
// owner scales it up by one and rolls out a new version (up to 11 drones
// of v10), while the faults strike; the invariants below must hold at
// every store revision, and Settled within the recovery budget after the
// faults heal.
func Setup(b Bugs) ctrl.Setup {
	var changes []ctrl.Change
	for i := 1; i <= 9; i++ {
		changes = append(changes, ctrl.Change{At: time.Duration(i) * 15 * time.Second, Object: fleet(int32(2+i), fmt.Sprintf("v%d", i+1))})
	}
	return ctrl.Setup{
		Scheme: NewScheme(),
		Reconcilers: []ctrl.Options{{Name: "fleet", For: &Fleet{}, Owns: []client.Object{&Drone{}},
			New: func(c client.Client) reconcile.Reconciler { return &Reconciler{Client: c, Bugs: b} }}},
		Objects:    []client.Object{fleet(2, "v1")},
		Changes:    changes,
		Invariants: Invariants,
		Settled:    Settled,
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
func Invariants() []ctrl.Invariant {
	observed := map[string]int64{}
	return []ctrl.Invariant{
		{Name: "at-most-replicas", Check: func(s ctrl.State) error {
			return eachFleet(s, func(f *Fleet, drones []Drone) error {
				if n := int32(len(drones)); n > f.Spec.Replicas {
					return fmt.Errorf("fleet %s has %d drones, spec.replicas %d: %s", f.Name, n, f.Spec.Replicas, names(drones))
				}
				return nil
			})
		}},
		{Name: "owned", Check: func(s ctrl.State) error {
			var drones DroneList
			if err := s.List(&drones); err != nil {
				return err
			}
			for _, d := range drones.Items {
				ref := metav1.GetControllerOf(&d)
				if ref == nil || len(d.OwnerReferences) != 1 {
					return fmt.Errorf("drone %s has owners %v", d.Name, d.OwnerReferences)
				}
				var f Fleet
				if err := s.Get(client.ObjectKey{Namespace: d.Namespace, Name: ref.Name}, &f); err != nil {
					return fmt.Errorf("drone %s: its fleet: %v", d.Name, err)
				}
				if f.UID != ref.UID {
					return fmt.Errorf("drone %s names fleet uid %s, the fleet has %s", d.Name, ref.UID, f.UID)
				}
			}
			return nil
		}},
		{Name: "observed-generation-monotonic", Check: func(s ctrl.State) error {
			var fleets FleetList
			if err := s.List(&fleets); err != nil {
				return err
			}
			for _, f := range fleets.Items {
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
	return eachFleet(s, func(f *Fleet, drones []Drone) error {
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
		return nil
	})
}

// eachFleet calls fn with every fleet and the drones it controls.
func eachFleet(s ctrl.State, fn func(f *Fleet, drones []Drone) error) error {
	var fleets FleetList
	if err := s.List(&fleets); err != nil {
		return err
	}
	for i := range fleets.Items {
		f := &fleets.Items[i]
		var all DroneList
		if err := s.List(&all, client.InNamespace(f.Namespace)); err != nil {
			return err
		}
		var mine []Drone
		for _, d := range all.Items {
			if ref := metav1.GetControllerOf(&d); ref != nil && ref.UID == f.UID {
				mine = append(mine, d)
			}
		}
		if err := fn(f, mine); err != nil {
			return err
		}
	}
	return nil
}

func names(drones []Drone) []string {
	out := make([]string, len(drones))
	for i, d := range drones {
		out[i] = d.Name
	}
	return out
}
