package v1

import (
	"reflect"
	"testing"
	"time"
)

func samplePod() *Pod {
	grace := int64(30)
	start := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	return &Pod{
		TypeMeta:   TypeMeta{Kind: "Pod", APIVersion: "v1"},
		ObjectMeta: ObjectMeta{Name: "web", Namespace: "default", Labels: map[string]string{"app": "web"}, Finalizers: []string{"f"}},
		Spec: PodSpec{
			Containers: []Container{{
				Name: "c", Image: "registry.example/web:1", Command: []string{"/web"},
				Env:       []EnvVar{{Name: "A", Value: "1"}},
				Resources: ResourceRequirements{Limits: ResourceList{"cpu": "100m"}},
			}},
			TerminationGracePeriodSeconds: &grace,
			NodeSelector:                  map[string]string{"disk": "ssd"},
		},
		Status: PodStatus{Phase: PodRunning, StartTime: &start, Conditions: []PodCondition{{Type: "Ready", Status: true}}},
	}
}

func TestDeepCopyIsEqualAndIndependent(t *testing.T) {
	in := samplePod()
	out := in.DeepCopy()
	if !reflect.DeepEqual(in, out) {
		t.Fatalf("copy differs:\n%#v\n%#v", in, out)
	}
	out.Labels["app"] = "x"
	out.Finalizers[0] = "x"
	out.Spec.Containers[0].Command[0] = "x"
	out.Spec.Containers[0].Env[0].Value = "x"
	out.Spec.Containers[0].Resources.Limits["cpu"] = "x"
	*out.Spec.TerminationGracePeriodSeconds = 1
	out.Spec.NodeSelector["disk"] = "x"
	*out.Status.StartTime = time.Time{}
	out.Status.Conditions[0].Status = false
	if !reflect.DeepEqual(in, samplePod()) {
		t.Fatalf("changing the copy changed the original: %#v", in)
	}
}

func TestDeepCopyNil(t *testing.T) {
	var p *Pod
	if p.DeepCopy() != nil {
		t.Fatal("DeepCopy of a nil *Pod is not nil")
	}
	var rl ResourceList
	if rl.DeepCopy() != nil {
		t.Fatal("DeepCopy of a nil ResourceList is not nil")
	}
	var empty Pod
	if c := empty.DeepCopy(); c.Labels != nil || c.Spec.Containers != nil {
		t.Fatal("DeepCopy made nil maps or slices non-nil")
	}
}

func TestDeepCopyObject(t *testing.T) {
	l := &PodList{Items: []Pod{*samplePod()}}
	o := l.DeepCopyObject()
	c, ok := o.(*PodList)
	if !ok || !reflect.DeepEqual(c, l) {
		t.Fatalf("DeepCopyObject = %#v", o)
	}
}
