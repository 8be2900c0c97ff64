// deepcopy-gen writes deep-copy methods for the API types of a Go package,
// the way Kubernetes' generator of the same name does, in a few hundred
// lines and with the standard library only.
//
// It reads the comment tags of each input package:
//
//	+k8s:deepcopy-gen=package        (package doc) every struct, map and slice type
//	+k8s:deepcopy-gen=true|false     (type doc) this type, or not this type
//	+k8s:deepcopy-gen:interfaces=PKG.IFACE
//	                                 (type doc) also DeepCopyIFACE() PKG.IFACE
//
// and writes DIR/zz_generated.deepcopy.go: DeepCopyInto and DeepCopy for
// each chosen type.  A file whose content would not change is not rewritten,
// only touched, so make sees it as fresh and go's build cache, which keys on
// content, compiles nothing.
//
// Usage, from the module root:
//
//	go run ./hack/gen/deepcopy-gen --input-dirs ./pkg/apis/core/v1 \
//	    --go-header-file hack/boilerplate/boilerplate.generatego.txt [--verify-only]
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"go/ast"
	"go/format"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

const (
	tagName       = "+k8s:deepcopy-gen"
	tagInterfaces = "+k8s:deepcopy-gen:interfaces"
)

var (
	inputDirs  = flag.String("input-dirs", "", "comma-separated package directories to generate for")
	outputBase = flag.String("output-file-base", "zz_generated.deepcopy", "output file name, without .go")
	headerFile = flag.String("go-header-file", "", "file whose text starts every generated file")
	verifyOnly = flag.Bool("verify-only", false, "only check that the generated files are up to date")
	verbose    = flag.Bool("v", false, "say what is done for each package")
)

func main() {
	flag.Parse()
	if *inputDirs == "" {
		fmt.Fprintln(os.Stderr, "deepcopy-gen: --input-dirs is required")
		os.Exit(2)
	}
	var header []byte
	if *headerFile != "" {
		b, err := os.ReadFile(*headerFile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "deepcopy-gen: %v\n", err)
			os.Exit(1)
		}
		header = b
	}
	failed := false
	for _, dir := range strings.Split(*inputDirs, ",") {
		if dir = strings.TrimSpace(dir); dir == "" {
			continue
		}
		if err := generate(dir, header); err != nil {
			fmt.Fprintf(os.Stderr, "deepcopy-gen: %s: %v\n", dir, err)
			failed = true
		}
	}
	if failed {
		os.Exit(1)
	}
}

// typeInfo is one named type of the package.
type typeInfo struct {
	name    string
	expr    ast.Expr // the type's definition
	imports map[string]string
	tag     string   // "true", "false" or "" from the type's own doc
	ifaces  []string // PKG.IFACE from +k8s:deepcopy-gen:interfaces
}

type gen struct {
	pkg     string
	types   map[string]*typeInfo
	shallow map[string]bool
	imports map[string]string // name -> path used by the generated code
	buf     bytes.Buffer
}

