package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/microhost/microhost/internal/guestbuild"
)

// The documentation test: every transcript in the README, the docs pages and the examples'
// READMEs — a fenced block whose lines start with "$ " — is run against the servers that page
// tells the reader to start, and its output must match what the page shows. A page that
// drifts from the CLI's behaviour fails here.
//
// A page's servers are its `microhost run examples/…` lines (and `make run`, which runs what the
// Makefile's run recipe runs), started in order with a registry folder of the page's own, from
// a copy of examples/ whose plugin folder holds the modules those configs name. The servers
// listen on the ports the examples give, so the transcripts' addresses are the page's own.
//
// Output is compared line by line after normalising what differs from run to run: node ids
// (UUIDs), loopback ports, and runs of spaces (table widths). In the page's output, "…"
// stands for any text on its line, and a line of "…" alone for any number of lines. Blank
// lines are ignored. The rows of a `microhost services` table may come in any order.

// transcript is one fenced block of commands and the output the page shows for each.
type transcript struct {
	line  int // the block's first line in its page
	steps []step
}

// step is one "$ " command (with its continuation lines) and the output shown after it.
type step struct {
	command string
	want    []string
}

// job returns N when the step is `kill -TERM %N`, which stops the page's Nth server.
func (s step) job() (int, bool) {
	m := killJobRE.FindStringSubmatch(strings.TrimSpace(s.command))
	if m == nil {
		return 0, false
	}
	n, err := strconv.Atoi(m[1])
	return n, err == nil
}

// docPage is what the test takes from one Markdown page.
type docPage struct {
	path        string // relative to the module root
	servers     []string
	transcripts []transcript
}

var (
	runLineRE    = regexp.MustCompile(`^(?:bin/)?microhost run (examples/\S+)`)
	makeRunRE    = regexp.MustCompile(`^make run\b`)
	killJobRE    = regexp.MustCompile(`^kill -TERM %(\d+)$`)
	uuidRE       = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	loopbackRE   = regexp.MustCompile(`127\.0\.0\.1:\d+`)
	idPrefixRE   = regexp.MustCompile(`(^|[-\s])[0-9a-f]+…`)
	spacesRE     = regexp.MustCompile(`[ \t]+`)
	moduleKeyRE  = regexp.MustCompile(`(?m)^module\s*=\s*"([^"]+)"`)
	wasmPathRE   = regexp.MustCompile(`bin/plugins/([A-Za-z0-9_-]+)\.wasm`)
	configPathRE = regexp.MustCompile(`examples/[A-Za-z0-9_/-]+\.toml`)
)

// parseDocPage reads the servers and transcripts of the Markdown page at root/rel.
// makeRun is the config file `make run` serves.
func parseDocPage(root, rel, makeRun string) (docPage, error) {
	raw, err := os.ReadFile(filepath.Join(root, rel))
	if err != nil {
		return docPage{}, err
	}
	page := docPage{path: rel}
	madeRun := false
	lines := strings.Split(string(raw), "\n")
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "```") {
			continue
		}
		start := i
		var block []string
		for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
			block = append(block, lines[i])
		}
		if tr, ok := parseTranscript(block); ok {
			tr.line = start + 1
			page.transcripts = append(page.transcripts, tr)
			continue
		}
		for _, l := range block {
			l = strings.TrimSpace(l)
			if m := runLineRE.FindStringSubmatch(l); m != nil {
				page.servers = append(page.servers, m[1])
			} else if makeRunRE.MatchString(l) && !madeRun {
				// `make run` shown twice (to set up, then in a tour) is one server.
				page.servers = append(page.servers, makeRun)
				madeRun = true
			}
		}
	}
	return page, nil
}

