//go:build mpi

package mpi

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"trainer/data"
	"trainer/model"
	"trainer/train"
	"trainer/train/device"
)

// The tests run once per rank: scripts/mpi-test.sh starts the test binary
// under mpirun. Every rank must run the same collectives in the same order,
// so no test may skip on one rank only.
var world *Comm

func TestMain(m *testing.M) {
	c, err := Init()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	world = c
	world.SetTimeout(60 * time.Second)
	code := m.Run()
	if err := world.Finalize(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

func TestAllreduce(t *testing.T) {
	for _, n := range []int{1, 7, 1 << 16} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			r, s := world.Rank(), world.Size()
			f32 := make([]float32, n)
			f64 := make([]float64, n)
			for i := range f32 {
				f32[i] = float32(r + 1 + i%100)
				f64[i] = float64(r+1) * 0.5
			}
			if err := world.AllreduceFloat32(f32); err != nil {
				t.Fatal(err)
			}
			if err := world.AllreduceFloat64(f64); err != nil {
				t.Fatal(err)
			}
			for i := range f32 {
				want := float32(s*(s+1)/2 + s*(i%100))
				if f32[i] != want {
					t.Fatalf("rank %d: f32[%d] = %v, want %v", r, i, f32[i], want)
				}
				if want64 := 0.25 * float64(s*(s+1)); f64[i] != want64 {
					t.Fatalf("rank %d: f64[%d] = %v, want %v", r, i, f64[i], want64)
				}
			}
		})
	}
}

func TestBcast(t *testing.T) {
	for root := 0; root < world.Size(); root++ {
		f := make([]float32, 1000)
		b := make([]byte, 33)
		if world.Rank() == root {
			for i := range f {
				f[i] = float32(i) * 1.5
			}
			for i := range b {
				b[i] = byte(i + root)
			}
		}
		if err := world.BcastFloat32(f, root); err != nil {
			t.Fatal(err)
		}
		if err := world.BcastBytes(b, root); err != nil {
			t.Fatal(err)
		}
		for i := range f {
			if f[i] != float32(i)*1.5 {
				t.Fatalf("rank %d root %d: f[%d] = %v", world.Rank(), root, i, f[i])
			}
		}
		for i := range b {
			if b[i] != byte(i+root) {
				t.Fatalf("rank %d root %d: b[%d] = %v", world.Rank(), root, i, b[i])
			}
		}
	}
	if err := world.BcastFloat32(make([]float32, 1), world.Size()); err == nil {
		t.Fatal("a root outside the world must be an error")
	}
}

func TestAllgatherAndBarrier(t *testing.T) {
	got, err := world.AllgatherBytes([]byte{byte(world.Rank()), 0xAB})
	if err != nil {
		t.Fatal(err)
	}
	for r := 0; r < world.Size(); r++ {
		if got[2*r] != byte(r) || got[2*r+1] != 0xAB {
			t.Fatalf("allgather = %v", got)
		}
	}
	if err := world.Barrier(); err != nil {
		t.Fatal(err)
	}
}

func TestCheckSame(t *testing.T) {
	exe, err := BinaryDigest()
	if err != nil {
		t.Fatal(err)
	}
	settings := []string{"hidden=16", "layers=1", "batch-size=32"}
	if err := world.CheckSame(exe, settings); err != nil {
		t.Fatalf("identical settings: %v", err)
	}
	if world.Size() < 2 {
		return
	}
	odd := append([]string(nil), settings...)
	if world.Rank() == 1 {
		odd[1] = "layers=2"
	}
	err = world.CheckSame(exe, odd)
	if err == nil || !strings.Contains(err.Error(), "rank 1") {
		t.Fatalf("rank %d: mismatched settings gave %v, want an error naming rank 1", world.Rank(), err)
	}
	if world.Rank() == 1 && !strings.Contains(err.Error(), "layers=2") {
		t.Fatalf("the differing rank should name the setting: %v", err)
	}
	t.Logf("rank %d: %v", world.Rank(), err)
	var exe2 [32]byte
	copy(exe2[:], exe[:])
	if world.Rank() == 1 {
		exe2[0] ^= 1
	}
	if err := world.CheckSame(exe2, settings); err == nil || !strings.Contains(err.Error(), "different trainer binary") {
		t.Fatalf("rank %d: mismatched binary gave %v", world.Rank(), err)
	}
}

// logReg is a bag-of-words logistic regression: a real, small model with a
// float32 gradient, so distributed and single-process runs can be compared.
type logReg struct{}

func (logReg) Name() string { return "logreg" }

