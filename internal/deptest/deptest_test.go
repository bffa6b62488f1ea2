package deptest

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const mod = "github.com/toolgate/toolgate"

type pkg struct {
	ImportPath string
	Dir        string
	Doc        string
	Name       string
	Imports    []string
	GoFiles    []string
}

func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", mod+"/...")
	cmd.Dir = "../.."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	var pkgs []pkg
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) < 8 {
		t.Fatalf("go list found %d packages, want the whole module", len(pkgs))
	}
	return pkgs
}

func rel(p string) string { return strings.TrimPrefix(strings.TrimPrefix(p, mod), "/") }

func under(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }

// rules: an import prefix, the packages (by path relative to the module) that may import it, and why.
var rules = []struct {
	imp     string
	allowed func(p string) bool
	why     string
}{
	{"github.com/gofiber/fiber", func(p string) bool { return p == "server" },
		"only server speaks HTTP through Fiber"},
	{"github.com/valyala/fasthttp", func(p string) bool { return p == "server" },
		"only server speaks HTTP through Fiber"},
	{"github.com/dgraph-io/badger", func(p string) bool { return p == "registry/badger" },
		"only registry/badger knows the embedded store"},
	{"github.com/tetratelabs/wazero", func(p string) bool { return under(p, "runtime") || under(p, "host") || under(p, "bench") },
		"only runtime and host run Wasm"},
	{"github.com/extism/go-sdk", func(p string) bool { return under(p, "runtime") || under(p, "host") || under(p, "bench") },
		"only runtime and host run Wasm"},
	{"golang.org/x/mod/sumdb", func(p string) bool { return p == "receipts/tlog" },
		"only receipts/tlog speaks the checksum database's tree and note formats (it re-exports what others need)"},
	{mod + "/server", func(p string) bool { return under(p, "cmd") || under(p, "bench") },
		"nothing below the server imports it"},
	{mod + "/cmd", func(p string) bool { return false }, "nothing imports a command"},
	{mod + "/registry/badger", func(p string) bool { return under(p, "cmd") || under(p, "bench") },
		"the store is chosen by wiring, not by callers"},
}

func TestImportRules(t *testing.T) {
	for _, p := range listPackages(t) {
		r := rel(p.ImportPath)
		for _, imp := range p.Imports {
			for _, rule := range rules {
				if under(imp, rule.imp) && !rule.allowed(r) {
					t.Errorf("%s imports %s: %s", r, imp, rule.why)
				}
			}
			// The guest-side and client SDKs stand alone: they import nothing of the host side.
			if under(r, "sdk") && strings.HasPrefix(imp, mod+"/") && !under(rel(imp), "sdk") {
				t.Errorf("%s imports %s: sdk imports nothing of the host side", r, imp)
			}
			// Data flows one way: the state and the records know nothing of running or serving.
			if (under(r, "registry") || under(r, "receipts")) &&
				(under(imp, mod+"/runtime") || under(imp, mod+"/host") || under(imp, mod+"/server")) {
				t.Errorf("%s imports %s: registry and receipts sit below runtime and server", r, imp)
			}
			if (under(r, "runtime") || under(r, "host")) && (under(imp, mod+"/registry") || under(imp, mod+"/server")) {
				t.Errorf("%s imports %s: runtime and host do not reach back to the registry or server", r, imp)
			}
		}
	}
}

func TestPackageDocs(t *testing.T) {
	for _, p := range listPackages(t) {
		if strings.TrimSpace(p.Doc) == "" {
			t.Errorf("package %s has no doc comment", rel(p.ImportPath))
		}
	}
}

// TestNoDependencyTypesExported checks that no exported function or method of the packages that import Fiber or
// Badger names one of their types in its signature.
func TestNoDependencyTypesExported(t *testing.T) {
	for _, p := range listPackages(t) {
		r := rel(p.ImportPath)
		if r != "server" && r != "registry/badger" {
			continue
		}
		fset := token.NewFileSet()
		for _, f := range p.GoFiles {
			file, err := parser.ParseFile(fset, filepath.Join(p.Dir, f), nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			names := map[string]bool{}
			for _, im := range file.Imports {
				path := strings.Trim(im.Path.Value, `"`)
				if under(path, "github.com/gofiber/fiber/v2") || under(path, "github.com/dgraph-io/badger/v4") {
					n := filepath.Base(path)
					if n == "v2" || n == "v4" {
						n = filepath.Base(filepath.Dir(path))
					}
					if im.Name != nil {
						n = im.Name.Name
					}
					names[n] = true
				}
			}
			for _, d := range file.Decls {
				fd, ok := d.(*ast.FuncDecl)
				if !ok || !fd.Name.IsExported() {
					continue
				}
				if fd.Recv != nil && !exportedRecv(fd.Recv) {
					continue
				}
				ast.Inspect(fd.Type, func(n ast.Node) bool {
					if se, ok := n.(*ast.SelectorExpr); ok {
						if id, ok := se.X.(*ast.Ident); ok && names[id.Name] {
							t.Errorf("%s: exported %s uses %s.%s in its signature", r, fd.Name.Name, id.Name, se.Sel.Name)
						}
					}
					return true
				})
			}
		}
	}
}

func exportedRecv(fl *ast.FieldList) bool {
	if len(fl.List) == 0 {
		return false
	}
	typ := fl.List[0].Type
	if st, ok := typ.(*ast.StarExpr); ok {
		typ = st.X
	}
	id, ok := typ.(*ast.Ident)
	return ok && id.IsExported()
}
