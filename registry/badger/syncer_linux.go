//go:build linux && !race

package badger

import (
	"fmt"
	"os"
	goruntime "runtime"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// dataSyncer runs the log's fdatasyncs on an OS thread of its own, so that no P of the Go scheduler waits with
// them.
//
// A goroutine blocked in an ordinary system call keeps its P until sysmon takes it back, and sysmon does so only
// when that P's own run queue has work, or after 10 ms: each sync, 100-300 µs here under load, held one of the
// machine's two Ps, and a trace of 64 callers showed that while a sync ran, two goroutines almost never ran at
// once. The runtime's entersyscallblock hands the P off at once, but a goroutine returning from such a call waits
// for a P again, behind the run queue, and the commit waited with it (RATIONALE.md, "Why does the log sync on a
// thread of its own").
//
// So the thread is given up to the kernel for good: its goroutine, locked to it, enters the blocking system call
// state once (entersyscallblock) and stays in it, looping in code that never grows its stack (syncLoop): it waits
// on a futex for a request, fdatasyncs, and signals an eventfd. The committer waits for the eventfd
// through the network poller, like a goroutine waiting for a socket, so its P runs other goroutines meanwhile.
// When no goroutine waits for a P, the committer syncs itself instead (do).
//
// The thread asks the kernel for the highest time-shared priority, nice -20 (syncNice). A sync wakes it three
// times — for the request, when the data is written, when the disk's cache is flushed — and each time it needs a
// CPU at once: with both CPUs running the scheduler's Ps at ordinary priority, the kernel let it wait for up to 3
// ms (perf sched), the sync seemed to take that long, every caller ended up waiting on it, and the other CPU sat
// idle (RATIONALE.md, "Why does the log sync on a thread of its own?"). A raised nice value needs CAP_SYS_NICE or
// an RLIMIT_NICE that allows it; without them the thread runs at the process's priority, and LogStats says so.
type dataSyncer struct {
	req   uint32  // sequence number of the latest request; the committer bumps it
	fd    uintptr // the file of the latest request
	errno uintptr // the result of the latest sync finished
	stop  uint32  // 1: the thread returns

	efd    int      // eventfd the thread signals after each sync
	done   *os.File // efd, read through the network poller
	exited chan struct{}

	// othersBusy says whether two goroutines or more wait for a P, so that a P held through a sync would be
	// missed; a single one the other P soon takes (schedProbe; tests replace it).
	othersBusy func() bool

	tid    int  // the thread's id
	raised bool // whether it runs at syncNice
}

// syncNice is the nice value the sync thread asks for: the highest priority short of real time, which would let it
// preempt the Ps on every wake-up (measured: less idle, but more CPU per call than it saved).
const syncNice = -20

func newDataSyncer() (*dataSyncer, error) {
	efd, _, e := syscall.RawSyscall(syscall.SYS_EVENTFD2, 0, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if e != 0 {
		return nil, fmt.Errorf("log syncer eventfd: %w", e)
	}
	y := &dataSyncer{efd: int(efd), done: os.NewFile(efd, "log-sync-done"), exited: make(chan struct{}),
		othersBusy: newSchedProbe(2).busy}
	started := make(chan struct{})
	go func() {
		// Locked and never unlocked: when the loop returns, the goroutine exits and the thread with it, and so does
		// the priority given to it.
		goruntime.LockOSThread()
		y.tid = syscall.Gettid()
		// On Linux a nice value belongs to a thread; PRIO_PROCESS with a thread id sets that thread's alone.
		y.raised = syscall.Setpriority(syscall.PRIO_PROCESS, y.tid, syncNice) == nil
		close(started)
		syncLoop(y)
		close(y.exited)
	}()
	<-started
	return y, nil
}

// priorityRaised reports whether the sync thread runs at syncNice.
func (y *dataSyncer) priorityRaised() bool { return y.raised }

// sync fdatasyncs f and returns when it is done. Committer only. When goroutines wait for a P, the thread does
// it; when none or one do, the committer does it itself: holding its P through the sync then costs nothing, and it saves
// the two thread wake-ups of a handover (about 0.1 ms of a lone call's latency here).
func (y *dataSyncer) sync(f *os.File) error {
	if !y.othersBusy() {
		return fdatasync(f)
	}
	atomic.StoreUintptr(&y.fd, f.Fd())
	atomic.AddUint32(&y.req, 1)
	futexWake(&y.req)
	var n [8]byte
	_, err := y.done.Read(n[:]) // the thread writes once per request
	goruntime.KeepAlive(f)
	if err != nil {
		return fmt.Errorf("log syncer: %w", err)
	}
	if e := syscall.Errno(atomic.LoadUintptr(&y.errno)); e != 0 {
		return e
	}
	return nil
}

// close stops the thread; a second close does nothing.
func (y *dataSyncer) close() {
	if !atomic.CompareAndSwapUint32(&y.stop, 0, 1) {
		return
	}
	atomic.AddUint32(&y.req, 1) // so that a thread about to wait on the old value does not sleep
	futexWake(&y.req)
	<-y.exited
	y.done.Close()
}

const (
	futexWaitPrivate = 128 // FUTEX_WAIT | FUTEX_PRIVATE_FLAG
	futexWakePrivate = 129 // FUTEX_WAKE | FUTEX_PRIVATE_FLAG
)

//go:nosplit
func futexWake(addr *uint32) {
	syscall.RawSyscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(addr)), futexWakePrivate, 1, 0, 0, 0)
}

//go:linkname entersyscallblock runtime.entersyscallblock
func entersyscallblock()

//go:linkname exitsyscall runtime.exitsyscall
func exitsyscall()

// one is what the thread adds to the eventfd after each sync.
var one = [8]byte{1}

// syncLoop serves sync requests until stop. Between entersyscallblock and exitsyscall the goroutine has no P and
// must not grow its stack: everything here is nosplit or compiles to plain instructions (atomics, raw system
// calls), and its frame holds no pointer that changes.
//
//go:nosplit
func syncLoop(y *dataSyncer) {
	entersyscallblock()
	var seen uint32 // the last request served; one made before the thread started is still to do
	for {
		// req before stop: close sets stop, then bumps req, so a wait on the old req cannot miss the stop.
		seq := atomic.LoadUint32(&y.req)
		if atomic.LoadUint32(&y.stop) != 0 {
			break
		}
		if seq == seen {
			syscall.RawSyscall6(syscall.SYS_FUTEX, uintptr(unsafe.Pointer(&y.req)), futexWaitPrivate, uintptr(seen), 0, 0, 0)
			continue
		}
		fd := atomic.LoadUintptr(&y.fd)
		var e syscall.Errno
		for {
			_, _, e = syscall.RawSyscall(syscall.SYS_FDATASYNC, fd, 0, 0)
			if e != syscall.EINTR {
				break
			}
		}
		atomic.StoreUintptr(&y.errno, uintptr(e))
		seen = seq
		syscall.RawSyscall(syscall.SYS_WRITE, uintptr(y.efd), uintptr(unsafe.Pointer(&one)), 8)
	}
	exitsyscall()
}

// forceHandover makes y hand every sync to the thread, or none; for tests.
func forceHandover(y *dataSyncer, handed bool) { y.othersBusy = func() bool { return handed } }
