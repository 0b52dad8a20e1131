package data_test

import (
	"fmt"

	"trainer/data"
)

func ExampleBuildVocab() {
	counts := map[string]int64{"great": 3, "bad": 3, "the": 9, "typo": 1}
	v := data.BuildVocab(counts, 10, 2) // typo is below the minimum count
	fmt.Println(v.Words())
	fmt.Println(v.ID([]byte("bad")), v.ID([]byte("typo")))
	// Output:
	// [<pad> <unk> the bad great]
	// 3 1
}

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