func (logReg) Compute(params []float32, b data.Batch, grad []float32) (device.Result, error) {
	var res device.Result
	bias := len(params) - 1
	for i := 0; i < b.Size; i++ {
		row := b.Row(i)
		z := float64(params[bias])
		for _, tok := range row {
			z += float64(params[tok]) / float64(len(row))
		}
		p := 1 / (1 + math.Exp(-z))
		y := float64(b.Labels[i])
		res.Loss += math.Max(z, 0) - z*y + math.Log1p(math.Exp(-math.Abs(z)))
		if (p >= 0.5) == (y == 1) {
			res.Correct++
		}
		g := float32(p - y)
		for _, tok := range row {
			grad[tok] += g / float32(len(row))
		}
		grad[bias] += g
		res.Rows++
		res.Tokens += len(row)
	}
	return res, nil
}

// syntheticBatch draws a global batch where tokens below vocab/2 lean
// positive, so that training makes progress.
func syntheticBatch(rng *rand.Rand, n, vocab int) data.Batch {
	reviews := make([][]int32, n)
	labels := make([]uint8, n)
	for i := range reviews {
		labels[i] = uint8(rng.IntN(2))
		reviews[i] = make([]int32, 1+rng.IntN(12))
		for j := range reviews[i] {
			tok := 2 + rng.IntN(vocab-2)
			if rng.IntN(3) > 0 {
				half := (vocab - 2) / 2
				tok = 2 + rng.IntN(half)
				if labels[i] == 0 {
					tok += half
				}
			}
			reviews[i][j] = int32(tok)
		}
	}
	return data.MakeBatch(reviews, labels, 0)
}

// trainSGD runs steps of plain SGD on global batches from a fixed seed.
func trainSGD(rep device.Replica, params []float32, steps, batch int) (device.Result, error) {
	rng := rand.New(rand.NewPCG(42, 7))
	grad := make([]float32, len(params))
	var last device.Result
	for s := 0; s < steps; s++ {
		b := syntheticBatch(rng, batch, len(params)-1)
		clear(grad)
		res, err := rep.Compute(params, b, grad)
		if err != nil {
			return res, err
		}
		for j := range params {
			params[j] -= 0.5 * grad[j] / float32(b.Size)
		}
		last = res
	}
	return last, nil
}

// TestDistributedEqualsSingleProcess trains on every rank with the global
// batch sharded by rank and compares the final weights with one process
// training on the whole global batch.
func TestDistributedEqualsSingleProcess(t *testing.T) {
	const vocab, steps, batch = 64, 30, 37
	params := make([]float32, vocab+1)
	// Each rank starts from different weights: the broadcast must fix that.
	rng := rand.New(rand.NewPCG(uint64(world.Rank()), 3))
	for j := range params {
		params[j] = float32(rng.NormFloat64() * 0.1)
	}
	if err := world.BroadcastParams(params); err != nil {
		t.Fatal(err)
	}
	single := append([]float32(nil), params...)
	dist, err := trainSGD(NewReplica(world, logReg{}, train.RowSparsity{}), params, steps, batch)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := trainSGD(logReg{}, single, steps, batch)
	if err != nil {
		t.Fatal(err)
	}
	maxDiff := 0.0
	for j := range params {
		d := math.Abs(float64(params[j] - single[j]))
		if d > 1e-5+1e-5*math.Abs(float64(single[j])) {
			t.Fatalf("rank %d: weight %d = %v distributed, %v single process", world.Rank(), j, params[j], single[j])
		}
		maxDiff = math.Max(maxDiff, d)
	}
	if dist.Rows != ref.Rows || dist.Tokens != ref.Tokens || dist.Correct != ref.Correct {
		t.Fatalf("last step result %+v distributed, %+v single", dist, ref)
	}
	if math.Abs(dist.Loss-ref.Loss) > 1e-4*math.Abs(ref.Loss) {
		t.Fatalf("last step loss %v distributed, %v single", dist.Loss, ref.Loss)
	}
	// Every rank must hold the same weights bit for bit.
	gathered := make([]float32, len(params))
	copy(gathered, params)
	if err := world.BcastFloat32(gathered, 0); err != nil {
		t.Fatal(err)
	}
	for j := range params {
		if gathered[j] != params[j] {
			t.Fatalf("rank %d: weight %d differs from rank 0's", world.Rank(), j)
		}
	}
	t.Logf("rank %d/%d: %d steps, max |distributed - single| = %.3g, last loss %.4f, accuracy %d/%d",
		world.Rank(), world.Size(), steps, maxDiff, dist.Loss/float64(dist.Rows), dist.Correct, dist.Rows)
}

type failOnRank struct {
	device.Replica
	rank int
}

func (f failOnRank) Compute(p []float32, b data.Batch, g []float32) (device.Result, error) {
	if world.Rank() == f.rank {
		return device.Result{}, errors.New("out of memory")
	}
	return f.Replica.Compute(p, b, g)
}

