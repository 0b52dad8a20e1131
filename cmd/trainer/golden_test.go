package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"

	"trainer/train"
)

// goldenUpdate prints the hashes instead of checking them, for a change
// that is meant to alter the arithmetic (say so in its commit).
var goldenUpdate = flag.Bool("golden-update", false, "print the golden weight hashes instead of checking them")

// goldenRuns are training runs whose final weights must not change, bit for
// bit, while the code that assembles and steps them is reorganised. The
// hashes were taken on the code before the run assembly moved into train.
var goldenRuns = []struct {
	name string
	args []string
	hash string
}{
	{"1 worker", []string{"--cpu-workers", "1"}, "9555adb6c6787a004d87058316eeda72df287fa7a8fb071cda4a13f74df1ae6d"},
	{"2 workers", []string{"--cpu-workers", "2"}, "1221e390eae8a529891a2e39896251f5ee7e22feb08d3bc54fe63341340edbb8"},
	{"2 workers sgd dense", []string{"--cpu-workers", "2", "--optimizer", "sgd", "--embed-update", "dense"}, "a9dce250ee40f5d4591b00f0f9a23adafc439ebb71ac4a920bece44eff5b894b"},
	{"pipeline", []string{"--cpu-workers", "2", "--layers", "2", "--pipeline-stages", "2"}, "84c1e89b9935ba3844f532089538f9dc5b0ffd5fec6b5f73612dcfe9338db4c4"},
}

// goldenMPIHash is the hash of goldenTrainArgs with one CPU worker on each
// of 2 MPI ranks (TestGoldenMPI, run by scripts/mpi-test.sh).
const goldenMPIHash = "d1c847b8b61b9a8102f971fe851a18843408155b9e639211a6ecf4e877040fdb"

// goldenTrainArgs is a short run of a small model on synthetic reviews. It
// spells out the model and regularisation the hashes were taken with
// (unidirectional, mean pooling, no n-grams, no word dropout, no weight
// decay, reviews cut at 256 tokens, a random embedding start), so that a
// change of train's defaults does not move them.
func goldenTrainArgs(corpus, out, cache string, extra ...string) []string {
	args := []string{"train", "--train", corpus, "--out", out, "--cache-dir", cache, "--epochs", "2",
		"--embed-dim", "8", "--hidden", "8", "--batch-size", "16", "--workers", "1", "--seed", "11",
		"--checkpoint-every", "0", "--log-format", "json",
		"--bidirectional=false", "--pool", "mean", "--ngrams", "0", "--word-dropout", "0", "--weight-decay", "0", "--max-len", "256",
		"--learn-vectors", "0"}
	return append(args, extra...)
}

// weightsHash is the SHA-256 of the final weights of the run in dir (its
// last checkpoint), as little-endian float32 bits.
func weightsHash(t testing.TB, dir string) string {
	t.Helper()
	ck, err := train.LoadCheckpoint(filepath.Join(dir, train.CheckpointName))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	var b [4]byte
	for _, v := range ck.Params {
		binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
		h.Write(b[:])
	}
	return hex.EncodeToString(h.Sum(nil))
}

func TestGoldenWeights(t *testing.T) {
	dir := t.TempDir()
	corpus := synthCorpus(t, dir, 400, 5)
	cache := filepath.Join(dir, "cache")
	for i, g := range goldenRuns {
		t.Run(g.name, func(t *testing.T) {
			out := filepath.Join(dir, "run", string(rune('a'+i)))
			if code, _, stderr := trainer(t, goldenTrainArgs(corpus, out, cache, g.args...)...); code != exitOK {
				t.Fatalf("exit %d; stderr:\n%s", code, stderr)
			}
			got := weightsHash(t, out)
			if *goldenUpdate {
				t.Logf("golden %q: %s", g.name, got)
				return
			}
			if got != g.hash {
				t.Fatalf("final weights hash %s, want %s: the run no longer computes what it did", got, g.hash)
			}
		})
	}
}

// TestGoldenMPI runs on every rank under mpirun (scripts/mpi-test.sh with
// the mpi build of this package); TRAINER_GOLDEN_OUT is the output
// directory, the same on every rank. Outside mpirun it skips.
func TestGoldenMPI(t *testing.T) {
	out := os.Getenv("TRAINER_GOLDEN_OUT")
	if out == "" {
		t.Skip("run by scripts/mpi-test.sh under mpirun")
	}
	// Every rank must name the same training file: each writes the same
	// corpus privately and renames it into place, so none reads a partial one.
	dir := t.TempDir()
	corpus := filepath.Join(filepath.Dir(out), "golden.ft.txt")
	if err := os.Rename(synthCorpus(t, dir, 400, 5), corpus); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := trainer(t, goldenTrainArgs(corpus, out, filepath.Join(dir, "cache"), "--cpu-workers", "1")...)
	if code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr)
	}
	if os.Getenv("OMPI_COMM_WORLD_RANK") != "0" {
		return // rank 0 alone writes the run's files
	}
	got := weightsHash(t, out)
	if *goldenUpdate {
		t.Logf("golden mpi: %s", got)
		return
	}
	if got != goldenMPIHash {
		t.Fatalf("final weights hash %s, want %s", got, goldenMPIHash)
	}
}
