package host

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"
	"github.com/tetratelabs/wazero/experimental/sysfs"
	"github.com/tetratelabs/wazero/sys"
)

// rootFS is the file system a module sees at a mount: every operation goes through an
// os.Root opened on the granted directory, so no path — through "..", an absolute symlink, a
// relative symlink, a symlink swapped in mid-resolution by another instance, a rename or a
// hard link — resolves to anything outside it. The kernel resolves each path beneath the
// root's descriptor (openat2 RESOLVE_BENEATH on Linux, or a component-by-component walk),
// so there is no check-then-use race to win. Symlinks cannot be created at all: a module
// has no need for them, and refusing them leaves nothing in the directory that could lead a
// native program reading it later outside. wazero's own directory mount (WithDirMount)
// resolves paths with the host's ordinary path lookup, which follows symlinks anywhere.
type rootFS struct {
	experimentalsys.UnimplementedFS
	root     *os.Root
	readOnly bool
}

// newRootFS opens dir as a root. The returned FS holds the directory open until closed.
func newRootFS(dir string, readOnly bool) (*rootFS, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	return &rootFS{root: root, readOnly: readOnly}, nil
}

// close releases the root's descriptor.
func (r *rootFS) close() error { return r.root.Close() }

// String names the FS in wazero's messages.
func (r *rootFS) String() string { return r.root.Name() }

func rel(path string) string {
	if path == "" || path == "/" {
		return "."
	}
	return path
}

// errno maps an os error to a WASI errno; a path refused for leaving the root (an error with
// no errno of its own) is EACCES rather than wazero's default EIO.
func errno(err error) experimentalsys.Errno {
	if err == nil {
		return 0
	}
	var se syscall.Errno
	if !errors.As(err, &se) && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, fs.ErrExist) &&
		!errors.Is(err, fs.ErrPermission) && !errors.Is(err, fs.ErrInvalid) && !errors.Is(err, fs.ErrClosed) {
		return experimentalsys.EACCES
	}
	return experimentalsys.UnwrapOSError(err)
}

func (r *rootFS) writable() experimentalsys.Errno {
	if r.readOnly {
		return experimentalsys.EROFS
	}
	return 0
}

// OpenFile opens path beneath the root with the guest's flags.
func (r *rootFS) OpenFile(path string, flag experimentalsys.Oflag, perm fs.FileMode) (experimentalsys.File, experimentalsys.Errno) {
	path = rel(path)
	var osFlag int
	switch {
	case flag&experimentalsys.O_RDWR != 0:
		osFlag = os.O_RDWR
	case flag&experimentalsys.O_WRONLY != 0:
		osFlag = os.O_WRONLY
	default:
		osFlag = os.O_RDONLY
	}
	write := osFlag != os.O_RDONLY || flag&(experimentalsys.O_CREAT|experimentalsys.O_TRUNC|experimentalsys.O_APPEND) != 0
	if write {
		if e := r.writable(); e != 0 {
			return nil, e
		}
		if flag&experimentalsys.O_DIRECTORY != 0 {
			return nil, experimentalsys.EISDIR
		}
	}
	for _, f := range []struct {
		wasi experimentalsys.Oflag
		os   int
	}{
		{experimentalsys.O_APPEND, os.O_APPEND},
		{experimentalsys.O_CREAT, os.O_CREATE},
		{experimentalsys.O_EXCL, os.O_EXCL},
		{experimentalsys.O_TRUNC, os.O_TRUNC},
		{experimentalsys.O_SYNC, os.O_SYNC},
	} {
		if flag&f.wasi != 0 {
			osFlag |= f.os
		}
	}
	if flag&experimentalsys.O_NOFOLLOW != 0 {
		if st, err := r.root.Lstat(path); err == nil && st.Mode()&fs.ModeSymlink != 0 {
			return nil, experimentalsys.ELOOP
		}
	}
	f, err := r.root.OpenFile(path, osFlag, perm)
	if err != nil {
		return nil, errno(err)
	}
	if flag&experimentalsys.O_DIRECTORY != 0 {
		if st, err := f.Stat(); err != nil || !st.IsDir() {
			_ = f.Close()
			return nil, experimentalsys.ENOTDIR
		}
	}
	file, e := (&sysfs.AdaptFS{FS: &firstOpen{root: r.root, first: f}}).OpenFile(path, experimentalsys.O_RDONLY, 0)
	if e != 0 {
		_ = f.Close()
		return nil, e
	}
	return &rootFile{File: file, f: f}, 0
}