// TestLocalFailureStopsEveryRank: a replica error on the last rank must give
// every rank an error instead of leaving the others in the all-reduce.
func TestLocalFailureStopsEveryRank(t *testing.T) {
	rep := NewReplica(world, failOnRank{logReg{}, world.Size() - 1}, train.RowSparsity{})
	params := make([]float32, 9)
	rng := rand.New(rand.NewPCG(1, 1))
	_, err := rep.Compute(params, syntheticBatch(rng, 10, 8), make([]float32, 9))
	if err == nil {
		t.Fatalf("rank %d: no error", world.Rank())
	}
	if world.Rank() == world.Size()-1 && !strings.Contains(err.Error(), "out of memory") {
		t.Fatalf("failing rank lost its cause: %v", err)
	}
	if world.Rank() != world.Size()-1 && !strings.Contains(err.Error(), "other rank") {
		t.Fatalf("healthy rank got %v", err)
	}
}

// TestRankDies is run alone by scripts/mpi-test.sh with
// TRAINER_MPI_DIE_AT set: the last rank exits (or, with TRAINER_MPI_HANG,
// stops answering) in the middle of training and the job must end, not
// hang, with an error status and a clear message.
func TestRankDies(t *testing.T) {
	if os.Getenv("TRAINER_MPI_DIE_AT") == "" {
		t.Skip("set TRAINER_MPI_DIE_AT=step to run (scripts/mpi-test.sh does)")
	}
	var at int
	fmt.Sscan(os.Getenv("TRAINER_MPI_DIE_AT"), &at)
	world.SetTimeout(5 * time.Second)
	buf := make([]float32, 1024)
	for step := 0; step < 1000; step++ {
		if step == at && world.Rank() == world.Size()-1 {
			if os.Getenv("TRAINER_MPI_HANG") != "" {
				// A rank that stops answering without exiting: only the
				// watchdog of the others can end the job.
				fmt.Fprintf(os.Stderr, "rank %d: hanging on purpose at step %d\n", world.Rank(), step)
				select {}
			}
			fmt.Fprintf(os.Stderr, "rank %d: exiting on purpose at step %d\n", world.Rank(), step)
			os.Exit(7)
		}
		if err := world.AllreduceFloat32(buf); err != nil {
			t.Fatalf("rank %d step %d: %v", world.Rank(), step, err)
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("the job outlived a dead rank")
}

// TestDistributedEngineEqualsSingleProcess runs the real model through the
// training engine with AdamW: every rank's engine has one replica, this
// rank's MPI replica over a CPU worker, and the weights after the run must
// match one process training on the whole global batch. The ranks exchange
// only the embedding rows of each batch's tokens; the update is dense, or
// lazy (on both sides) for the embedding rows.
func TestDistributedEngineEqualsSingleProcess(t *testing.T) {
	cfg := model.Config{VocabSize: 64, EmbedDim: 8, Hidden: 8, Layers: 2, Pool: model.PoolMean}
	rows := train.TableRows(cfg)
	run := func(wrap, lazy bool) []float32 {
		params := make([]float32, model.NewLayout(cfg).Size())
		model.InitParams(cfg, params, 5)
		cpu, err := train.NewCPUReplica(cfg, 0)
		if err != nil {
			t.Fatal(err)
		}
		var rep device.Replica = cpu
		if wrap {
			rep = NewReplica(world, cpu, rows)
		}
		opt, err := train.NewOptimizer(device.DefaultOptimConfig(), len(params))
		if err != nil {
			t.Fatal(err)
		}
		e, err := train.NewEngine(params, []device.Replica{rep}, opt, 5)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		if lazy {
			if err := e.SetSparsity(rows, true); err != nil {
				t.Fatal(err)
			}
		}
		rng := rand.New(rand.NewPCG(9, 9))
		for s := 0; s < 12; s++ {
			if _, err := e.Step(syntheticBatch(rng, 29, 64), 0.01); err != nil {
				t.Fatal(err)
			}
		}
		return params
	}
	for _, lazy := range []bool{false, true} {
		dist := run(true, lazy)
		single := run(false, lazy)
		maxDiff := 0.0
		for j := range dist {
			d := math.Abs(float64(dist[j] - single[j]))
			if d > 1e-4+1e-4*math.Abs(float64(single[j])) {
				t.Fatalf("rank %d, lazy %v: weight %d = %v distributed, %v single process", world.Rank(), lazy, j, dist[j], single[j])
			}
			maxDiff = math.Max(maxDiff, d)
		}
		t.Logf("rank %d/%d: engine + AdamW (lazy rows %v), 12 steps, max |distributed - single| = %.3g", world.Rank(), world.Size(), lazy, maxDiff)
	}
}

// TestGoPanicsSurviveMPI: a nil dereference must stay a Go panic that a
// replica can recover into an error, not a signal that Open MPI's own
// handler turns into a crash of the job.
func TestGoPanicsSurviveMPI(t *testing.T) {
	recovered := func() (ok bool) {
		defer func() { ok = recover() != nil }()
		var p *device.Result
		_ = p.Rows
		return false
	}()
	if !recovered {
		t.Fatal("nil dereference was not recovered")
	}
}
