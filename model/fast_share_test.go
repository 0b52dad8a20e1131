package model

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBarrier runs rounds of n goroutines through one barrier: nobody
// leaves a round before everyone has arrived, the serial function runs
// once per round before anyone leaves, and abort releases the waiters of
// an unfinished round with ErrShareBroken.
func TestBarrier(t *testing.T) {
	for _, tc := range []struct {
		name string
		n    int
		spin bool
	}{{"2 spinning", 2, true}, {"3 sleeping", 3, false}, {"5 spinning", 5, true}} {
		t.Run(tc.name, func(t *testing.T) {
			b := newBarrier(tc.n, tc.spin)
			const rounds = 200
			var arrived, serials atomic.Int64
			var wg sync.WaitGroup
			errs := make(chan error, tc.n)
			for g := 0; g < tc.n; g++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for r := 0; r < rounds; r++ {
						arrived.Add(1)
						if err := b.wait(func() { serials.Add(1) }); err != nil {
							errs <- err
							return
						}
						// Everyone of round r arrived, and round r's serial ran.
						if a, s := arrived.Load(), serials.Load(); a < int64((r+1)*tc.n) || s < int64(r+1) {
							errs <- errors.New("left the barrier early")
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			if serials.Load() != rounds {
				t.Fatalf("serial ran %d times in %d rounds", serials.Load(), rounds)
			}
			// One goroutine short of a round: abort must release the others.
			done := make(chan error, tc.n-1)
			for g := 0; g < tc.n-1; g++ {
				go func() { done <- b.wait(nil) }()
			}
			time.Sleep(20 * time.Millisecond)
			b.abort()
			for g := 0; g < tc.n-1; g++ {
				select {
				case err := <-done:
					if !errors.Is(err, ErrShareBroken) {
						t.Fatalf("aborted wait returned %v", err)
					}
				case <-time.After(5 * time.Second):
					t.Fatal("abort left a waiter blocked")
				}
			}
			if err := b.wait(nil); !errors.Is(err, ErrShareBroken) {
				t.Fatalf("wait after abort returned %v", err)
			}
		})
	}
}

// TestBarrierWaited checks the wait accounting: the first of two
// goroutines waits about as long as the second is late.
func TestBarrierWaited(t *testing.T) {
	const delay = 30 * time.Millisecond
	for _, spin := range []bool{true, false} {
		b := newBarrier(2, spin)
		done := make(chan error)
		go func() { done <- b.wait(nil) }()
		time.Sleep(delay)
		if err := b.wait(nil); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if w := time.Duration(b.waited.Load()); w < delay*2/3 || w > delay+time.Second {
			t.Errorf("spin=%v: waited %v for a %v delay", spin, w, delay)
		}
	}
}
