package ctrl

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"hasim/model/kube"
)

// Unsupported is what every error for something the API model does not
// hold says, as the simulated API server's own 400 answers do.
const Unsupported = "unsupported by hasim"

// unsupported returns a 400 Bad Request error saying that hasim does not
// model what is described.
func unsupported(format string, args ...any) error {
	return apierrors.NewBadRequest(Unsupported + ": " + fmt.Sprintf(format, args...))
}

// toModel converts a user's object into the API model's generic object,
// through the manager's scheme and its unstructured form.
func (m *Manager) toModel(obj runtime.Object) (kube.Object, kindInfo, error) {
	k, err := m.kindOf(obj)
	if err != nil {
		return kube.Object{}, k, err
	}
	var u map[string]any
	if uo, ok := obj.(runtime.Unstructured); ok {
		u = uo.UnstructuredContent() // only read
	} else if u, err = runtime.DefaultUnstructuredConverter.ToUnstructured(obj); err != nil {
		return kube.Object{}, k, apierrors.NewBadRequest(err.Error())
	}
	o := kube.Object{Kind: k.res, APIVersion: k.gvk.GroupVersion().String()}
	for _, key := range sortedKeys(u) {
		v := u[key]
		switch key {
		case "apiVersion", "kind":
		case "metadata":
			if err := m.metaToModel(v, &o); err != nil {
				return kube.Object{}, k, err
			}
		case "spec", "status":
			if v == nil {
				continue
			}
			b, err := json.Marshal(v) // map keys sorted
			if err != nil {
				return kube.Object{}, k, apierrors.NewBadRequest(fmt.Sprintf("%s: %v", key, err))
			}
			if key == "spec" {
				o.Spec = string(b)
			} else {
				o.Status = string(b)
			}
		default:
			if !empty(v) {
				return kube.Object{}, k, unsupported("top-level field %q of %s (the API model stores metadata, spec and status)", key, k.gvk.Kind)
			}
		}
	}
	return o, k, nil
}

// metaToModel converts an object's metadata.
func (m *Manager) metaToModel(v any, o *kube.Object) error {
	md, ok := v.(map[string]any)
	if !ok {
		return apierrors.NewBadRequest(fmt.Sprintf("metadata: not an object: %T", v))
	}
	var ns, name string
	for _, key := range sortedKeys(md) {
		val := md[key]
		var err error
		switch key {
		case "name":
			name, _ = val.(string)
		case "namespace":
			ns, _ = val.(string)
		case "uid":
			o.UID, _ = val.(string)
		case "generateName":
			o.GenerateName, _ = val.(string)
		case "resourceVersion":
			o.RV, err = parseRV(val)
		case "generation":
			o.Generation, err = toInt64(val)
		case "labels":
			o.Labels, err = toStringMap(val)
		case "annotations":
			o.Annotations, err = toStringMap(val)
		case "finalizers":
			o.Finalizers, err = toStrings(key, val)
		case "ownerReferences":
			o.OwnerRefs, err = m.ownerRefsToModel(val)
		case "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink":
			// Set by the server, which ignores them in a request body.
		default: // managedFields, ...
			if !empty(val) {
				return unsupported("metadata.%s (the API model does not store it)", key)
			}
		}
		if err != nil {
			return apierrors.NewBadRequest(fmt.Sprintf("metadata.%s: %v", key, err))
		}
	}
	switch {
	case name == "" && o.GenerateName == "":
		return apierrors.NewBadRequest("metadata.name: required (or metadata.generateName, on a create)")
	case ns == "":
		return unsupported("%s without a namespace (the API model serves namespaced kinds only)", name)
	case strings.Contains(name, "/") || strings.Contains(ns, "/") || strings.Contains(o.GenerateName, "/"):
		return apierrors.NewBadRequest(fmt.Sprintf("metadata.name %q, generateName %q, namespace %q: no '/' allowed", name, o.GenerateName, ns))
	}
	o.Name = ns + "/" + name
	return nil
}

// ownerRefsToModel converts ownerReferences: the API model names an
// owner's kind by its resource ("widgets").
func (m *Manager) ownerRefsToModel(v any) ([]kube.OwnerRef, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("not a list: %T", v)
	}
	out := make([]kube.OwnerRef, 0, len(list))
	for i, item := range list {
		r, ok := item.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("[%d]: not an object", i)
		}
		apiVersion, _ := r["apiVersion"].(string)
		kind, _ := r["kind"].(string)
		name, _ := r["name"].(string)
		uid, _ := r["uid"].(string)
		controller, _ := r["controller"].(bool)
		block, _ := r["blockOwnerDeletion"].(bool)
		out = append(out, kube.OwnerRef{APIVersion: apiVersion, Kind: m.resourceFor(apiVersion, kind), Name: name,
			UID: uid, Controller: controller, BlockOwnerDeletion: block})
	}
	return out, nil
}

