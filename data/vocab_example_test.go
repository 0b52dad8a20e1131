package data_test

import (
	"fmt"

	"trainer/data"
)

func ExampleBatcher_Epoch() {
	d := &data.Dataset{
		Tokens:  []int32{5, 6, 7, 8, 9, 10},
		Offsets: []int64{0, 3, 4, 6},
		Labels:  []uint8{1, 0, 1},
	}
	b := data.NewBatcher(d, data.BatchOptions{BatchSize: 2, MaxLen: 2})
	for _, batch := range b.Epoch(0) {
		fmt.Println(batch.Tokens, batch.Lengths, batch.Labels)
	}
	// Output:
	// [5 6 8 0] [2 1] [1 0]
	// [9 10] [2] [1]
}