// parseTranscript reads a block as a transcript; ok is false when no line starts with "$ ".
func parseTranscript(block []string) (transcript, bool) {
	var tr transcript
	for i := 0; i < len(block); i++ {
		l := block[i]
		if !strings.HasPrefix(l, "$ ") {
			if len(tr.steps) > 0 && strings.TrimSpace(l) != "" {
				s := &tr.steps[len(tr.steps)-1]
				s.want = append(s.want, l)
			}
			continue
		}
		cmd := strings.TrimPrefix(l, "$ ")
		for strings.HasSuffix(cmd, `\`) && i+1 < len(block) {
			i++
			cmd += "\n" + block[i]
		}
		tr.steps = append(tr.steps, step{command: cmd})
	}
	return tr, len(tr.steps) > 0
}

// makeRunConfig returns the config file of the Makefile's run recipe.
func makeRunConfig(root string) (string, error) {
	raw, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`(?m)^run:.*\n\t\S*microhost run (\S+)`).FindSubmatch(raw)
	if m == nil {
		return "", errors.New("the Makefile has no run recipe running `microhost run FILE`")
	}
	return string(m[1]), nil
}

// normalise turns one line of output into the form compared.
func normalise(l string) string {
	l = uuidRE.ReplaceAllString(l, "ID")
	l = idPrefixRE.ReplaceAllString(l, "${1}ID…") // a page's shortened id, "greeter-5f0c…"
	l = loopbackRE.ReplaceAllString(l, "127.0.0.1:PORT")
	return strings.TrimSpace(spacesRE.ReplaceAllString(l, " "))
}

// lineMatches reports whether got matches the page's line want, in which "…" stands for any
// text.
func lineMatches(want, got string) bool {
	parts := strings.Split(want, "…")
	pattern := make([]string, len(parts))
	for i, p := range parts {
		pattern[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("^" + strings.Join(pattern, ".*") + "$").MatchString(got)
}

// linesMatch matches got against want, where a want line of "…" alone matches any number of
// lines.
func linesMatch(want, got []string) bool {
	if len(want) == 0 {
		return len(got) == 0
	}
	if want[0] == "…" {
		for k := 0; k <= len(got); k++ {
			if linesMatch(want[1:], got[k:]) {
				return true
			}
		}
		return false
	}
	return len(got) > 0 && lineMatches(want[0], got[0]) && linesMatch(want[1:], got[1:])
}

// outputMatches compares a step's output with the page's.
func outputMatches(command string, want, got []string) bool {
	norm := func(ls []string) []string {
		var out []string
		for _, l := range ls {
			if n := normalise(l); n != "" {
				out = append(out, n)
			}
		}
		return out
	}
	w, g := norm(want), norm(got)
	if strings.Contains(command, "microhost services") && len(w) > 1 && len(g) > 1 {
		// The header first, then the rows in any order.
		w = append(w[:1:1], sortedCopy(w[1:])...)
		g = append(g[:1:1], sortedCopy(g[1:])...)
	}
	return linesMatch(w, g)
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// stepMark separates the output of a transcript's steps when they run as one script.
const stepMark = "\x1e-- microhost docs step "

// runTranscript runs tr's steps as one bash script in dir (so that a step may use what an
// earlier one set up, as `exec 3<>…` does) and returns each step's output, stdout and stderr
// together as the reader's terminal shows them. kill runs a `kill -TERM %N` step, as the
// reader's shell would for its Nth background job.
func runTranscript(t *testing.T, dir string, env []string, tr transcript, kill func(job int)) [][]string {
	t.Helper()
	outs := make([][]string, len(tr.steps))
	var script strings.Builder
	flush := func() {
		if script.Len() == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		_ = cmd.Run() // a step's failure is part of its output, as on the page
		current := -1
		sc := bufio.NewScanner(&out)
		for sc.Scan() {
			l := sc.Text()
			if i := strings.Index(l, stepMark); i >= 0 {
				if before := l[:i]; before != "" && current >= 0 {
					outs[current] = append(outs[current], before)
				}
				n, err := strconv.Atoi(l[i+len(stepMark):])
				require.NoError(t, err)
				current = n
				continue
			}
			if current >= 0 {
				outs[current] = append(outs[current], l)
			}
		}
		script.Reset()
	}
	for i, s := range tr.steps {
		if job, ok := s.job(); ok {
			flush()
			kill(job)
			continue
		}
		// The mark starts a line of its own even after output with no final newline, and
		// keeps the exit status of the step before it for an `echo $?`.
		fmt.Fprintf(&script, "__rc=$?; printf '\\n%s%d\\n'; (exit $__rc)\n%s\n", strings.ReplaceAll(stepMark, "\x1e", `\036`), i, s.command)
	}
	flush()
	return outs
}

// docModules builds into dir every module the pages' configs and transcripts name.
func docModules(t *testing.T, root, dir string, pages []docPage, mirror string) {
	t.Helper()
	names := map[string]bool{}
	for _, p := range pages {
		for _, cfg := range p.servers {
			raw, err := os.ReadFile(filepath.Join(mirror, cfg))
			require.NoError(t, err, "%s: config %s", p.path, cfg)
			for _, m := range moduleKeyRE.FindAllStringSubmatch(string(raw), -1) {
				names[m[1]] = true
			}
		}
		for _, tr := range p.transcripts {
			for _, s := range tr.steps {
				for _, m := range wasmPathRE.FindAllStringSubmatch(s.command, -1) {
					names[m[1]] = true
				}
				// A config a transcript names (`microhost validate examples/…`) needs its modules.
				for _, cfg := range configPathRE.FindAllString(s.command, -1) {
					raw, err := os.ReadFile(filepath.Join(mirror, cfg))
					require.NoError(t, err, "%s: config %s", p.path, cfg)
					for _, m := range moduleKeyRE.FindAllStringSubmatch(string(raw), -1) {
						names[m[1]] = true
					}
				}
			}
		}
	}
	ctx := context.Background()
	for _, name := range slices.Sorted(maps.Keys(names)) {
		var err error
		cSources, _ := filepath.Glob(filepath.Join(root, "handlers", name, "*.c"))
		switch {
		case fileExists(filepath.Join(root, "handlers", name, "main.go")):
			_, err = guestbuild.Go(ctx, "./handlers/"+name, dir)
		case fileExists(filepath.Join(root, "plugins", name, "wasm")):
			_, err = guestbuild.Go(ctx, "./plugins/"+name+"/wasm", dir)
			if err == nil {
				err = os.Rename(filepath.Join(dir, "wasm.wasm"), filepath.Join(dir, name+".wasm"))
			}
		case len(cSources) > 0:
			_, err = guestbuild.C(ctx, "./handlers/"+name, dir)
			if errors.Is(err, guestbuild.ErrToolMissing) && os.Getenv("CI") == "" {
				t.Logf("the pages that use %s.wasm will fail: %v", name, err)
				err = nil
			}
		default:
			err = fmt.Errorf("the docs name module %q, which this test does not know how to build", name)
		}
		require.NoError(t, err)
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// docPorts are the fixed ports the examples' configs start their ranges at; the pages'
// transcripts address them.
var docPorts = []int{8080, 8091, 9100}

func TestDocumentedCommands(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the documentation's transcripts start a dozen servers")
	}
	root, err := guestbuild.ModuleRoot(".")
	require.NoError(t, err)
	makeRun, err := makeRunConfig(root)
	require.NoError(t, err)

	files := []string{"README.md"}
	for _, glob := range []string{"docs/*.md", "examples/*/README.md"} {
		m, err := filepath.Glob(filepath.Join(root, glob))
		require.NoError(t, err)
		for _, f := range m {
			rel, err := filepath.Rel(root, f)
			require.NoError(t, err)
			files = append(files, rel)
		}
	}
	var pages []docPage
	for _, f := range files {
		p, err := parseDocPage(root, f, makeRun)
		require.NoError(t, err)
		if len(p.transcripts) > 0 {
			pages = append(pages, p)
		}
	}
	// The pages this test must find: if one of these lost its transcripts, the test would
	// check less than the docs show.
	for _, want := range []string{"README.md", "docs/calling.md", "docs/streaming.md", "docs/handlers.md", "docs/components.md", "examples/chain/README.md", "examples/pubsub/README.md"} {
		require.True(t, slices.ContainsFunc(pages, func(p docPage) bool { return p.path == want }), "no transcript found in %s", want)
	}

	for _, port := range docPorts {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			if os.Getenv("CI") == "" {
				t.Skipf("port %d is in use (a running example?): the documentation's transcripts address the examples' own ports", port)
			}
			t.Fatalf("port %d is in use: the documentation's transcripts address the examples' own ports: %v", port, err)
		}
		ln.Close()
	}

	// A folder laid out like a checkout: examples/ as they are, bin/microhost and the
	// modules in bin/plugins.
	mirror := t.TempDir()
	require.NoError(t, os.CopyFS(filepath.Join(mirror, "examples"), os.DirFS(filepath.Join(root, "examples"))))
	plugins := filepath.Join(mirror, "bin", "plugins")
	require.NoError(t, os.MkdirAll(plugins, 0o755))
	require.NoError(t, os.Symlink(binary, filepath.Join(mirror, "bin", "microhost")))
	docModules(t, root, plugins, pages, mirror)
	env := []string{"PATH=" + filepath.Join(mirror, "bin") + string(os.PathListSeparator) + os.Getenv("PATH")}

	for _, page := range pages {
		t.Run(page.path, func(t *testing.T) {
			pageEnv := append(slices.Clone(env), "MICROHOST_REGISTRY_ADDRESS="+t.TempDir())
			var servers []*server
			for _, cfg := range page.servers {
				servers = append(servers, startServerWith(t, binary, filepath.Join(mirror, cfg), pageEnv...))
			}
			kill := func(job int) {
				require.True(t, job >= 1 && job <= len(servers), "%s: kill %%%d, but the page starts %d servers", page.path, job, len(servers))
				servers[job-1].stop(t, syscall.SIGTERM)
			}
			for _, tr := range page.transcripts {
				// Registrations settle after the servers listen: a transcript is run again
				// until it matches, for up to 30 s.
				var outs [][]string
				var bad int
				deadline := time.Now().Add(30 * time.Second)
				for {
					outs = runTranscript(t, mirror, pageEnv, tr, kill)
					bad = -1
					for i, s := range tr.steps {
						if _, ok := s.job(); ok {
							continue
						}
						if !outputMatches(s.command, s.want, outs[i]) {
							bad = i
							break
						}
					}
					if bad < 0 || time.Now().After(deadline) || hasKill(tr) {
						break
					}
					time.Sleep(500 * time.Millisecond)
				}
				if bad >= 0 {
					s := tr.steps[bad]
					t.Errorf("%s, block at line %d: `%s` printed\n%s\nbut the page shows\n%s",
						page.path, tr.line, s.command, strings.Join(outs[bad], "\n"), strings.Join(s.want, "\n"))
				}
			}
		})
	}
}

// hasKill reports whether tr stops a server, which cannot be run twice.
func hasKill(tr transcript) bool {
	return slices.ContainsFunc(tr.steps, func(s step) bool { _, ok := s.job(); return ok })
}

func TestTranscriptMatching(t *testing.T) {
	tr, ok := parseTranscript([]string{
		"$ microhost call a B '{}' \\",
		"    --timeout 1s",
		`{"x":1}`,
		"",
		"$ echo $?",
		"0",
	})
	require.True(t, ok)
	require.Len(t, tr.steps, 2)
	require.Equal(t, "microhost call a B '{}' \\\n    --timeout 1s", tr.steps[0].command)
	require.Equal(t, []string{`{"x":1}`}, tr.steps[0].want)

	require.True(t, outputMatches("x", []string{"x…z"}, []string{"xyyyz"}))
	require.False(t, outputMatches("x", []string{"x…z"}, []string{"xyyyw"}))
	require.True(t, outputMatches("x", []string{"one", "…", "four"}, []string{"one", "two", "three", "four"}))
	require.False(t, outputMatches("x", []string{"one", "four"}, []string{"one", "two", "four"}))
	require.True(t, outputMatches("x",
		[]string{"greeter-4a17053c-37fa-4a43-a02d-5c6c4e3bf478  127.0.0.1:8080"},
		[]string{"greeter-012f43d9-6c2e-4d36-927f-6c98dd611a22     127.0.0.1:8082"}))
	require.True(t, outputMatches("x", []string{"greeter greeter-5f0c… 127.0.0.1:8080"},
		[]string{"greeter greeter-eebb8f62-8d49-4672-a90f-0e91f9bd69a6 127.0.0.1:8080"}))
	require.False(t, outputMatches("x", []string{"greeter greeter-5f0c… 127.0.0.1:8080"},
		[]string{"counter counter-eebb8f62-8d49-4672-a90f-0e91f9bd69a6 127.0.0.1:8080"}))
	require.True(t, outputMatches("microhost services",
		[]string{"SERVICE NODE", "b 2", "a 1"}, []string{"SERVICE NODE", "a 1", "b 2"}))
	require.False(t, outputMatches("microhost call", []string{"b 2", "a 1"}, []string{"a 1", "b 2"}))
}