// Lstat describes path itself, a symlink included.
func (r *rootFS) Lstat(path string) (sys.Stat_t, experimentalsys.Errno) {
	st, err := r.root.Lstat(rel(path))
	if err != nil {
		return sys.Stat_t{}, errno(err)
	}
	return sys.NewStat_t(st), 0
}

// Stat describes what path leads to beneath the root.
func (r *rootFS) Stat(path string) (sys.Stat_t, experimentalsys.Errno) {
	st, err := r.root.Stat(rel(path))
	if err != nil {
		return sys.Stat_t{}, errno(err)
	}
	return sys.NewStat_t(st), 0
}

// Readlink returns a link's text; following it still goes through the root.
func (r *rootFS) Readlink(path string) (string, experimentalsys.Errno) {
	s, err := r.root.Readlink(rel(path))
	return s, errno(err)
}

// Mkdir makes a directory beneath the root.
func (r *rootFS) Mkdir(path string, perm fs.FileMode) experimentalsys.Errno {
	if e := r.writable(); e != 0 {
		return e
	}
	return errno(r.root.Mkdir(rel(path), perm))
}

// Chmod changes a mode beneath the root.
func (r *rootFS) Chmod(path string, perm fs.FileMode) experimentalsys.Errno {
	if e := r.writable(); e != 0 {
		return e
	}
	return errno(r.root.Chmod(rel(path), perm))
}

// Rename moves within the root only.
func (r *rootFS) Rename(from, to string) experimentalsys.Errno {
	if e := r.writable(); e != 0 {
		return e
	}
	return errno(r.root.Rename(rel(from), rel(to)))
}

// Rmdir removes an empty directory beneath the root.
func (r *rootFS) Rmdir(path string) experimentalsys.Errno {
	if e := r.writable(); e != 0 {
		return e
	}
	st, err := r.root.Lstat(rel(path))
	if err != nil {
		return errno(err)
	}
	if !st.IsDir() {
		return experimentalsys.ENOTDIR
	}
	return errno(r.root.Remove(rel(path)))
}

// Unlink removes a non-directory beneath the root.
func (r *rootFS) Unlink(path string) experimentalsys.Errno {
	if e := r.writable(); e != 0 {
		return e
	}
	st, err := r.root.Lstat(rel(path))
	if err != nil {
		return errno(err)
	}
	if st.IsDir() {
		return experimentalsys.EISDIR
	}
	return errno(r.root.Remove(rel(path)))
}

// Link makes a hard link; both names are beneath the root, and a symlink is linked as
// itself, never as its target.
func (r *rootFS) Link(oldPath, newPath string) experimentalsys.Errno {
	if e := r.writable(); e != 0 {
		return e
	}
	return errno(r.root.Link(rel(oldPath), rel(newPath)))
}

// Symlink is refused: see rootFS.
func (r *rootFS) Symlink(_, _ string) experimentalsys.Errno {
	return experimentalsys.EPERM
}

// Utimens sets times beneath the root.
func (r *rootFS) Utimens(path string, atim, mtim int64) experimentalsys.Errno {
	if e := r.writable(); e != 0 {
		return e
	}
	a, m := timeOf(atim), timeOf(mtim)
	return errno(r.root.Chtimes(rel(path), a, m))
}

// firstOpen hands wazero's fs.FS adapter the file already opened through the root, and
// reopens (to rewind a directory) through the root too.
type firstOpen struct {
	root  *os.Root
	first *os.File
}

func (o *firstOpen) Open(name string) (fs.File, error) {
	if f := o.first; f != nil {
		o.first = nil
		return f, nil
	}
	return o.root.Open(rel(name))
}

// rootFile adds what wazero's adapter leaves unimplemented for an *os.File.
type rootFile struct {
	experimentalsys.File
	f *os.File
}

// Truncate sets the file's size.
func (f *rootFile) Truncate(size int64) experimentalsys.Errno {
	return errno(f.f.Truncate(size))
}

// Sync flushes the file.
func (f *rootFile) Sync() experimentalsys.Errno { return errno(f.f.Sync()) }

// Datasync flushes the file.
func (f *rootFile) Datasync() experimentalsys.Errno { return errno(f.f.Sync()) }

// timeOf turns WASI epoch nanoseconds into a time; UTIME_OMIT is the zero time, which
// Chtimes leaves unchanged.
func timeOf(nanos int64) time.Time {
	if nanos == experimentalsys.UTIME_OMIT {
		return time.Time{}
	}
	return time.Unix(0, nanos)
}