// resourceFor names the resource of a kind given by apiVersion and kind.
func (m *Manager) resourceFor(apiVersion, kind string) kube.Kind {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil || kind == "" {
		return kube.Kind(kind)
	}
	if k, ok := m.kinds[gv.WithKind(kind)]; ok {
		return k.res
	}
	plural, _ := meta.UnsafeGuessKindToResource(gv.WithKind(kind))
	return kube.Kind(plural.Resource)
}

// kindFor undoes resourceFor: the served kinds first, then the scheme's
// kinds of that group/version (in name order), else the resource name.
func (m *Manager) kindFor(apiVersion string, res kube.Kind) string {
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return string(res)
	}
	if k, ok := m.resources[res]; ok && k.gvk.Group == gv.Group {
		return k.gvk.Kind
	}
	kinds := m.scheme.KnownTypes(gv)
	for _, kind := range sortedKeys(kinds) {
		if plural, _ := meta.UnsafeGuessKindToResource(gv.WithKind(kind)); plural.Resource == string(res) {
			return kind
		}
	}
	return string(res)
}

// unstructuredOf renders a generic object of kind k in its unstructured
// form.
func (m *Manager) unstructuredOf(o kube.Object, k kindInfo) (map[string]any, error) {
	ns, name, _ := strings.Cut(o.Name, "/")
	md := map[string]any{"name": name, "namespace": ns, "resourceVersion": strconv.FormatInt(o.RV, 10)}
	if o.UID != "" {
		md["uid"] = o.UID
	}
	if o.GenerateName != "" {
		md["generateName"] = o.GenerateName
	}
	if o.Generation != 0 {
		md["generation"] = o.Generation
	}
	if len(o.Labels) > 0 {
		labels := make(map[string]any, len(o.Labels))
		for _, key := range sortedKeys(o.Labels) {
			labels[key] = o.Labels[key]
		}
		md["labels"] = labels
	}
	if len(o.Annotations) > 0 {
		ann := make(map[string]any, len(o.Annotations))
		for _, key := range sortedKeys(o.Annotations) {
			ann[key] = o.Annotations[key]
		}
		md["annotations"] = ann
	}
	if len(o.OwnerRefs) > 0 {
		refs := make([]any, 0, len(o.OwnerRefs))
		for _, r := range o.OwnerRefs {
			ref := map[string]any{"apiVersion": r.APIVersion, "kind": m.kindFor(r.APIVersion, r.Kind), "name": r.Name, "uid": r.UID}
			if r.Controller {
				ref["controller"] = true
			}
			if r.BlockOwnerDeletion {
				ref["blockOwnerDeletion"] = true
			}
			refs = append(refs, ref)
		}
		md["ownerReferences"] = refs
	}
	if len(o.Finalizers) > 0 {
		fs := make([]any, 0, len(o.Finalizers))
		for _, f := range o.Finalizers {
			fs = append(fs, f)
		}
		md["finalizers"] = fs
	}
	// On the API server's clock, in seconds as metav1.Time keeps them.
	if o.CreationTimestamp != 0 {
		md["creationTimestamp"] = m.clock.at(o.CreationTimestamp).UTC().Format(time.RFC3339)
	}
	if o.DeletionTimestamp != 0 {
		md["deletionTimestamp"] = m.clock.at(o.DeletionTimestamp).UTC().Format(time.RFC3339)
	}
	apiVersion := o.APIVersion
	if apiVersion == "" {
		apiVersion = k.gvk.GroupVersion().String()
	}
	u := map[string]any{"apiVersion": apiVersion, "kind": k.gvk.Kind, "metadata": md}
	for _, part := range []struct{ key, doc string }{{"spec", o.Spec}, {"status", o.Status}} {
		if part.doc == "" {
			continue
		}
		var v map[string]any
		// utiljson keeps integers as int64, as the unstructured form
		// wants them.
		if err := utiljson.Unmarshal([]byte(part.doc), &v); err != nil {
			return nil, fmt.Errorf("%s %s: %s: %v", k.gvk.Kind, o.Name, part.key, err)
		}
		u[part.key] = v
	}
	return u, nil
}

// fill sets into, a user's object or list, to the unstructured content u.
func fill(u map[string]any, into runtime.Object) error {
	if uo, ok := into.(runtime.Unstructured); ok {
		uo.SetUnstructuredContent(u)
		return nil
	}
	v := reflect.ValueOf(into)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		return fmt.Errorf("hasim/ctrl: %T is not a pointer to an object", into)
	}
	v.Elem().Set(reflect.Zero(v.Elem().Type()))
	return runtime.DefaultUnstructuredConverter.FromUnstructured(u, into)
}

