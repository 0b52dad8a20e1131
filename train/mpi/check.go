package mpi

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"
)

// BinaryDigest is the SHA-256 of the running executable, so that ranks can
// confirm they run the same build.
func BinaryDigest() ([32]byte, error) {
	var d [32]byte
	exe, err := os.Executable()
	if err != nil {
		return d, fmt.Errorf("mpi: locate own binary: %w", err)
	}
	f, err := os.Open(exe)
	if err != nil {
		return d, fmt.Errorf("mpi: read own binary: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return d, fmt.Errorf("mpi: read own binary %s: %w", exe, err)
	}
	copy(d[:], h.Sum(nil))
	return d, nil
}

// CheckSame confirms that every rank runs the same binary (given by its
// digest) with the same settings, one "name=value" per entry. On a mismatch
// every rank returns the same error naming the first rank that differs from
// rank 0 and, for settings, the first entry that differs, so a job started
// with inconsistent binaries or flags stops before any training.
func (c *Comm) CheckSame(exe [32]byte, settings []string) error {
	text := strings.Join(settings, "\n")
	sd := sha256.Sum256([]byte(text))
	mine := append(exe[:], sd[:]...)
	all, err := c.AllgatherBytes(mine)
	if err != nil {
		return fmt.Errorf("mpi: start-up check: %w", err)
	}
	// Rank 0's settings travel to everyone so a mismatch can be named.
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(text)))
	if err := c.BcastBytes(n[:], 0); err != nil {
		return fmt.Errorf("mpi: start-up check: %w", err)
	}
	root := []byte(text)
	if c.Rank() != 0 {
		root = make([]byte, binary.LittleEndian.Uint64(n[:]))
	}
	if len(root) > 0 {
		if err := c.BcastBytes(root, 0); err != nil {
			return fmt.Errorf("mpi: start-up check: %w", err)
		}
	}
	ref := all[:len(mine)]
	for r := 1; r < c.Size(); r++ {
		got := all[r*len(mine) : (r+1)*len(mine)]
		if !bytes.Equal(got[:32], ref[:32]) {
			return fmt.Errorf("mpi: rank %d runs a different trainer binary than rank 0 (sha256 %x vs %x); install the same build on every node", r, got[:6], ref[:6])
		}
		if !bytes.Equal(got[32:], ref[32:]) {
			what := fmt.Sprintf("rank %d names the first difference", r)
			if c.Rank() == r {
				what = firstDiff(strings.Split(string(root), "\n"), settings)
			}
			return fmt.Errorf("mpi: rank %d was started with different settings than rank 0 (%s); every rank needs the same flags", r, what)
		}
	}
	return nil
}

// firstDiff names the first setting that differs between rank 0 and this rank.
func firstDiff(root, mine []string) string {
	for i := 0; i < max(len(root), len(mine)); i++ {
		var a, b string
		if i < len(root) {
			a = root[i]
		}
		if i < len(mine) {
			b = mine[i]
		}
		if a != b {
			return fmt.Sprintf("rank 0 has %q, this rank %q", a, b)
		}
	}
	return "settings"
}
