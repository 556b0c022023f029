package main

import (
	"bufio"
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"text/template"

	"github.com/microhost/microhost/abi"
)

// templates are the handler scaffolds, one folder per language, plus the files every
// language shares (microhost.toml.tmpl, and test.tmpl, the Makefile's test target).
//
//go:embed templates
var templates embed.FS

// sdk holds copies of the SDKs the scaffolds build against (the Go guest SDK, the C
// header, the AssemblyScript package and the Rust crate), so that `microhost new` needs no
// checkout; TestEmbeddedSDKIsCurrent keeps them equal to the originals and
// `go generate` copies them again.
//
//go:generate go test -count=1 -run TestEmbeddedSDKIsCurrent . -args -update-sdk
//go:embed all:_sdk
var sdk embed.FS

const (
	// sdkDir is the folder of sdk holding the copies, laid out as in the repository.
	sdkDir = "_sdk"
	// sdkGoVersionFile is the file of sdkDir holding the repository's go directive.
	sdkGoVersionFile = "GOVERSION"
	// sdkProjectDir is where a project keeps its copy of the SDKs when no checkout is
	// given or found.
	sdkProjectDir = "microhost-sdk"
)

// walkSDK calls fn with each embedded SDK file, named relative to the repository root.
func walkSDK(fn func(name string, text []byte) error) error {
	return fs.WalkDir(sdk, sdkDir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		text, err := sdk.ReadFile(p)
		if err != nil {
			return err
		}
		return fn(strings.TrimPrefix(p, sdkDir+"/"), text)
	})
}

// writeSDK writes the embedded SDKs the scaffold of lang needs into project's
// sdkProjectDir and returns the files written, relative to project, and the go directive
// of the release they come from. For Go it writes the guest SDK as a module of its own,
// which the project's go.mod takes through a replace directive: no module proxy needed.
func writeSDK(lang, project string) (files []string, goVer string, err error) {
	v, err := sdk.ReadFile(path.Join(sdkDir, sdkGoVersionFile))
	if err != nil {
		return nil, "", err
	}
	goVer = strings.TrimSpace(string(v))
	prefix := map[string]string{"go": "abi/", "c": "abi/c/", "assemblyscript": "abi/assemblyscript/", "rust": "abi/rust/"}[lang]
	write := func(name string, text []byte) error {
		rel := filepath.Join(sdkProjectDir, filepath.FromSlash(name))
		file := filepath.Join(project, rel)
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return err
		}
		mode := os.FileMode(0o644)
		if strings.HasSuffix(name, ".sh") {
			mode = 0o755
		}
		if err := os.WriteFile(file, text, mode); err != nil {
			return err
		}
		files = append(files, rel)
		return nil
	}
	err = walkSDK(func(name string, text []byte) error {
		if !strings.HasPrefix(name, prefix) || (lang == "go" && !strings.HasSuffix(name, ".go")) {
			return nil
		}
		return write(name, text)
	})
	if err == nil && lang == "go" {
		err = write("go.mod", []byte("module "+sdkModule+"\n\ngo "+goVer+"\n"))
	}
	if err != nil {
		return nil, "", fmt.Errorf("write the SDK into %s: %w", filepath.Join(project, sdkProjectDir), err)
	}
	return files, goVer, nil
}

// languages maps the --lang values to their template folders.
var languages = map[string]string{
	"go":             "go",
	"c":              "c",
	"assemblyscript": "assemblyscript",
	"as":             "assemblyscript",
	"wat":            "wat",
	"rust":           "rust",
}

// ascVersion is the AssemblyScript compiler the AssemblyScript scaffold pins; it is the one
// abi/assemblyscript is developed and tested with.
const ascVersion = "0.28.20"

// sdkModule is the module path of the microhost checkout that holds the SDKs.
const sdkModule = "github.com/microhost/microhost"

var handlerName = regexp.MustCompile(`^[a-z][a-z0-9-]{0,39}$`)

