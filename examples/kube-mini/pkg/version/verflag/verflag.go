// Package verflag adds --version to a program's flag set:
//
//	--version        prints "NAME GITVERSION" and exits
//	--version=raw    prints the whole version.Info as a Go value
//	--version=json   prints it as JSON
package verflag

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"

	"k8s.io/kube-mini/pkg/version"
)

type value string

const (
	off   value = "false"
	short value = "true"
	raw   value = "raw"
	jsonv value = "json"
)

func (v *value) String() string { return string(*v) }

func (v *value) Set(s string) error {
	switch value(s) {
	case off, short, raw, jsonv:
		*v = value(s)
		return nil
	case "":
		*v = short
		return nil
	}
	return fmt.Errorf("invalid value %q: want true, false, raw or json", s)
}

// IsBoolFlag lets --version stand alone.
func (v *value) IsBoolFlag() bool { return true }

// Flag is a --version flag on a flag set.
type Flag struct {
	name string
	v    value
}

// Add registers --version on fs for the program called name.
func Add(fs *flag.FlagSet, name string) *Flag {
	f := &Flag{name: name, v: off}
	fs.Var(&f.v, "version", "print version information and quit (=raw or =json for all of it)")
	return f
}

// Print writes the version in the form the flag asked for.  It returns
// false when --version was not given.
func (f *Flag) Print(w io.Writer) bool {
	info := version.Get()
	switch f.v {
	case short:
		fmt.Fprintf(w, "%s %s\n", f.name, info)
	case raw:
		fmt.Fprintf(w, "%s %#v\n", f.name, info)
	case jsonv:
		b, _ := json.MarshalIndent(info, "", "  ")
		fmt.Fprintf(w, "%s\n", b)
	default:
		return false
	}
	return true
}

// PrintAndExitIfRequested ends the program after printing the version when
// --version was given.
func (f *Flag) PrintAndExitIfRequested() {
	if f.Print(os.Stdout) {
		os.Exit(0)
	}
}
