package model_test

import (
	"fmt"

	"trainer/data"
	"trainer/model"
)

// One training step's loss and gradient on a tiny model, and prediction.
func Example() {
	c := model.Config{VocabSize: 10, EmbedDim: 4, Hidden: 8, Layers: 1}
	if err := c.Validate(); err != nil {
		panic(err)
	}
	params := make([]float32, model.NewLayout(c).Size())
	model.InitParams(c, params, 1)

	b := data.MakeBatch([][]int32{{2, 3, 4}, {5, 6}}, []uint8{data.Positive, data.Negative}, 0)
	ws := model.NewWorkspace(c)
	grad := make([]float32, len(params)) // LossGrad adds: start from zero
	loss, correct := ws.LossGrad(params, b, grad)
	fmt.Printf("rows %d, loss per row in (0, 2): %v, correct %d or fewer: %v\n",
		b.Size, loss/2 > 0 && loss/2 < 2, b.Size, correct <= b.Size)

	logits := make([]float32, b.Size)
	ws.Forward(params, b, logits)
	fmt.Println("logits:", len(logits))
	// Output:
	// rows 2, loss per row in (0, 2): true, correct 2 or fewer: true
	// logits: 2
}