func generate(dir string, header []byte) error {
	out := filepath.Join(dir, *outputBase+".go")
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, dir, func(fi os.FileInfo) bool {
		n := fi.Name()
		return !strings.HasSuffix(n, "_test.go") && n != filepath.Base(out)
	}, parser.ParseComments)
	if err != nil {
		return err
	}
	if len(pkgs) != 1 {
		return fmt.Errorf("want one package, found %d", len(pkgs))
	}
	g := &gen{types: map[string]*typeInfo{}, shallow: map[string]bool{}, imports: map[string]string{}}
	pkgOn := false
	var names []string
	for _, p := range pkgs {
		g.pkg = p.Name
		files := make([]string, 0, len(p.Files))
		for fn := range p.Files {
			files = append(files, fn)
		}
		sort.Strings(files)
		for _, fn := range files {
			f := p.Files[fn]
			for _, cg := range f.Comments {
				if cg.End() < f.Package && tagValue(cg, tagName) == "package" {
					pkgOn = true
				}
			}
			imps := fileImports(f)
			for _, d := range f.Decls {
				gd, ok := d.(*ast.GenDecl)
				if !ok || gd.Tok != token.TYPE {
					continue
				}
				for _, s := range gd.Specs {
					ts := s.(*ast.TypeSpec)
					if ts.TypeParams != nil || ts.Assign.IsValid() {
						continue // generic types and aliases are left alone
					}
					doc := ts.Doc
					if doc == nil && len(gd.Specs) == 1 {
						doc = gd.Doc
					}
					t := &typeInfo{name: ts.Name.Name, expr: ts.Type, imports: imps, tag: tagValue(doc, tagName)}
					t.ifaces = tagValues(doc, tagInterfaces)
					g.types[t.name] = t
					names = append(names, t.name)
				}
			}
		}
	}
	sort.Strings(names)
	n := 0
	for _, name := range names {
		t := g.types[name]
		if !g.wanted(t, pkgOn) {
			continue
		}
		if err := g.emitType(t); err != nil {
			return fmt.Errorf("type %s: %w", name, err)
		}
		n++
	}
	if n == 0 {
		return errors.New("no type asks for deep copy (+k8s:deepcopy-gen)")
	}
	src, err := g.file(header)
	if err != nil {
		return err
	}
	return g.write(out, src)
}

// wanted says whether methods are made for t.
func (g *gen) wanted(t *typeInfo, pkgOn bool) bool {
	switch t.tag {
	case "false":
		return false
	case "true":
		return true
	}
	if !pkgOn {
		return false
	}
	switch t.expr.(type) {
	case *ast.StructType, *ast.MapType:
		return true
	case *ast.ArrayType:
		return t.expr.(*ast.ArrayType).Len == nil
	}
	return false
}

func (g *gen) file(header []byte) ([]byte, error) {
	var b bytes.Buffer
	b.Write(header)
	b.WriteString("\n//go:build !ignore_autogenerated\n// +build !ignore_autogenerated\n\n")
	b.WriteString("// Code generated by deepcopy-gen. DO NOT EDIT.\n\n")
	fmt.Fprintf(&b, "package %s\n\n", g.pkg)
	if len(g.imports) > 0 {
		// The standard library first, then the rest, as goimports has it.
		var std, other []string
		for n, p := range g.imports {
			spec := fmt.Sprintf("%q", p)
			if path.Base(p) != n {
				spec = n + " " + spec
			}
			if strings.Contains(strings.SplitN(p, "/", 2)[0], ".") {
				other = append(other, spec)
			} else {
				std = append(std, spec)
			}
		}
		sort.Strings(std)
		sort.Strings(other)
		b.WriteString("import (\n")
		for _, s := range std {
			fmt.Fprintf(&b, "\t%s\n", s)
		}
		if len(std) > 0 && len(other) > 0 {
			b.WriteString("\n")
		}
		for _, s := range other {
			fmt.Fprintf(&b, "\t%s\n", s)
		}
		b.WriteString(")\n\n")
	}
	b.Write(g.buf.Bytes())
	src, err := format.Source(b.Bytes())
	if err != nil {
		return nil, fmt.Errorf("formatting the generated code: %v", err)
	}
	return src, nil
}

func (g *gen) write(out string, src []byte) error {
	old, err := os.ReadFile(out)
	same := err == nil && bytes.Equal(old, src)
	if *verifyOnly {
		if !same {
			return fmt.Errorf("%s is out of date; run `make generated_files`", out)
		}
		return nil
	}
	if same {
		// Fresh for make; the same bytes for go.
		now := time.Now()
		if *verbose {
			fmt.Printf("deepcopy-gen: %s unchanged\n", out)
		}
		return os.Chtimes(out, now, now)
	}
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, src, 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return err
	}
	if *verbose {
		fmt.Printf("deepcopy-gen: wrote %s\n", out)
	}
	return nil
}

