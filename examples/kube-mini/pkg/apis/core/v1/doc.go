// Package v1 holds the version 1 core API types of kube-mini: pods and
// services.  Every type here gets deep-copy methods from deepcopy-gen
// (hack/gen/deepcopy-gen), written to zz_generated.deepcopy.go by
// `make generated_files`.
//
// +k8s:deepcopy-gen=package
// +groupName=core
package v1
