module k8s.io/kube-mini

go 1.19