// --- comment tags ---

func tagValues(cg *ast.CommentGroup, name string) []string {
	if cg == nil {
		return nil
	}
	var vals []string
	for _, line := range strings.Split(cg.Text(), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, name+"=") {
			vals = append(vals, strings.TrimSpace(line[len(name)+1:]))
		}
	}
	return vals
}

func tagValue(cg *ast.CommentGroup, name string) string {
	v := tagValues(cg, name)
	if len(v) == 0 {
		return ""
	}
	return v[len(v)-1]
}

func fileImports(f *ast.File) map[string]string {
	m := map[string]string{}
	for _, is := range f.Imports {
		p := strings.Trim(is.Path.Value, `"`)
		n := path.Base(p)
		if is.Name != nil {
			n = is.Name.Name
		}
		m[n] = p
	}
	return m
}

// --- what a type is ---

var basic = map[string]bool{
	"bool": true, "string": true, "byte": true, "rune": true, "uintptr": true,
	"int": true, "int8": true, "int16": true, "int32": true, "int64": true,
	"uint": true, "uint8": true, "uint16": true, "uint32": true, "uint64": true,
	"float32": true, "float64": true, "complex64": true, "complex128": true,
}

// Types of other packages that plain assignment copies deeply enough.
var shallowForeign = map[string]bool{
	"time.Time": true, "time.Duration": true, "time.Month": true, "time.Weekday": true,
}

// isShallow says whether `dst = src` is a deep copy for a value of type e.
func (g *gen) isShallow(e ast.Expr, ctx *typeInfo) (bool, error) {
	switch t := e.(type) {
	case *ast.Ident:
		if basic[t.Name] {
			return true, nil
		}
		lt, ok := g.types[t.Name]
		if !ok {
			return false, fmt.Errorf("unsupported type %s", t.Name)
		}
		if v, ok := g.shallow[t.Name]; ok {
			return v, nil
		}
		g.shallow[t.Name] = true // a cycle can only pass through pointers, which answer first
		v, err := g.isShallow(lt.expr, lt)
		g.shallow[t.Name] = v
		return v, err
	case *ast.SelectorExpr:
		return shallowForeign[exprString(t)], nil
	case *ast.StarExpr, *ast.MapType:
		return false, nil
	case *ast.ArrayType:
		if t.Len == nil {
			return false, nil
		}
		v, err := g.isShallow(t.Elt, ctx)
		if err == nil && !v {
			err = fmt.Errorf("arrays of %s are not supported", exprString(t.Elt))
		}
		return v, err
	case *ast.StructType:
		for _, f := range t.Fields.List {
			v, err := g.isShallow(f.Type, ctx)
			if err != nil || !v {
				return v, err
			}
		}
		return true, nil
	case *ast.ParenExpr:
		return g.isShallow(t.X, ctx)
	}
	return false, fmt.Errorf("unsupported type %s", exprString(e))
}

// kind is what shape of copy a non-shallow type needs.
type kind int

const (
	kStruct kind = iota // has (or gets) DeepCopyInto
	kPointer
	kSlice
	kMap
)

// resolve follows a local named type to its definition: the kind of copy,
// and the expression that has the element or key/value types.
func (g *gen) resolve(e ast.Expr) (kind, ast.Expr, error) {
	switch t := e.(type) {
	case *ast.Ident:
		lt, ok := g.types[t.Name]
		if !ok {
			return 0, nil, fmt.Errorf("unsupported type %s", t.Name)
		}
		if _, ok := lt.expr.(*ast.StructType); ok {
			return kStruct, e, nil
		}
		return g.resolve(lt.expr)
	case *ast.SelectorExpr:
		return kStruct, e, nil
	case *ast.StarExpr:
		return kPointer, t, nil
	case *ast.MapType:
		return kMap, t, nil
	case *ast.ArrayType:
		if t.Len == nil {
			return kSlice, t, nil
		}
	case *ast.ParenExpr:
		return g.resolve(t.X)
	}
	return 0, nil, fmt.Errorf("unsupported type %s", exprString(e))
}

