package v1

import "time"

// TypeMeta names the kind and API version of an object.
type TypeMeta struct {
	Kind       string `json:"kind,omitempty"`
	APIVersion string `json:"apiVersion,omitempty"`
}

// GetObjectKind returns the kind.
func (t *TypeMeta) GetObjectKind() string { return t.Kind }

// ObjectMeta is the metadata every stored object has.
type ObjectMeta struct {
	Name              string            `json:"name"`
	Namespace         string            `json:"namespace,omitempty"`
	UID               string            `json:"uid,omitempty"`
	ResourceVersion   string            `json:"resourceVersion,omitempty"`
	Generation        int64             `json:"generation,omitempty"`
	CreationTimestamp time.Time         `json:"creationTimestamp,omitempty"`
	DeletionTimestamp *time.Time        `json:"deletionTimestamp,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
	Finalizers        []string          `json:"finalizers,omitempty"`
}

// GetNamespace returns the namespace.
func (m *ObjectMeta) GetNamespace() string { return m.Namespace }

// GetName returns the name.
func (m *ObjectMeta) GetName() string { return m.Name }

// ListMeta is the metadata of a list.
type ListMeta struct {
	ResourceVersion string `json:"resourceVersion,omitempty"`
}

// Protocol is a network protocol.
type Protocol string

// The protocols a port can have.
const (
	ProtocolTCP Protocol = "TCP"
	ProtocolUDP Protocol = "UDP"
)

// ResourceName names a compute resource ("cpu", "memory").
type ResourceName string

// ResourceList maps a resource to a quantity such as "100m" or "64Mi".
type ResourceList map[ResourceName]string

// ResourceRequirements are a container's requests and limits.
type ResourceRequirements struct {
	Limits   ResourceList `json:"limits,omitempty"`
	Requests ResourceList `json:"requests,omitempty"`
}

// EnvVar is one environment variable of a container.
type EnvVar struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
}

// ContainerPort is a port a container listens on.
type ContainerPort struct {
	Name          string   `json:"name,omitempty"`
	ContainerPort int32    `json:"containerPort"`
	Protocol      Protocol `json:"protocol,omitempty"`
}

// Container is one container of a pod.
type Container struct {
	Name      string               `json:"name"`
	Image     string               `json:"image"`
	Command   []string             `json:"command,omitempty"`
	Args      []string             `json:"args,omitempty"`
	Env       []EnvVar             `json:"env,omitempty"`
	Ports     []ContainerPort      `json:"ports,omitempty"`
	Resources ResourceRequirements `json:"resources,omitempty"`
}

// RestartPolicy says when a pod's containers are restarted.
type RestartPolicy string

// The restart policies.
const (
	RestartPolicyAlways    RestartPolicy = "Always"
	RestartPolicyOnFailure RestartPolicy = "OnFailure"
	RestartPolicyNever     RestartPolicy = "Never"
)

// PodSpec is the desired state of a pod.
type PodSpec struct {
	Containers                    []Container       `json:"containers"`
	RestartPolicy                 RestartPolicy     `json:"restartPolicy,omitempty"`
	TerminationGracePeriodSeconds *int64            `json:"terminationGracePeriodSeconds,omitempty"`
	NodeName                      string            `json:"nodeName,omitempty"`
	NodeSelector                  map[string]string `json:"nodeSelector,omitempty"`
}

// PodPhase is where a pod is in its life.
type PodPhase string

// The pod phases.
const (
	PodPending   PodPhase = "Pending"
	PodRunning   PodPhase = "Running"
	PodSucceeded PodPhase = "Succeeded"
	PodFailed    PodPhase = "Failed"
)

// PodCondition is one observed condition of a pod.
type PodCondition struct {
	Type               string    `json:"type"`
	Status             bool      `json:"status"`
	LastTransitionTime time.Time `json:"lastTransitionTime,omitempty"`
	Message            string    `json:"message,omitempty"`
}

// PodStatus is the observed state of a pod.
type PodStatus struct {
	Phase      PodPhase       `json:"phase,omitempty"`
	Conditions []PodCondition `json:"conditions,omitempty"`
	PodIP      string         `json:"podIP,omitempty"`
	StartTime  *time.Time     `json:"startTime,omitempty"`
}

// Pod is a group of containers run together on one node.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/kube-mini/pkg/runtime.Object
type Pod struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`

	Spec   PodSpec   `json:"spec"`
	Status PodStatus `json:"status,omitempty"`
}

// PodList is a list of pods.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/kube-mini/pkg/runtime.Object
type PodList struct {
	TypeMeta `json:",inline"`
	ListMeta `json:"metadata"`

	Items []Pod `json:"items"`
}

// ServicePort is one port a service exposes.
type ServicePort struct {
	Name       string   `json:"name,omitempty"`
	Protocol   Protocol `json:"protocol,omitempty"`
	Port       int32    `json:"port"`
	TargetPort int32    `json:"targetPort,omitempty"`
}

// ServiceSpec is the desired state of a service.
type ServiceSpec struct {
	Selector  map[string]string `json:"selector,omitempty"`
	Ports     []ServicePort     `json:"ports,omitempty"`
	ClusterIP string            `json:"clusterIP,omitempty"`
}

// Service is a stable address in front of a set of pods.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/kube-mini/pkg/runtime.Object
type Service struct {
	TypeMeta   `json:",inline"`
	ObjectMeta `json:"metadata"`

	Spec ServiceSpec `json:"spec"`
}

// ServiceList is a list of services.
//
// +k8s:deepcopy-gen:interfaces=k8s.io/kube-mini/pkg/runtime.Object
type ServiceList struct {
	TypeMeta `json:",inline"`
	ListMeta `json:"metadata"`

	Items []Service `json:"items"`
}

// Endpoint is one address of a service, as the proxy sees it.  It is not
// an API object and needs no deep copy.
//
// +k8s:deepcopy-gen=false
type Endpoint struct {
	IP   string
	Port int32
}
