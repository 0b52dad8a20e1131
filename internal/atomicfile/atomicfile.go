// Package atomicfile replaces files so that neither a reader nor a crash
// ever sees a partial one: the content goes to a temporary file beside the
// target, is flushed and fsynced, and is renamed over the target, after
// which the directory is fsynced. Every file the program keeps (model,
// checkpoint, vocabulary, synthetic corpus, benchmark reports) is written
// through it.
//
// A process killed while writing (kill -9, power loss) leaves its
// temporary file behind. Each write therefore first removes the stale
// temporary files of the same target: names of this package's own pattern
// whose modification time is older than this process, so that a write in
// progress in this process is never touched.
package atomicfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// processStart is when this process loaded the package. A temporary file
// modified before it cannot belong to a write of this process. It is set
// once and never changed.
var processStart = time.Now()

// tempPrefix is the start of the name of every temporary file for target
// base; os.CreateTemp completes it with decimal digits.
func tempPrefix(base string) string { return "." + base + ".tmp" }

// Write replaces path with what write produces. If write fails, or any step
// after it, path keeps its old content and the temporary file is removed.
// The error names path.
func Write(path string, write func(io.Writer) error) error {
	return WriteFile(path, func(f *os.File) error {
		bw := bufio.NewWriterSize(f, 1<<20)
		if err := write(bw); err != nil {
			return err
		}
		return bw.Flush()
	})
}

// WriteFile is Write for a writer that needs the file itself, for example
// to seek back and fill in a header once the body is known. write gets the
// temporary file, positioned at its start; buffering is up to it.
func WriteFile(path string, write func(*os.File) error) (err error) {
	dir := filepath.Dir(path)
	// Best effort: a stale file that cannot be removed (permissions, a
	// race with another cleaner) must not stop the write.
	RemoveStale(path)
	f, err := os.CreateTemp(dir, tempPrefix(filepath.Base(path))+"*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	// CreateTemp makes the file private; the result is an ordinary file.
	if err = f.Chmod(0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = write(f); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", path, err)
	}
	if err = os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("rename into %s: %w", path, err)
	}
	if d, derr := os.Open(dir); derr == nil {
		d.Sync() // best effort: some filesystems refuse directory fsync
		d.Close()
	}
	return nil
}

// WriteBytes replaces path with the concatenation of parts, like Write.
func WriteBytes(path string, parts ...[]byte) error {
	return Write(path, func(w io.Writer) error {
		for _, p := range parts {
			if _, err := w.Write(p); err != nil {
				return err
			}
		}
		return nil
	})
}

// RemoveStale removes the temporary files that interrupted writes of path
// left beside it: names ".BASE.tmp" followed by digits only, last modified
// before this process started. It returns the names it removed; the error
// is the first failure to list or remove, after trying them all.
func RemoveStale(path string) (removed []string, err error) {
	dir, prefix := filepath.Dir(path), tempPrefix(filepath.Base(path))
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("remove stale temporary files of %s: %w", path, err)
	}
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !isTempName(name, prefix) {
			continue
		}
		info, ierr := e.Info()
		if ierr != nil || !info.ModTime().Before(processStart) {
			continue // gone already, or possibly a write of this process
		}
		if rerr := os.Remove(filepath.Join(dir, name)); rerr != nil {
			if err == nil && !os.IsNotExist(rerr) {
				err = fmt.Errorf("remove stale temporary file: %w", rerr)
			}
			continue
		}
		removed = append(removed, name)
	}
	return removed, err
}

// isTempName reports whether name is prefix followed by at least one
// decimal digit and nothing else, the names os.CreateTemp gives.
func isTempName(name, prefix string) bool {
	rest, ok := strings.CutPrefix(name, prefix)
	if !ok || rest == "" {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