// --- code ---

func (g *gen) printf(format string, args ...any) {
	fmt.Fprintf(&g.buf, format, args...)
}

// typeString prints a type for the generated file, noting the imports it needs.
func (g *gen) typeString(e ast.Expr, ctx *typeInfo) string {
	ast.Inspect(e, func(n ast.Node) bool {
		if s, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := s.X.(*ast.Ident); ok {
				if p, ok := ctx.imports[id.Name]; ok {
					g.imports[id.Name] = p
				}
			}
			return false
		}
		return true
	})
	return exprString(e)
}

func exprString(e ast.Expr) string {
	var b bytes.Buffer
	printer.Fprint(&b, token.NewFileSet(), e)
	return b.String()
}

// addr is &e, simplified when e is itself *x.
func addr(e string) string {
	if strings.HasPrefix(e, "*") && !strings.ContainsAny(e[1:], "[.(") {
		return e[1:]
	}
	return "&" + e
}

// recv makes e usable before a method call.
func recv(e string) string {
	if strings.HasPrefix(e, "*") {
		return "(" + e + ")"
	}
	return e
}

// copyInto writes statements that deep-copy src into dst, both addressable
// values of type t, after dst = src has already been done by the caller
// for the shallow part.
func (g *gen) copyInto(dst, src string, t ast.Expr, ctx *typeInfo) error {
	sh, err := g.isShallow(t, ctx)
	if err != nil || sh {
		return err
	}
	k, def, err := g.resolve(t)
	if err != nil {
		return err
	}
	if k == kStruct {
		g.printf("%s.DeepCopyInto(%s)\n", recv(src), addr(dst))
		return nil
	}
	g.printf("if %s != nil {\nin, out := &%s, &%s\n", src, src, dst)
	if err := g.copyRef(k, def, t, ctx); err != nil {
		return err
	}
	g.printf("}\n")
	return nil
}

// copyRef writes the copy of *in into *out, both non-nil pointers to a
// value of the pointer, slice or map type named by t (defined by def).
func (g *gen) copyRef(k kind, def, t ast.Expr, ctx *typeInfo) error {
	switch k {
	case kPointer:
		elem := def.(*ast.StarExpr).X
		g.printf("*out = new(%s)\n", g.typeString(elem, ctx))
		sh, err := g.isShallow(elem, ctx)
		if err != nil {
			return err
		}
		if sh {
			g.printf("**out = **in\n")
			return nil
		}
		ek, _, err := g.resolve(elem)
		if err != nil {
			return err
		}
		if ek != kStruct {
			return fmt.Errorf("pointers to %s are not supported", exprString(elem))
		}
		g.printf("(*in).DeepCopyInto(*out)\n")
	case kSlice:
		elem := def.(*ast.ArrayType).Elt
		g.printf("*out = make(%s, len(*in))\n", g.typeString(t, ctx))
		sh, err := g.isShallow(elem, ctx)
		if err != nil {
			return err
		}
		if sh {
			g.printf("copy(*out, *in)\n")
			return nil
		}
		g.printf("for i := range *in {\n")
		if err := g.copyInto("(*out)[i]", "(*in)[i]", elem, ctx); err != nil {
			return err
		}
		g.printf("}\n")
	case kMap:
		m := def.(*ast.MapType)
		if sh, err := g.isShallow(m.Key, ctx); err != nil || !sh {
			return fmt.Errorf("map keys of type %s are not supported", exprString(m.Key))
		}
		g.printf("*out = make(%s, len(*in))\n", g.typeString(t, ctx))
		sh, err := g.isShallow(m.Value, ctx)
		if err != nil {
			return err
		}
		g.printf("for key, val := range *in {\n")
		switch vk, vdef, _ := g.resolve(m.Value); {
		case sh:
			g.printf("(*out)[key] = val\n")
		case vk == kStruct:
			g.printf("(*out)[key] = *val.DeepCopy()\n")
		default:
			g.printf("var outVal %s\nif val != nil {\nin, out := &val, &outVal\n", g.typeString(m.Value, ctx))
			if err := g.copyRef(vk, vdef, m.Value, ctx); err != nil {
				return err
			}
			g.printf("}\n(*out)[key] = outVal\n")
		}
		g.printf("}\n")
	}
	return nil
}

