package train

import (
	"math/rand/v2"
	"time"

	"trainer/data"
	"trainer/train/device"
)

// exactReplica is a deterministic stand-in for a model: its gradient is a sum
// of small integers per row, so any summation order gives the exact same
// float32 result and split-versus-whole comparisons can demand equality.
type exactReplica struct{ name string }

func (r exactReplica) Name() string { return r.name }

func (r exactReplica) Compute(params []float32, b data.Batch, grad []float32) (device.Result, error) {
	var res device.Result
	for i := 0; i < b.Size; i++ {
		row := b.Row(i)
		for j := range grad {
			grad[j] += float32(row[j%len(row)]%7) + b.Labels[i] + float32(int(params[j])%3)
		}
		res.Loss += float64(len(row))
		if b.Labels[i] == 1 {
			res.Correct++
		}
		res.Rows++
		res.Tokens += len(row)
	}
	return res, nil
}

// sleepyReplica adds a fixed wall time per row to another replica, to emulate
// devices of different speeds without burning CPU.
type sleepyReplica struct {
	device.Replica
	perRow time.Duration
	name   string
}

func (s sleepyReplica) Name() string { return s.name }

func (s sleepyReplica) Compute(params []float32, b data.Batch, grad []float32) (device.Result, error) {
	res, err := s.Replica.Compute(params, b, grad)
	time.Sleep(time.Duration(b.Size) * s.perRow)
	return res, err
}

// hybridBatch builds a batch of n reviews with lengths in [1, maxLen].
func hybridBatch(seed uint64, n, maxLen, vocab int) data.Batch {
	rng := rand.New(rand.NewPCG(seed, 1))
	reviews := make([][]int32, n)
	labels := make([]uint8, n)
	for i := range reviews {
		l := 1 + rng.IntN(maxLen)
		reviews[i] = make([]int32, l)
		for j := range reviews[i] {
			reviews[i][j] = int32(2 + rng.IntN(vocab-2))
		}
		labels[i] = uint8(rng.IntN(2))
	}
	return data.MakeBatch(reviews, labels, maxLen)
}
