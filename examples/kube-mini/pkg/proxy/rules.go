// Package proxy turns services into forwarding rules, the way kube-proxy
// turns them into iptables chains: one rule per service port, in a stable
// order, so two syncs of the same services give the same text.
package proxy

import (
	"fmt"
	"sort"
	"strings"

	v1 "k8s.io/kube-mini/pkg/apis/core/v1"
)

// Rule forwards a service's cluster address to its target port.
type Rule struct {
	Service   string // namespace/name
	PortName  string // port name, may be empty
	Protocol  v1.Protocol
	ClusterIP string
	Port      int32
	Target    int32
}

func (r Rule) String() string {
	return fmt.Sprintf("-A KUBE-MINI-SERVICES -d %s/32 -p %s --dport %d -m comment --comment %q -j DNAT --to-port %d",
		r.ClusterIP, strings.ToLower(string(r.Protocol)), r.Port, r.Service+":"+r.PortName, r.Target)
}

// Rules computes the rules for services; services without a cluster IP get none.
func Rules(services []v1.Service) []Rule {
	var out []Rule
	for _, s := range services {
		if s.Spec.ClusterIP == "" || s.Spec.ClusterIP == "None" {
			continue
		}
		for _, p := range s.Spec.Ports {
			proto := p.Protocol
			if proto == "" {
				proto = v1.ProtocolTCP
			}
			target := p.TargetPort
			if target == 0 {
				target = p.Port
			}
			out = append(out, Rule{Service: s.Namespace + "/" + s.Name, PortName: p.Name, Protocol: proto,
				ClusterIP: s.Spec.ClusterIP, Port: p.Port, Target: target})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Service != out[j].Service {
			return out[i].Service < out[j].Service
		}
		return out[i].Port < out[j].Port
	})
	return out
}

// Render writes rules as an iptables-restore style table.
func Render(rules []Rule) string {
	var b strings.Builder
	b.WriteString("*nat\n:KUBE-MINI-SERVICES - [0:0]\n")
	for _, r := range rules {
		b.WriteString(r.String())
		b.WriteByte('\n')
	}
	b.WriteString("COMMIT\n")
	return b.String()
}
