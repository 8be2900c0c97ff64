// Package runtime has the interface every API object implements.
package runtime

// Object is an API object: something with a kind that can be deep-copied.
// DeepCopyObject is written by deepcopy-gen (zz_generated.deepcopy.go) for
// every type marked +k8s:deepcopy-gen:interfaces=k8s.io/kube-mini/pkg/runtime.Object.
type Object interface {
	GetObjectKind() string
	DeepCopyObject() Object
}

// Named is an Object with a namespace and a name.
type Named interface {
	Object
	GetNamespace() string
	GetName() string
}
