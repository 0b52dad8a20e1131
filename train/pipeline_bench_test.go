package train

import (
	"fmt"
	"testing"

	"trainer/model"
)

// BenchmarkPipeline compares the unsplit model on one goroutine with 2
// pipeline stages on two, on a two-layer model (E=H so the stages balance),
// reporting real tokens/s and the bubble fraction.
//
//	go test -run '^$' -bench Pipeline -benchtime 20x ./train
func BenchmarkPipeline(b *testing.B) {
	cfg := model.Config{VocabSize: 20000, EmbedDim: 256, Hidden: 256, Layers: 2}
	params := make([]float32, model.NewLayout(cfg).Size())
	model.InitParams(cfg, params, 1)
	batch := hybridBatch(9, 256, 120, cfg.VocabSize)
	grad := make([]float32, len(params))
	b.Run("unsplit", func(b *testing.B) {
		ws := model.NewWorkspace(cfg)
		for b.Loop() {
			clear(grad)
			ws.LossGrad(params, batch, grad)
		}
		b.ReportMetric(float64(batch.RealTokens())*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
	})
	for _, k := range []int{1, 2} {
		for _, m := range []int{4, 8} {
			b.Run(fmt.Sprintf("stages=%d/micro=%d", k, m), func(b *testing.B) {
				p, err := NewPipeline("bench", cfg, PipelineOptions{Stages: k, MicroBatches: m})
				if err != nil {
					b.Fatal(err)
				}
				bubble := 0.0
				for b.Loop() {
					clear(grad)
					if _, err := p.Compute(params, batch, grad); err != nil {
						b.Fatal(err)
					}
					bubble += p.Last().Bubble
				}
				b.ReportMetric(float64(batch.RealTokens())*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
				b.ReportMetric(bubble/float64(b.N), "bubble")
			})
		}
	}
}
