package cuda

import "fmt"

// Pool caches device allocations by size, so that a replica whose batch
// shapes change (length buckets) reuses memory instead of calling the
// driver's allocator, which synchronises the device, on every step.
type Pool struct {
	be   Backend
	free map[int][]Ptr // rounded size -> unused blocks
	size map[Ptr]int   // live block -> rounded size
	held int           // bytes allocated from the backend
}

// NewPool returns an empty pool over be.
func NewPool(be Backend) *Pool {
	return &Pool{be: be, free: map[int][]Ptr{}, size: map[Ptr]int{}}
}

// roundSize rounds up to 256 bytes below 1 MiB and to 1/8 of the next power
// of two above, bounding waste at 12.5% while keeping the classes few.
func roundSize(n int) int {
	if n <= 1<<20 {
		return (n + 255) &^ 255
	}
	p := 1 << 20
	for p < n {
		p <<= 1
	}
	step := p / 8
	return (n + step - 1) / step * step
}

// Get returns a block of at least n bytes.
func (p *Pool) Get(n int) (Ptr, error) {
	if n <= 0 {
		n = 1
	}
	r := roundSize(n)
	if l := p.free[r]; len(l) > 0 {
		ptr := l[len(l)-1]
		p.free[r] = l[:len(l)-1]
		p.size[ptr] = r
		return ptr, nil
	}
	ptr, err := p.be.Alloc(r)
	if err != nil {
		return 0, fmt.Errorf("device memory pool: allocate %d bytes (%d held): %w", r, p.held, err)
	}
	p.held += r
	p.size[ptr] = r
	return ptr, nil
}

// Put returns a block to the pool.
func (p *Pool) Put(ptr Ptr) {
	r, ok := p.size[ptr]
	if !ok {
		return
	}
	delete(p.size, ptr)
	p.free[r] = append(p.free[r], ptr)
}

// Held is the number of bytes the pool has allocated from the device.
func (p *Pool) Held() int { return p.held }

// Close frees every block, live or cached.
func (p *Pool) Close() error {
	var first error
	for ptr := range p.size {
		p.Put(ptr)
	}
	for _, l := range p.free {
		for _, ptr := range l {
			if err := p.be.Free(ptr); err != nil && first == nil {
				first = err
			}
		}
	}
	p.free, p.size, p.held = map[int][]Ptr{}, map[Ptr]int{}, 0
	return first
}