// fromModel sets into to the generic object o of kind k.
func (m *Manager) fromModel(o kube.Object, k kindInfo, into runtime.Object) error {
	u, err := m.unstructuredOf(o, k)
	if err != nil {
		return err
	}
	return fill(u, into)
}

// patchToModel checks a JSON merge patch against what the API model
// stores and rewrites it for it: ownerReferences name their owner's
// resource, and metadata.resourceVersion becomes the write's precondition
// (rv, 0 when absent), as kube-apiserver takes it.
func (m *Manager) patchToModel(data []byte) (string, int64, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber() // numbers stay as written
	var doc map[string]any
	if err := d.Decode(&doc); err != nil {
		return "", 0, apierrors.NewBadRequest("patch: not a JSON object: " + err.Error())
	}
	var rv int64
	for _, key := range sortedKeys(doc) {
		switch key {
		case "spec", "status":
		case "apiVersion", "kind":
			delete(doc, key)
		case "metadata":
			md, ok := doc[key].(map[string]any)
			if !ok {
				if doc[key] != nil {
					return "", 0, apierrors.NewBadRequest("patch: metadata: not an object")
				}
				delete(doc, key)
				continue
			}
			for _, mk := range sortedKeys(md) {
				val := md[mk]
				switch mk {
				case "labels", "annotations", "finalizers":
				case "ownerReferences":
					if list, ok := val.([]any); ok {
						for _, item := range list {
							if r, ok := item.(map[string]any); ok {
								apiVersion, _ := r["apiVersion"].(string)
								kind, _ := r["kind"].(string)
								r["kind"] = string(m.resourceFor(apiVersion, kind))
							}
						}
					}
				case "resourceVersion":
					var err error
					if rv, err = parseRV(val); err != nil {
						return "", 0, apierrors.NewBadRequest("patch: metadata.resourceVersion: " + err.Error())
					}
					delete(md, mk)
				case "name", "namespace", "uid", "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink":
					delete(md, mk) // the server's to set
				default:
					if !empty(val) {
						return "", 0, unsupported("patch of metadata.%s (the API model does not store it)", mk)
					}
					delete(md, mk)
				}
			}
		default:
			if !empty(doc[key]) {
				return "", 0, unsupported("patch of top-level field %q (the API model stores metadata, spec and status)", key)
			}
			delete(doc, key)
		}
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return "", 0, apierrors.NewBadRequest("patch: " + err.Error())
	}
	return string(b), rv, nil
}

// parseRV parses a resourceVersion ("" is none: 0).
func parseRV(v any) (int64, error) {
	s, ok := v.(string)
	if !ok {
		if v == nil {
			return 0, nil
		}
		return 0, fmt.Errorf("not a string: %T", v)
	}
	if s == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a resourceVersion the API gave out", s)
	}
	return n, nil
}

func toInt64(v any) (int64, error) {
	switch n := v.(type) {
	case nil:
		return 0, nil
	case int64:
		return n, nil
	case int:
		return int64(n), nil
	case int32:
		return int64(n), nil
	case float64:
		if n == float64(int64(n)) {
			return int64(n), nil
		}
	case json.Number:
		return n.Int64()
	}
	return 0, fmt.Errorf("not an integer: %v", v)
}

func toStringMap(v any) (map[string]string, error) {
	switch mv := v.(type) {
	case nil:
		return nil, nil
	case map[string]string:
		return mv, nil
	case map[string]any:
		out := make(map[string]string, len(mv))
		for _, k := range sortedKeys(mv) {
			s, ok := mv[k].(string)
			if !ok {
				return nil, fmt.Errorf("%q: not a string", k)
			}
			out[k] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("not a map of strings: %T", v)
}

func toStrings(field string, v any) ([]string, error) {
	switch lv := v.(type) {
	case nil:
		return nil, nil
	case []string:
		return lv, nil
	case []any:
		out := make([]string, 0, len(lv))
		for i, item := range lv {
			s, ok := item.(string)
			if !ok {
				return nil, fmt.Errorf("%s[%d]: not a string", field, i)
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("not a list of strings: %T", v)
}

// empty reports whether an unstructured value holds nothing.
func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case map[string]any:
		return len(x) == 0
	case map[string]string:
		return len(x) == 0
	case []any:
		return len(x) == 0
	}
	return false
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m { //detlint:allow maprange the keys are sorted before use
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