func cmdNew(args []string, stdout, stderr io.Writer, getenv env) error {
	fs := flag.NewFlagSet("new", flag.ContinueOnError)
	fs.SetOutput(stderr)
	lang := fs.String("lang", "go", "language: go, c, assemblyscript (or as), wat, rust")
	dir := fs.String("dir", "", "folder to create (default ./NAME); it must not exist or be empty")
	sdkFlag := fs.String("sdk", "", "microhost checkout holding the SDKs (default: $MICROHOST_SDK, else the checkout enclosing DIR or the current folder, else a copy of the SDKs this command carries, written into DIR/"+sdkProjectDir+")")
	fs.Usage = func() {
		io.WriteString(stderr, "Usage: microhost new handler NAME [--lang go|c|assemblyscript|wat|rust] [--dir DIR] [--sdk PATH]\n\n"+
			"Writes a handler project that builds with `make` and checks itself with `make test`.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 || pos[0] != "handler" {
		return usageError("want: new handler NAME")
	}
	name := pos[1]
	if !handlerName.MatchString(name) {
		return usageError("bad handler name %q: use 1 to 40 lower-case letters, digits and dashes, starting with a letter", name)
	}
	tdir, ok := languages[*lang]
	if !ok {
		return usageError("unknown --lang %q (go, c, assemblyscript, wat, rust)", *lang)
	}
	if *dir == "" {
		*dir = name
	}
	project, err := filepath.Abs(*dir)
	if err != nil {
		return err
	}
	if entries, err := os.ReadDir(project); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s exists and is not empty", *dir)
	}
	data := scaffoldData{Name: name}.complete()
	var sdkFiles []string
	if tdir != "wat" {
		// WAT needs no SDK; the other languages build against a microhost checkout when
		// one is given or encloses the project, else against the SDKs embedded here.
		root, err := findSDK(*sdkFlag, getenv("MICROHOST_SDK"), project)
		switch {
		case errors.Is(err, errNoSDK):
			if sdkFiles, data.GoVersion, err = writeSDK(tdir, project); err != nil {
				return err
			}
			data.SDK, data.EmbeddedSDK = "./"+sdkProjectDir, true
		case err != nil:
			return err
		default:
			if data.GoVersion, err = goVersion(root); err != nil {
				return err
			}
			data.SDK = sdkPath(project, root)
		}
	}
	files, err := renderScaffold(tdir, data, project)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Created handler %s (%s) in %s:\n", name, tdir, *dir)
	for _, f := range files {
		fmt.Fprintf(stdout, "  %s\n", filepath.Join(*dir, f))
	}
	if len(sdkFiles) > 0 {
		fmt.Fprintf(stdout, "  %s%c (%d files: the SDK this microhost carries; no checkout was given or found)\n",
			filepath.Join(*dir, sdkProjectDir), filepath.Separator, len(sdkFiles))
	}
	fmt.Fprintf(stdout, `
Next steps:
  cd %s
  make                           # builds %s.wasm
  make test                      # loads it as the host does and calls %s
  microhost run microhost.toml   # serves it
  microhost call %s %s '{"name":"John"}'
`, *dir, name, data.Endpoint, name, data.Endpoint)
	return nil
}

// scaffoldData is what the templates see.
type scaffoldData struct {
	// Name is the module's and the service's name, such as "greeter".
	Name string
	// Crate is the name as a Rust crate name, such as "hello_world".
	Crate string
	// Endpoint is the endpoint the scaffold serves, such as "Greeter.Hello".
	Endpoint string
	// SDK is the path of the microhost checkout, relative to the project when the project
	// is inside it.
	SDK string
	// EmbeddedSDK is set when the project holds its own copy of the SDKs, in
	// sdkProjectDir, rather than referring to a checkout.
	EmbeddedSDK bool
	// GoVersion is the checkout's go directive, which a Go handler's go.mod must match.
	GoVersion string
	// ASCVersion is the AssemblyScript compiler's version.
	ASCVersion string
	// Descriptor is the module's descriptor JSON, and DescriptorWAT the same escaped for a
	// WAT string; Malformed is the detail of the error for a body that is not JSON.
	Descriptor, DescriptorWAT, Malformed string
	// TestFirst is a command the Makefile's test target runs before the module check.
	TestFirst string
}

// complete fills in what follows from the name.
func (d scaffoldData) complete() scaffoldData {
	var svc strings.Builder
	for part := range strings.SplitSeq(d.Name, "-") {
		if part != "" {
			svc.WriteString(strings.ToUpper(part[:1]) + part[1:])
		}
	}
	d.Endpoint = svc.String() + ".Hello"
	d.Crate = strings.ReplaceAll(d.Name, "-", "_")
	d.ASCVersion = ascVersion
	desc, err := json.Marshal(abi.Descriptor{
		Kind: abi.KindHandler, Name: d.Name, Version: "1.0.0",
		Endpoints: []abi.Endpoint{{Name: d.Endpoint, Request: "HelloRequest", Response: "HelloResponse"}},
	})
	if err != nil {
		panic(err) // plain strings always encode
	}
	d.Descriptor = string(desc)
	d.DescriptorWAT = strings.ReplaceAll(string(desc), `"`, `\"`)
	d.Malformed = "malformed JSON request for " + d.Endpoint
	return d
}

