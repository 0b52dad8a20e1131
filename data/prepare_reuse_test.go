package data

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// bigLabelled writes n lines "__label__L review number i ...", alternating
// labels, padded so that the file exceeds 2 MiB and its middle is outside
// the first and last MiB that the cache key reads.
func bigLabelled(t *testing.T, dir string) (string, []byte) {
	t.Helper()
	var b bytes.Buffer
	for i := 0; b.Len() < 3<<20; i++ {
		label := 1 + i%2
		word := []string{"awful broken waste", "great lovely works"}[i%2]
		b.WriteString("__label__")
		b.WriteByte(byte('0' + label))
		b.WriteString(" review " + word + " " + strings.Repeat("filler ", 20) + "\n")
	}
	p := filepath.Join(dir, "big.ft.txt")
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p, b.Bytes()
}

// TestPrepareCacheProvesInputUnchanged: an edit in the middle of a large
// input that keeps its size and modification time is caught by the
// whole-input digest and the cache rebuilt; only QuickCacheCheck, the
// explicit opt-in, trusts the key alone.
func TestPrepareCacheProvesInputUnchanged(t *testing.T) {
	dir := t.TempDir()
	path, body := bigLabelled(t, dir)
	var warnings []string
	o := PrepOptions{Train: path, Test: path, CacheDir: filepath.Join(dir, "cache"), Workers: 2,
		Progress: func(e ProgressEvent) {
			if e.Warning != "" {
				warnings = append(warnings, e.Warning)
			}
		}}
	prep := func(o PrepOptions) Report {
		t.Helper()
		p, err := Prepare(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close()
		return p.Report
	}
	first := prep(o)
	if again := prep(o); !again.CacheHit || !again.Test.CacheHit || len(warnings) != 0 {
		t.Fatalf("unchanged input: cache hit %v (test %v), warnings %q", again.CacheHit, again.Test.CacheHit, warnings)
	}

	// Flip the label of the middle line, same size, and restore the time.
	st, _ := os.Stat(path)
	mid := bytes.LastIndex(body[:len(body)/2], []byte("\n__label__")) + len("\n__label__")
	edited := bytes.Clone(body)
	edited[mid] ^= '1' ^ '2'
	os.WriteFile(path, edited, 0o644)
	os.Chtimes(path, st.ModTime(), st.ModTime())
	if id1, _ := inputID(path); id1 == "" {
		t.Fatal("no input id")
	}

	quick := o
	quick.QuickCacheCheck = true
	if r := prep(quick); !r.CacheHit || r.InputDigest != first.InputDigest {
		t.Fatalf("QuickCacheCheck: hit %v digest %s; the key alone cannot see this edit", r.CacheHit, r.InputDigest)
	}
	r := prep(o)
	if r.CacheHit || r.Test.CacheHit || r.InputDigest == first.InputDigest {
		t.Fatalf("edited input reused its cache: hit %v (test %v), digest %s", r.CacheHit, r.Test.CacheHit, r.InputDigest)
	}
	if len(warnings) != 2 || !strings.Contains(warnings[0], "changed since the cache was built") {
		t.Fatalf("warnings %q, want one per stale cache", warnings)
	}
	if want, _ := FileDigest(path); r.InputDigest != want {
		t.Fatalf("report digest %s, file digest %s", r.InputDigest, want)
	}
}

// TestFileDigestMatchesReader: the digest a cache hit compares is the one
// the reader took while building, for plain and compressed inputs.
func TestFileDigestMatchesReader(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string][]byte{
		"plain": []byte("__label__1 bad\n__label__2 good\n"),
		"gzip":  gzipFixture(t, []byte("__label__1 bad\n__label__2 good\n")),
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, body, 0o644)
		r, err := Open(p, ReaderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := r.NextChunk(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
		}
		got, err := FileDigest(p)
		if err != nil || got != r.Digest() {
			t.Errorf("%s: FileDigest %s (%v), reader %s", name, got, err, r.Digest())
		}
		r.Close()
	}
}

// TestPrepareFIFO: a named pipe (as from --train <(cat f)) is read once,
// like stdin, and never cached for reuse.
func TestPrepareFIFO(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "reviews.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	body := "__label__1 awful broken\n__label__2 great lovely\n__label__2 lovely great\n"
	go func() {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			return
		}
		f.WriteString(body)
		f.Close()
	}()
	done := make(chan struct{})
	var p *Prepared
	var err error
	go func() {
		p, err = Prepare(context.Background(), PrepOptions{Train: fifo, CacheDir: filepath.Join(dir, "cache"), Workers: 1, MinCount: 1})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Prepare on a FIFO hangs")
	}
	if err != nil {
		t.Fatalf("FIFO: %v", err)
	}
	defer p.Close()
	if p.Train.Len() != 3 || p.Report.CachePath != "" {
		t.Fatalf("FIFO: %d reviews, cache %q; want 3 and none kept", p.Train.Len(), p.Report.CachePath)
	}
}

// TestCacheFileMode: cache files are ordinary outputs, 0644 less the umask,
// not os.CreateTemp's private 0600.
func TestCacheFileMode(t *testing.T) {
	for _, c := range []struct{ umask, want os.FileMode }{{0o022, 0o644}, {0o027, 0o640}} {
		dir := t.TempDir()
		in := writeFile(t, dir, "in.txt", "__label__1 bad bad\n__label__2 good good\n")
		old := syscall.Umask(int(c.umask))
		p, err := Prepare(context.Background(), PrepOptions{Train: in, CacheDir: filepath.Join(dir, "cache"), Workers: 1})
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(p.Report.CachePath)
		p.Close()
		if err != nil || st.Mode().Perm() != c.want {
			t.Errorf("umask %03o: cache mode %v (%v), want %v", c.umask, st.Mode().Perm(), err, c.want)
		}
	}
}
