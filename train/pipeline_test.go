package train

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"trainer/data"
	"trainer/model"
	"trainer/train/device"
)

func TestBalanceStages(t *testing.T) {
	cases := []struct {
		costs []float64
		k     int
		want  [][]int
	}{
		{[]float64{5, 5, 1}, 1, [][]int{{0, 1, 2}}},
		{[]float64{5, 5, 1}, 2, [][]int{{0}, {1, 2}}},
		{[]float64{5, 5, 1}, 3, [][]int{{0}, {1}, {2}}},
		{[]float64{3, 4, 4, 1}, 2, [][]int{{0, 1}, {2, 3}}},
		{[]float64{1, 1}, 2, [][]int{{0}, {1}}},
	}
	for _, c := range cases {
		if got := balanceStages(c.costs, c.k); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("balanceStages(%v, %d) = %v, want %v", c.costs, c.k, got, c.want)
		}
	}
}

func TestPipelineRejectsTooManyStages(t *testing.T) {
	// Units: embedding+lstm0, lstm1.input, lstm1, head; a bidirectional
	// layer is one unit.
	for _, c := range []struct {
		cfg   model.Config
		units int
	}{
		{model.Config{VocabSize: 20, EmbedDim: 4, Hidden: 4, Layers: 2}, 4},
		{model.Config{VocabSize: 20, EmbedDim: 4, Hidden: 4, Layers: 2, Bidirectional: true}, 3},
	} {
		for _, k := range []int{0, c.units + 1, 9} {
			_, err := NewPipeline("p", c.cfg, PipelineOptions{Stages: k})
			if err == nil {
				t.Fatalf("%d stages for %d units: want an error", k, c.units)
			}
			if want := fmt.Sprintf("%d or fewer", c.units); k > c.units && !strings.Contains(err.Error(), want) {
				t.Fatalf("%d stages: error %q does not name the limit %q", k, err, want)
			}
		}
		if _, err := NewPipeline("p", c.cfg, PipelineOptions{Stages: c.units}); err != nil {
			t.Fatalf("%d stages for %d units: %v", c.units, c.units, err)
		}
	}
	c := model.Config{VocabSize: 20, EmbedDim: 4, Hidden: 4, Layers: 2}
	for _, w := range []int{1, 3, 5} {
		if _, err := NewPipelines(c, w, PipelineOptions{Stages: 2}); err == nil {
			t.Fatalf("%d workers in pipelines of 2: want an error", w)
		}
	}
	ps, err := NewPipelines(c, 4, PipelineOptions{Stages: 2})
	if err != nil || len(ps) != 2 {
		t.Fatalf("4 workers, 2 stages: %d pipelines, %v", len(ps), err)
	}
}

// pipelineBatch draws reviews whose token ids fit vocab.
func pipelineBatch(seed uint64, n, maxLen, vocab int) data.Batch {
	return hybridBatch(seed, n, maxLen, vocab)
}

// TestPipelineGradEqualsModel is the model-parallel contract: whatever the
// stages and micro-batches, the gradient and loss equal the unsplit
// model's on the same batch, up to fp32 summation order.
func TestPipelineGradEqualsModel(t *testing.T) {
	cases := []struct {
		name   string
		cfg    model.Config
		stages int
		micro  int
		chunks int
	}{
		{"L2 K2", model.Config{VocabSize: 50, EmbedDim: 8, Hidden: 6, Layers: 2}, 2, 4, 0},
		{"L2 K2 chunks", model.Config{VocabSize: 50, EmbedDim: 8, Hidden: 6, Layers: 2}, 2, 0, 3},
		{"L2 K4 one step per chunk", model.Config{VocabSize: 50, EmbedDim: 8, Hidden: 6, Layers: 2}, 4, 2, 100},
		{"L2 K1", model.Config{VocabSize: 50, EmbedDim: 8, Hidden: 6, Layers: 2}, 1, 3, 0},
		{"L2 K3 one micro", model.Config{VocabSize: 50, EmbedDim: 8, Hidden: 6, Layers: 2}, 3, 1, 1},
		{"L1 K2", model.Config{VocabSize: 50, EmbedDim: 8, Hidden: 6, Layers: 1}, 2, 5, 0},
		{"L3 K3 mean", model.Config{VocabSize: 50, EmbedDim: 5, Hidden: 7, Layers: 3, Pool: model.PoolMean}, 3, 6, 2},
		{"L3 K5 max", model.Config{VocabSize: 50, EmbedDim: 5, Hidden: 16, Layers: 3, Pool: model.PoolMax}, 5, 0, 4},
		{"L2 K2 bidirectional max", model.Config{VocabSize: 50, EmbedDim: 8, Hidden: 6, Layers: 2, Bidirectional: true, Pool: model.PoolMax}, 2, 4, 0},
		{"L3 K3 bidirectional mean", model.Config{VocabSize: 50, EmbedDim: 8, Hidden: 16, Layers: 3, Bidirectional: true, Pool: model.PoolMean}, 3, 0, 0},
		{"more micro than rows", model.Config{VocabSize: 50, EmbedDim: 8, Hidden: 6, Layers: 2}, 2, 100, 0},
		{"L2 K2 bigrams", model.Config{VocabSize: 50, EmbedDim: 8, Hidden: 6, Layers: 2, Ngrams: 2, Buckets: 32}, 2, 4, 3},
		{"L2 K2 bidirectional trigrams", model.Config{VocabSize: 50, EmbedDim: 8, Hidden: 6, Layers: 2, Bidirectional: true, Pool: model.PoolMax, Ngrams: 3, Buckets: 7}, 2, 3, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := model.NewLayout(c.cfg).Size()
			params := make([]float32, n)
			model.InitParams(c.cfg, params, 7)
			// A wide table away from its zero start, so that the micro-batches'
			// wide terms show in the loss.
			for i, wide := 0, model.NewLayout(c.cfg).Wide(params); i < len(wide); i++ {
				wide[i] = float32(math.Sin(float64(i)) / model.WideScale)
			}
			b := pipelineBatch(11, 23, 9, c.cfg.VocabSize)
			want := make([]float32, n)
			wantLoss, wantCorrect := model.NewWorkspace(c.cfg).LossGrad(params, b, want)

			p, err := NewPipeline("p", c.cfg, PipelineOptions{Stages: c.stages, MicroBatches: c.micro, Chunks: c.chunks})
			if err != nil {
				t.Fatal(err)
			}
			for round := 0; round < 2; round++ { // reused buffers must not leak state
				got := make([]float32, n)
				res, err := p.Compute(params, b, got)
				if err != nil {
					t.Fatal(err)
				}
				if res.Rows != b.Size || res.Tokens != b.RealTokens() || res.Correct != wantCorrect {
					t.Fatalf("result %+v, want %d rows %d tokens %d correct", res, b.Size, b.RealTokens(), wantCorrect)
				}
				if math.Abs(res.Loss-wantLoss) > 1e-5*math.Abs(wantLoss) {
					t.Fatalf("loss %v, unsplit %v", res.Loss, wantLoss)
				}
				scale := 0.0
				for _, v := range want {
					scale = math.Max(scale, math.Abs(float64(v)))
				}
				for j := range got {
					if d := math.Abs(float64(got[j] - want[j])); d > 1e-5*scale+1e-4*math.Abs(float64(want[j])) {
						t.Fatalf("round %d: grad[%d] = %v, unsplit %v (max |grad| %v)", round, j, got[j], want[j], scale)
					}
				}
			}
			st := p.Last()
			if len(st.Stages) != c.stages || len(st.Busy) != c.stages || st.Bubble < 0 || st.Bubble >= 1 {
				t.Fatalf("stats %+v", st)
			}
			// Unidirectional models run in time chunks (16 unless set),
			// bidirectional ones whole.
			if chunked := st.Chunks > 1; chunked != (!c.cfg.Bidirectional && c.chunks != 1) {
				t.Fatalf("%d chunks per micro-batch for a bidirectional %v model, %d asked", st.Chunks, c.cfg.Bidirectional, c.chunks)
			}
		})
	}
}

