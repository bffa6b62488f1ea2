// Package host holds the host functions a tool reaches the world through and the policy that guards each of them:
// the doors. A door decides, per call, what a guest may do (send a request to a host, use a secret, write a log
// line) and records every decision so that the call's receipt can say which doors were used.
//
// Deny is the default: a guest gets no network, no secrets and no filesystem unless its version's grants say so.
// Today the package holds the log door (LogRecorder) and the versioned table of the Extism host ABI the runtime
// provides (ABIVersion, ExtismEnv); the network and secret doors come next.
//
// Only this package and runtime import wazero and the Extism SDK.
package host
