// Package config reads and validates the memif-wasm daemon's YAML configuration.
//
// A Config holds tenants; a tenant holds interfaces; an interface holds its
// memif parameters, the pipeline of plugins run on every received burst, and
// where PASSed packets go (its egress). Parse refuses unknown keys, duplicate
// keys, bad values, duplicate names and duplicate (socket, id) pairs before
// anything starts, and every error names the field by its path
// ("tenants[0].interfaces[1].ring_size") and says why it is wrong.
//
// # Defaults
//
// Zero values mean defaults, as everywhere in the project: a field left out
// of the file gets the default documented on it. Parse fills nothing in; the
// accessor methods (RingLog2, PluginName, ...) apply the defaults, so a Config
// written back out stays as the user wrote it.
//
// # Plugin sources
//
// A plugin's module is a file, or a source: oci://REGISTRY/REPO:TAG,
// oci://REGISTRY/REPO@sha256:HEX, or https://... with its sha256. The
// registry section says how sources are fetched (cache, credentials,
// insecure registries, size limit, retries), a tenant's signatures section
// whether the signatures of its plugins are required, and with which keys;
// package source does the fetching and verifying.
//
// # Ports
//
// An interface's position in its tenant's interfaces list is its port
// number, which plugins see and name as REDIRECT targets: package daemon
// (its "Ports" section) says how packets are routed by it.
package config
