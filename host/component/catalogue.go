package component

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
)

// Twin is one native twin: a stock plugin compiled into the host.
type Twin struct {
	// Kind and Name identify it; its module is Name + ".wasm" in the plugin folder.
	Kind Kind
	Name string
	// Native is the twin itself, of the type its kind defines: CodecTwin, SelectorTwin,
	// TransportTwin, BrokerTwin or RegistryTwin.
	Native any
}

type key struct {
	kind Kind
	name string
}

// Catalogue maps kind and name to native twins, and records the digests of the stock builds
// of their modules. It is a plain value: the command fills one (plugins/standard) and hands
// it to the host; tests make their own. Fill it before use; lookups are then safe for
// concurrent use.
type Catalogue struct {
	twins   map[key]Twin
	digests map[string][]string // module name → SHA-256s of its stock builds
	pre     prefetched
}

// NewCatalogue returns an empty catalogue.
func NewCatalogue() *Catalogue {
	return &Catalogue{twins: map[key]Twin{}, digests: map[string][]string{}}
}

// Add adds a twin. A second twin of the same kind and name is an error.
func (c *Catalogue) Add(t Twin) error {
	k := key{t.Kind, t.Name}
	if t.Name == "" {
		return fmt.Errorf("component: a %s twin with no name", t.Kind)
	}
	if _, dup := c.twins[k]; dup {
		return fmt.Errorf("component: two %s twins named %q", t.Kind, t.Name)
	}
	c.twins[k] = t
	return nil
}

// Twin returns the twin of kind named name.
func (c *Catalogue) Twin(kind Kind, name string) (Twin, bool) {
	if c == nil {
		return Twin{}, false
	}
	t, ok := c.twins[key{kind, name}]
	return t, ok
}

// Names lists the names of the twins of kind, sorted.
func (c *Catalogue) Names(kind Kind) []string {
	if c == nil {
		return nil
	}
	var out []string
	for k := range c.twins {
		if k.kind == kind {
			out = append(out, k.name)
		}
	}
	sort.Strings(out)
	return out
}

// AddStockDigest records the SHA-256 (hex) of a stock build of the module named name: in
// ModeAuto, a file with that digest runs as the native twin of that name.
func (c *Catalogue) AddStockDigest(name, sha256hex string) {
	d := strings.ToLower(sha256hex)
	if !slices.Contains(c.digests[name], d) {
		c.digests[name] = append(c.digests[name], d)
	}
}

// AddStockDigests records a list of digests written as "name=sha256hex" words separated by
// spaces or commas, as the build records them (see the Makefile).
func (c *Catalogue) AddStockDigests(list string) error {
	for _, w := range strings.FieldsFunc(list, func(r rune) bool { return r == ' ' || r == ',' || r == '\n' }) {
		name, hexDigest, ok := strings.Cut(w, "=")
		if _, err := hex.DecodeString(hexDigest); !ok || name == "" || err != nil || len(hexDigest) != 2*sha256.Size {
			return fmt.Errorf("component: bad stock digest %q (want name=sha256hex)", w)
		}
		c.AddStockDigest(name, hexDigest)
	}
	return nil
}

// IsStock reports whether digest is that of a stock build of the twin of kind named name.
func (c *Catalogue) IsStock(kind Kind, name, digest string) bool {
	if _, ok := c.Twin(kind, name); !ok {
		return false
	}
	return slices.Contains(c.digests[name], strings.ToLower(digest))
}

// StockBuild returns a test of a module digest: whether it is that of a stock build of the
// twin of kind named name (see IsStock). A nil Catalogue returns nil, which host.ModuleOptions
// takes as trusting nothing.
func (c *Catalogue) StockBuild(kind Kind, name string) func(digest string) bool {
	if c == nil {
		return nil
	}
	return func(digest string) bool { return c.IsStock(kind, name, digest) }
}

// Digest returns the SHA-256 (hex) of the file at path.
func Digest(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
