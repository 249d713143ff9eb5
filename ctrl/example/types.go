// Package example is a worked example of testing an operator with
// hasim/ctrl: a Fleet custom resource whose reconciler keeps spec.replicas
// Drones, owned by the fleet, at the fleet's spec.version, and counts them
// in the fleet's status. Bugs plants three bugs of the kinds found most
// often in real operators, each behind a switch; example_test.go shows
// ctrl.Check finding and shrinking each, and passing the fixed operator.
//
// The types are written by hand, as controller-gen would generate them
// (no code generation), and registered in a scheme by NewScheme.
package example

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupVersion is the example's API group and version.
var GroupVersion = schema.GroupVersion{Group: "example.com", Version: "v1"}

// Fleet asks for Replicas drones running Version.
type Fleet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              FleetSpec   `json:"spec,omitempty"`
	Status            FleetStatus `json:"status,omitempty"`
}

// FleetSpec is what the fleet's owner wants.
type FleetSpec struct {
	// Replicas is how many drones the fleet wants.
	Replicas int32 `json:"replicas"`
	// Version is what every drone should run.
	Version string `json:"version,omitempty"`
}

// FleetStatus is what the reconciler last saw.
type FleetStatus struct {
	// Replicas is how many drones the fleet had.
	Replicas int32 `json:"replicas"`
	// ObservedGeneration is the generation of the spec the reconciler
	// acted on: it never goes back.
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Drones lists the drones the reconciler created (kept by the
	// RecordAfterCreate variant only).
	Drones []string `json:"drones,omitempty"`
}

// DeepCopyInto copies the fleet into out.
func (f *Fleet) DeepCopyInto(out *Fleet) {
	*out = *f
	out.TypeMeta = f.TypeMeta
	f.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	out.Status.Drones = slices.Clone(f.Status.Drones)
}

// DeepCopy returns a copy of the fleet.
func (f *Fleet) DeepCopy() *Fleet {
	out := new(Fleet)
	f.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (f *Fleet) DeepCopyObject() runtime.Object { return f.DeepCopy() }

// FleetList is a list of fleets.
type FleetList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Fleet `json:"items"`
}

// DeepCopyObject implements runtime.Object.
func (l *FleetList) DeepCopyObject() runtime.Object {
	out := &FleetList{TypeMeta: l.TypeMeta}
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	out.Items = make([]Fleet, len(l.Items))
	for i := range l.Items {
		l.Items[i].DeepCopyInto(&out.Items[i])
	}
	return out
}

// Drone is one member of a fleet (a Deployment's pod, in spirit).
type Drone struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              DroneSpec `json:"spec,omitempty"`
}

// DroneSpec is what a drone runs.
type DroneSpec struct {
	Version string `json:"version,omitempty"`
}

// DeepCopyInto copies the drone into out.
func (d *Drone) DeepCopyInto(out *Drone) {
	*out = *d
	d.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
}

// DeepCopy returns a copy of the drone.
func (d *Drone) DeepCopy() *Drone {
	out := new(Drone)
	d.DeepCopyInto(out)
	return out
}

// DeepCopyObject implements runtime.Object.
func (d *Drone) DeepCopyObject() runtime.Object { return d.DeepCopy() }

// DroneList is a list of drones.
type DroneList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []Drone `json:"items"`
}

// DeepCopyObject implements runtime.Object.
func (l *DroneList) DeepCopyObject() runtime.Object {
	out := &DroneList{TypeMeta: l.TypeMeta}
	l.ListMeta.DeepCopyInto(&out.ListMeta)
	out.Items = make([]Drone, len(l.Items))
	for i := range l.Items {
		l.Items[i].DeepCopyInto(&out.Items[i])
	}
	return out
}

// NewScheme returns a scheme that knows fleets and drones.
func NewScheme() *runtime.Scheme {
	s := runtime.NewScheme()
	s.AddKnownTypes(GroupVersion, &Fleet{}, &FleetList{}, &Drone{}, &DroneList{})
	metav1.AddToGroupVersion(s, GroupVersion)
	return s
}
