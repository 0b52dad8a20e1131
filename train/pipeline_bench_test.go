package train

import (
	"fmt"
	"testing"

	"trainer/data"
	"trainer/model"
)

// BenchmarkPipeline compares the unsplit model on one goroutine with the
// pipeline on one and two stages, on a two-layer model (E=H=256) and real
// Amazon reviews in bucketed batches of 128, reporting real tokens/s, the
// bubble fraction and each stage's share of the work.
//
//	go test -run '^$' -bench Pipeline -benchtime 40x ./train
func BenchmarkPipeline(b *testing.B) {
	d, vocab := realReviews(b, "../../shared/data/amazon_polarity/train.ft.txt", 5099, 20000)
	batches := data.NewBatcher(d, data.BatchOptions{BatchSize: 128, MaxLen: 256, Seed: 1, Bucket: true, Shuffle: true}).Epoch(0)
	cfg := model.Config{VocabSize: vocab, EmbedDim: 256, Hidden: 256, Layers: 2}
	params := make([]float32, model.NewLayout(cfg).Size())
	model.InitParams(cfg, params, 1)
	grad := make([]float32, len(params))
	b.Run("unsplit", func(b *testing.B) {
		ws := model.NewWorkspace(cfg)
		tokens := 0
		for i := 0; b.Loop(); i++ {
			clear(grad)
			ws.LossGrad(params, batches[i%len(batches)], grad)
			tokens += batches[i%len(batches)].RealTokens()
		}
		b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
	})
	for _, o := range []PipelineOptions{
		{Stages: 1}, {Stages: 2, MicroBatches: 1}, {Stages: 2}, {Stages: 2, Chunks: 32}, {Stages: 2, MicroBatches: 8, Chunks: 1},
	} {
		b.Run(fmt.Sprintf("stages=%d/micro=%d/chunks=%d", o.Stages, o.MicroBatches, o.Chunks), func(b *testing.B) {
			p, err := NewPipeline("bench", cfg, o)
			if err != nil {
				b.Fatal(err)
			}
			bubble, tokens := 0.0, 0
			busy := make([]float64, o.Stages)
			for i := 0; b.Loop(); i++ {
				clear(grad)
				bt := batches[i%len(batches)]
				if _, err := p.Compute(params, bt, grad); err != nil {
					b.Fatal(err)
				}
				tokens += bt.RealTokens()
				bubble += p.Last().Bubble
				for s, t := range p.Last().Busy {
					busy[s] += t
				}
			}
			b.ReportMetric(float64(tokens)/b.Elapsed().Seconds(), "tokens/s")
			b.ReportMetric(bubble/float64(b.N), "bubble")
			if o.Stages == 2 {
				b.ReportMetric(busy[0]/(busy[0]+busy[1]), "stage0-share")
			}
		})
	}
}
