package main

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/toolgate/toolgate/registry"
	"github.com/toolgate/toolgate/sdk"
)

// The kits come from sdk/ itself (sdk.Kits), except the Go kit: sdk/go is a module of its own, which embedding
// cannot reach, so templates/kits/go holds a copy (a test checks it is in sync); regenerate it with
// `go generate ./cmd/toolgate`.
//go:generate sh -c "cp ../../sdk/go/tool/tool.go templates/kits/go/tool/tool.go.tmpl && cp ../../sdk/go/tool/json.go templates/kits/go/tool/json.go.tmpl"

// templates holds one directory per language (the tool's source and build script), the files every project gets
// (manifest.json, README.md), and the kits. A ".tmpl" suffix is dropped on writing (it keeps Go sources and
// go.mod files out of this module); in the language and common files __NAME__, __LANG__ and __KIT__ are
// replaced, kits are copied as they are.
//
//go:embed all:templates
var templates embed.FS

// initLang is one language `toolgate init` scaffolds.
type initLang struct {
	name  string // as docs/plugins.md names it
	kit   string // the kit's directory (see kitFS), copied into the project
	build string // what to run in the project to build NAME.wasm
}

var initLangs = map[string]initLang{
	"go":             {name: "Go", kit: "go", build: "./build.sh"},
	"c":              {name: "C", kit: "c", build: "./build.sh"},
	"rust":           {name: "Rust", kit: "rust", build: "./build.sh"},
	"assemblyscript": {name: "AssemblyScript", kit: "assemblyscript", build: "./build.sh"},
	"zig":            {name: "Zig", kit: "zig", build: "./build.sh"},
}

func initLangNames() []string {
	var names []string
	for n := range initLangs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// newInit scaffolds a buildable tool project from the templates embedded in the binary.
func newInit() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "init --lang " + strings.Join(initLangNames(), "|") + " NAME",
		Short: "Create a tool project: source, kit, build script and manifest, in ./NAME",
		Long: "Create a tool project in ./NAME (or --dir): the tool's source, Toolgate's kit for the language, " +
			"build.sh, which builds NAME.wasm, and manifest.json, the version document for `toolgate push`. " +
			"The tool reads {\"name\": \"Ada\"} and writes {\"greeting\": \"Hello, Ada!\"}.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !registry.ValidToolName(name) {
				return fmt.Errorf("invalid tool name %q: want lowercase letters, digits and '-', starting with a letter", name)
			}
			langName, _ := cmd.Flags().GetString("lang")
			lang, ok := initLangs[langName]
			if !ok {
				return fmt.Errorf("--lang: want one of %s, got %q", strings.Join(initLangNames(), ", "), langName)
			}
			dir, _ := cmd.Flags().GetString("dir")
			if dir == "" {
				dir = name
			}
			files, err := scaffold(dir, name, langName, lang)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "created %s (%s): %s\n\nnext:\n", dir, lang.name, strings.Join(files, " "))
			fmt.Fprintf(w, "  cd %s && %s\n", dir, lang.build)
			fmt.Fprintf(w, "  toolgate run %s.wasm --data '{\"name\":\"Ada\"}'\n", name)
			fmt.Fprintf(w, "  toolgate push %s@0.1.0 %s.wasm --manifest manifest.json\n", name, name)
			fmt.Fprintf(w, "  toolgate invoke %s --data '{\"name\":\"Ada\"}'\n", name)
			return nil
		},
	}
	cmd.Flags().String("lang", "", "the tool's language: "+strings.Join(initLangNames(), ", "))
	cmd.Flags().String("dir", "", "the project directory (default: ./NAME); it must not exist or be empty")
	_ = cmd.MarkFlagRequired("lang")
	return cmd
}

// scaffold writes the project for lang into dir and returns the files it wrote, relative to dir.
func scaffold(dir, name, langName string, lang initLang) ([]string, error) {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s exists and is not empty", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	replace := strings.NewReplacer("__NAME__", name, "__LANG__", lang.name, "__KIT__", kitFiles(lang.kit))
	type file struct {
		fsys     fs.FS
		src, dst string
		subst    bool
	}
	var files []file
	add := func(fsys fs.FS, root string, subst bool) error {
		return fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel := strings.TrimPrefix(p, root+"/")
			files = append(files, file{fsys: fsys, src: p, dst: strings.TrimSuffix(rel, ".tmpl"), subst: subst})
			return nil
		})
	}
	for _, common := range []string{"manifest.json.tmpl", "README.md.tmpl"} {
		files = append(files, file{fsys: templates, src: "templates/" + common,
			dst: strings.TrimSuffix(common, ".tmpl"), subst: true})
	}
	if err := add(templates, "templates/"+langName, true); err != nil {
		return nil, err
	}
	kfs, kroot := kitFS(lang.kit)
	if err := add(kfs, kroot, false); err != nil {
		return nil, err
	}

	var written []string
	for _, f := range files {
		b, err := fs.ReadFile(f.fsys, f.src)
		if err != nil {
			return nil, err
		}
		if f.subst {
			b = []byte(replace.Replace(string(b)))
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(f.dst, ".sh") {
			mode = 0o755
		}
		dst := filepath.Join(dir, filepath.FromSlash(f.dst))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(dst, b, mode); err != nil {
			return nil, err
		}
		written = append(written, f.dst)
	}
	sort.Strings(written)
	return written, nil
}

// kitFS returns the file system and directory holding a language's kit.
func kitFS(kit string) (fs.FS, string) {
	if kit == "go" {
		return templates, "templates/kits/go"
	}
	return sdk.Kits, kit
}

// kitFiles names the kit's files as the project has them.
func kitFiles(kit string) string {
	var names []string
	fsys, root := kitFS(kit)
	_ = fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, strings.TrimSuffix(strings.TrimPrefix(p, root+"/"), ".tmpl"))
		}
		return nil
	})
	for i, n := range names {
		names[i] = "`" + path.Clean(n) + "`"
	}
	return strings.Join(names, ", ")
}