// renderScaffold writes the templates of language folder lang into dir and returns the
// files written, relative to dir. A template's path gives the file's: NAME becomes the
// handler's name, gitignore becomes .gitignore and the .tmpl suffix goes.
func renderScaffold(lang string, data scaffoldData, dir string) ([]string, error) {
	switch lang {
	case "go":
		data.TestFirst = "$(GO) test ./..."
	case "rust":
		data.TestFirst = "@$(MAKE) --no-print-directory unit-test"
	}
	shared, err := template.ParseFS(templates, "templates/test.tmpl")
	if err != nil {
		return nil, err
	}
	var srcs []string
	err = fs.WalkDir(templates, "templates/"+lang, func(p string, e fs.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			srcs = append(srcs, p)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	srcs = append(srcs, "templates/microhost.toml.tmpl")
	var written []string
	for _, src := range srcs {
		rel := strings.TrimPrefix(strings.TrimPrefix(src, "templates/"+lang+"/"), "templates/")
		rel = strings.ReplaceAll(strings.TrimSuffix(rel, ".tmpl"), "NAME", data.Name)
		if path.Base(rel) == "gitignore" {
			rel = path.Join(path.Dir(rel), ".gitignore")
		}
		text, err := templates.ReadFile(src)
		if err != nil {
			return nil, err
		}
		t, err := template.Must(shared.Clone()).New(src).Parse(string(text))
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", src, err)
		}
		var out bytes.Buffer
		if err := t.Execute(&out, data); err != nil {
			return nil, fmt.Errorf("template %s: %w", src, err)
		}
		file := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(file, out.Bytes(), 0o644); err != nil {
			return nil, err
		}
		written = append(written, filepath.FromSlash(rel))
	}
	slices.Sort(written)
	return written, nil
}

// errNoSDK says how to point `microhost new` at the SDKs.
var errNoSDK = errors.New("cannot find a microhost checkout, which holds the SDKs: pass --sdk PATH or set MICROHOST_SDK")

// findSDK returns the microhost checkout to build against: the flag, else the environment,
// else the checkout enclosing the project's folder, else the one enclosing the current
// folder.
func findSDK(flagValue, envValue, project string) (string, error) {
	for _, explicit := range []string{flagValue, envValue} {
		if explicit == "" {
			continue
		}
		root, err := filepath.Abs(explicit)
		if err != nil {
			return "", err
		}
		if !isSDK(root) {
			return "", fmt.Errorf("%s is not a microhost checkout (no go.mod of %s with abi/ABI.md beside it)", explicit, sdkModule)
		}
		return root, nil
	}
	cwd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for _, start := range []string{filepath.Dir(project), cwd} {
		for dir := start; ; dir = filepath.Dir(dir) {
			if isSDK(dir) {
				return dir, nil
			}
			if filepath.Dir(dir) == dir {
				break
			}
		}
	}
	return "", errNoSDK
}

// isSDK reports whether dir is a microhost checkout.
func isSDK(dir string) bool {
	if _, err := os.Stat(filepath.Join(dir, "abi", "ABI.md")); err != nil {
		return false
	}
	mod, err := modulePath(dir)
	return err == nil && mod == sdkModule
}

// goDirective reads one directive ("module", "go") of dir's go.mod.
func goDirective(dir, directive string) (string, error) {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), directive+" "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	if err := sc.Err(); err != nil {
		return "", err
	}
	return "", fmt.Errorf("%s has no %s directive", filepath.Join(dir, "go.mod"), directive)
}

func modulePath(dir string) (string, error) { return goDirective(dir, "module") }

func goVersion(dir string) (string, error) { return goDirective(dir, "go") }

// sdkPath is how the project's files refer to the checkout: relative when the project is
// inside it (so the two move together), absolute otherwise.
func sdkPath(project, root string) string {
	rel, err := filepath.Rel(project, root)
	if err == nil && strings.Trim(strings.ReplaceAll(filepath.ToSlash(rel), "..", ""), "/") == "" {
		return filepath.ToSlash(rel)
	}
	return filepath.ToSlash(root)
}
