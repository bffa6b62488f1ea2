// Package host holds the host functions a tool reaches the world through and the policy that guards each of them:
// the doors. A door decides, per call, what a guest may do (send a request to a host, use a secret, write a log
// line) and records every decision so that the call's receipt can say which doors were used.
//
// Deny is the default: a guest gets no network, no secrets and no filesystem unless its version's grants say so.
// The package holds the log door (LogRecorder), the network door with its secrets (Door, one per runtime, and
// CallDoor, one per call: grants matched on the canonical URL, addresses checked at dial time, secrets
// substituted only toward the hosts they are bound to and masked out of responses), and the versioned table of
// the Extism host ABI the runtime provides (ABIVersion, ExtismEnv).
//
// Only this package and runtime import wazero and the Extism SDK.
package host
