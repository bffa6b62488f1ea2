package peers

/*
#include <stddef.h>
#include <stdint.h>

// wasmtime-go v39 does not expose the pooling allocator; its C API (wasmtime/config.h, compiled into the
// libwasmtime.a that wasmtime-go links) does. The declarations are copied here because cgo cannot reach
// wasmtime-go's include directory from another module; the symbols resolve against that same library.
typedef struct wasm_config_t wasm_config_t;
typedef struct wasmtime_pooling_allocation_config_t wasmtime_pooling_allocation_config_t;
wasmtime_pooling_allocation_config_t *wasmtime_pooling_allocation_config_new(void);
void wasmtime_pooling_allocation_config_delete(wasmtime_pooling_allocation_config_t *);
void wasmtime_pooling_allocation_config_total_core_instances_set(wasmtime_pooling_allocation_config_t *, uint32_t);
void wasmtime_pooling_allocation_config_total_memories_set(wasmtime_pooling_allocation_config_t *, uint32_t);
void wasmtime_pooling_allocation_config_total_tables_set(wasmtime_pooling_allocation_config_t *, uint32_t);
void wasmtime_pooling_allocation_config_max_memory_size_set(wasmtime_pooling_allocation_config_t *, size_t);
void wasmtime_pooling_allocation_strategy_set(wasm_config_t *, const wasmtime_pooling_allocation_config_t *);
*/
import "C"

import (
	"fmt"
	"reflect"
	"unsafe"

	"github.com/bytecodealliance/wasmtime-go/v39"
)

// The pooling allocator's limits: enough slots for the benchmark (one live instance at a time), and Toolgate's
// default memory cap of 64 MiB per instance. Everything else is wasmtime's default.
const (
	PoolSlots         = 64
	PoolMaxMemorySize = 64 << 20
)

// enablePooling switches cfg to wasmtime's pooling instance allocator (memories, tables and instance state
// taken from pre-reserved slots and reset on release, instead of mmap'd and unmapped per instance). It reads
// the *wasm_config_t out of wasmtime.Config's one unexported field, checking the field first so that a layout
// change in a later wasmtime-go fails here instead of corrupting memory.
func enablePooling(cfg *wasmtime.Config) error {
	t := reflect.TypeOf(*cfg)
	if t.NumField() != 1 || t.Field(0).Type.Kind() != reflect.Pointer || t.Size() != unsafe.Sizeof(uintptr(0)) {
		return fmt.Errorf("peers: wasmtime.Config is not one C pointer (%d fields, %d bytes): update enablePooling",
			t.NumField(), t.Size())
	}
	raw := *(**C.wasm_config_t)(unsafe.Pointer(cfg))
	if raw == nil {
		return fmt.Errorf("peers: wasmtime.Config already used")
	}
	pc := C.wasmtime_pooling_allocation_config_new()
	defer C.wasmtime_pooling_allocation_config_delete(pc)
	C.wasmtime_pooling_allocation_config_total_core_instances_set(pc, PoolSlots)
	C.wasmtime_pooling_allocation_config_total_memories_set(pc, PoolSlots)
	C.wasmtime_pooling_allocation_config_total_tables_set(pc, PoolSlots)
	C.wasmtime_pooling_allocation_config_max_memory_size_set(pc, PoolMaxMemorySize)
	C.wasmtime_pooling_allocation_strategy_set(raw, pc)
	return nil
}
