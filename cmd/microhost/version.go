package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/microhost/microhost/abi"
)

// cmdVersion prints the versions that decide how a module runs: microhost's own (its module
// version, or the commit it was built from), Go's, wazero's and the ABI's.
func cmdVersion(args []string, stdout io.Writer) error {
	if len(args) > 0 {
		return usageError("version takes no arguments")
	}
	own, wazero := "(unknown)", "(unknown)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		own = bi.Main.Version
		var rev, dirty string
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					dirty = "+dirty"
				}
			}
		}
		if (own == "" || own == "(devel)") && rev != "" {
			own = "devel " + rev[:min(len(rev), 12)] + dirty
		}
		for _, d := range bi.Deps {
			if d.Path == "github.com/tetratelabs/wazero" {
				wazero = d.Version
				if d.Replace != nil {
					wazero = d.Replace.Version
				}
			}
		}
	}
	fmt.Fprintf(stdout, "microhost %s\ngo        %s %s/%s\nwazero    %s\nabi       %d\n", own, runtime.Version(), runtime.GOOS, runtime.GOARCH, wazero, abi.Version)
	return nil
}