func (g *gen) emitType(t *typeInfo) error {
	name := t.name
	switch def := t.expr.(type) {
	case *ast.StructType:
		g.printf("// DeepCopyInto is an autogenerated deepcopy function, copying the receiver, writing into out. in must be non-nil.\n")
		g.printf("func (in *%s) DeepCopyInto(out *%s) {\n*out = *in\n", name, name)
		for _, f := range def.Fields.List {
			names := f.Names
			if len(names) == 0 { // embedded: the field is named for its type
				te := f.Type
				if s, ok := te.(*ast.StarExpr); ok {
					te = s.X
				}
				switch x := te.(type) {
				case *ast.Ident:
					names = []*ast.Ident{x}
				case *ast.SelectorExpr:
					names = []*ast.Ident{x.Sel}
				default:
					return fmt.Errorf("unsupported embedded field %s", exprString(f.Type))
				}
			}
			for _, n := range names {
				if err := g.copyInto("out."+n.Name, "in."+n.Name, f.Type, t); err != nil {
					return fmt.Errorf("field %s: %w", n.Name, err)
				}
			}
		}
		g.printf("return\n}\n\n")
		g.printf("// DeepCopy is an autogenerated deepcopy function, copying the receiver, creating a new %s.\n", name)
		g.printf("func (in *%s) DeepCopy() *%s {\nif in == nil {\nreturn nil\n}\nout := new(%s)\nin.DeepCopyInto(out)\nreturn out\n}\n\n", name, name, name)
	case *ast.MapType, *ast.ArrayType:
		k, d, err := g.resolve(def)
		if err != nil {
			return err
		}
		g.printf("// DeepCopyInto is an autogenerated deepcopy function, copying the receiver, writing into out. in must be non-nil.\n")
		g.printf("func (in %s) DeepCopyInto(out *%s) {\n{\nin := &in\n", name, name)
		if err := g.copyRef(k, d, ast.NewIdent(name), t); err != nil {
			return err
		}
		g.printf("return\n}\n}\n\n")
		g.printf("// DeepCopy is an autogenerated deepcopy function, copying the receiver, creating a new %s.\n", name)
		g.printf("func (in %s) DeepCopy() %s {\nif in == nil {\nreturn nil\n}\nout := new(%s)\nin.DeepCopyInto(out)\nreturn *out\n}\n\n", name, name, name)
	default:
		return fmt.Errorf("only struct, map and slice types can have deep-copy methods")
	}
	for _, iface := range t.ifaces {
		dot := strings.LastIndex(iface, ".")
		if dot <= 0 {
			return fmt.Errorf("bad %s=%s: want PKG.IFACE", tagInterfaces, iface)
		}
		ipath, iname := iface[:dot], iface[dot+1:]
		alias := path.Base(ipath)
		if p, ok := g.imports[alias]; ok && p != ipath {
			return fmt.Errorf("import name %s is used for both %s and %s", alias, p, ipath)
		}
		g.imports[alias] = ipath
		g.printf("// DeepCopy%s is an autogenerated deepcopy function, copying the receiver, creating a new %s.%s.\n", iname, alias, iname)
		g.printf("func (in *%s) DeepCopy%s() %s.%s {\nif c := in.DeepCopy(); c != nil {\nreturn c\n}\nreturn nil\n}\n\n", name, iname, alias, iname)
	}
	return nil
}
