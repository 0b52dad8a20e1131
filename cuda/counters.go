package cuda

import "sync/atomic"

// Counters is what a backend has done since it was opened: the figures the
// GPU step budget is stated in. The real driver and the emulator count the
// same calls in the same way, so a budget proven on the emulator holds for
// the launch sequence a GPU receives.
type Counters struct {
	Launches int64 // kernel launches, cooperative ones included
	H2DBytes int64 // bytes copied host to device
	D2HBytes int64 // bytes copied device to host
	Syncs    int64 // host waits for a stream to drain
	Memsets  int64 // device memsets (queued, no host wait)
}

// Sub is c minus an earlier snapshot: what happened in between.
func (c Counters) Sub(o Counters) Counters {
	return Counters{
		Launches: c.Launches - o.Launches,
		H2DBytes: c.H2DBytes - o.H2DBytes,
		D2HBytes: c.D2HBytes - o.D2HBytes,
		Syncs:    c.Syncs - o.Syncs,
		Memsets:  c.Memsets - o.Memsets,
	}
}

// Counter accumulates Counters from several goroutines (one per stream);
// backends embed it and call its methods from the operations they count.
type Counter struct {
	launches, h2d, d2h, syncs, memsets atomic.Int64
}

// Launch counts one kernel launch.
func (c *Counter) Launch() { c.launches.Add(1) }

// HtoD counts a host-to-device copy of n bytes.
func (c *Counter) HtoD(n int) { c.h2d.Add(int64(n)) }

// DtoH counts a device-to-host copy of n bytes.
func (c *Counter) DtoH(n int) { c.d2h.Add(int64(n)) }

// Sync counts a host synchronisation.
func (c *Counter) Sync() { c.syncs.Add(1) }

// Memset counts a device memset.
func (c *Counter) Memset() { c.memsets.Add(1) }

// Counters is a snapshot of the counts so far.
func (c *Counter) Counters() Counters {
	return Counters{
		Launches: c.launches.Load(), H2DBytes: c.h2d.Load(), D2HBytes: c.d2h.Load(),
		Syncs: c.syncs.Load(), Memsets: c.memsets.Load(),
	}
}
