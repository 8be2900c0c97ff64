package proxy

import (
	"strings"
	"testing"

	v1 "k8s.io/kube-mini/pkg/apis/core/v1"
)

func TestRules(t *testing.T) {
	svcs := []v1.Service{
		{ObjectMeta: v1.ObjectMeta{Name: "web", Namespace: "default"},
			Spec: v1.ServiceSpec{ClusterIP: "10.0.0.10", Ports: []v1.ServicePort{{Name: "https", Port: 443, TargetPort: 8443}, {Name: "http", Port: 80}}}},
		{ObjectMeta: v1.ObjectMeta{Name: "headless", Namespace: "default"}, Spec: v1.ServiceSpec{ClusterIP: "None", Ports: []v1.ServicePort{{Port: 1}}}},
		{ObjectMeta: v1.ObjectMeta{Name: "dns", Namespace: "kube-system"},
			Spec: v1.ServiceSpec{ClusterIP: "10.0.0.2", Ports: []v1.ServicePort{{Name: "dns", Port: 53, Protocol: v1.ProtocolUDP}}}},
	}
	r := Rules(svcs)
	if len(r) != 3 {
		t.Fatalf("got %d rules, want 3: %v", len(r), r)
	}
	if r[0].Port != 80 || r[0].Target != 80 || r[1].Target != 8443 || r[2].Protocol != v1.ProtocolUDP {
		t.Fatalf("rules: %+v", r)
	}
	out := Render(r)
	if !strings.HasPrefix(out, "*nat\n") || !strings.HasSuffix(out, "COMMIT\n") || !strings.Contains(out, "-p udp --dport 53") {
		t.Fatalf("render:\n%s", out)
	}
}
