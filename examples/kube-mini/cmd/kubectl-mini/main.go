// kubectl-mini is the command-line client of kube-mini-apiserver.
//
//	kubectl-mini version [--client] [-o json]
//	kubectl-mini get pods|services [-n NS | -A] [NAME]
//	kubectl-mini create -f FILE.json [-n NS]
//	kubectl-mini delete pods|services NAME [-n NS]
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	v1 "k8s.io/kube-mini/pkg/apis/core/v1"
	"k8s.io/kube-mini/pkg/client"
	"k8s.io/kube-mini/pkg/version"
	"k8s.io/kube-mini/pkg/version/verflag"
)

const usage = `usage: kubectl-mini [--server URL] COMMAND [ARGS]
  version [--client] [-o json]
  get pods|services [-n NS | -A] [NAME]
  create -f FILE.json [-n NS]
  delete pods|services NAME [-n NS]
`

func main() {
	fs := flag.NewFlagSet("kubectl-mini", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(os.Stderr, usage) }
	server := fs.String("server", envOr("KUBE_MINI_SERVER", "http://127.0.0.1:8080"), "the API server")
	ver := verflag.Add(fs, "kubectl-mini")
	if err := fs.Parse(os.Args[1:]); err != nil {
		os.Exit(2)
	}
	ver.PrintAndExitIfRequested()
	args := fs.Args()
	if len(args) == 0 {
		fs.Usage()
		os.Exit(2)
	}
	c := client.New(*server)
	var err error
	switch args[0] {
	case "version":
		err = cmdVersion(c, args[1:], os.Stdout)
	case "get":
		err = cmdGet(c, args[1:], os.Stdout)
	case "create":
		err = cmdCreate(c, args[1:], os.Stdout)
	case "delete":
		err = cmdDelete(c, args[1:], os.Stdout)
	default:
		err = fmt.Errorf("unknown command %q", args[0])
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "error: %v\n", err)
		os.Exit(1)
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func cmdVersion(c *client.Client, args []string, w io.Writer) error {
	fs := flag.NewFlagSet("version", flag.ContinueOnError)
	clientOnly := fs.Bool("client", false, "only the client's version")
	output := fs.String("o", "", "output format: json")
	if err := fs.Parse(args); err != nil {
		return err
	}
	out := map[string]version.Info{"clientVersion": version.Get()}
	if !*clientOnly {
		var sv version.Info
		if err := c.Do("GET", "/version", nil, &sv); err != nil {
			return err
		}
		out["serverVersion"] = sv
	}
	if *output == "json" {
		b, _ := json.MarshalIndent(out, "", "  ")
		fmt.Fprintf(w, "%s\n", b)
		return nil
	}
	fmt.Fprintf(w, "Client Version: %s\n", out["clientVersion"])
	if sv, ok := out["serverVersion"]; ok {
		fmt.Fprintf(w, "Server Version: %s\n", sv)
	}
	return nil
}

// scope parses -n/-A after a resource name.
func scope(name string) (*flag.FlagSet, *string, *bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	ns := fs.String("n", "default", "namespace")
	all := fs.Bool("A", false, "every namespace")
	return fs, ns, all
}

// parseMixed lets flags come after the positional arguments too.
func parseMixed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func resourceName(s string) (string, error) {
	switch strings.ToLower(s) {
	case "po", "pod", "pods":
		return "pods", nil
	case "svc", "service", "services":
		return "services", nil
	}
	return "", fmt.Errorf("unknown resource %q (want pods or services)", s)
}

func age(t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return time.Since(t).Round(time.Second).String()
}

func cmdGet(c *client.Client, args []string, w io.Writer) error {
	fs, ns, all := scope("get")
	pos, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 {
		return fmt.Errorf("get: which resource?")
	}
	res, err := resourceName(pos[0])
	if err != nil {
		return err
	}
	namespace := *ns
	if *all {
		namespace = ""
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	defer tw.Flush()
	switch res {
	case "pods":
		var l v1.PodList
		if len(pos) > 1 {
			var p v1.Pod
			if err := c.Do("GET", client.Path(namespace, res, pos[1]), nil, &p); err != nil {
				return err
			}
			l.Items = []v1.Pod{p}
		} else if err := c.Do("GET", client.Path(namespace, res, ""), nil, &l); err != nil {
			return err
		}
		fmt.Fprintln(tw, "NAMESPACE\tNAME\tSTATUS\tCONTAINERS\tAGE")
		for _, p := range l.Items {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\n", p.Namespace, p.Name, p.Status.Phase, len(p.Spec.Containers), age(p.CreationTimestamp))
		}
	case "services":
		var l v1.ServiceList
		if len(pos) > 1 {
			var s v1.Service
			if err := c.Do("GET", client.Path(namespace, res, pos[1]), nil, &s); err != nil {
				return err
			}
			l.Items = []v1.Service{s}
		} else if err := c.Do("GET", client.Path(namespace, res, ""), nil, &l); err != nil {
			return err
		}
		fmt.Fprintln(tw, "NAMESPACE\tNAME\tCLUSTER-IP\tPORTS\tAGE")
		for _, s := range l.Items {
			var ports []string
			for _, p := range s.Spec.Ports {
				ports = append(ports, fmt.Sprintf("%d/%s", p.Port, p.Protocol))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Namespace, s.Name, s.Spec.ClusterIP, strings.Join(ports, ","), age(s.CreationTimestamp))
		}
	}
	return nil
}

func cmdCreate(c *client.Client, args []string, w io.Writer) error {
	fs, ns, _ := scope("create")
	file := fs.String("f", "", "a JSON file holding a Pod or a Service")
	if _, err := parseMixed(fs, args); err != nil {
		return err
	}
	if *file == "" {
		return fmt.Errorf("create: -f FILE is required")
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	var tm v1.TypeMeta
	if err := json.Unmarshal(data, &tm); err != nil {
		return fmt.Errorf("%s: %v", *file, err)
	}
	res, err := resourceName(tm.Kind)
	if err != nil {
		return fmt.Errorf("%s: %v", *file, err)
	}
	var obj struct {
		v1.TypeMeta `json:",inline"`
		Metadata    v1.ObjectMeta `json:"metadata"`
	}
	if err := c.Do("POST", client.Path(*ns, res, ""), json.RawMessage(data), &obj); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s/%s created\n", strings.ToLower(obj.Kind), obj.Metadata.Name)
	return nil
}

func cmdDelete(c *client.Client, args []string, w io.Writer) error {
	fs, ns, _ := scope("delete")
	pos, err := parseMixed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return fmt.Errorf("delete: want RESOURCE NAME")
	}
	res, err := resourceName(pos[0])
	if err != nil {
		return err
	}
	if err := c.Do("DELETE", client.Path(*ns, res, pos[1]), nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s %q deleted\n", strings.TrimSuffix(res, "s"), pos[1])
	return nil
}
