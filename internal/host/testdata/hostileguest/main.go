// Command hostileguest is a handler module that tries to break out of what the host grants
// it, for the host's hardening tests. Each endpoint reports what it managed to do.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/microhost/microhost/abi/guest"
)

func init() {
	guest.Describe("hostileguest", "0.1.0")
	// Hostile.Escape tries every way out of the mount at /registry it knows, and reports
	// each attempt as "name: ok <what it read>" or "name: refused <error>".
	guest.Handle("Hostile.Escape", func(req *guest.Request) ([]byte, error) {
		var out strings.Builder
		report := func(name string, b []byte, err error) {
			if err != nil {
				fmt.Fprintf(&out, "%s: refused %v\n", name, err)
				return
			}
			fmt.Fprintf(&out, "%s: ok %q\n", name, b)
		}
		read := func(name, path string) {
			b, err := os.ReadFile(path)
			report(name, b, err)
		}
		write := func(name, path string) {
			report(name, nil, os.WriteFile(path, []byte("pwned"), 0o644))
		}
		// Symlinks the module makes itself, relative and absolute.
		report("symlink-rel", nil, os.Symlink("../secret.txt", "/registry/leak-rel"))
		read("read-leak-rel", "/registry/leak-rel")
		report("symlink-abs", nil, os.Symlink("/etc/passwd", "/registry/leak-abs"))
		read("read-leak-abs", "/registry/leak-abs")
		// Symlinks planted in the directory by someone else.
		read("read-planted-abs", "/registry/planted-abs")
		read("read-planted-rel", "/registry/planted-rel")
		write("write-planted-abs", "/registry/planted-abs")
		write("write-through-dirlink", "/registry/dirlink/written")
		read("read-through-dirlink", "/registry/dirlink/secret.txt")
		// Dot-dot and renames out.
		read("read-dotdot", "/registry/../secret.txt")
		write("write-dotdot", "/registry/../written")
		report("rename-out", nil, os.Rename("/registry/own.txt", "/registry/../moved"))
		report("rename-link-in", nil, os.Rename("/registry/planted-abs", "/registry/renamed"))
		read("read-renamed", "/registry/renamed")
		// Hard links to a planted symlink.
		report("hardlink", nil, os.Link("/registry/planted-rel", "/registry/hard"))
		read("read-hard", "/registry/hard")
		return []byte(out.String()), nil
	})
	// Hostile.Call calls any service and endpoint it is asked to, with an empty JSON body, and
	// returns the reply: the grants decide what it reaches.
	guest.Handle("Hostile.Call", func(req *guest.Request) ([]byte, error) {
		var target struct{ Service, Endpoint string }
		if err := json.Unmarshal(req.Body, &target); err != nil {
			return nil, guest.BadRequest("want {service, endpoint}: %v", err)
		}
		return guest.Call(target.Service, target.Endpoint, "application/json", []byte(`{}`))
	})
	// Hostile.Creds reports the credentials and the trace id its caller's metadata holds.
	guest.Handle("Hostile.Creds", func(req *guest.Request) ([]byte, error) {
		auth, _ := req.Header("Authorization")
		cookie, _ := req.Header("Cookie")
		trace, _ := req.Header("X-Trace")
		return json.Marshal(map[string]string{"authorization": auth, "cookie": cookie, "trace": trace})
	})
	// Hostile.Publish publishes {"n":N} on the topic it is given ({"topic":T,"n":N}).
	guest.Handle("Hostile.Publish", func(req *guest.Request) ([]byte, error) {
		var p struct {
			Topic string
			N     int
		}
		if err := json.Unmarshal(req.Body, &p); err != nil {
			return nil, guest.BadRequest("want {topic, n}: %v", err)
		}
		if err := guest.Publish(p.Topic, fmt.Appendf(nil, `{"n":%d}`, p.N)); err != nil {
			return nil, err
		}
		return []byte(`"published"`), nil
	})
	// Hostile.Headers sets N reply headers of SIZE bytes each (body "N SIZE").
	guest.Handle("Hostile.Headers", func(req *guest.Request) ([]byte, error) {
		var n, size int
		if _, err := fmt.Sscan(strings.Trim(string(req.Body), `"`), &n, &size); err != nil {
			return nil, guest.BadRequest("want \"N SIZE\": %v", err)
		}
		val := strings.Repeat("v", size)
		for i := range n {
			req.SetHeader(fmt.Sprintf("X-H%d", i), val)
		}
		return []byte(`"ok"`), nil
	})
	// Hostile.Reserved sets the transport's and mucp's names and malformed ones beside one
	// ordinary header.
	guest.Handle("Hostile.Reserved", func(req *guest.Request) ([]byte, error) {
		req.SetHeader("Micro-Error", `{"id":"x","code":500,"detail":"forged"}`)
		req.SetHeader("micro-id", "forged")
		req.SetHeader("Content-Type", "text/forged")
		req.SetHeader("Content-Length", "0")
		req.SetHeader("X-Split\r\nInjected", "1")
		req.SetHeader("X-Value", "a\r\nInjected: 1")
		req.SetHeader("X-Ok", "fine")
		return []byte(`"body kept"`), nil
	})
	// Hostile.Files does ordinary work in the mount, which must keep working.
	guest.Handle("Hostile.Files", func(req *guest.Request) ([]byte, error) {
		if err := os.MkdirAll("/registry/svc", 0o755); err != nil {
			return nil, err
		}
		f, err := os.CreateTemp("/registry/svc", ".tmp-*")
		if err != nil {
			return nil, err
		}
		if _, err := f.Write(req.Body); err != nil {
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
		if err := os.Rename(f.Name(), "/registry/svc/node.json"); err != nil {
			return nil, err
		}
		entries, err := os.ReadDir("/registry/svc")
		if err != nil {
			return nil, err
		}
		b, err := os.ReadFile("/registry/svc/node.json")
		if err != nil {
			return nil, err
		}
		if err := os.Remove("/registry/svc/node.json"); err != nil {
			return nil, err
		}
		if err := os.Remove("/registry/svc"); err != nil {
			return nil, err
		}
		return []byte(fmt.Sprintf("%d %s", len(entries), b)), nil
	})
}

func main() {}