// TestPipelinesDataParallel runs two 2-stage pipelines as the engine's
// replicas (DDP + model parallel) and compares the weights after a few
// steps with one unsplit replica.
func TestPipelinesDataParallel(t *testing.T) {
	cfg := model.Config{VocabSize: 40, EmbedDim: 6, Hidden: 5, Layers: 2}
	batches := []data.Batch{pipelineBatch(1, 17, 8, 40), pipelineBatch(2, 30, 12, 40), pipelineBatch(3, 9, 5, 40)}
	run := func(reps []device.Replica) []float32 {
		params := make([]float32, model.NewLayout(cfg).Size())
		model.InitParams(cfg, params, 3)
		opt, err := NewOptimizer(device.OptimConfig{Kind: "sgd", Momentum: 0.9}, len(params))
		if err != nil {
			t.Fatal(err)
		}
		e, err := NewEngine(params, reps, opt, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer e.Close()
		for _, b := range batches {
			if _, err := e.Step(b, 0.1); err != nil {
				t.Fatal(err)
			}
		}
		return params
	}
	want := run([]device.Replica{workspaceReplica{model.NewWorkspace(cfg)}})
	var reps []device.Replica
	for i := 0; i < 2; i++ {
		p, err := NewPipeline(fmt.Sprintf("pipe%d", i), cfg, PipelineOptions{Stages: 2, MicroBatches: 3})
		if err != nil {
			t.Fatal(err)
		}
		reps = append(reps, p)
	}
	got := run(reps)
	for j := range want {
		if d := math.Abs(float64(got[j] - want[j])); d > 1e-5+1e-4*math.Abs(float64(want[j])) {
			t.Fatalf("param %d = %v with 2x2 pipelines, %v unsplit", j, got[j], want[j])
		}
	}
	if slices.Equal(got, make([]float32, len(got))) {
		t.Fatal("weights are all zero")
	}
}

// workspaceReplica is the unsplit model as a replica, the reference here.
type workspaceReplica struct{ ws *model.Workspace }

func (w workspaceReplica) Name() string { return "unsplit" }

func (w workspaceReplica) Compute(params []float32, b data.Batch, grad []float32) (device.Result, error) {
	loss, correct := w.ws.LossGrad(params, b, grad)
	return device.Result{Loss: loss, Correct: correct, Rows: b.Size, Tokens: b.RealTokens()}, nil
}

func TestPipelineReportsBadToken(t *testing.T) {
	cfg := model.Config{VocabSize: 10, EmbedDim: 4, Hidden: 4, Layers: 2}
	p, err := NewPipeline("p", cfg, PipelineOptions{Stages: 2})
	if err != nil {
		t.Fatal(err)
	}
	n := model.NewLayout(cfg).Size()
	b := pipelineBatch(1, 6, 5, 50) // ids up to 49 in a vocabulary of 10
	_, err = p.Compute(make([]float32, n), b, make([]float32, n))
	if err == nil || !strings.Contains(err.Error(), "vocabulary") {
		t.Fatalf("want an out-of-vocabulary error, got %v", err)
	}
}
